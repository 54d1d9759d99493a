"""Retrieval heads (Wu et al., 2024): the heads that copy the needle while the model answers a needle question.

At each greedy decoding step, a head scores 1/|answer| when its most-attended position (the argmax of the row
that predicts the token) lies in the needle's answer tokens and holds the token being generated. A test's score
is the sum over its steps; a test counts only when the response recalls the answer, and a head's retrieval score
is the mean over the counted tests (needles x context lengths x depths). ``NeedleRules`` say how Wu et al. decode
and count. Rows are read as in contextual scoring: one row per layer and step, never T x T.

A run folder holds ``samples.jsonl`` (per test: response, needle span, per-head score), ``head_scores.csv``
(``layer,head,retrieval``) and ``meta.json``; a rerun resumes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from jaxtyping import Float, Int
from torch import Tensor

from focus_interp.model.generation import check_fits_window, newline_token_ids
from focus_interp.model.loading import LoadedModel
from focus_interp.prompts import Prompt
from focus_interp.scoring.response_attention import generate_reading_rows


@dataclass(frozen=True)
class NeedleRules:
    """How a needle test is decoded and counted. Each default is Wu et al.'s (their retrieval_head_detection.py);
    the other value is this project's earlier rule.

    ``strict``: a test counts when ROUGE-1 recall x 100 > 50 (``min_recall`` 0.5), not at recall >= 0.5.
    ``stemmer``: that recall by ``rouge_score`` with the Porter stemmer, not on the words as they are.
    ``until_newline``: decoding runs until the first newline, which is generated and scored, and not at the end of
    the turn (the response is decoded without special tokens and stripped); otherwise it stops before the end of turn.
    ``story``: the prompt opens ``This is a very long story book: <book>`` (``needle_prompt``), not ``<book>``."""

    strict: bool = True
    stemmer: bool = True
    until_newline: bool = True
    story: bool = False

    def counts(self, recall: float, min_recall: float) -> bool:
        return recall > min_recall if self.strict else recall >= min_recall


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
    loaded: LoadedModel, prompt: Prompt, answer: tuple[int, int], max_new_tokens: int = 50, until_newline: bool = True
) -> tuple[list[int], Tensor]:
    """The greedy response to a needle prompt and every head's retrieval score [layers, heads] on the token span
    ``answer`` = [start, end); with ``until_newline`` (Wu et al.) the response runs through its first newline,
    past any end of turn."""
    check_fits_window(loaded, len(prompt), max_new_tokens)
    stops = newline_token_ids(loaded) if until_newline else None
    response, rows = generate_reading_rows(loaded, prompt, _newest_argmax, max_new_tokens, stops=stops, keep_stop=until_newline)
    if not response:
        return response, torch.zeros(loaded.architecture.n_layers, loaded.architecture.n_heads)
    positions = torch.stack(rows[: len(response)])
    return response, retrieval_score(positions, response, prompt.input_ids + tuple(response), answer)
