"""The multi-document QA prompt of Lost in the Middle (Liu et al., 2023), as named segments.

Segments: ``instruction``, ``doc_1`` ... ``doc_n`` (1-based, in prompt order) and ``question``. A row gives three
prompts: long (all its documents), gold (the gold document alone) and no-gold (the distractors alone).
"""

from __future__ import annotations

from typing import Sequence

from focus_interp.errors import FocusInterpError
from focus_interp.prompts import Segment

INSTRUCTION = (
    "Write a high-quality answer for the given question using only the provided search results "
    "(some of which might be irrelevant)."
)


def document_name(position: int) -> str:
    """Segment name of the document at 1-based ``position``."""
    return f"doc_{position}"


def multidoc_parts(question: str, documents: Sequence[dict]) -> list[Segment | str]:
    """Prompt parts for ``question`` over ``documents`` (each with ``title`` and ``text``)."""
    parts: list[Segment | str] = [Segment("instruction", INSTRUCTION), "\n\n"]
    for position, document in enumerate(documents, start=1):
        if position > 1:
            parts.append("\n")
        parts.append(Segment(document_name(position), f"Document [{position}](Title: {document['title']}) {document['text']}"))
    parts += ["\n\n", Segment("question", f"Question: {question}"), "\nAnswer:"]
    return parts


def long_parts(row: dict) -> list[Segment | str]:
    """Prompt parts of ``row`` with all its documents, in order."""
    return multidoc_parts(row["question"], row["documents"])


def gold_parts(row: dict) -> list[Segment | str]:
    """Prompt parts of ``row`` with its gold document alone, as Document [1]."""
    return multidoc_parts(row["question"], [row["documents"][_gold_index(row)]])


def no_gold_parts(row: dict) -> list[Segment | str]:
    """Prompt parts of ``row`` with its distractors alone, renumbered from 1."""
    distractors = [document for document in row["documents"] if not document["is_gold"]]
    return multidoc_parts(row["question"], distractors)


def gold_segment(row: dict) -> str:
    """Segment name of the gold document in the long prompt of ``row``."""
    return document_name(_gold_index(row) + 1)


def irrelevant_segments(row: dict) -> list[str]:
    """Segment names of the distractors in the long prompt of ``row``."""
    documents = enumerate(row["documents"], start=1)
    return [document_name(position) for position, document in documents if not document["is_gold"]]


def _gold_index(row: dict) -> int:
    gold = [i for i, document in enumerate(row["documents"]) if document["is_gold"]]
    if len(gold) != 1:
        raise FocusInterpError(f"a row needs exactly one gold document (is_gold), this one has {len(gold)}")
    return gold[0]
