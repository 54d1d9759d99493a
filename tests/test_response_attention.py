"""Span attention of response rows, read during generation, equals eager output_attentions on [prompt, R]."""

from __future__ import annotations

import pytest
import torch

from focus_interp import FocusInterpError, build_prompt
from focus_interp.data import multidoc_parts, synthetic_multidoc_qa
from focus_interp.scoring.response_attention import generate_with_span_attention
from tests.conftest import eager_span_mass

SAMPLE = synthetic_multidoc_qa(1, n_documents=3, gold_position=2, seed=5)[0]
SPANS = ["sink", "instruction", "doc_1", "doc_2", "doc_3", "question"]


def test_tiny_models_match_eager(tiny_loaded, family):
    loaded = tiny_loaded(family, "sdpa")
    prompt = build_prompt(loaded.tokenizer, multidoc_parts(SAMPLE["question"], SAMPLE["documents"]))
    assert len(prompt) > 5 * 5  # well past the 5-token sliding window of the windowed layers
    result = generate_with_span_attention(loaded, prompt, SPANS, max_new_tokens=6)
    assert result.mass.shape == (len(result.response_ids), 3, 4, len(SPANS))
    assert len(result.response_ids) >= 1
    reference = eager_span_mass(loaded.hf_model, prompt, result.response_ids, SPANS)
    torch.testing.assert_close(result.mass, reference, atol=1e-5, rtol=0)


def test_default_model_matches_eager(default_model):
    prompt = build_prompt(default_model.tokenizer, multidoc_parts(SAMPLE["question"], SAMPLE["documents"]))
    result = generate_with_span_attention(default_model, prompt, SPANS, max_new_tokens=8)
    reference = eager_span_mass(default_model.hf_model, prompt, result.response_ids, SPANS)
    torch.testing.assert_close(result.mass, reference, atol=1e-5, rtol=0)
    totals = result.mass.sum(-1)
    assert torch.all(totals <= 1 + 1e-5)


def test_response_stops_at_end_of_turn(default_model):
    prompt = build_prompt(default_model.tokenizer, ["What is the capital of France?"])
    result = generate_with_span_attention(default_model, prompt, ["sink"], max_new_tokens=40)
    text = default_model.tokenizer.decode(result.response_ids)
    assert "Paris" in text and "<|im_end|>" not in text
    assert result.mass.shape[0] == len(result.response_ids) < 40


def test_prompt_over_the_window_is_a_clear_error(tiny_loaded):
    loaded = tiny_loaded("llama")
    prompt = build_prompt(loaded.tokenizer, [" ".join(["Document"] * 600)])
    with pytest.raises(FocusInterpError, match="exceeds the model's window of 512"):
        generate_with_span_attention(loaded, prompt, ["sink"], max_new_tokens=4)
