"""Retrieval heads (Wu et al., 2024): the heads that copy the needle while the model answers a needle question.

At each greedy decoding step, a head scores 1/|answer| when its most-attended position (the argmax of the row
that predicts the token) lies in the needle's answer tokens and holds the token being generated. A test's score
is the sum over its steps; as in Wu et al., a test counts only when the response recalls the answer (ROUGE-1
recall at least ``min_recall``, 0.5), and a head's retrieval score is the mean over the counted tests (needles x
context lengths x depths). Rows are read as in contextual scoring: one row per layer and step, never T x T.

A run folder holds ``samples.jsonl`` (per test: response, needle span, per-head score), ``head_scores.csv``
(``layer,head,retrieval``) and ``meta.json``; a rerun resumes.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor

from focus_interp.data.needles import answer_span, haystack_text, needle_prompt
from focus_interp.generation import check_fits_window
from focus_interp.errors import FocusInterpError
from focus_interp.long_context_metrics import rouge1_recall
from focus_interp.models import LoadedModel
from focus_interp.prompts import Prompt
from focus_interp.runs import RunFolder, process_rows, sample_settings, write_atomic
from focus_interp.scoring.response_attention import generate_reading_rows

HAYSTACK_CHARACTERS_PER_TOKEN = 6


def retrieval_score(
    argmax_positions: Int[Tensor, "steps layers heads"],
    generated: Sequence[int],
    sequence_ids: Sequence[int],
    needle: tuple[int, int],
) -> Float[Tensor, "layers heads"]:
    """Sum over steps of 1/|needle| where step s's argmax position lies in ``needle`` = [start, end) and holds
    ``generated[s]``; ``sequence_ids`` are the ids of every position the rows can attend (prompt, then response)."""
    start, end = needle
    positions = argmax_positions[: len(generated)].long()
    tokens = torch.tensor(list(sequence_ids), dtype=torch.long)[positions]
    wanted = torch.tensor(list(generated), dtype=torch.long)[:, None, None]
    hits = (positions >= start) & (positions < end) & (tokens == wanted)
    return hits.sum(dim=0).float() / (end - start)


def _newest_argmax(probabilities: Tensor, end: int) -> Tensor:
    """The absolute position each head attends most, from its row over positions [end - keys, end)."""
    return probabilities.argmax(dim=-1) + (end - probabilities.shape[-1])


def score_needle_prompt(
    loaded: LoadedModel, prompt: Prompt, answer: tuple[int, int], max_new_tokens: int = 50
) -> tuple[list[int], Tensor]:
    """The greedy response to a needle prompt and every head's retrieval score [layers, heads] on the token span
    ``answer`` = [start, end)."""
    check_fits_window(loaded, len(prompt), max_new_tokens)
    response, rows = generate_reading_rows(loaded, prompt, _newest_argmax, max_new_tokens)
    if not response:
        return response, torch.zeros(loaded.architecture.n_layers, loaded.architecture.n_heads)
    positions = torch.stack(rows[: len(response)])
    return response, retrieval_score(positions, response, prompt.input_ids + tuple(response), answer)


def score_retrieval_heads(
    loaded: LoadedModel,
    tests: Sequence[dict],
    out: str | Path,
    haystack: str | Path = "synthetic",
    data: dict | None = None,
    max_new_tokens: int = 50,
    min_recall: float = 0.5,
    progress: bool = True,
) -> dict:
    """Score every test (rows of ``needle_tests``) not yet in ``out``; rewrite ``head_scores.csv`` and
    ``meta.json``; returns the meta summary. A test whose prompt does not fit the window is skipped and listed.
    The run pins the needles' text and ``min_recall`` as well as the tests."""
    if not 0.0 <= min_recall <= 1.0:
        raise FocusInterpError(f"min_recall must lie in [0, 1], got {min_recall}")
    needles = sorted({(test["needle"], test["answer"]) for test in tests})
    settings = {
        **sample_settings(loaded.name, tests, {"haystack": str(haystack), **(data or {})}, max_new_tokens),
        "needles": [list(needle) for needle in needles],
        "min_recall": min_recall,
    }
    text = haystack_text(haystack, HAYSTACK_CHARACTERS_PER_TOKEN * max(test["length"] for test in tests))
    folder = RunFolder(out, settings)
    records, skipped = folder.records(), []

    def score(test: dict) -> dict:
        prompt = needle_prompt(loaded.tokenizer, text, test)
        span = answer_span(prompt, loaded.tokenizer, test["answer"])
        response, scores = score_needle_prompt(loaded, prompt, span, max_new_tokens)
        answer = loaded.tokenizer.decode(response)
        recall = rouge1_recall(answer, test["answer"])
        return {
            "id": test["id"],
            "question": test["question"],
            "length": test["length"],
            "depth": test["depth"],
            "prompt_tokens": len(prompt),
            "answer_span": list(span),
            "response": answer,
            "recall": recall,
            "counted": recall >= min_recall,
            "scores": {"retrieval": [[round(float(x), 8) for x in layer] for layer in scores]},
        }

    try:
        process_rows(folder, tests, score, records, skipped, "retrieval tests", progress)
    finally:
        architecture = loaded.architecture
        counted = [record for record in records if record["counted"]]
        write_retrieval_scores(folder.path / "head_scores.csv", counted, architecture.n_layers, architecture.n_heads)
        summary = {
            "model": loaded.name,
            "n_scored": len(records),
            "n_counted": len(counted),
            "n_skipped": len(skipped),
            "skipped": skipped,
            "recall": float(np.mean([r["recall"] for r in records])) if records else None,
        }
        folder.write_meta(summary)
    return summary


def write_retrieval_scores(path: Path, records: list[dict], n_layers: int, n_heads: int) -> None:
    """``layer,head,retrieval``: each head's mean score over the records (empty cells when there are none)."""
    scores = np.mean([r["scores"]["retrieval"] for r in records], axis=0) if records else None
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["layer", "head", "retrieval"])
    for layer in range(n_layers):
        for head in range(n_heads):
            writer.writerow([layer, head, "" if scores is None else f"{scores[layer, head]:.6f}"])
    write_atomic(path, text.getvalue())
