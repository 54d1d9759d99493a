"""Contextual scores as the authors' code computes them (billzyx/focus_direction, get_contextual_heads.py), for
parity: their response, their token sequence and their fuzzy span search.

For each prompt (the long one and the gold-only one) they generate up to 100 tokens greedily through the chat
template, render [user prompt, assistant response] with the chat template, tokenize that text with the special
tokens added, and locate every span by ``find_needle_idx``: the first window of the text's token count whose
distinct ids share the largest fraction of the text's distinct ids, accepted above 0.7 (the relevant document
``(Title: ...) text``, each irrelevant one, the response; the sink is positions 0-1). A head's score is its
attention from the rows of the located response onto a span, summed over the span and averaged over those rows,
from one forward pass. Unlike exact spans, the search can shift a window off its document, or put the "response"
rows inside the prompt when the response copies a document.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from focus_interp.data.multidoc.parts import gold_parts, long_parts
from focus_interp.interventions import apply_interventions
from focus_interp.interventions.compose import AttentionReader
from focus_interp.metrics.exact_match import best_subspan_em
from focus_interp.model.attention import attention_bias, attention_probabilities
from focus_interp.model.generation import greedy_kwargs
from focus_interp.model.loading import LoadedModel
from focus_interp.prompts import Segment

ACCEPTED_OVERLAP = 0.7


def find_needle_idx(prompt_ids: Sequence[int], needle_ids: Sequence[int]) -> tuple[int, int] | None:
    """The authors' search: the first window of ``len(needle_ids)`` tokens whose set of ids holds the largest share
    of the needle's distinct ids; None unless that share is above 0.7 (their (-1, -1))."""
    wanted = set(needle_ids)
    best, found = 0.0, None
    for start in range(len(prompt_ids)):
        overlap = len(set(prompt_ids[start : start + len(needle_ids)]) & wanted) / len(wanted)
        if overlap > best:
            best, found = overlap, (start, start + len(needle_ids))
    return found if best > ACCEPTED_OVERLAP else None


def user_text(parts) -> str:
    """The user message the parts render (their ``prompt`` field)."""
    return "".join(part.text if isinstance(part, Segment) else part for part in parts)


def _document_texts(row: dict, gold: bool) -> list[str]:
    chosen = [d for d in row["documents"] if d["is_gold"] == gold]
    return [f"(Title: {d['title']}) {d['text']}" for d in chosen]


class _SpanMassReader(AttentionReader):
    """Every layer's attention from rows [first, last) onto each span, summed over the span and averaged over the
    rows: [heads, spans] per layer."""

    def __init__(self, n_layers: int, rows: tuple[int, int], spans: Sequence[tuple[int, int] | None], length: int):
        self.read_layers, self.rows = set(range(n_layers)), rows
        self.indicator = torch.zeros(length, len(spans))
        for column, span in enumerate(spans):
            if span is not None:
                self.indicator[span[0] : span[1], column] = 1.0
        self.read: list[Tensor] = []

    def edit(self, architecture, layer: int, values: tuple) -> None:
        args, kwargs, _ = values
        first, last = self.rows
        query, key = args[1][:, :, first:last], args[2]
        bias = attention_bias(args[4], key.shape[2], key.shape[2], architecture.sliding_window[layer])[..., first:last, :]
        probabilities = attention_probabilities(query, key, bias.to(query.device), kwargs["scaling"])[0]
        self.read.append((probabilities @ self.indicator.to(probabilities.device)).mean(dim=1).cpu())


@torch.no_grad()
def _authors_prompt_scores(loaded: LoadedModel, parts, named_texts: dict[str, list[str]], max_new_tokens: int) -> dict:
    """Their response to ``parts``, its sequence, the spans they locate and the per-head mass on each group of
    ``named_texts`` (sink first): ``mass[name]`` [layers, heads, texts]."""
    tokenizer = loaded.tokenizer
    user = user_text(parts)
    generation_text = tokenizer.apply_chat_template([{"role": "user", "content": user}], tokenize=False, add_generation_prompt=True)
    generation_ids = tokenizer(generation_text, return_tensors="pt").input_ids.to(loaded.device)
    output = loaded.hf_model.generate(generation_ids, attention_mask=torch.ones_like(generation_ids), **{
        **greedy_kwargs(loaded, max_new_tokens), "eos_token_id": loaded.hf_model.generation_config.eos_token_id})
    response = tokenizer.decode(output[0, generation_ids.shape[1] :], skip_special_tokens=True)
    conversation = [{"role": "user", "content": user}, {"role": "assistant", "content": response}]
    chat = tokenizer.apply_chat_template(conversation, tokenize=False)
    encoding = tokenizer(chat, return_offsets_mapping=True)
    ids, offsets = encoding["input_ids"], encoding["offset_mapping"]

    def locate(text: str) -> tuple[int, int] | None:
        needle = tokenizer(text, add_special_tokens=False)["input_ids"]
        return find_needle_idx(ids, needle) if needle else None

    def tokens_within(first: int, last: int) -> tuple[int, int] | None:
        inside = [i for i, (begin, end) in enumerate(offsets) if end > begin and begin >= first and end <= last]
        return (inside[0], inside[-1] + 1) if inside else None

    def exact(text: str, from_end: bool = False) -> tuple[int, int] | None:
        first = chat.rfind(text) if from_end else chat.find(text)
        return None if first < 0 or not text else tokens_within(first, first + len(text))

    def line(text: str) -> tuple[int, int] | None:
        """The tokens of the whole ``Document [k](Title: ...) text`` line that holds ``text``."""
        first = chat.find(text)
        start = chat.rfind("\n", 0, first) + 1
        return None if first < 0 else tokens_within(start, first + len(text))

    response_span = locate(response)
    spans = {name: [locate(text) for text in texts] for name, texts in named_texts.items()}
    placement = {
        "response": {"found": response_span, "exact": exact(response, from_end=True)},
        **{name: [{"found": found, "exact": exact(text), "line": line(text)} for found, text in zip(spans[name], texts)]
           for name, texts in named_texts.items()},
    }
    flat = [(0, 2)] + [span for name in named_texts for span in spans[name]]
    result = {"response": response, "input_ids": ids, "response_span": response_span, "spans": spans, "placement": placement}
    if response_span is None or any(span is None for span in spans.get("relevant", [])):
        result["mass"] = None
        return result
    reader = _SpanMassReader(loaded.architecture.n_layers, response_span, flat, len(ids))
    with loaded.model.trace(torch.tensor([ids], device=loaded.device)):
        apply_interventions(loaded, [reader])
    mass = torch.stack(reader.read)  # [layers, heads, spans]
    result["sink"], result["mass"], offset = mass[..., 0], {}, 1
    for name, texts in named_texts.items():
        result["mass"][name] = mass[..., offset : offset + len(texts)]
        offset += len(texts)
    return result


def authors_record(loaded: LoadedModel, row: dict, max_new_tokens: int = 100) -> dict:
    """One sample's record, in the layout of ``score_prompts``'s, with the scores the authors' code computes; a
    score is None where their search found no response or relevant span (they skip such a sample).
    ``placement`` holds, for the long prompt's response and each document, the window their search ``found``, the
    ``exact`` tokens of that text in their sequence and, for documents, the tokens of its whole ``line``."""
    long = _authors_prompt_scores(loaded, long_parts(row), {"relevant": _document_texts(row, True),
                                                             "irrelevant": _document_texts(row, False)}, max_new_tokens)
    gold = _authors_prompt_scores(loaded, gold_parts(row), {"relevant": _document_texts(row, True)}, max_new_tokens)
    scores = dict.fromkeys(("R", "IR", "IR_max", "sink", "R_gold", "sink_gold"))
    if long["mass"] is not None:
        irrelevant = long["mass"]["irrelevant"]
        scores.update(R=long["mass"]["relevant"][..., 0], IR=irrelevant.sum(-1), IR_max=irrelevant.max(-1).values, sink=long["sink"])
    if gold["mass"] is not None:
        scores.update(R_gold=gold["mass"]["relevant"][..., 0], sink_gold=gold["sink"])
    answers = list(row["answers"])
    return {
        "id": row["id"], "question": row.get("question", ""), "answers": answers, "gold_position": row.get("gold_position"),
        "response": long["response"], "response_gold": gold["response"],
        "em": best_subspan_em(long["response"], answers), "em_gold": best_subspan_em(gold["response"], answers),
        "spans": {"response": long["response_span"], "relevant": long["spans"]["relevant"][0],
                  "irrelevant": long["spans"]["irrelevant"]},
        "spans_gold": {"response": gold["response_span"], "relevant": gold["spans"]["relevant"][0]},
        "input_ids": long["input_ids"], "input_ids_gold": gold["input_ids"], "placement": long["placement"],
        "scores": {name: None if value is None else [[round(float(x), 8) for x in head] for head in value] for name, value in scores.items()},
    }
