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


def test_scores_under_a_focus_direction_match_eager_attention_with_offset_projections(tiny_loaded, family):
    """A pre-RoPE focus direction is a bias on q_proj; scoring under it equals eager attention of that model."""
    from focus_interp.interventions import FocusDirection

    loaded = tiny_loaded(family, "sdpa")
    prompt = build_prompt(loaded.tokenizer, multidoc_parts(SAMPLE["question"], SAMPLE["documents"]))
    query = torch.randn(3, 4, 16, generator=torch.Generator().manual_seed(2)) * 3
    heads = ((0, 1), (1, 2), (2, 0), (2, 3))
    edit = FocusDirection(heads, query, torch.zeros_like(query), 0.7, "pre_rope")
    result = generate_with_span_attention(loaded, prompt, SPANS, max_new_tokens=5, interventions=[edit])
    plain = eager_span_mass(loaded.hf_model, prompt, result.response_ids, SPANS)

    hooks = []
    for layer in range(3):
        offset = torch.zeros(4, 16)
        for head_layer, head in heads:
            if head_layer == layer:
                offset[head] = 0.7 * query[layer, head]
        q_proj = loaded.hf_model.model.layers[layer].self_attn.q_proj
        hooks.append(q_proj.register_forward_hook(lambda module, inputs, output, offset=offset: output + offset.flatten()))
    try:
        reference = eager_span_mass(loaded.hf_model, prompt, result.response_ids, SPANS)
    finally:
        for hook in hooks:
            hook.remove()
    torch.testing.assert_close(result.mass, reference, atol=1e-5, rtol=0)
    if None in loaded.architecture.sliding_window:  # with every layer windowed, response rows see no span at all
        assert not torch.allclose(reference, plain, atol=1e-3)
