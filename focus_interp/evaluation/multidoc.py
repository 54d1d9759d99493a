"""Evaluation sweeps into a run folder: EM of every configuration on every sample, per gold position.

A configuration is no intervention, a baseline prompt (gold document alone, distractors alone), a split softmax
(heads, k, tau) or a focus direction (heads, k, alpha). ``samples.jsonl`` holds each sample's responses and EM
under every configuration; ``results.csv`` has one row per configuration and gold position (and ``all``):
intervention, heads, k, tau, alpha, heads_source, gold_position, n, em. A rerun resumes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from focus_interp.data import gold_parts, gold_segment, long_parts, no_gold_parts
from focus_interp.directions import Directions
from focus_interp.errors import FocusInterpError
from focus_interp.evaluation.configurations import (
    Configuration,
    HeadSets,
    focus_direction_edit,
)
from focus_interp.evaluation.sweep_results import (
    RESULT_COLUMNS,
    SweepResults,
    configuration_records,
)
from focus_interp.files import read_csv_rows
from focus_interp.interventions import SplitSoftmax
from focus_interp.interventions.generation import (
    generate_split_softmax_sweep,
    generate_with_interventions,
)
from focus_interp.interventions.split_softmax import check_tau
from focus_interp.metrics.exact_match import best_subspan_em
from focus_interp.model.generation import check_fits_window, greedy_response
from focus_interp.model.loading import LoadedModel
from focus_interp.prompts import build_prompt
from focus_interp.runs.run_folder import RunFolder, evaluate_rows, sample_settings


def run_sweep(
    loaded: LoadedModel,
    rows,
    out: str | Path | None,
    configurations: Sequence[Configuration],
    head_sets: HeadSets,
    data: dict | None = None,
    max_new_tokens: int = 32,
    directions: Directions | None = None,
    batch_size: int = 16,
    progress: bool = True,
) -> SweepResults:
    """Evaluate every configuration on every row not yet in ``out``, rewriting ``results.csv`` after each row;
    returns the results (``out`` None keeps them in memory).

    Split softmaxes share each prompt's prefill (``generate_split_softmax_sweep``); focus directions need
    ``directions`` and run one generation each. Rows whose prompts do not fit the
    window are skipped and listed in ``meta.json``.
    """
    if batch_size < 1:
        raise FocusInterpError(f"batch_size must be at least 1, got {batch_size}")
    for configuration in configurations:
        if configuration.heads:
            head_sets.heads(configuration)
        if configuration.tau is not None:
            check_tau(configuration.tau)
    direction_edits = {
        c.name: focus_direction_edit(c, head_sets, directions, loaded.architecture)
        for c in configurations
        if c.intervention == "focus_direction"
    }
    settings = {
        **sample_settings(loaded, rows, data, max_new_tokens),
        "heads_source": head_sets.source,
        "ranking": [list(head) for head in head_sets.ranking],
        "seed": head_sets.seed,
        "directions": None if directions is None else directions.describe(),
        "configurations": configuration_records(configurations),
    }
    with RunFolder(out, settings) as folder:
        records = folder.records()
        plain: dict[tuple[int, ...], list[int]] = {}

        def evaluate(row: dict) -> dict:
            return _evaluate_row(loaded, row, configurations, head_sets, max_new_tokens, direction_edits, batch_size, plain)

        results = SweepResults(records, list(configurations), head_sets.source, head_sets.seed)

        def write() -> None:
            if folder.path is not None:
                results.write_csv(folder.path / "results.csv")

        evaluate_rows(folder, rows, evaluate, records, write, loaded.name, "evaluating", progress)
        results.meta = folder.meta
        return results


def _evaluate_row(loaded, row, configurations, head_sets, max_new_tokens, direction_edits, batch_size, plain) -> dict:
    """One sample's record; ``direction_edits`` holds the focus direction of each such configuration by name. ``plain`` memoises responses without intervention by prompt: the gold-only and
    no-gold prompts of one question are the same for each of its gold positions."""
    tokenizer = loaded.tokenizer
    prompt = build_prompt(tokenizer, long_parts(row))
    check_fits_window(loaded, len(prompt), max_new_tokens)
    span, last = prompt.spans[gold_segment(row)], len(prompt) - 1
    responses: dict[str, list[int]] = {}
    swept = [c for c in configurations if c.intervention in ("none", "split_softmax")]
    edits = [
        None if c.intervention == "none" else SplitSoftmax(head_sets.heads(c), span, c.tau, last) for c in swept
    ]
    if swept:
        outputs = generate_split_softmax_sweep(loaded, prompt, edits, max_new_tokens, batch_size)
        responses.update({c.name: output for c, output in zip(swept, outputs)})
    for configuration in configurations:
        if configuration.intervention in ("gold_only", "no_gold"):
            parts = gold_parts(row) if configuration.intervention == "gold_only" else no_gold_parts(row)
            baseline = build_prompt(tokenizer, parts)
            if baseline.input_ids not in plain:
                plain[baseline.input_ids] = greedy_response(loaded, baseline, max_new_tokens)
            responses[configuration.name] = plain[baseline.input_ids]
        elif configuration.intervention == "focus_direction":
            edit = direction_edits[configuration.name]
            responses[configuration.name] = generate_with_interventions(loaded, prompt, [edit], max_new_tokens)
    texts = {name: tokenizer.decode(ids) for name, ids in responses.items()}
    return {
        "id": row["id"],
        "question": row["question"],
        "answers": list(row["answers"]),
        "gold_position": row["gold_position"],
        "responses": texts,
        "em": {name: best_subspan_em(text, row["answers"]) for name, text in texts.items()},
    }


def read_results(path: str | Path) -> list[dict]:
    """Rows of a ``results.csv`` with numbers parsed (None for empty cells)."""
    path = Path(path)
    hint = f"no results at {path}: run `focus-interp compensate ... --out {path.parent}` first"
    return [
        {
            **row,
            "k": int(row["k"]) if row["k"] else None,
            "tau": float(row["tau"]) if row["tau"] else None,
            "alpha": float(row["alpha"]) if row["alpha"] else None,
            "n": int(row["n"]),
            "em": float(row["em"]),
        }
        for row in read_csv_rows(path, RESULT_COLUMNS, hint, "results.csv")
    ]
