"""Long-context evaluation (HELMET's categories): every sample under every configuration (no intervention, or a
focus direction on the top-k heads at alpha), with its metric and the sink contextual score of the top heads.

A run folder holds ``samples.jsonl`` (per sample: responses, scores, sink scores per configuration),
``results.csv`` (``task, category, budget, configuration, n, score, sink``: means per task, budget and
configuration) and ``meta.json``; a rerun resumes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import numpy as np

from focus_interp.data.long_context import LongContextSample
from focus_interp.directions import Directions
from focus_interp.errors import FocusInterpError
from focus_interp.evaluation.configurations import (
    Configuration,
    HeadSets,
    check_distinct,
)
from focus_interp.evaluation.long_context_results import LongContextResults
from focus_interp.metrics.long_context import score_response
from focus_interp.model.generation import (
    HELMET_NEWLINES,
    check_fits_window,
    newline_token_ids,
    stop_token_ids,
)
from focus_interp.model.loading import LoadedModel
from focus_interp.prompts import SINK, Segment
from focus_interp.runs.run_folder import RunFolder, evaluate_rows, sample_settings
from focus_interp.scoring.response_attention import generate_with_span_attention


def long_context_configurations(k_values: Sequence[int], alphas: Sequence[float]) -> list[Configuration]:
    """No intervention, then a focus direction on the top-k heads at every alpha (the paper: k 10, 20; alpha ±0.2)."""
    check_distinct("alphas", alphas)
    return [Configuration("none")] + [Configuration("focus_direction", "top", k, alpha=alpha) for k in k_values for alpha in alphas]


def run_long_context(
    loaded: LoadedModel,
    samples: Sequence[LongContextSample],
    out: str | Path | None,
    configurations: Sequence[Configuration],
    head_sets: HeadSets,
    directions: Directions | None,
    data: dict | None = None,
    max_new_tokens: int | None = None,
    sink_heads: int = 5,
    progress: bool = True,
) -> LongContextResults:
    """Evaluate every sample not yet in ``out`` under every configuration; rewrite ``results.csv`` after each;
    returns the results (``out`` None keeps them in memory).

    Each sample runs as HELMET's configs run its task (``sample.settings``): its prompt through the chat template
    or not, its response up to the task's length (or ``max_new_tokens`` for every task) and, for RAG, re-ranking
    and ICL, stopped at the first newline.

    The sink score of a response is the mean, over the top ``sink_heads`` heads of the ranking, of their
    attention on the first tokens averaged over the response rows (Tables 12-13). Samples whose prompt does not
    fit the window are skipped and listed in ``meta.json``. Each sample's content (``content_digest``) is pinned
    with its id, so a rerun over changed samples with the same ids is refused rather than resumed.
    """
    edits = {c.name: _interventions(c, head_sets, directions) for c in configurations}
    top = head_sets.ranking[:sink_heads]
    if not top:
        raise FocusInterpError("the head ranking is empty: pass a scoring run or a JSON head list")
    rows = [{"id": sample.id, "question": content_digest(sample), "sample": sample} for sample in samples]
    def length_of(sample: LongContextSample) -> int:
        return sample.settings.max_new_tokens if max_new_tokens is None else max_new_tokens

    longest = max([length_of(sample) for sample in samples], default=1 if max_new_tokens is None else max_new_tokens)
    settings = {
        **sample_settings(loaded, rows, data, longest),
        "max_new_tokens": max_new_tokens,
        "heads_source": head_sets.source,
        "ranking": [list(head) for head in head_sets.ranking],
        "directions": None if directions is None else directions.describe(),
        "configurations": [c.name for c in configurations],
        "sink_heads": sink_heads,
    }
    with RunFolder(out, settings) as folder:
        records = folder.records()

        def evaluate(row: dict) -> dict:
            sample: LongContextSample = row["sample"]
            prompt = sample.prompt(loaded.tokenizer)
            length = length_of(sample)
            check_fits_window(loaded, len(prompt), length)
            stops = [*stop_token_ids(loaded), *newline_token_ids(loaded, HELMET_NEWLINES)] if sample.settings.stop_at_newline else None
            record = {"id": sample.id, "task": sample.task, "category": sample.category, "budget": sample.budget,
                      "prompt_tokens": len(prompt), "responses": {}, "scores": {}, "sink": {}}
            for name, interventions in edits.items():
                result = generate_with_span_attention(loaded, prompt, [SINK], length, interventions, stops)
                text = loaded.tokenizer.decode(result.response_ids)
                record["responses"][name] = text
                record["scores"][name] = score_response(sample, text)
                sink = result.mean_over_response()[..., 0] if result.response_ids else None
                record["sink"][name] = None if sink is None else float(np.mean([float(sink[layer, head]) for layer, head in top]))
            return record

        results = LongContextResults(records, [c.name for c in configurations])

        def write() -> None:
            if folder.path is not None:
                results.write_csv(folder.path / "results.csv")

        evaluate_rows(folder, rows, evaluate, records, write, loaded.name, "long-context samples", progress)
        results.meta = folder.meta
        return results


def content_digest(sample: LongContextSample) -> str:
    """A short sha256 of what a sample asks and how it is run and scored: its parts (segment names and text),
    answers, metric, relevance labels and generation settings."""
    parts = [[part.name, part.text] if isinstance(part, Segment) else part for part in sample.parts]
    content = json.dumps([parts, sample.answers, sample.metric, sample.qrels, asdict(sample.settings)], sort_keys=True)
    return hashlib.sha256(content.encode()).hexdigest()[:16]


def _interventions(configuration: Configuration, head_sets: HeadSets, directions: Directions | None) -> list:
    """The interventions of one configuration, checked against the model before any sample runs."""
    if configuration.prompt != "long" or configuration.intervention == "split_softmax":
        raise FocusInterpError(f"long-context runs take no intervention or focus directions, not {configuration.name}")
    if configuration.positions != "all":
        raise FocusInterpError(f"long-context runs edit every position: {configuration.name} is for multi-document sweeps")
    edit = configuration.build(head_sets, directions)
    return [] if edit is None else [edit]
