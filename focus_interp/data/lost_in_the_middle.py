"""Reading the NQ-Open files of Lost in the Middle (Liu et al., 2023): the oracle file and the k-document files.

Every line holds ``question``, ``answers`` and ``ctxs`` (documents with ``title``, ``text`` and ``isgold``).
The oracle file (``nq-open-oracle.jsonl.gz``) gives each question its gold passage only; the k-document files
(``nq-open-{k}_total_documents_gold_at_{i}.jsonl.gz``, ``i`` 0-based) give k documents with the gold at ``i``.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from focus_interp.errors import FocusInterpError


@dataclass(frozen=True)
class QuestionRecord:
    """One line of a file: the question, its answers and its documents (``title``, ``text``, ``is_gold``)."""

    question: str
    answers: list[str]
    documents: list[dict]


def documents_file_name(n_documents: int, gold_position: int) -> str:
    """Name of Lost in the Middle's file with ``n_documents`` documents and the gold at 1-based ``gold_position``."""
    return f"nq-open-{n_documents}_total_documents_gold_at_{gold_position - 1}.jsonl.gz"


def read_oracle(path: Path) -> list[QuestionRecord]:
    """The questions of an oracle file, each with its gold passage as its only document."""
    records = []
    for number, line in read_jsonl(path):
        where = f"{path}, line {number}"
        question, answers, documents = _fields(line, where)
        gold = [document for document in documents if document["is_gold"]]
        if not gold:
            raise FocusInterpError(f"{where} has no gold passage: no document in 'ctxs' has \"isgold\": true")
        records.append(QuestionRecord(question, answers, gold[:1]))
    return records


def read_documents_files(
    directory: Path, n_documents: int, gold_positions: Sequence[int]
) -> dict[int, list[QuestionRecord]]:
    """The questions of the ``n_documents``-document files in ``directory``, by 1-based gold position."""
    by_position = {}
    for position in gold_positions:
        path = directory / documents_file_name(n_documents, position)
        if not path.is_file():
            raise FocusInterpError(
                f"{path} not found: it is Lost in the Middle's file for {n_documents} documents "
                f"with the gold at position {position}"
            )
        records = []
        for number, line in read_jsonl(path):
            where = f"{path}, line {number}"
            question, answers, documents = _fields(line, where)
            if len(documents) != n_documents:
                raise FocusInterpError(f"{where} has {len(documents)} documents, expected {n_documents}")
            found = [i for i, document in enumerate(documents, start=1) if document["is_gold"]]
            if found != [position]:
                raise FocusInterpError(
                    f"{where}: expected one gold document (\"isgold\": true) at position {position}, "
                    f"found {', '.join(map(str, found)) or 'none'}"
                )
            records.append(QuestionRecord(question, answers, documents))
        by_position[position] = records
    first = gold_positions[0]
    for position, records in by_position.items():
        if [r.question for r in records] != [r.question for r in by_position[first]]:
            raise FocusInterpError(
                f"{documents_file_name(n_documents, position)} and {documents_file_name(n_documents, first)} "
                f"in {directory} do not hold the same questions in the same order"
            )
    return by_position


def read_jsonl(path: Path) -> list[tuple[int, dict]]:
    """The JSON objects of a JSON-lines file (gzipped when its name ends in .gz) with 1-based line numbers."""
    if not path.is_file():
        raise FocusInterpError(f"{path} not found")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise FocusInterpError(f"cannot read {path}: {error}") from None
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise FocusInterpError(f"{path}, line {number} is not valid JSON: {error.msg}") from None
        if not isinstance(record, dict):
            raise FocusInterpError(f"{path}, line {number} is not a JSON object")
        records.append((number, record))
    if not records:
        raise FocusInterpError(f"{path} is empty: expected one JSON object per line")
    return records


def _fields(record: dict, where: str) -> tuple[str, list[str], list[dict]]:
    """``question``, ``answers`` and the documents of one line, checked."""
    question, answers, ctxs = record.get("question"), record.get("answers"), record.get("ctxs")
    if not isinstance(question, str) or not question.strip():
        raise FocusInterpError(f"{where}: 'question' must be a non-empty string")
    if not isinstance(answers, list) or not answers or not all(isinstance(answer, str) for answer in answers):
        raise FocusInterpError(f"{where}: 'answers' must be a non-empty list of strings")
    if not isinstance(ctxs, list) or not all(
        isinstance(ctx, dict) and isinstance(ctx.get("title"), str) and isinstance(ctx.get("text"), str)
        for ctx in ctxs
    ):
        raise FocusInterpError(f"{where}: 'ctxs' must be a list of documents with a 'title' and a 'text'")
    documents = [{"title": ctx["title"], "text": ctx["text"], "is_gold": bool(ctx.get("isgold"))} for ctx in ctxs]
    return question, answers, documents
