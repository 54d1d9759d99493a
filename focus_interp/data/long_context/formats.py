"""The key-value and RULER needle prompts that HELMET's files and the generated tasks share."""

from __future__ import annotations

from focus_interp.data.long_context.filling import GOLD, Context, Part, split_golds
from focus_interp.prompts import Segment

KV_INSTRUCTION = "Extract the value corresponding to the specified key in the JSON object below."
RULER_ONE = (
    "A special magic {kind} is hidden within the following text. Make sure to memorize it. "
    "I will quiz you about the {kind} afterwards.\n",
    "\nWhat is the special magic {kind} for {query} mentioned in the provided text?"
    "\nThe special magic {kind} for {query} mentioned in the provided text is",
)
RULER_ALL = (
    "Some special magic {kind} are hidden within the following text. Make sure to memorize it. "
    "I will quiz you about the {kind} afterwards.\n",
    "\nWhat are all the special magic {kind} for {query} mentioned in the provided text?"
    "\nThe special magic {kind} for {query} mentioned in the provided text are",
)


def kv(key: str, value: str) -> str:
    return f'"{key}": "{value}"'


def kv_context(before: str, golds: list[tuple[float, Part]], pairs: list[str], after: str, separator: str = ",\n ") -> Context:
    """The JSON object of Lost in the Middle's prompt, one ``"key": "value"`` pair a line (or pairs joined by
    ``separator``: HELMET's files hold ``json.dumps`` output, ``", "``), between ``before`` and ``after``."""
    return Context([before + "{"], golds, pairs, separator, ["}" + after])


def gold_pair(pairs: list[tuple[str, str]], key: str) -> tuple[list[tuple[float, Part]], list[str]]:
    """(the pair of ``key`` as segment ``gold`` at its depth, the other pairs) of a record's pairs."""
    pieces = [kv(*pair) for pair in pairs]
    position = [pair_key for pair_key, _ in pairs].index(key)
    return split_golds(pieces, {position: Segment(GOLD, pieces[position])})
