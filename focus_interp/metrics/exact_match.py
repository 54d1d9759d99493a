"""Answer metrics: best-subspan exact match with SQuAD normalisation, as in Lost in the Middle."""

from __future__ import annotations

import re
import string
from typing import Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower case, drop punctuation and the articles a/an/the, squeeze white space."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def best_subspan_em(prediction: str, answers: Sequence[str]) -> float:
    """1.0 if any normalised answer is a substring of the normalised prediction, else 0.0. An answer that
    normalises to nothing (``""``, ``"the"``, ``"?"``) matches no prediction: it would match every one."""
    prediction = normalize_answer(prediction)
    return float(any(normalized and normalized in prediction for normalized in map(normalize_answer, answers)))
