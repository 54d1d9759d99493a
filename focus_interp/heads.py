"""Head sets, as (layer, head) pairs: top-k of a scoring run, a JSON list, or random heads for controls."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Iterable

from focus_interp.architecture import Architecture
from focus_interp.errors import FocusInterpError
from focus_interp.runs import read_csv_rows

Head = tuple[int, int]


def read_head_scores(path: str | Path) -> list[dict]:
    """Rows of a ``head_scores.csv``: ints for layer/head, floats (NaN for empty) for the scores."""
    path = Path(path)
    hint = f"no head scores at {path}: run `focus-interp heads ... --out {path.parent}` (or retrieval-heads) first"
    rows = read_csv_rows(path, ("layer", "head"), hint, "head_scores.csv")
    return [
        {key: int(value) if key in ("layer", "head") else float(value or "nan") for key, value in row.items()}
        for row in rows
    ]


def rank_heads(rows: list[dict], score: str = "R") -> list[dict]:
    """Head-score rows best first by ``score`` (ties by layer, head); heads without that score come last."""
    if rows and score not in rows[0]:
        columns = ", ".join(name for name in rows[0] if name not in ("layer", "head"))
        raise FocusInterpError(f"no score column '{score}' in the head scores; choose one of {columns}")
    def key(row: dict) -> tuple:
        value = row[score]
        return (math.isnan(value), -value if not math.isnan(value) else 0.0, row["layer"], row["head"])

    return sorted(rows, key=key)


def top_heads(path: str | Path, k: int, score: str = "R") -> list[tuple[int, int]]:
    """The ``k`` heads with the highest mean ``score`` in a ``head_scores.csv``, best first, as (layer, head)."""
    return [(row["layer"], row["head"]) for row in rank_heads(read_head_scores(path), score)[:k]]


def heads_from_json(path: str | Path, architecture: Architecture | None = None) -> list[Head]:
    """A JSON list of [layer, head] pairs, best first (the format of the authors' ``relevant_heads.json``).

    With ``architecture``, every head is checked to exist in that model.
    """
    path = Path(path)
    if not path.is_file():
        raise FocusInterpError(f"head list not found: {path}")
    try:
        pairs = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise FocusInterpError(f"{path} is not valid JSON (line {error.lineno}): expected [[layer, head], ...]") from None
    if not isinstance(pairs, list) or not all(
        isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, int) for x in pair) for pair in pairs
    ):
        raise FocusInterpError(f"{path} must hold a JSON list of [layer, head] integer pairs")
    heads = [(layer, head) for layer, head in pairs]
    if architecture is not None:
        check_heads(heads, architecture)
    return heads


def check_heads(heads: Iterable[Head], architecture: Architecture) -> None:
    """An error naming the first (layer, head) that the model does not have."""
    for layer, head in heads:
        architecture.check_head(layer, head)


def heads_by_layer(heads: Iterable[Head]) -> dict[int, list[int]]:
    """{layer: [head, ...]} in layer order."""
    grouped: dict[int, list[int]] = {}
    for layer, head in heads:
        grouped.setdefault(layer, []).append(head)
    return dict(sorted(grouped.items()))


def random_heads(architecture: Architecture, k: int, seed: int = 0, exclude: Iterable[Head] = ()) -> list[Head]:
    """``k`` distinct heads drawn uniformly (seeded) from those not in ``exclude``: the random-head control."""
    excluded = set(map(tuple, exclude))
    pool = [
        (layer, head)
        for layer in range(architecture.n_layers)
        for head in range(architecture.n_heads)
        if (layer, head) not in excluded
    ]
    if not 0 <= k <= len(pool):
        raise FocusInterpError(f"cannot draw {k} random heads: {len(pool)} heads are left after the exclusions")
    return random.Random(seed).sample(pool, k)


def ranking_from(path: str | Path, architecture: Architecture, score: str = "R") -> list[Head]:
    """Every head ranked best first from a scoring run folder or its ``head_scores.csv``, or a JSON head list."""
    path = Path(path)
    if path.is_dir():
        path = path / "head_scores.csv"
    if path.suffix == ".json":
        heads = heads_from_json(path, architecture)
    else:
        heads = [(row["layer"], row["head"]) for row in rank_heads(read_head_scores(path), score)]
        check_heads(heads, architecture)
    if not heads:
        raise FocusInterpError(f"{path} ranks no heads: pass a scoring run folder or a non-empty JSON [[layer, head], ...]")
    return heads
