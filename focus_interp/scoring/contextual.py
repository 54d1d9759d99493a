"""Contextual scores of every head for one multi-document QA sample (paper §2.2).

For the long prompt (all documents) and its greedy response R: R = attention mass on the gold document, IR = on
all irrelevant documents, IR_max = on the single most-attended irrelevant document, sink = on the first tokens;
each averaged over the response rows. On the gold-only prompt with its own response: R_gold and sink_gold.
"""

from __future__ import annotations

import torch

from focus_interp.data.multidoc.parts import (
    document_name,
    gold_parts,
    gold_segment,
    irrelevant_segments,
    long_parts,
)
from focus_interp.metrics.exact_match import best_subspan_em
from focus_interp.model.loading import LoadedModel
from focus_interp.prompts import SINK, Prompt, build_prompt
from focus_interp.scoring.response_attention import generate_with_span_attention

SCORE_NAMES = ("R", "IR", "IR_max", "sink", "R_gold", "sink_gold")


def build_sample_prompts(loaded: LoadedModel, row: dict, sink_tokens: int = 2) -> tuple[Prompt, Prompt]:
    """The long prompt and the gold-only prompt of ``row``."""
    tokenizer = loaded.tokenizer
    long_prompt = build_prompt(tokenizer, long_parts(row), sink_tokens=sink_tokens)
    gold_prompt = build_prompt(tokenizer, gold_parts(row), sink_tokens=sink_tokens)
    return long_prompt, gold_prompt


def score_sample(loaded: LoadedModel, row: dict, max_new_tokens: int = 32, sink_tokens: int = 2) -> dict:
    """One JSON-ready record for ``row``: see ``score_prompts``."""
    return score_prompts(loaded, row, *build_sample_prompts(loaded, row, sink_tokens), max_new_tokens)


def score_prompts(
    loaded: LoadedModel, row: dict, long_prompt: Prompt, gold_prompt: Prompt, max_new_tokens: int, interventions=()
) -> dict:
    """The responses to both prompts, their EM, spans, ids, and per-head scores ([layer][head] lists).

    ``interventions`` (position-free ones, such as focus directions) apply to both prompts.

    A score is None when its response is empty (the model stopped at once).
    """
    gold = gold_segment(row)
    irrelevant = irrelevant_segments(row)
    long = generate_with_span_attention(loaded, long_prompt, [SINK, gold, *irrelevant], max_new_tokens, interventions)
    short = generate_with_span_attention(loaded, gold_prompt, [SINK, document_name(1)], max_new_tokens, interventions)
    scores = dict.fromkeys(SCORE_NAMES)
    if long.response_ids:
        mean = long.mean_over_response()
        scores.update(
            sink=mean[..., 0], R=mean[..., 1], IR=mean[..., 2:].sum(-1), IR_max=mean[..., 2:].max(-1).values
        )
    if short.response_ids:
        mean = short.mean_over_response()
        scores.update(sink_gold=mean[..., 0], R_gold=mean[..., 1])
    decode = loaded.tokenizer.decode
    response, response_gold = decode(long.response_ids), decode(short.response_ids)
    return {
        "id": row["id"],
        "question": row["question"],
        "answers": list(row["answers"]),
        "gold_position": row["gold_position"],
        "response": response,
        "response_gold": response_gold,
        "em": best_subspan_em(response, row["answers"]),
        "em_gold": best_subspan_em(response_gold, row["answers"]),
        "spans": long_prompt.spans,
        "spans_gold": gold_prompt.spans,
        "input_ids": list(long_prompt.with_response(long.response_ids).input_ids),
        "input_ids_gold": list(gold_prompt.with_response(short.response_ids).input_ids),
        "scores": {name: _to_lists(value) for name, value in scores.items()},
    }


def _to_lists(value: torch.Tensor | None) -> list | None:
    return None if value is None else [[round(float(x), 8) for x in head] for head in value]
