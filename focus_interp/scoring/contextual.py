"""Contextual scores of every head for one multi-document QA sample (paper §2.2).

For the long prompt (all documents) and its greedy response R: R = attention mass on the gold document, IR = on
all irrelevant documents, IR_max = on the single most-attended irrelevant document, sink = on the first tokens;
each averaged over the response rows. On the gold-only prompt with its own response: R_gold and sink_gold.
"""

from __future__ import annotations

from typing import Sequence

import torch

from focus_interp.data.multidoc.parts import (
    document_name,
    gold_parts,
    gold_segment,
    irrelevant_segments,
    long_parts,
)
from focus_interp.errors import FocusInterpError
from focus_interp.metrics.exact_match import best_subspan_em
from focus_interp.model.loading import LoadedModel
from focus_interp.prompts import SINK, Prompt, build_prompt
from focus_interp.scoring.response_attention import generate_with_span_attention

SCORE_NAMES = ("R", "IR", "IR_max", "sink", "R_gold", "sink_gold")


def prompt_sample(
    id: str,
    prompt: Prompt,
    relevant: str,
    irrelevant: Sequence[str],
    answers: Sequence[str] = (),
    gold_prompt: Prompt | None = None,
    gold_relevant: str | None = None,
) -> dict:
    """A sample of your own for ``score_heads``: ``prompt`` built with ``build_prompt`` (any instruction, template
    and segments), the name of its relevant segment and of the irrelevant ones, the answers for EM (none: EM is
    None), and optionally the prompt with the relevant context alone (``gold_prompt``, its relevant segment
    ``gold_relevant``, default ``relevant``) for R_gold and sink_gold."""
    missing = [name for name in (relevant, *irrelevant) if name not in prompt.spans]
    if missing:
        raise FocusInterpError(f"sample {id}: the prompt has no segment {', '.join(missing)}: it has {', '.join(prompt.spans)}")
    if not irrelevant:
        raise FocusInterpError(f"sample {id}: name at least one irrelevant segment (IR and IR_max need one)")
    if gold_prompt is not None and (gold_relevant or relevant) not in gold_prompt.spans:
        raise FocusInterpError(f"sample {id}: the gold prompt has no segment {gold_relevant or relevant}")
    return {
        "id": id, "prompt": prompt, "relevant": relevant, "irrelevant": list(irrelevant), "answers": list(answers),
        "gold_prompt": gold_prompt, "gold_relevant": gold_relevant or relevant,
    }


def build_sample_prompts(loaded: LoadedModel, row: dict, sink_tokens: int = 2) -> tuple[Prompt, Prompt | None]:
    """The long prompt and the gold-only prompt of ``row`` (a multi-document QA row, or a ``prompt_sample``)."""
    if "prompt" in row:
        return row["prompt"], row["gold_prompt"]
    tokenizer = loaded.tokenizer
    long_prompt = build_prompt(tokenizer, long_parts(row), sink_tokens=sink_tokens)
    gold_prompt = build_prompt(tokenizer, gold_parts(row), sink_tokens=sink_tokens)
    return long_prompt, gold_prompt


def score_sample(loaded: LoadedModel, row: dict, max_new_tokens: int = 32, sink_tokens: int = 2) -> dict:
    """One JSON-ready record for ``row``: see ``score_prompts``."""
    return score_prompts(loaded, row, *build_sample_prompts(loaded, row, sink_tokens), max_new_tokens)


def score_prompts(
    loaded: LoadedModel, row: dict, long_prompt: Prompt, gold_prompt: Prompt | None, max_new_tokens: int, interventions=()
) -> dict:
    """The responses to both prompts, their EM, spans, ids, and per-head scores ([layer][head] lists).

    ``interventions`` (position-free ones, such as focus directions) apply to both prompts.

    A score is None when its response is empty (the model stopped at once) or its prompt is missing (a
    ``prompt_sample`` without a gold prompt); EM is None for a sample without answers.
    """
    own = "prompt" in row
    gold = row["relevant"] if own else gold_segment(row)
    irrelevant = row["irrelevant"] if own else irrelevant_segments(row)
    gold_only = row["gold_relevant"] if own else document_name(1)
    long = generate_with_span_attention(loaded, long_prompt, [SINK, gold, *irrelevant], max_new_tokens, interventions)
    short = None if gold_prompt is None else generate_with_span_attention(
        loaded, gold_prompt, [SINK, gold_only], max_new_tokens, interventions
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
    answers = list(row["answers"])
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
