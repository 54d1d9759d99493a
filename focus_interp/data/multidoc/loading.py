"""Multi-document QA as a Hugging Face dataset: one row per (question, gold position), split by question."""

from __future__ import annotations

import json
import math
import os
import random
from pathlib import Path
from typing import Callable, Sequence

from datasets import Dataset, Features, List, Value

from focus_interp.data.multidoc.distractors import DistractorPool
from focus_interp.data.multidoc.lost_in_the_middle import (
    RETRIEVAL_FILE,
    missing_documents_files,
    read_documents_files,
    read_oracle,
    read_retrieval_file,
)
from focus_interp.data.multidoc.protocols import DEFAULT_PROTOCOL, protocol_named
from focus_interp.data.multidoc.synthetic import synthetic_multidoc_qa
from focus_interp.errors import FocusInterpError
from focus_interp.metrics.exact_match import normalize_answer

SPLITS = ("train", "test", "all")
DISTRACTOR_KINDS = ("hard", "random")
SYNTHETIC_QUESTIONS = 400
SYNTHETIC_BLOCK = 100
FEATURES = Features(
    {
        "id": Value("string"),
        "question": Value("string"),
        "answers": List(Value("string")),
        "documents": List({"title": Value("string"), "text": Value("string"), "is_gold": Value("bool")}),
        "gold_position": Value("int32"),
        "question_index": Value("int32"),
        "protocol": Value("string"),
    }
)

# A question's documents (by its index) for each gold position; None when it cannot get its distractors.
Arrange = Callable[[int], dict[int, list[dict]] | None]


def load_multidoc_qa(
    source: str | os.PathLike = "synthetic",
    *,
    split: str = "train",
    n: int | None = None,
    gold_positions: Sequence[int] | None = None,
    n_documents: int = 20,
    distractors: str = "hard",
    seed: int | None = None,
    protocol: str = DEFAULT_PROTOCOL,
) -> Dataset:
    """Multi-document QA rows: ``id``, ``question``, ``answers``, ``documents``, ``gold_position``, ``question_index``,
    ``protocol``.

    ``protocol`` (``data.multidoc.protocols``): ``paper`` (the default) shuffles each row's distractors anew for
    every gold position, seeded by ``seed``, question and position, and its rows render as the authors' code
    renders them; ``lost-in-the-middle`` keeps the order below. ``seed`` (default: the protocol's, 42 for
    ``paper``) seeds the split, the shuffles and random distractors.

    Answers that normalise to nothing (``"*"``, ``"the"``) are dropped, and a question left with none has no rows;
    ``dropped_answers(rows)`` counts them.

    ``source``: "synthetic" (the seeded generator, 400 questions or as many as ``n`` needs, with its own
    distractors); the NQ-Open oracle file ``nq-open-oracle.jsonl.gz`` (distractors are the other questions'
    gold passages: ``distractors`` "hard" = the BM25-ranked best, or "random" = seeded);
    or a directory of Lost in the Middle's files: its ``nq-open-{n_documents}_total_documents_gold_at_{i}.jsonl.gz``
    files (``i`` = gold position - 1) read as they are when it has all those asked for, otherwise rows built
    from its ``nq-open-contriever-msmarco-retrieved-documents.jsonl.gz`` as the authors build those files
    (gold = ``nq_annotated_gold``, distractors = the first retrieved passages with ``hasanswer`` false).
    ``distractors`` applies to the oracle file only ("hard", the default, is accepted for the other sources).
    ``documents`` are in prompt order (``title``, ``text``, ``is_gold``; title and text stripped of surrounding
    white space), exactly one gold at 1-based ``gold_position``; a question keeps the same distractors at every
    gold position (in retrieval order, BM25 order or the order of the files, unless the protocol shuffles them). ``gold_positions`` default to those of 1, 5, 10, 15 and 20 that fit ``n_documents``.

    A question that cannot get ``n_documents - 1`` distractors has no rows (in the NQ-Open oracle file with 20
    documents: question 1840 only, whose answer "S" is in every passage).

    ``split``: "train" or "test" (a seeded 50/50 shuffle of the questions, train the smaller half when odd; for
    "synthetic", of each block of 100 generated questions, so a question's split does not depend on ``n``) or
    "all". Rows are ordered by ``question_index`` (the question's line in the file, or its number in the
    generator), then by ``gold_positions``; ``n`` keeps the first ``n`` rows, so whole questions come first.
    """
    positions = _check_arguments(split, n, default_gold_positions(n_documents) if gold_positions is None else gold_positions, n_documents, distractors)
    rules = protocol_named(protocol)
    seed = rules.seed if seed is None else seed
    if str(source) == "synthetic":
        # Each block of 100 questions gives 50 to each split.
        blocks = math.ceil(math.ceil((n or 0) / len(positions)) / (SYNTHETIC_BLOCK // 2))
        n_questions = max(SYNTHETIC_QUESTIONS, SYNTHETIC_BLOCK * blocks)
        questions, arrange = _synthetic(n_questions, n_documents, positions, seed)
        in_split = _split_synthetic(n_questions, split, seed)
    else:
        path = Path(source)
        if path.is_dir():
            if distractors != "hard":
                raise FocusInterpError(
                    f"distractors='{distractors}' applies to the oracle file only: a Lost in the Middle folder "
                    f"({path}) comes with its own distractors"
                )
            questions, arrange = _lost_in_the_middle(path, n_documents, positions)
        elif path.is_file():
            questions, arrange = _oracle(path, n_documents, positions, distractors, seed)
        else:
            raise FocusInterpError(
                f"{path} not found: pass 'synthetic', the NQ-Open oracle file (nq-open-oracle.jsonl.gz) or a "
                f"directory of Lost in the Middle's nq-open-{n_documents}_total_documents_gold_at_*.jsonl.gz files"
            )
        in_split = _split_questions(len(questions), split, seed)
    rows, dropped = [], {"answers": 0, "questions": []}
    for index in in_split:
        if n is not None and len(rows) >= n:
            break
        question, answers = questions[index]
        usable = [answer for answer in answers if normalize_answer(answer)]
        dropped["answers"] += len(answers) - len(usable)
        if not usable:
            dropped["questions"].append(index)
            continue
        answers = usable
        documents = arrange(index)
        if documents is None:
            continue
        for position in positions:
            arranged = documents[position]
            if rules.shuffle_distractors:
                arranged = _shuffled(arranged, position, random.Random(f"{seed}:{index}:{position}"))
            rows.append(
                {
                    "id": f"{index}-g{position}",
                    "question": question,
                    "answers": answers,
                    "documents": arranged,
                    "gold_position": position,
                    "question_index": index,
                    "protocol": rules.name,
                }
            )
    if n is not None and len(rows) < n:
        raise FocusInterpError(
            f"n={n} is more than the {len(rows)} rows of the {split} split "
            f"({len(rows) // len(positions)} questions x {len(positions)} gold positions)"
        )
    if not rows:
        raise FocusInterpError(f"{source} has no usable question in the {split} split: every one lacks an answer or distractors")
    dataset = Dataset.from_list(rows[:n], features=FEATURES)
    dataset.info.description = json.dumps({"dropped": dropped})
    return dataset


def dropped_answers(rows) -> dict:
    """What ``load_multidoc_qa`` left out of ``rows``: ``answers``, how many answers normalise to nothing (they
    would match every response), and ``questions``, the indices of questions left with no answer (no rows)."""
    description = getattr(getattr(rows, "info", None), "description", None) or "{}"
    try:
        return json.loads(description).get("dropped", {"answers": 0, "questions": []})
    except (json.JSONDecodeError, AttributeError):
        return {"answers": 0, "questions": []}


def _split_questions(n_questions: int, split: str, seed: int) -> list[int]:
    """Sorted indices of the questions in ``split``: a seeded shuffle, its first half train, the rest test."""
    if split == "all":
        return list(range(n_questions))
    order = list(range(n_questions))
    random.Random(seed).shuffle(order)
    half = n_questions // 2
    return sorted(order[:half] if split == "train" else order[half:])


def _split_synthetic(n_questions: int, split: str, seed: int) -> list[int]:
    """Sorted indices of the generated questions in ``split``: each block of 100 split 50/50 on its own.

    Block ``b`` (questions ``100 b`` to ``100 b + 99``) is shuffled by a generator seeded with ``seed`` and ``b``,
    so a question's split depends on neither ``n`` nor the number of questions generated.
    """
    if split == "all":
        return list(range(n_questions))
    indices = []
    for start in range(0, n_questions, SYNTHETIC_BLOCK):
        order = list(range(start, start + SYNTHETIC_BLOCK))
        random.Random(f"{seed}:{start // SYNTHETIC_BLOCK}").shuffle(order)
        half = SYNTHETIC_BLOCK // 2
        indices += sorted(order[:half] if split == "train" else order[half:])
    return indices


def default_gold_positions(n_documents: int) -> tuple[int, ...]:
    """The paper's gold positions 1, 5, 10, 15 and 20 that fit ``n_documents`` (1-based)."""
    return tuple(position for position in (1, 5, 10, 15, 20) if position <= n_documents)


def _check_arguments(
    split: str, n: int | None, gold_positions: Sequence[int], n_documents: int, distractors: str
) -> list[int]:
    if split not in SPLITS:
        raise FocusInterpError(f"unknown split '{split}': choose one of {', '.join(SPLITS)}")
    if distractors not in DISTRACTOR_KINDS:
        raise FocusInterpError(f"unknown distractors '{distractors}': choose one of {', '.join(DISTRACTOR_KINDS)}")
    if n is not None and n < 1:
        raise FocusInterpError(f"n={n} must be a positive number of rows, or None for the whole split")
    positions = list(gold_positions)
    if not positions or len(set(positions)) != len(positions):
        raise FocusInterpError(f"gold_positions {positions} must be distinct 1-based positions, at least one")
    for position in positions:
        if not 1 <= position <= n_documents:
            raise FocusInterpError(f"gold position {position} is outside 1..{n_documents} (n_documents)")
    return positions


def _shuffled(documents: list[dict], position: int, rng: random.Random) -> list[dict]:
    """``documents`` with the distractors shuffled by ``rng`` and the gold kept at 1-based ``position``, as the
    authors' ``process_single_sample`` does (``random.shuffle(distractors)``, then the gold inserted)."""
    gold = documents[position - 1]
    distractors = [document for i, document in enumerate(documents) if i != position - 1]
    rng.shuffle(distractors)
    return [*distractors[: position - 1], gold, *distractors[position - 1 :]]


def _with_gold(gold: dict, distractors: list[dict], positions: list[int]) -> dict[int, list[dict]]:
    """The documents with ``gold`` inserted among ``distractors`` at each 1-based position."""
    return {position: [*distractors[: position - 1], gold, *distractors[position - 1 :]] for position in positions}


def _synthetic(
    n_questions: int, n_documents: int, positions: list[int], seed: int
) -> tuple[list[tuple[str, list[str]]], Arrange]:
    samples = synthetic_multidoc_qa(n_questions, n_documents=n_documents, gold_position=1, seed=seed)
    questions = [(sample["question"], sample["answers"]) for sample in samples]

    def arrange(index: int) -> dict[int, list[dict]]:
        gold, *distractors = samples[index]["documents"]
        return _with_gold(gold, distractors, positions)

    return questions, arrange


def _oracle(
    path: Path, n_documents: int, positions: list[int], kind: str, seed: int
) -> tuple[list[tuple[str, list[str]]], Arrange]:
    records = read_oracle(path)
    golds = [record.documents[0] for record in records]
    pool = DistractorPool([r.question for r in records], [r.answers for r in records], golds)

    def arrange(index: int) -> dict[int, list[dict]] | None:
        k = n_documents - 1
        distractors = pool.hard(index, k) if kind == "hard" else pool.random(index, k, seed)
        return None if distractors is None else _with_gold(golds[index], distractors, positions)

    return [(r.question, r.answers) for r in records], arrange


def _lost_in_the_middle(
    directory: Path, n_documents: int, positions: list[int]
) -> tuple[list[tuple[str, list[str]]], Arrange]:
    """The k-document files of ``directory`` when it has them all, else rows built from its retrieval file."""
    missing = missing_documents_files(directory, n_documents, positions)
    if not missing:
        by_position = read_documents_files(directory, n_documents, positions)
        records = by_position[positions[0]]

        def arrange(index: int) -> dict[int, list[dict]] | None:
            return {position: by_position[position][index].documents for position in positions}

    elif (directory / RETRIEVAL_FILE).is_file():
        records = read_retrieval_file(directory / RETRIEVAL_FILE, n_documents - 1)

        def arrange(index: int) -> dict[int, list[dict]] | None:
            gold, *distractors = records[index].documents
            return _with_gold(gold, distractors, positions) if len(distractors) == n_documents - 1 else None

    else:
        raise FocusInterpError(
            f"{directory} has neither {', '.join(missing)} (Lost in the Middle's {n_documents}-document files for "
            f"gold positions {', '.join(map(str, positions))}) nor {RETRIEVAL_FILE} to build them from"
        )
    return [(r.question, r.answers) for r in records], arrange
