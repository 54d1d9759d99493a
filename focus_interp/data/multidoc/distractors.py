"""Distractors for a question drawn from the other questions' gold passages, BM25-ranked (hard) or random.

A passage is never a distractor for a question whose answer it contains (SQuAD-normalised substring of its
title and text), nor for the question it is the gold passage of; identical passages are pooled once. A question
whose answers are in all but a few passages (e.g. the answer "S") cannot get its distractors.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from typing import Iterable, Iterator, Sequence

import numpy as np

from focus_interp.metrics.exact_match import normalize_answer

_WORD = re.compile(r"\w+")


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens."""
    return _WORD.findall(text.lower())


class BM25:
    """Okapi BM25 (``k1``, ``b``) over ``texts``, with the non-negative idf ln(1 + (N - df + 0.5) / (df + 0.5))."""

    def __init__(self, texts: Sequence[str], k1: float = 1.5, b: float = 0.75):
        documents = [Counter(tokenize(text)) for text in texts]
        lengths = np.array([sum(counts.values()) for counts in documents], dtype=np.float64)
        length_norm = k1 * (1 - b + b * lengths / max(lengths.mean(), 1.0))
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for index, counts in enumerate(documents):
            for term, count in counts.items():
                ids, tfs = postings.setdefault(term, ([], []))
                ids.append(index)
                tfs.append(count)
        self.n_documents = len(documents)
        self._weights = {}
        for term, (ids, tfs) in postings.items():
            ids, tfs = np.array(ids), np.array(tfs, dtype=np.float64)
            idf = math.log(1 + (self.n_documents - len(ids) + 0.5) / (len(ids) + 0.5))
            self._weights[term] = (ids, idf * tfs * (k1 + 1) / (tfs + length_norm[ids]))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every text for ``query`` (each query token counts once per occurrence)."""
        scores = np.zeros(self.n_documents)
        for term in tokenize(query):
            if term in self._weights:
                ids, weights = self._weights[term]
                scores[ids] += weights
        return scores


class DistractorPool:
    """The gold passages of a set of questions, to draw each question's distractors from the others'."""

    def __init__(self, questions: Sequence[str], answers: Sequence[Sequence[str]], golds: Sequence[dict]):
        self.questions = list(questions)
        index_of: dict[tuple[str, str], int] = {}
        self.passages: list[dict] = []
        self._own = []
        for gold in golds:
            key = (gold["title"], gold["text"])
            if key not in index_of:
                index_of[key] = len(self.passages)
                self.passages.append({"title": gold["title"], "text": gold["text"], "is_gold": False})
            self._own.append(index_of[key])
        self._normalized = [normalize_answer(f"{p['title']} {p['text']}") for p in self.passages]
        self._answers = [[a for a in map(normalize_answer, question_answers) if a] for question_answers in answers]
        self._bm25: BM25 | None = None

    def hard(self, question_index: int, k: int) -> list[dict] | None:
        """The ``k`` usable passages ranked highest by BM25 against the question, best first (None: too few)."""
        if self._bm25 is None:
            self._bm25 = BM25([f"{p['title']} {p['text']}" for p in self.passages])
        ranking = np.argsort(-self._bm25.scores(self.questions[question_index]), kind="stable")
        return self._take(question_index, (int(i) for i in ranking), k)

    def random(self, question_index: int, k: int, seed: int) -> list[dict] | None:
        """``k`` usable passages in a random order fixed by ``seed`` and the question (None: too few)."""
        return self._take(question_index, _shuffled(len(self.passages), random.Random(f"{seed}:{question_index}")), k)

    def _take(self, question_index: int, candidates: Iterable[int], k: int) -> list[dict] | None:
        answers, own = self._answers[question_index], self._own[question_index]
        chosen = []
        for candidate in candidates:
            if len(chosen) == k:
                break
            if candidate != own and not any(answer in self._normalized[candidate] for answer in answers):
                chosen.append(self.passages[candidate])
        return chosen if len(chosen) == k else None


def _shuffled(n: int, rng: random.Random) -> Iterator[int]:
    """0 .. n-1 in a random order, drawn one at a time (a lazy Fisher-Yates shuffle)."""
    order = list(range(n))
    for i in range(n):
        j = rng.randrange(i, n)
        order[i], order[j] = order[j], order[i]
        yield order[i]
