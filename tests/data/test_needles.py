"""Needle-in-a-haystack prompts: seeded generators, the needle placed once at its depth, token budgets, errors."""

from __future__ import annotations

import pytest

from focus_interp import FocusInterpError
from focus_interp.data.needles import (
    NEEDLE,
    STORY_OPENING,
    generated_needles,
    haystack_text,
    load_needles,
    needle_prompt,
    needle_tests,
    read_needles,
)
from tests.conftest import SHARED_DATA, tiny_tokenizer

TOKENIZER = tiny_tokenizer()
HAYSTACK = haystack_text("synthetic", 20_000)


def test_generated_needles_are_seeded():
    assert generated_needles(3, seed=1) == generated_needles(3, seed=1)
    assert generated_needles(3, seed=1) != generated_needles(3, seed=2)
    for needle in generated_needles(5):
        assert needle["answer"] in needle["needle"]


def test_synthetic_haystack_is_seeded_and_long_enough():
    assert len(HAYSTACK) >= 20_000
    assert haystack_text("synthetic", 20_000) == HAYSTACK
    assert haystack_text("synthetic", 20_000, seed=3) != HAYSTACK


def test_the_needle_span_holds_the_needle_once_at_its_depth():
    needle = generated_needles(1)[0]
    starts = []
    for test in needle_tests([needle], [800], [0.0, 0.5, 1.0]):
        prompt = needle_prompt(TOKENIZER, HAYSTACK, test)
        assert TOKENIZER.decode(prompt.tokens(NEEDLE)) == " " + needle["needle"]
        assert prompt.text.count(needle["answer"]) == 1
        assert abs(len(prompt) - 800) <= 3
        starts.append(prompt.spans[NEEDLE][0])
        if test["depth"] == 0.0:
            assert prompt.text.index(needle["needle"]) == prompt.text.index("<book>") + len("<book>") + 1
    assert starts[0] < starts[1] < starts[2]


def test_the_prompt_is_wu_et_al_s_book_prompt_or_the_story_one():
    """Wu et al.'s chat prompt: <book>{context}</book>\nBased on the content of the book, Question: ...\nAnswer:"""
    needle = generated_needles(1)[0]
    test = needle_tests([needle], [400], [1.0])[0]
    wu, story = needle_prompt(TOKENIZER, HAYSTACK, test), needle_prompt(TOKENIZER, HAYSTACK, test, story=True)
    user = wu.text[wu.text.index("<book>"): wu.text.rindex("Answer:") + len("Answer:")]
    context = user[len("<book>"): user.index("</book>")]
    assert user == f"<book>{context}</book>\nBased on the content of the book, Question: {needle['question']}\nAnswer:"
    assert STORY_OPENING in story.text and " </book>.\nBased on" in story.text and STORY_OPENING not in wu.text


def test_needle_tests_cover_the_grid_with_unique_ids():
    tests = needle_tests(generated_needles(2), [100, 200], [0.0, 1.0])
    assert len(tests) == 8 and len({test["id"] for test in tests}) == 8
    with pytest.raises(FocusInterpError, match=r"depths must lie in \[0, 1\]"):
        needle_tests(generated_needles(1), [100], [1.5])


def test_a_length_too_short_for_the_question_is_a_clear_error():
    test = needle_tests(generated_needles(1), [10], [0.5])[0]
    with pytest.raises(FocusInterpError, match="shorter than the question and needle"):
        needle_prompt(TOKENIZER, HAYSTACK, test)


def test_bad_needle_files_are_clear_errors(tmp_path):
    with pytest.raises(FocusInterpError, match="needles file not found"):
        read_needles(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"needle": "x"}\n')
    with pytest.raises(FocusInterpError, match="bad.jsonl, line 1 lacks question"):
        read_needles(bad)
    with pytest.raises(FocusInterpError, match="haystack file not found"):
        haystack_text(tmp_path / "missing.jsonl.gz")


@pytest.mark.skipif(not (SHARED_DATA / "needles.jsonl").is_file(), reason="shared data not available")
def test_wu_et_al_needles_and_nq_haystack_read():
    needles = load_needles(SHARED_DATA / "needles.jsonl")
    assert len(needles) == 3
    assert needles[1]["answer"] == "take a walk in Chaoyang Park and have a cup of Espresso in the evening"
    text = haystack_text(SHARED_DATA / "nq-open-oracle.jsonl.gz", 5_000)
    assert len(text) >= 5_000
