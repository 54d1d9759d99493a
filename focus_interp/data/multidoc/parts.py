"""The multi-document QA prompt of Lost in the Middle (Liu et al., 2023), as named segments.

Segments: ``instruction``, ``doc_k`` for the document numbered ``Document [k]`` and ``question``. A row gives three
prompts: long (all its documents, numbered 1 to n), gold (the gold document alone) and no-gold (the distractors
alone); its protocol says whether those two keep each document's number and whether a document's segment starts
after ``Document [k]``.
"""

from __future__ import annotations

from typing import Sequence

from focus_interp.data.multidoc.protocols import protocol_of
from focus_interp.errors import FocusInterpError
from focus_interp.prompts import Segment

INSTRUCTION = (
    "Write a high-quality answer for the given question using only the provided search results "
    "(some of which might be irrelevant)."
)


def document_name(position: int) -> str:
    """Segment name of the document at 1-based ``position``."""
    return f"doc_{position}"


def multidoc_parts(
    question: str, documents: Sequence[dict], numbers: Sequence[int] | None = None, span_after_number: bool = False
) -> list[Segment | str]:
    """Prompt parts for ``question`` over ``documents`` (each with ``title`` and ``text``), numbered ``numbers``
    (default 1 to n); with ``span_after_number`` each document's segment is its text after ``Document [k]`` (the
    tokens wholly inside it: a tokenizer may join ``](``)."""
    numbers = list(range(1, len(documents) + 1)) if numbers is None else list(numbers)
    parts: list[Segment | str] = [Segment("instruction", INSTRUCTION), "\n\n"]
    for index, (number, document) in enumerate(zip(numbers, documents)):
        if index > 0:
            parts.append("\n")
        text = f"(Title: {document['title']}) {document['text']}"
        if span_after_number:
            parts += [f"Document [{number}]", Segment(document_name(number), text, inside=True)]
        else:
            parts.append(Segment(document_name(number), f"Document [{number}]{text}"))
    parts += ["\n\n", Segment("question", f"Question: {question}"), "\nAnswer:"]
    return parts


def long_parts(row: dict) -> list[Segment | str]:
    """Prompt parts of ``row`` with all its documents, in order."""
    return multidoc_parts(row["question"], row["documents"], span_after_number=protocol_of(row).span_after_number)


def gold_parts(row: dict) -> list[Segment | str]:
    """Prompt parts of ``row`` with its gold document alone: as Document [1], or under its own number when the
    row's protocol keeps numbers."""
    index = _gold_index(row)
    protocol = protocol_of(row)
    numbers = [index + 1] if protocol.keep_numbers else None
    return multidoc_parts(row["question"], [row["documents"][index]], numbers, protocol.span_after_number)


def no_gold_parts(row: dict) -> list[Segment | str]:
    """Prompt parts of ``row`` with its distractors alone: renumbered from 1, or under their own numbers when the
    row's protocol keeps numbers."""
    kept = [(number, document) for number, document in enumerate(row["documents"], start=1) if not document["is_gold"]]
    protocol = protocol_of(row)
    numbers = [number for number, _ in kept] if protocol.keep_numbers else None
    return multidoc_parts(row["question"], [document for _, document in kept], numbers, protocol.span_after_number)


def gold_segment(row: dict) -> str:
    """Segment name of the gold document in the long prompt of ``row``."""
    return document_name(_gold_index(row) + 1)


def gold_only_segment(row: dict) -> str:
    """Segment name of the gold document in the gold-only prompt of ``row``."""
    return gold_segment(row) if protocol_of(row).keep_numbers else document_name(1)


def irrelevant_segments(row: dict) -> list[str]:
    """Segment names of the distractors in the long prompt of ``row``."""
    documents = enumerate(row["documents"], start=1)
    return [document_name(position) for position, document in documents if not document["is_gold"]]


def _gold_index(row: dict) -> int:
    gold = [i for i, document in enumerate(row["documents"]) if document["is_gold"]]
    if len(gold) != 1:
        raise FocusInterpError(f"a row needs exactly one gold document (is_gold), this one has {len(gold)}")
    return gold[0]
