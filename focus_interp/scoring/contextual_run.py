"""Score every head over a dataset into a run folder: ``samples.jsonl``, ``head_scores.csv``, ``meta.json``.

``head_scores.csv`` has one row per (layer, head): the means over samples of R, IR, IR_max, sink (long prompt),
R_gold, sink_gold (gold-only prompt), and the long-prompt scores per case of Table 1: ``*_correct`` (EM on the
gold-only and on the long prompt) and ``*_wrong`` (EM on gold-only, not on long). Empty cells: no sample.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from focus_interp.data.samples import response_length, sample_prompts
from focus_interp.errors import FocusInterpError
from focus_interp.model.generation import check_fits_window
from focus_interp.model.loading import LoadedModel
from focus_interp.runs.run_folder import RunFolder, process_rows, sample_settings
from focus_interp.scoring.authors_scoring import authors_record
from focus_interp.scoring.contextual import score_prompts
from focus_interp.scoring.head_scores import CASES, HeadScores

SPAN_SEARCHES = ("exact", "authors")


def score_heads(
    loaded: LoadedModel,
    rows,
    out: str | Path | None = None,
    data: dict | None = None,
    max_new_tokens: int | None = None,
    sink_tokens: int = 2,
    progress: bool = True,
    interventions: Sequence = (),
    interventions_settings: dict | None = None,
    span_search: str = "exact",
) -> HeadScores:
    """Score every row (not yet in ``out``), rewrite ``head_scores.csv`` and ``meta.json``; returns the scores.

    With ``out`` None everything stays in memory (``HeadScores.save`` writes it later).

    ``data`` describes where the rows came from (kept in ``meta.json``). A row that cannot be scored (its prompt
    plus ``max_new_tokens`` exceeds the model's window, or a segment cannot be located) is skipped and listed in
    ``meta.json``. Interrupting keeps every finished sample; rerunning with the same settings resumes.
    ``max_new_tokens`` defaults to the rows' protocol's (``response_length``).
    ``interventions`` (position-free, e.g. focus directions) apply to both prompts of every sample;
    ``interventions_settings`` describes them in ``meta.json`` (settings a resumed run must match).
    ``span_search``: "exact" (the spans of the rendered prompt and the generated response) or "authors" (their
    response, sequence and fuzzy span search, ``scoring.authors_scoring``: to reproduce their scores; multi-document
    rows only, no interventions).
    """
    if span_search not in SPAN_SEARCHES:
        raise FocusInterpError(f"unknown span search '{span_search}': choose one of {', '.join(SPAN_SEARCHES)}")
    if span_search == "authors" and (interventions or any("prompt" in row for row in rows)):
        raise FocusInterpError("the authors' span search scores multi-document rows without interventions: use span_search='exact'")
    if sink_tokens < 0:
        raise FocusInterpError(f"sink_tokens must be 0 or more, got {sink_tokens}")
    max_new_tokens = response_length(rows, max_new_tokens)
    few = next((row for row in rows if "prompt" not in row and len(row["documents"]) < 2), None)
    if few is not None:
        raise FocusInterpError(
            f"sample {few['id']} has {len(few['documents'])} document: contextual scores need the gold document and at "
            "least one distractor (--documents 2 or more)"
        )
    settings = {
        **sample_settings(loaded, rows, data, max_new_tokens),
        "sink_tokens": sink_tokens,
        **({"span_search": span_search} if span_search != "exact" else {}),
        **({"interventions": interventions_settings} if interventions_settings else {}),
    }
    with RunFolder(out, settings) as folder:
        records = folder.records()
        skipped = []

        def score(row: dict) -> dict:
            prompts = sample_prompts(loaded.tokenizer, row, sink_tokens)
            check_fits_window(loaded, len(prompts.long), max_new_tokens)
            if span_search == "authors":
                return authors_record(loaded, row, max_new_tokens)
            return score_prompts(loaded, row, prompts, max_new_tokens, interventions)

        try:
            process_rows(folder, rows, score, records, skipped, "scoring heads", progress)
        finally:
            architecture = loaded.architecture
            scores = HeadScores(records, architecture.n_layers, architecture.n_heads, "contextual")
            scores.record_in(folder, {
                "model": loaded.name,
                "n_scored": len(records),
                "n_skipped": len(skipped),
                "skipped": skipped,
                "n_cases": {case: sum(map(test, records)) for case, test in CASES.items()},
                "n_questions": scores.n_questions,
                **{field: value for key in ("em", "em_gold") for field, value in _with_interval(scores.em(key), key).items()},
            })
        return scores


def _with_interval(interval, key: str) -> dict:
    """``{key: mean, key_interval: [low, high]}`` of an ``Interval`` (None for both without one)."""
    if interval is None:
        return {key: None, f"{key}_interval": None}
    return {key: interval.estimate, f"{key}_interval": [interval.low, interval.high]}
