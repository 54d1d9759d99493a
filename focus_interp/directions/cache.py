"""What training focus directions needs of each train sample, cached on disk one safetensors shard per sample.

For a sample (a multi-document QA row or a ``prompt_sample`` with a gold prompt): the gold response R_g (greedy,
to the gold-only prompt), then one forward over [long prompt, R_g]
that keeps, per layer, the post-RoPE queries of the response rows ``q.{layer}`` [heads, |R|, head_dim] and the
post-RoPE keys of every position ``k.{layer}`` [kv_heads, T, head_dim]; for the ``pre_rope`` site also the RoPE
tables ``cos.{i}``, ``sin.{i}`` [T, head_dim] (each distinct table once; ``rope_table_of_layer`` maps layers to
them), since RoPE is linear: rope_i(x + d) = rope_i(x) + rope_i(d).
Metadata: the sample id, the gold span, the first response row and T. Memory: O(layers x (heads x |R| + kv_heads
x T) x head_dim) per sample, never the hidden states.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from focus_interp.data.samples import check_samples_have, sample_prompts
from focus_interp.errors import FocusInterpError
from focus_interp.files import atomic_path
from focus_interp.model.generation import check_fits_window, greedy_response
from focus_interp.model.loading import LoadedModel
from focus_interp.runs.run_folder import RunFolder, process_rows, sample_settings

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def shard_name(sample_id) -> str:
    return f"sample-{sample_id}.safetensors"


@torch.no_grad()
def cache_sample(loaded: LoadedModel, row: dict, site: str, max_new_tokens: int, dtype: torch.dtype) -> tuple[dict, dict]:
    """The tensors and metadata of one sample's shard (see the module docstring)."""
    prompts = sample_prompts(loaded.tokenizer, row)
    gold_prompt = prompts.needs("gold_only", "direction training answers to learn from")
    gold_response = greedy_response(loaded, gold_prompt, max_new_tokens)
    if not gold_response:
        raise FocusInterpError(f"sample {row['id']}: the gold-only prompt got an empty response")
    prompt = prompts.long
    check_fits_window(loaded, len(prompt), len(gold_response))
    full = prompt.with_response(gold_response)
    rows = full.span("response")
    saved = []
    with loaded.model.trace(full.ids()):
        for layer in range(loaded.architecture.n_layers):
            sites = loaded.sites(layer)
            tables = [table.save() for table in sites.pre_rope.inputs[0][2:4]] if site == "pre_rope" else None
            query, key = sites.post_rope.output
            saved.append((query[0, :, rows.start : rows.stop].save(), key[0].save(), tables))
    tensors, rope_tables, table_of_layer = {}, [], []
    for layer, (query, key, tables) in enumerate(saved):
        tensors[f"q.{layer}"] = query.to(dtype).contiguous()
        tensors[f"k.{layer}"] = key.to(dtype).contiguous()
        if tables is not None:
            known = [i for i, (cos, sin) in enumerate(rope_tables) if torch.equal(cos, tables[0]) and torch.equal(sin, tables[1])]
            if not known:
                rope_tables.append(tables)
            table_of_layer.append(known[0] if known else len(rope_tables) - 1)
    for index, (cos, sin) in enumerate(rope_tables):
        tensors[f"cos.{index}"] = cos[0].to(dtype).clone()
        tensors[f"sin.{index}"] = sin[0].to(dtype).clone()
    gold = prompt.spans[prompts.relevant]
    metadata = {
        "id": str(row["id"]),
        "gold_span": json.dumps(list(gold)),
        "first_row": str(rows.start),
        "length": str(len(full)),
        "rope_table_of_layer": json.dumps(table_of_layer),
    }
    return tensors, metadata


def check_cache_dtype(dtype: str) -> None:
    if dtype not in DTYPES:
        raise FocusInterpError(f"cache dtype must be one of {', '.join(DTYPES)}, got {dtype}")


def build_cache(
    loaded: LoadedModel,
    rows,
    out: str | Path,
    site: str = "post_rope",
    data: dict | None = None,
    max_new_tokens: int = 32,
    dtype: str = "float16",
    progress: bool = True,
) -> dict:
    """Cache every row not yet in ``out`` (``samples.jsonl`` lists finished shards); returns the meta summary and,
    under ``shards``, the paths of every cached shard."""
    check_cache_dtype(dtype)
    check_samples_have(rows, "gold_only", "direction training answers to learn from")
    settings = {
        **sample_settings(loaded, rows, data, max_new_tokens),
        "config_fingerprint": loaded.architecture.config_fingerprint,
        "site": site,
        "dtype": dtype,
    }
    with RunFolder(out, settings) as folder:
        records = folder.records()
        skipped: list[dict] = []

        def cache(row: dict) -> dict:
            tensors, metadata = cache_sample(loaded, row, site, max_new_tokens, DTYPES[dtype])
            path = folder.path / shard_name(row["id"])
            with atomic_path(path) as partial:
                save_file(tensors, str(partial), metadata=metadata)
            return {"id": row["id"], "shard": path.name, "response_rows": int(metadata["length"]) - int(metadata["first_row"])}

        try:
            process_rows(folder, rows, cache, records, skipped, "caching activations", progress)
        finally:
            summary = {"n_cached": len(records), "n_skipped": len(skipped), "skipped": skipped}
            folder.write_meta(summary)
        return {**summary, "shards": [folder.path / record["shard"] for record in records]}


def read_shard(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """A shard's tensors (as float32) and metadata (gold span and first row as ints)."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            raw = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name).float() for name in handle.keys()}
    except (SafetensorError, OSError) as error:
        raise FocusInterpError(f"cannot read the cached sample {path} ({error}): delete its line from samples.jsonl "
                               "and rerun to cache it again") from None
    metadata = {
        "id": raw["id"],
        "gold_span": tuple(json.loads(raw["gold_span"])),
        "first_row": int(raw["first_row"]),
        "length": int(raw["length"]),
        "rope_table_of_layer": json.loads(raw.get("rope_table_of_layer", "[]")),
    }
    return tensors, metadata
