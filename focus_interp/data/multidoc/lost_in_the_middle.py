"""Reading the NQ-Open files of Lost in the Middle (Liu et al., 2023): oracle, k-document and retrieval files.

Every line holds ``question``, ``answers`` and ``ctxs`` (documents with ``title`` and ``text``). The oracle file
(``nq-open-oracle.jsonl.gz``) gives each question its gold passage only (``"isgold": true``); the k-document
files (``nq-open-{k}_total_documents_gold_at_{i}.jsonl.gz``, ``i`` 0-based) give k documents with the gold at
``i``; the retrieval file (``nq-open-contriever-msmarco-retrieved-documents.jsonl.gz``) gives the passages
retrieved for the question, best first, each with ``hasanswer``, and the annotated gold in ``nq_annotated_gold``
(``title``, ``long_answer``, ``chunked_long_answer``), from which the authors' script
``make_qa_data_from_retrieval_results.py`` makes the k-document files.

Every document's title and text are read with their leading and trailing white space stripped (82 oracle
passages end in a space or a newline, which a tokenizer merges with the text that follows them in a prompt).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from focus_interp.errors import FocusInterpError
from focus_interp.files import read_jsonl

RETRIEVAL_FILE = "nq-open-contriever-msmarco-retrieved-documents.jsonl.gz"


@dataclass(frozen=True)
class QuestionRecord:
    """One line of a file: the question, its answers and its documents (``title``, ``text``, ``is_gold``)."""

    question: str
    answers: list[str]
    documents: list[dict]


def documents_file_name(n_documents: int, gold_position: int) -> str:
    """Name of Lost in the Middle's file with ``n_documents`` documents and the gold at 1-based ``gold_position``."""
    return f"nq-open-{n_documents}_total_documents_gold_at_{gold_position - 1}.jsonl.gz"


def document(title: str, text: str, is_gold: bool) -> dict:
    """A document as the data layer holds it: title and text stripped of surrounding white space."""
    return {"title": title.strip(), "text": text.strip(), "is_gold": is_gold}


def read_oracle(path: Path) -> list[QuestionRecord]:
    """The questions of an oracle file, each with its gold passage as its only document."""
    records = []
    for where, _, record in _read_records(path):
        gold = [doc for doc in record.documents if doc["is_gold"]]
        if not gold:
            raise FocusInterpError(f"{where} has no gold passage: no document in 'ctxs' has \"isgold\": true")
        records.append(QuestionRecord(record.question, record.answers, gold[:1]))
    return records


def missing_documents_files(directory: Path, n_documents: int, gold_positions: Sequence[int]) -> list[str]:
    """Names of the ``n_documents``-document files for ``gold_positions`` that ``directory`` lacks."""
    names = [documents_file_name(n_documents, position) for position in gold_positions]
    return [name for name in names if not (directory / name).is_file()]


def read_documents_files(
    directory: Path, n_documents: int, gold_positions: Sequence[int]
) -> dict[int, list[QuestionRecord]]:
    """The questions of the ``n_documents``-document files in ``directory``, by 1-based gold position."""
    by_position = {}
    for position in gold_positions:
        path = directory / documents_file_name(n_documents, position)
        records = []
        for where, _, record in _read_records(path):
            if len(record.documents) != n_documents:
                raise FocusInterpError(f"{where} has {len(record.documents)} documents, expected {n_documents}")
            found = [i for i, doc in enumerate(record.documents, start=1) if doc["is_gold"]]
            if found != [position]:
                raise FocusInterpError(
                    f"{where}: expected one gold document (\"isgold\": true) at position {position}, "
                    f"found {', '.join(map(str, found)) or 'none'}"
                )
            records.append(record)
        by_position[position] = records
    first = gold_positions[0]
    for position, records in by_position.items():
        if [r.question for r in records] != [r.question for r in by_position[first]]:
            raise FocusInterpError(
                f"{documents_file_name(n_documents, position)} and {documents_file_name(n_documents, first)} "
                f"in {directory} do not hold the same questions in the same order"
            )
    return by_position


def read_retrieval_file(path: Path, n_distractors: int) -> list[QuestionRecord]:
    """The questions of the retrieval file, each with its gold document then up to ``n_distractors`` distractors.

    As ``make_qa_data_from_retrieval_results.py``: the gold is ``nq_annotated_gold`` (``title`` and
    ``chunked_long_answer``, or ``long_answer`` when there is no chunk); the distractors are the first retrieved
    passages whose ``hasanswer`` is false, in retrieval order. A question with fewer such passages gets fewer.
    """
    records = []
    for where, line, record in _read_records(path):
        if not all(isinstance(ctx.get("hasanswer"), bool) for ctx in line["ctxs"]):
            raise FocusInterpError(f"{where}: every document in 'ctxs' needs \"hasanswer\": true or false")
        annotated = line.get("nq_annotated_gold")
        annotated = annotated if isinstance(annotated, dict) else {}
        title, text = annotated.get("title"), annotated.get("chunked_long_answer", annotated.get("long_answer"))
        if not isinstance(title, str) or not isinstance(text, str):
            raise FocusInterpError(
                f"{where}: 'nq_annotated_gold' must hold a 'title' and a 'chunked_long_answer' (or 'long_answer')"
            )
        distractors = [
            {**doc, "is_gold": False}
            for doc, ctx in zip(record.documents, line["ctxs"])
            if ctx["hasanswer"] is False
        ]
        gold = document(title, text, is_gold=True)
        records.append(QuestionRecord(record.question, record.answers, [gold, *distractors[:n_distractors]]))
    return records


def _read_records(path: Path) -> Iterator[tuple[str, dict, QuestionRecord]]:
    """Each line of ``path``: where it is (for errors), the JSON object and its checked question record."""
    for number, line in read_jsonl(path):
        where = f"{path}, line {number}"
        yield where, line, _record(line, where)


def _record(line: dict, where: str) -> QuestionRecord:
    """``question``, ``answers`` and the documents (``ctxs``) of one line, checked."""
    question, answers, ctxs = line.get("question"), line.get("answers"), line.get("ctxs")
    if not isinstance(question, str) or not question.strip():
        raise FocusInterpError(f"{where}: 'question' must be a non-empty string")
    if not isinstance(answers, list) or not answers or not all(isinstance(answer, str) for answer in answers):
        raise FocusInterpError(f"{where}: 'answers' must be a non-empty list of strings")
    if not isinstance(ctxs, list) or not all(
        isinstance(ctx, dict) and isinstance(ctx.get("title"), str) and isinstance(ctx.get("text"), str)
        for ctx in ctxs
    ):
        raise FocusInterpError(f"{where}: 'ctxs' must be a list of documents with a 'title' and a 'text'")
    flags = [ctx.get("isgold", False) for ctx in ctxs]
    if not all(isinstance(flag, bool) for flag in flags):
        raise FocusInterpError(f"{where}: every 'isgold' must be true or false (JSON booleans, not strings or numbers)")
    if sum(flags) > 1:
        raise FocusInterpError(f"{where}: {sum(flags)} documents have \"isgold\": true, a question has one gold passage")
    documents = [document(ctx["title"], ctx["text"], flag) for ctx, flag in zip(ctxs, flags)]
    return QuestionRecord(question, answers, documents)
