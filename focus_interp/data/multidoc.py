"""The multi-document QA prompt of Lost in the Middle (Liu et al., 2023), as named segments.

Segments: ``instruction``, ``doc_1`` ... ``doc_n`` (1-based, in prompt order) and ``question``.
"""

from __future__ import annotations

from typing import Sequence

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
