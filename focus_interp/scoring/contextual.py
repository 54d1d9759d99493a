"""Contextual scores of every head for one multi-document QA sample (paper §2.2).

For the long prompt (all documents) and its greedy response R: R = attention mass on the gold document, IR = on
all irrelevant documents, IR_max = on the single most-attended irrelevant document, sink = on the first tokens;
each averaged over the response rows. On the gold-only prompt with its own response: R_gold and sink_gold.
"""

from __future__ import annotations

import torch

from focus_interp.data.samples import SamplePrompts, sample_prompts
from focus_interp.metrics.exact_match import best_subspan_em
from focus_interp.model.loading import LoadedModel
from focus_interp.prompts import SINK
from focus_interp.scoring.response_attention import generate_with_span_attention

SCORE_NAMES = ("R", "IR", "IR_max", "sink", "R_gold", "sink_gold")


def score_sample(loaded: LoadedModel, row: dict, max_new_tokens: int = 32, sink_tokens: int = 2) -> dict:
    """One JSON-ready record for ``row`` (a multi-document QA row or a ``prompt_sample``): see ``score_prompts``."""
    return score_prompts(loaded, row, sample_prompts(loaded.tokenizer, row, sink_tokens), max_new_tokens)


def score_prompts(loaded: LoadedModel, row: dict, prompts: SamplePrompts, max_new_tokens: int, interventions=()) -> dict:
    """The responses to both prompts, their EM, spans, ids, and per-head scores ([layer][head] lists).

    ``interventions`` (position-free ones, such as focus directions) apply to both prompts.

    A score is None when its response is empty (the model stopped at once) or its prompt is missing (a
    ``prompt_sample`` without a gold prompt); EM is None for a sample without answers.
    """
    long_prompt, gold_prompt = prompts.long, prompts.gold_only
    spans = [SINK, prompts.relevant, *prompts.irrelevant]
    long = generate_with_span_attention(loaded, long_prompt, spans, max_new_tokens, interventions)
    short = None if gold_prompt is None else generate_with_span_attention(
        loaded, gold_prompt, [SINK, prompts.gold_relevant], max_new_tokens, interventions
    )
    scores = dict.fromkeys(SCORE_NAMES)
    if long.response_ids:
        mean = long.mean_over_response()
        scores.update(
            sink=mean[..., 0], R=mean[..., 1], IR=mean[..., 2:].sum(-1), IR_max=mean[..., 2:].max(-1).values
        )
    if short is not None and short.response_ids:
        mean = short.mean_over_response()
        scores.update(sink_gold=mean[..., 0], R_gold=mean[..., 1])
    decode = loaded.tokenizer.decode
    answers = list(prompts.answers)
    response = decode(long.response_ids)
    response_gold = None if short is None else decode(short.response_ids)

    def em(text: str | None) -> float | None:
        return None if text is None or not answers else best_subspan_em(text, answers)

    return {
        "id": row["id"],
        "question": row.get("question", ""),
        "answers": answers,
        "gold_position": row.get("gold_position"),
        "response": response,
        "response_gold": response_gold,
        "em": em(response),
        "em_gold": em(response_gold),
        "spans": long_prompt.spans,
        "spans_gold": None if gold_prompt is None else gold_prompt.spans,
        "input_ids": list(long_prompt.with_response(long.response_ids).input_ids),
        "input_ids_gold": None if short is None else list(gold_prompt.with_response(short.response_ids).input_ids),
        "scores": {name: _to_lists(value) for name, value in scores.items()},
    }


def _to_lists(value: torch.Tensor | None) -> list | None:
    return None if value is None else [[round(float(x), 8) for x in head] for head in value]
