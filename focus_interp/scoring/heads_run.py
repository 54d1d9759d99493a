"""Score every head over a dataset into a run folder: ``samples.jsonl``, ``head_scores.csv``, ``meta.json``.

``head_scores.csv`` has one row per (layer, head): the means over samples of R, IR, IR_max, sink (long prompt),
R_gold, sink_gold (gold-only prompt), and the long-prompt scores per case of Table 1: ``*_correct`` (EM on the
gold-only and on the long prompt) and ``*_wrong`` (EM on gold-only, not on long). Empty cells: no sample.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from focus_interp.errors import FocusInterpError
from focus_interp.models import LoadedModel
from focus_interp.runs import RunFolder, write_atomic
from focus_interp.scoring.contextual import SCORE_NAMES, build_sample_prompts, score_sample

LONG_SCORES = ("R", "IR", "IR_max", "sink")
CASES = {"correct": lambda r: r["em_gold"] == 1 and r["em"] == 1, "wrong": lambda r: r["em_gold"] == 1 and r["em"] == 0}
COLUMNS = ("layer", "head", *SCORE_NAMES, *(f"{s}_{case}" for case in CASES for s in LONG_SCORES))


def score_heads(
    loaded: LoadedModel,
    rows,
    out: str | Path,
    settings: dict,
    max_new_tokens: int = 32,
    sink_tokens: int = 2,
    progress: bool = True,
) -> Path:
    """Score every row not yet in ``out`` and rewrite ``head_scores.csv``; returns its path.

    Rows whose prompt plus ``max_new_tokens`` exceeds the model's window are skipped and counted in
    ``meta.json``. Interrupting keeps every finished sample; rerunning with the same settings resumes.
    """
    folder = RunFolder(out, settings)
    records = folder.records()
    done = {record["id"] for record in records}
    window = loaded.architecture.context_length
    skipped = []
    bar = tqdm(total=len(rows), initial=len(done), desc="scoring heads", unit="sample", disable=not progress)
    try:
        for row in rows:
            if row["id"] in done:
                continue
            long_prompt, _ = build_sample_prompts(loaded, row, sink_tokens)
            if len(long_prompt) + max_new_tokens + 1 > window:
                skipped.append(row["id"])
            else:
                record = score_sample(loaded, row, max_new_tokens, sink_tokens)
                folder.append(record)
                records.append(record)
            bar.update()
    finally:
        bar.close()
        path = write_head_scores(folder, records, loaded.architecture.n_layers, loaded.architecture.n_heads)
        folder.write_meta(
            {
                "model": loaded.name,
                "n_scored": len(records),
                "skipped_over_window": len(skipped),
                "skipped_ids": skipped,
                "n_cases": {case: sum(map(test, records)) for case, test in CASES.items()},
                "em": _mean([r["em"] for r in records]),
                "em_gold": _mean([r["em_gold"] for r in records]),
            }
        )
    return path


def head_score_table(records: list[dict], n_layers: int, n_heads: int) -> dict[str, np.ndarray]:
    """Column name -> [layers, heads] means over the records that have that score (NaN when none)."""
    table = {name: _mean_scores(records, name) for name in SCORE_NAMES}
    for case, test in CASES.items():
        chosen = [r for r in records if test(r)]
        table.update({f"{name}_{case}": _mean_scores(chosen, name) for name in LONG_SCORES})
    return {name: value if value is not None else np.full((n_layers, n_heads), np.nan) for name, value in table.items()}


def write_head_scores(folder: RunFolder, records: list[dict], n_layers: int, n_heads: int) -> Path:
    table = head_score_table(records, n_layers, n_heads)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    for layer in range(n_layers):
        for head in range(n_heads):
            values = [table[name][layer, head] for name in COLUMNS[2:]]
            writer.writerow([layer, head, *("" if math.isnan(v) else f"{v:.6f}" for v in values)])
    path = folder.path / "head_scores.csv"
    write_atomic(path, text.getvalue())
    return path


def read_head_scores(path: str | Path) -> list[dict]:
    """Rows of a ``head_scores.csv``: ints for layer/head, floats (NaN for empty) for the scores."""
    path = Path(path)
    if not path.is_file():
        raise FocusInterpError(f"no head scores at {path}: run `focus-interp heads ... --out {path.parent}` first")
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"layer", "head", "R"} - set(reader.fieldnames or ())
        if missing:
            raise FocusInterpError(f"{path} is not a head_scores.csv: it lacks the columns {', '.join(sorted(missing))}")
        return [
            {key: int(value) if key in ("layer", "head") else float(value or "nan") for key, value in row.items()}
            for row in reader
        ]


def top_heads(path: str | Path, k: int, score: str = "R") -> list[tuple[int, int]]:
    """The ``k`` heads with the highest mean ``score``, best first, as (layer, head)."""
    rows = sorted(read_head_scores(path), key=lambda row: (-row[score], row["layer"], row["head"]))
    return [(row["layer"], row["head"]) for row in rows[:k]]


def _mean_scores(records: list[dict], name: str) -> np.ndarray | None:
    values = [r["scores"][name] for r in records if r["scores"].get(name) is not None]
    return np.mean(np.asarray(values, dtype=np.float64), axis=0) if values else None


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None
