"""Filling a prompt to a token budget: context pieces added while the prompt fits, gold pieces placed at their
depth, and segment edges moved to where the tokenizer splits text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import groupby
from typing import Callable, Sequence

from focus_interp.errors import FocusInterpError
from focus_interp.prompts import Segment, build_prompt

GOLD = "gold"

Part = Segment | str

_PIECE_END = re.compile(r"(?<=[.!?])(?= )|(?<=\n)(?=[^\n])")


def fill_to_budget(
    tokenizer, budget: int, task: str, assemble: Callable[[int], list[Part]], pieces: Sequence[str], chat_template: bool = True
) -> list[Part]:
    """``assemble(m)`` for the largest m <= len(pieces) whose prompt (through the chat template when
    ``chat_template`` and the tokenizer has one) fits ``budget`` tokens of ``tokenizer`` (``pieces[j]``: the text
    that filler j adds, to estimate m before the prompts are measured); an error naming ``task`` when the prompt
    does not fit even without filler."""
    use = "auto" if chat_template else False

    def fits(m: int) -> bool:
        return len(build_prompt(tokenizer, assemble(m), chat_template=use)) <= budget

    bare = len(build_prompt(tokenizer, assemble(0), chat_template=use))
    if bare > budget:
        raise FocusInterpError(
            f"a budget of {budget} tokens is too small for {task}: its prompt takes {bare} tokens "
            "without filler; use a larger budget"
        )
    guess = _count_within(tokenizer, pieces, budget - bare)
    return assemble(_largest_fitting(fits, guess, len(pieces)))


@dataclass(frozen=True)
class Context:
    """A prompt ``before + context + after`` whose context is ``fillers[:m]`` joined by ``separator``, with each
    gold piece inserted at its depth in [0, 1] and ``omitted`` added when fillers are left out."""

    before: list[Part]
    golds: list[tuple[float, Part]]
    fillers: list[str]
    separator: str
    after: list[Part]
    omitted: str = ""

    def parts(self, m: int) -> list[Part]:
        pieces: list[Part] = list(self.fillers[:m])
        for placed, (depth, gold) in enumerate(sorted(self.golds, key=lambda item: item[0])):
            pieces.insert(round(depth * m) + placed, gold)
        context = [part for piece in pieces for part in (self.separator, piece)][1:]
        if m < len(self.fillers) and self.omitted:
            context.append(self.omitted)
        return align_segments([*self.before, *context, *self.after])


def _count_within(tokenizer, pieces: Sequence[str], room: int) -> int:
    """How many leading ``pieces`` fit in ``room`` tokens, counting each piece's tokens on its own."""
    used = 0
    for start in range(0, len(pieces), 256):
        encoded = tokenizer(list(pieces[start : start + 256]), add_special_tokens=False)["input_ids"]
        for index, ids in enumerate(encoded, start=start):
            used += len(ids)
            if used > room:
                return index
    return len(pieces)


def _largest_fitting(fits: Callable[[int], bool], guess: int, upper: int) -> int:
    """The largest m in [0, upper] with ``fits(m)``, for ``fits`` true up to some m and false after it (and
    true at 0): galloping from ``guess``, then bisecting."""
    guess = min(max(guess, 0), upper)
    step = 1
    if fits(guess):
        low = guess
        while low + step <= upper and fits(low + step):
            low, step = low + step, step * 2
        high = min(low + step, upper + 1)
    else:
        high = guess
        while high - step > 0 and not fits(high - step):
            high, step = high - step, step * 2
        low = max(high - step, 0)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def align_segments(parts: list[Part]) -> list[Part]:
    """``parts`` with each segment's edges moved to where byte-level BPE pre-tokenizers (GPT-2, Llama 3, Qwen2)
    split text, so that ``build_prompt`` can locate it: spaces before a segment and after it go with the text
    that follows them; a segment that starts with punctuation takes the punctuation just before it; one that
    ends with punctuation takes the punctuation and newlines just after it. Neighbouring strings are joined."""
    parts = _merged_text(parts)
    texts = [part.text if isinstance(part, Segment) else part for part in parts]
    for index, part in enumerate(parts):
        if not isinstance(part, Segment):
            continue
        if index > 0 and isinstance(parts[index - 1], str):
            texts[index - 1], texts[index] = _move_start(texts[index - 1], texts[index])
        if index + 1 < len(parts) and isinstance(parts[index + 1], str):
            texts[index], texts[index + 1] = _move_end(texts[index], texts[index + 1])
    aligned = [Segment(part.name, text) if isinstance(part, Segment) else text for part, text in zip(parts, texts)]
    return _merged_text(aligned)


def _merged_text(parts: list[Part]) -> list[Part]:
    """``parts`` with each run of neighbouring strings joined into one, and empty strings dropped."""
    merged: list[Part] = []
    for is_text, run in groupby(parts, key=lambda part: isinstance(part, str)):
        merged.extend(filter(None, ["".join(run)]) if is_text else run)
    return merged


def _move_start(before: str, segment: str) -> tuple[str, str]:
    spaces = len(before) - len(before.rstrip(" \t"))
    if spaces:
        return before[:-spaces], before[-spaces:] + segment
    punctuation = re.search(r" ?[^\s\w]+$", before)
    if punctuation and re.match(r"[^\s\w]", segment):
        return before[: punctuation.start()], punctuation.group() + segment
    return before, segment


def _move_end(segment: str, after: str) -> tuple[str, str]:
    stripped = segment.rstrip(" \t")
    if stripped != segment:
        return stripped, segment[len(stripped) :] + after
    if re.search(r"[^\s\w]$", segment):
        taken = re.match(r"[^\s\w]*[\r\n]*", after).group()
        return segment + taken, after[len(taken) :]
    return segment, after


def gold_names(count: int) -> list[str]:
    return [GOLD] if count == 1 else [f"{GOLD}_{index}" for index in range(1, count + 1)]


def split_golds(pieces: Sequence[str], golds: dict[int, Part]) -> tuple[list[tuple[float, Part]], list[str]]:
    """(gold parts with their depth, the other pieces in order); ``golds`` maps a piece's index to its part.
    Depth: the share of the other pieces that come before it."""
    fillers = [piece for index, piece in enumerate(pieces) if index not in golds]
    placed = []
    for index, part in golds.items():
        before = sum(1 for other in range(index) if other not in golds)
        placed.append((before / max(len(fillers), 1), part))
    return placed, fillers


def split_pieces(text: str) -> list[str]:
    """``text`` cut between a sentence end and the space after it, and after each run of newlines (the pieces join
    back into ``text``; a piece keeps its leading space, which tokenizers join to its first word, so a piece's
    ends fall on token boundaries)."""
    return [piece for piece in _PIECE_END.split(text) if piece]
