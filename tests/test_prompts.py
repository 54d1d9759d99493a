"""Prompts from named segments: every span decodes back to its segment's text."""

from __future__ import annotations

import pytest

from focus_interp import FocusInterpError, Segment, build_prompt
from focus_interp.data import multidoc_parts, synthetic_multidoc_qa
from tests.conftest import tiny_tokenizer

SAMPLE = synthetic_multidoc_qa(1, n_documents=4, gold_position=3, seed=7)[0]
PARTS = multidoc_parts(SAMPLE["question"], SAMPLE["documents"])
SEGMENTS = {part.name: part.text for part in PARTS if isinstance(part, Segment)}


def _check_spans(tokenizer, prompt, response=None):
    expected = dict(SEGMENTS, **({"response": response} if response else {}))
    assert set(prompt.spans) == set(expected) | {"sink"}
    for name, text in expected.items():
        assert tokenizer.decode(prompt.tokens(name)) == text, name
    assert prompt.spans["sink"] == (0, 2)
    starts = sorted(prompt.spans[name][0] for name in expected)
    assert starts == [prompt.spans[name][0] for name in ["instruction", "doc_1", "doc_2", "doc_3", "doc_4", "question", "response"][: len(expected)]]


@pytest.mark.parametrize("chat_template", [True, False])
def test_tiny_tokenizer_spans_decode_to_segments(chat_template):
    tokenizer = tiny_tokenizer()
    prompt = build_prompt(tokenizer, PARTS, chat_template=chat_template, response="Tarin Oskell")
    _check_spans(tokenizer, prompt, response="Tarin Oskell")
    assert prompt.text.startswith("<|turn|>user\n") == chat_template


@pytest.mark.parametrize("chat_template", [True, False])
def test_default_tokenizer_spans_decode_to_segments(default_model, chat_template):
    tokenizer = default_model.tokenizer
    prompt = build_prompt(tokenizer, PARTS, chat_template=chat_template, response=" 1832", sink_tokens=3)
    expected = dict(SEGMENTS, response=" 1832")
    for name, text in expected.items():
        assert tokenizer.decode(prompt.tokens(name)) == text, name
    assert prompt.spans["sink"] == (0, 3)
    assert ("<|im_start|>" in prompt.text) == chat_template
    assert list(tokenizer(prompt.text, add_special_tokens=False)["input_ids"]) == list(prompt.input_ids)


def test_generated_response_ids_become_the_response_span():
    tokenizer = tiny_tokenizer()
    prompt = build_prompt(tokenizer, PARTS)
    full = prompt.with_response([5, 6, 7])
    assert full.spans["response"] == (len(prompt), len(prompt) + 3)
    assert full.tokens("response") == (5, 6, 7)
    assert full.spans["doc_2"] == prompt.spans["doc_2"]


def test_template_without_support_is_an_error():
    with pytest.raises(FocusInterpError, match="no chat template"):
        build_prompt(tiny_tokenizer(chat_template=False), PARTS, chat_template=True)


def test_segment_merged_with_its_neighbour_is_an_error_naming_it():
    parts = [Segment("instruction", "Docu"), Segment("doc_1", "ment"), " [1]"]  # "Document" is one token
    with pytest.raises(FocusInterpError, match="segment 'instruction' cannot be located exactly"):
        build_prompt(tiny_tokenizer(), parts)


def test_missing_segment_names_the_ones_present():
    prompt = build_prompt(tiny_tokenizer(), PARTS)
    with pytest.raises(FocusInterpError, match="no segment 'doc_9'.*doc_4"):
        prompt.span("doc_9")


@pytest.mark.parametrize(
    "parts, match",
    [
        ([Segment("a", "x"), " ", Segment("a", "y")], "unique"),
        ([Segment("sink", "x")], "reserved"),
        ([Segment("a", "")], "empty"),
    ],
)
def test_bad_segments_are_rejected(parts, match):
    with pytest.raises(FocusInterpError, match=match):
        build_prompt(tiny_tokenizer(), parts)
