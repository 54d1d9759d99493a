"""Score every head over a dataset into a run folder: ``samples.jsonl``, ``head_scores.csv``, ``meta.json``.

``head_scores.csv`` has one row per (layer, head): the means over samples of R, IR, IR_max, sink (long prompt),
R_gold, sink_gold (gold-only prompt), and the long-prompt scores per case of Table 1: ``*_correct`` (EM on the
gold-only and on the long prompt) and ``*_wrong`` (EM on gold-only, not on long). Empty cells: no sample.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np

from focus_interp.errors import FocusInterpError
from focus_interp.files import write_csv
from focus_interp.model.generation import check_fits_window
from focus_interp.model.loading import LoadedModel
from focus_interp.runs.run_folder import RunFolder, process_rows, sample_settings
from focus_interp.scoring.contextual import (
    SCORE_NAMES,
    build_sample_prompts,
    score_prompts,
)

LONG_SCORES = ("R", "IR", "IR_max", "sink")
CASES = {"correct": lambda r: r["em_gold"] == 1 and r["em"] == 1, "wrong": lambda r: r["em_gold"] == 1 and r["em"] == 0}
COLUMNS = ("layer", "head", *SCORE_NAMES, *(f"{s}_{case}" for case in CASES for s in LONG_SCORES))
_SUMMARY_KEYS = ("id", "em", "em_gold", "scores")


def score_heads(
    loaded: LoadedModel,
    rows,
    out: str | Path,
    data: dict | None = None,
    max_new_tokens: int = 32,
    sink_tokens: int = 2,
    progress: bool = True,
    interventions: Sequence = (),
    interventions_settings: dict | None = None,
) -> dict:
    """Score every row not yet in ``out``, rewrite ``head_scores.csv`` and ``meta.json``; returns the meta summary.

    ``data`` describes where the rows came from (kept in ``meta.json``). A row that cannot be scored (its prompt
    plus ``max_new_tokens`` exceeds the model's window, or a segment cannot be located) is skipped and listed in
    ``meta.json``. Interrupting keeps every finished sample; rerunning with the same settings resumes.
    ``interventions`` (position-free, e.g. focus directions) apply to both prompts of every sample;
    ``interventions_settings`` describes them in ``meta.json`` (settings a resumed run must match).
    """
    if sink_tokens < 0:
        raise FocusInterpError(f"sink_tokens must be 0 or more, got {sink_tokens}")
    few = next((row for row in rows if len(row["documents"]) < 2), None)
    if few is not None:
        raise FocusInterpError(
            f"sample {few['id']} has {len(few['documents'])} document: contextual scores need the gold document and at "
            "least one distractor (--documents 2 or more)"
        )
    settings = {
        **sample_settings(loaded, rows, data, max_new_tokens),
        "sink_tokens": sink_tokens,
        **({"interventions": interventions_settings} if interventions_settings else {}),
    }
    with RunFolder(out, settings) as folder:
        records = folder.records()
        skipped = []

        def score(row: dict) -> dict:
            long_prompt, gold_prompt = build_sample_prompts(loaded, row, sink_tokens)
            check_fits_window(loaded, len(long_prompt), max_new_tokens)
            return score_prompts(loaded, row, long_prompt, gold_prompt, max_new_tokens, interventions)

        try:
            process_rows(folder, rows, score, records, skipped, "scoring heads", progress)
        finally:
            summaries = [_summary(record) for record in records]
            write_head_scores(folder.path / "head_scores.csv", summaries, loaded.architecture.n_layers, loaded.architecture.n_heads)
            summary = {
                "model": loaded.name,
                "n_scored": len(summaries),
                "n_skipped": len(skipped),
                "skipped": skipped,
                "n_cases": {case: sum(map(test, summaries)) for case, test in CASES.items()},
                "em": _mean([s["em"] for s in summaries]),
                "em_gold": _mean([s["em_gold"] for s in summaries]),
            }
            folder.write_meta(summary)
        return summary


def head_score_table(records: list[dict], n_layers: int, n_heads: int) -> dict[str, np.ndarray]:
    """Column name -> [layers, heads] means over the records that have that score (NaN when none)."""
    table = {name: _mean_scores(records, name) for name in SCORE_NAMES}
    for case, test in CASES.items():
        chosen = [r for r in records if test(r)]
        table.update({f"{name}_{case}": _mean_scores(chosen, name) for name in LONG_SCORES})
    return {name: value if value is not None else np.full((n_layers, n_heads), np.nan) for name, value in table.items()}


def write_head_scores(path: Path, records: list[dict], n_layers: int, n_heads: int) -> None:
    table = head_score_table(records, n_layers, n_heads)
    rows = (
        [layer, head, *("" if math.isnan(v) else f"{v:.6f}" for v in (table[name][layer, head] for name in COLUMNS[2:]))]
        for layer in range(n_layers)
        for head in range(n_heads)
    )
    write_csv(path, COLUMNS, rows)


def _summary(record: dict) -> dict:
    """What the means need of a record (not its input ids)."""
    return {key: record[key] for key in _SUMMARY_KEYS}


def _mean_scores(records: list[dict], name: str) -> np.ndarray | None:
    values = [r["scores"][name] for r in records if r["scores"].get(name) is not None]
    return np.mean(np.asarray(values, dtype=np.float64), axis=0) if values else None


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None
