"""Best-subspan exact match and SQuAD answer normalisation, on hand-worked examples."""

from __future__ import annotations

import pytest

from focus_interp.metrics.exact_match import best_subspan_em, normalize_answer


@pytest.mark.parametrize(
    "prediction, answers, expected",
    [
        ("The capital is Paris.", ["paris"], 1.0),
        ("It was founded in the year 1832!", ["1832"], 1.0),
        ("An Old Man", ["the old man"], 1.0),
        ("Lyon", ["Paris", "Marseille"], 0.0),
        ("Par is", ["Paris"], 0.0),
    ],
)
def test_best_subspan_em_hand_worked(prediction, answers, expected):
    assert best_subspan_em(prediction, answers) == expected


def test_normalize_answer_hand_worked():
    assert normalize_answer("  The  Quick, brown  FOX. ") == "quick brown fox"
