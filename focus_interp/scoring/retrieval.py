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

from typing import Sequence

import torch
from jaxtyping import Float, Int
from torch import Tensor

from focus_interp.model.generation import check_fits_window
from focus_interp.model.loading import LoadedModel
from focus_interp.prompts import Prompt
from focus_interp.scoring.response_attention import generate_reading_rows


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
