"""A directions run folder: the activation cache, then training, then the directions file and loss curves.

``OUT/cache/`` (one shard per sample, resumable), ``OUT/directions.safetensors`` (q, k and metadata: model,
config fingerprint, site, data, n, epochs, lr, seed, final loss), ``OUT/losses.csv`` (epoch, layer, loss) and
``OUT/losses.png``.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import torch
from torch import Tensor

from focus_interp.data.samples import response_length
from focus_interp.directions.cache import build_cache, check_cache_dtype
from focus_interp.directions.files import Directions, load_directions, save_directions
from focus_interp.directions.training import (
    TrainingResult,
    check_training_settings,
    train_on_cache,
)
from focus_interp.errors import FocusInterpError
from focus_interp.files import FolderLock, read_csv_rows, write_csv
from focus_interp.model.generation import check_max_new_tokens
from focus_interp.model.loading import LoadedModel
from focus_interp.reports.plots import save_figure
from focus_interp.runs.run_folder import check_unique_ids, make_folder, rows_fingerprint


def train_directions(
    loaded: LoadedModel,
    rows,
    out: str | Path | None = None,
    data: dict | None = None,
    site: str = "post_rope",
    epochs: int = 10,
    lr: float = 1e-3,
    init_std: float = 0.01,
    seed: int = 0,
    max_new_tokens: int | None = None,
    cache_dtype: str = "float16",
    progress: bool = True,
) -> TrainingResult:
    """Cache every row (resuming), train, write the directions file and the loss curves; returns the directions,
    their loss curves and the run's summary. With ``out`` None the cache lives in a temporary folder, removed after.
    ``max_new_tokens`` (of the gold responses) defaults to the rows' protocol's (``response_length``).

    A rerun whose directions file was trained with the same settings on a cache of the same rows, response length
    and dtype reads it instead of training again; any other rerun removes it before training, so the file and
    the loss curves always come from one training."""
    check_training_settings(epochs, lr, init_std)
    check_cache_dtype(cache_dtype)
    max_new_tokens = response_length(rows, max_new_tokens)
    check_max_new_tokens(max_new_tokens)
    check_unique_ids(rows)
    arguments = (data, site, epochs, lr, init_std, seed, max_new_tokens, cache_dtype, progress)
    if out is None:
        with tempfile.TemporaryDirectory(prefix="focus-interp-directions-") as scratch:
            return _cache_and_train(loaded, rows, Path(scratch), *arguments)
    out = make_folder(Path(out))
    with FolderLock(out):
        return _cache_and_train(loaded, rows, out, *arguments)


def _cache_and_train(loaded, rows, out, data, site, epochs, lr, init_std, seed, max_new_tokens, cache_dtype, progress) -> TrainingResult:
    cache = build_cache(loaded, rows, out / "cache", site, data, max_new_tokens, cache_dtype, progress)
    shards = cache.pop("shards")
    if not shards:
        reasons = [item["reason"] for item in cache["skipped"]] or ["no rows were given"]
        raise FocusInterpError(f"no sample could be cached to train on (see {out / 'cache' / 'meta.json'}), e.g.: {reasons[0]}")
    settings = {
        "model": loaded.name,
        "config_fingerprint": loaded.architecture.config_fingerprint,
        "model_identity": json.dumps(loaded.identity(), sort_keys=True),
        "data": json.dumps(data or {}),
        "n": str(len(shards)),
        "epochs": str(epochs),
        "lr": str(lr),
        "init_std": str(init_std),
        "seed": str(seed),
        "rows": rows_fingerprint(rows),
        "max_new_tokens": str(max_new_tokens),
        "cache_dtype": cache_dtype,
    }
    path = out / "directions.safetensors"
    directions = _trained_with(path, settings, site)
    if directions is None:
        path.unlink(missing_ok=True)
        result = train_on_cache(loaded.architecture, shards, site, epochs, lr, init_std, seed, progress)
        metadata = {**settings, "final_loss": f"{float(result.losses[-1].mean()):.6f}"}
        directions = Directions(result.directions.query, result.directions.key, site, metadata)
        losses = result.losses
        write_csv(out / "losses.csv", ("epoch", "layer", "loss"), (
            (epoch + 1, layer, f"{float(losses[epoch, layer]):.6f}")
            for epoch in range(epochs)
            for layer in range(loaded.architecture.n_layers)
        ))
        save_figure(TrainingResult(directions, losses).plot(), out / "losses.png", dpi=120)
        save_directions(path, directions)
    else:
        losses = _read_losses(out / "losses.csv", epochs, loaded.architecture.n_layers)
    norms = directions.query.norm(dim=-1), directions.key.norm(dim=-1)
    summary = {
        **cache,
        "n_trained": len(shards),
        "final_loss": float(directions.metadata["final_loss"]),
        "query_norm_mean": float(norms[0].mean()),
        "key_norm_mean": float(norms[1].mean()),
    }
    return TrainingResult(directions, losses, summary)


def _read_losses(path: Path, epochs: int, n_layers: int) -> Tensor:
    """The [epochs, layers] losses of a finished run's ``losses.csv``."""
    losses = torch.full((epochs, n_layers), math.nan)
    for row in read_csv_rows(path, ("epoch", "layer", "loss"), f"no loss curves at {path}: rerun the training", "losses.csv"):
        losses[int(row["epoch"]) - 1, int(row["layer"])] = float(row["loss"])
    return losses


def _trained_with(path: Path, settings: dict[str, str], site: str) -> Directions | None:
    """The directions at ``path`` when a finished run wrote them with ``settings`` at ``site`` (its loss curves
    included), else None."""
    if not (path.is_file() and path.with_name("losses.csv").is_file() and path.with_name("losses.png").is_file()):
        return None
    try:
        directions = load_directions(path)
    except FocusInterpError:
        return None
    kept = {key: directions.metadata.get(key) for key in settings}
    return directions if kept == settings and directions.site == site and "final_loss" in directions.metadata else None
