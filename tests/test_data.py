"""The generated multi-document QA and the exact-match metric."""

from __future__ import annotations

import pytest

from focus_interp.data import synthetic_multidoc_qa
from focus_interp.errors import FocusInterpError
from focus_interp.metrics import best_subspan_em, normalize_answer


def test_generator_is_seeded_and_answer_is_only_in_the_gold_document():
    samples = synthetic_multidoc_qa(20, n_documents=8, gold_position=5, seed=3)
    assert samples == synthetic_multidoc_qa(20, n_documents=8, gold_position=5, seed=3)
    assert samples != synthetic_multidoc_qa(20, n_documents=8, gold_position=5, seed=4)
    for sample in samples:
        documents = sample["documents"]
        assert len(documents) == 8 and documents[4]["is_gold"]
        answer = normalize_answer(sample["answers"][0])
        holding = [i for i, doc in enumerate(documents) if answer in normalize_answer(doc["text"])]
        assert holding == [4]


def test_gold_position_out_of_range():
    with pytest.raises(FocusInterpError, match="gold_position 21 must be between 1 and n_documents 20"):
        synthetic_multidoc_qa(1, n_documents=20, gold_position=21)


def test_generator_gives_the_same_first_samples_whatever_n():
    """One generator is drawn from in order, so more samples only append; the gold position only moves the gold."""
    first = synthetic_multidoc_qa(40, n_documents=8, gold_position=1, seed=2)
    assert synthetic_multidoc_qa(400, n_documents=8, gold_position=1, seed=2)[:40] == first
    moved = synthetic_multidoc_qa(3, n_documents=8, gold_position=8, seed=2)
    for sample, other in zip(first, moved):
        gold, *distractors = sample["documents"]
        assert other["documents"] == [*distractors, gold] and other["question"] == sample["question"]


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
