"""The generated multi-document QA."""

from __future__ import annotations

import pytest

from focus_interp.data import synthetic_multidoc_qa
from focus_interp.errors import FocusInterpError
from focus_interp.metrics.exact_match import normalize_answer


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
