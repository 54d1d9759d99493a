"""Evaluation sweeps into a run folder: EM of every configuration on every sample, per gold position.

A configuration is no intervention, a baseline prompt (gold document alone, distractors alone), a split softmax
(heads, k, tau) or a focus direction (heads, k, alpha). ``samples.jsonl`` holds each sample's responses and EM
under every configuration; ``results.csv`` has one row per configuration and gold position (and ``all``):
intervention, heads, k, tau, alpha, positions, heads_source, gold_position, n and n_questions, em and its 95% interval, and the
paired difference to no intervention (its interval and p-value). A rerun resumes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from focus_interp.data.samples import (
    check_samples_have,
    check_samples_have_answers,
    response_length,
    sample_prompts,
)
from focus_interp.directions import Directions
from focus_interp.errors import FocusInterpError
from focus_interp.evaluation.configurations import (
    Configuration,
    HeadSets,
)
from focus_interp.evaluation.sweep_results import (
    SweepResults,
    configuration_records,
)
from focus_interp.interventions import FocusDirection, SplitSoftmax
from focus_interp.interventions.focus_direction import DIRECTION_POSITIONS
from focus_interp.interventions.generation import (
    generate_focus_direction_sweep,
    generate_split_softmax_sweep,
)
from focus_interp.metrics.exact_match import best_subspan_em
from focus_interp.model.generation import check_fits_window, greedy_response
from focus_interp.model.loading import LoadedModel
from focus_interp.runs.run_folder import RunFolder, evaluate_rows, sample_settings


def run_sweep(
    loaded: LoadedModel,
    rows,
    out: str | Path | None,
    configurations: Sequence[Configuration],
    head_sets: HeadSets,
    data: dict | None = None,
    max_new_tokens: int | None = None,
    directions: Directions | None = None,
    batch_size: int = 16,
    progress: bool = True,
) -> SweepResults:
    """Evaluate every configuration on every row not yet in ``out``, rewriting ``results.csv`` after each row;
    returns the results (``out`` None keeps them in memory).

    ``rows``: multi-document QA rows or ``prompt_sample``s with answers (and the prompts of the baselines asked
    for). Split softmaxes share each prompt's prefill (``generate_split_softmax_sweep``); focus directions need
    ``directions`` and run as rows of batches of up to ``batch_size`` (``generate_focus_direction_sweep``: each
    row equals its direction alone; ``positions="response"`` ones also share the prefill). Rows whose prompts do not fit the window are skipped and listed
    in ``meta.json``. ``max_new_tokens`` defaults to the rows' protocol's (``response_length``).
    """
    max_new_tokens = response_length(rows, max_new_tokens)
    if batch_size < 1:
        raise FocusInterpError(f"batch_size must be at least 1, got {batch_size}")
    check_samples_have_answers(rows, "a sweep measures EM with")
    names = [configuration.name for configuration in configurations]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise FocusInterpError(f"configurations {', '.join(repeated)} are listed more than once (or print the same): list each once")
    for configuration in configurations:
        configuration.check(head_sets, directions)
        if configuration.prompt != "long":
            check_samples_have(rows, configuration.prompt, f"the {configuration.name} configuration answers")
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
            return _evaluate_row(loaded, row, configurations, head_sets, directions, max_new_tokens, batch_size, plain)

        results = SweepResults(records, list(configurations), head_sets.source, head_sets.seed)

        def write() -> None:
            if folder.path is not None:
                results.write_csv(folder.path / "results.csv")

        evaluate_rows(folder, rows, evaluate, records, write, loaded.name, "evaluating", progress)
        results.meta = folder.meta
        return results


def _evaluate_row(loaded, row, configurations, head_sets, directions, max_new_tokens, batch_size, plain) -> dict:
    """One sample's record. The plain model and split softmaxes share the long prompt's prefill; focus directions
    run as rows of batches (those of response rows from a shared prefill of their own); ``plain`` memoises
    responses to the baseline prompts, which one question's gold positions share."""
    tokenizer = loaded.tokenizer
    prompts = sample_prompts(tokenizer, row)
    check_fits_window(loaded, len(prompts.long), max_new_tokens)
    edits = {c.name: c.build(head_sets, directions, prompts) for c in configurations if c.prompt == "long"}
    shared = {name: edit for name, edit in edits.items() if edit is None or isinstance(edit, SplitSoftmax)}
    responses: dict[str, list[int]] = {}
    if shared:
        outputs = generate_split_softmax_sweep(loaded, prompts.long, list(shared.values()), max_new_tokens, batch_size)
        responses.update(zip(shared, outputs))
    for positions in DIRECTION_POSITIONS:
        steered = {c.name: edits[c.name] for c in configurations if isinstance(edits.get(c.name), FocusDirection) and c.positions == positions}
        if steered:
            outputs = generate_focus_direction_sweep(loaded, prompts.long, list(steered.values()), max_new_tokens, batch_size, positions)
            responses.update(zip(steered, outputs))
    for configuration in configurations:
        if configuration.prompt != "long":
            baseline = getattr(prompts, configuration.prompt)
            if baseline.input_ids not in plain:
                plain[baseline.input_ids] = greedy_response(loaded, baseline, max_new_tokens)
            responses[configuration.name] = plain[baseline.input_ids]
    texts = {c.name: tokenizer.decode(responses[c.name]) for c in configurations}
    return {
        "id": row["id"],
        "question": row.get("question", ""),
        "answers": list(prompts.answers),
        "gold_position": row.get("gold_position"),
        "responses": texts,
        "em": {name: best_subspan_em(text, prompts.answers) for name, text in texts.items()},
    }
