"""How multi-document QA samples are built and rendered: the authors' pipeline (``paper``, the default where the
paper is silent) or Lost in the Middle's files as they are (``lost-in-the-middle``); ``figures/README.md``,
"Protocols", tables the differences."""

from __future__ import annotations

from dataclasses import dataclass

from focus_interp.errors import FocusInterpError


@dataclass(frozen=True)
class Protocol:
    """One way to build and render samples: whether distractors are shuffled anew for every (question, gold
    position); whether the gold-only and no-gold prompts keep each document's number; whether a document's span
    starts after ``Document [k]``; the default response length and seed; whether the tokenizer adds its special
    tokens to the templated text."""

    name: str
    shuffle_distractors: bool
    keep_numbers: bool
    span_after_number: bool
    max_new_tokens: int
    seed: int
    special_tokens: bool


PROTOCOLS = {
    "paper": Protocol("paper", True, True, True, 100, 42, True),
    "lost-in-the-middle": Protocol("lost-in-the-middle", False, False, False, 32, 0, False),
}
DEFAULT_PROTOCOL = "paper"


def protocol_named(name: str) -> Protocol:
    """The protocol called ``name``; an error listing the names there are."""
    if name not in PROTOCOLS:
        raise FocusInterpError(f"unknown protocol '{name}': choose one of {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]


def protocol_of(row: dict) -> Protocol:
    """The protocol a multi-document QA row was built under (``DEFAULT_PROTOCOL`` for a row that names none)."""
    return protocol_named(row.get("protocol") or DEFAULT_PROTOCOL)
