"""Prompts built from named segments, with each segment's exact token span.

A prompt is a list of parts: ``Segment(name, text)`` for the pieces whose tokens we need (instruction, each
document, question, response) and plain strings for the glue between them. The parts are joined into the user
message, rendered through the model's chat template, tokenized once, and each segment's span is read from the
tokenizer's offset mapping. A segment whose first or last character falls inside a token (the tokenizer merged
it with its neighbour) is an error that names it: spans are never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal, Sequence

import torch
from jaxtyping import Int
from torch import Tensor

from focus_interp.errors import FocusInterpError

SINK = "sink"
RESPONSE = "response"
_PLACEHOLDER = "\u2063FOCUS_INTERP_USER_CONTENT\u2063"


@dataclass(frozen=True)
class Segment:
    """A named piece of prompt text whose token span is wanted. ``inside``: the span is the tokens that lie wholly
    inside the text (a token shared with the neighbouring text is left out) rather than an error when the
    tokenizer merges a boundary."""

    name: str
    text: str
    inside: bool = False


@dataclass(frozen=True)
class Prompt:
    """Token ids of a rendered prompt and the half-open token span [start, end) of each named segment.

    ``spans`` always holds ``sink`` (the first ``sink_tokens`` tokens); ``response`` once a response is added.
    """

    text: str
    input_ids: tuple[int, ...]
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.input_ids)

    def span(self, name: str) -> slice:
        if name not in self.spans:
            raise FocusInterpError(f"prompt has no segment '{name}': it has {', '.join(self.spans)}")
        return slice(*self.spans[name])

    def tokens(self, name: str) -> tuple[int, ...]:
        return self.input_ids[self.span(name)]

    def ids(self) -> Int[Tensor, "1 seq"]:
        return torch.tensor([self.input_ids], dtype=torch.long)

    def marked(self, tokenizer) -> str:
        """The prompt's tokens decoded, each named span between ``[[name]]`` and ``[[/name]]``: where every span
        starts and ends, for a reader."""
        opens: dict[int, list[str]] = {}
        closes: dict[int, list[str]] = {}
        for name, (start, end) in self.spans.items():
            opens.setdefault(start, []).append(name)
            closes.setdefault(end, []).append(name)
        edges = sorted({0, len(self.input_ids), *opens, *closes})
        pieces = []
        for start, end in zip(edges, edges[1:] + [None]):
            pieces += [f"[[/{name}]]" for name in reversed(closes.get(start, []))]
            pieces += [f"[[{name}]]" for name in opens.get(start, [])]
            if end is not None:
                pieces.append(tokenizer.decode(self.input_ids[start:end]))
        return "".join(pieces)

    def with_response(self, response_ids: Sequence[int]) -> "Prompt":
        """This prompt followed by generated token ids, which become the ``response`` span."""
        start = len(self.input_ids)
        return replace(
            self,
            input_ids=self.input_ids + tuple(int(i) for i in response_ids),
            spans={**self.spans, RESPONSE: (start, start + len(response_ids))},
        )


def build_prompt(
    tokenizer,
    parts: Sequence[Segment | str],
    *,
    response: str | None = None,
    chat_template: bool | Literal["auto"] = "auto",
    system: str | None = None,
    sink_tokens: int = 2,
    special_tokens: bool | None = None,
) -> Prompt:
    """Render ``parts`` as the user turn (through the chat template when used) and locate every segment.

    ``response``: text placed after the generation prompt as the ``response`` segment.
    ``chat_template``: "auto" uses the tokenizer's template when it has one; True requires it; False renders
    plain text with the tokenizer's own special tokens (e.g. BOS).
    ``special_tokens``: whether the tokenizer adds its special tokens to the rendered text (default: only without
    a template, whose text holds them; True on a Llama 3 template gives BOS twice, as the paper's code does).
    """
    names = [part.name for part in parts if isinstance(part, Segment)]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise FocusInterpError(f"segment names must be unique: {', '.join(duplicates)} appear more than once")
    if SINK in names or (response is not None and RESPONSE in names):
        raise FocusInterpError(f"segment names '{SINK}' and '{RESPONSE}' are reserved")
    content, char_spans = _join(parts)
    inside = {part.name for part in parts if isinstance(part, Segment) and part.inside}
    use_template = _use_template(tokenizer, chat_template)
    prefix, suffix = _render(tokenizer, content, system) if use_template else ("", "")
    text = prefix + content + suffix
    offset = len(prefix)
    char_spans = {name: (start + offset, end + offset) for name, (start, end) in char_spans.items()}
    if response is not None:
        char_spans[RESPONSE] = (len(text), len(text) + len(response))
        text += response
    add_special = not use_template if special_tokens is None else special_tokens
    encoding = tokenizer(text, add_special_tokens=add_special, return_offsets_mapping=True)
    ids, offsets = encoding["input_ids"], encoding["offset_mapping"]
    if not 0 <= sink_tokens <= len(ids):
        raise FocusInterpError(f"sink_tokens={sink_tokens} must be between 0 and the prompt length {len(ids)}")
    spans = {SINK: (0, sink_tokens)}
    spans.update({name: _token_span(name, chars, offsets, name in inside) for name, chars in char_spans.items()})
    return Prompt(text=text, input_ids=tuple(ids), spans=spans)


def _join(parts: Sequence[Segment | str]) -> tuple[str, dict[str, tuple[int, int]]]:
    pieces, spans, length = [], {}, 0
    for part in parts:
        text = part.text if isinstance(part, Segment) else part
        if not isinstance(text, str):
            raise FocusInterpError(f"prompt parts must be Segment or str, got {type(part).__name__}")
        if isinstance(part, Segment):
            if not text:
                raise FocusInterpError(f"segment '{part.name}' is empty")
            spans[part.name] = (length, length + len(text))
        pieces.append(text)
        length += len(text)
    return "".join(pieces), spans


def _use_template(tokenizer, chat_template: bool | Literal["auto"]) -> bool:
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if chat_template is True and not has_template:
        raise FocusInterpError("this tokenizer has no chat template: pass chat_template=False for plain text")
    return has_template if chat_template == "auto" else bool(chat_template)


def _render(tokenizer, content: str, system: str | None) -> tuple[str, str]:
    """The template's text before and after the user content."""

    def render(user: str) -> str:
        messages = ([{"role": "system", "content": system}] if system is not None else []) + [
            {"role": "user", "content": user}
        ]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    template = render(_PLACEHOLDER)
    if template.count(_PLACEHOLDER) != 1:
        raise FocusInterpError("the chat template does not place the user message verbatim: use chat_template=False")
    prefix, suffix = template.split(_PLACEHOLDER)
    if render(content) != prefix + content + suffix:
        raise FocusInterpError("the chat template changes the user message text: use chat_template=False")
    return prefix, suffix


def _token_span(name: str, chars: tuple[int, int], offsets, inside: bool = False) -> tuple[int, int]:
    """Token indices [start, end) whose characters are exactly ``chars`` (with ``inside``, the tokens wholly within
    them); an error if a token straddles an exact boundary, or if no token lies inside."""
    start_char, end_char = chars
    if inside:
        within = [i for i, (begin, end) in enumerate(offsets) if end > begin and begin >= start_char and end <= end_char]
        if not within:
            raise FocusInterpError(f"segment '{name}' holds no whole token")
        return within[0], within[-1] + 1
    starts, ends = {}, {}
    for i, (begin, end) in enumerate(offsets):
        if end > begin:
            starts.setdefault(begin, i)
            ends[end] = i
    if start_char not in starts or end_char not in ends:
        raise FocusInterpError(
            f"segment '{name}' cannot be located exactly: the tokenizer merges its "
            f"{'start' if start_char not in starts else 'end'} with the neighbouring text; "
            "put a space or newline at the boundary"
        )
    return starts[start_char], ends[end_char] + 1


def prompt_room(context_length: int, max_new_tokens: int) -> int:
    """The most prompt tokens a window of ``context_length`` holds with ``max_new_tokens`` of response and one more
    decoding step (which computes the last response token's attention row)."""
    return context_length - max_new_tokens - 1
