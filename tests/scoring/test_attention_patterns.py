"""Attention patterns of chosen heads under SDPA: equal to eager ``output_attentions``, and to eager attention's own
probabilities under an intervention."""

from __future__ import annotations

import pytest
import torch

from focus_interp import (
    FocusDirection,
    FocusInterpError,
    apply_interventions,
    build_prompt,
)
from focus_interp.data import load_multidoc_qa, long_parts
from focus_interp.scoring.attention_patterns import attention_pattern

ROW = load_multidoc_qa("synthetic", n=1, gold_positions=(2,), n_documents=3)[0]


def _eager_attentions(loaded, prompt) -> tuple[torch.Tensor, ...]:
    """Per layer [1, heads, T, T]: the model's own eager attention weights (``output_attentions``)."""
    implementation = loaded.hf_model.config._attn_implementation
    loaded.hf_model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            attentions = loaded.hf_model(prompt.ids(), output_attentions=True).attentions
    finally:
        loaded.hf_model.set_attn_implementation(implementation)
    return attentions


def test_patterns_under_sdpa_equal_eager_output_attentions(tiny_loaded, family):
    loaded = tiny_loaded(family, "sdpa")
    prompt = build_prompt(loaded.tokenizer, long_parts(ROW))
    attentions = _eager_attentions(loaded, prompt)
    for layer in range(loaded.architecture.n_layers):
        pattern = attention_pattern(loaded, prompt, layer, [3, 0])
        assert pattern.probabilities.shape == (2, len(prompt), len(prompt)) and len(pattern.tokens) == len(prompt)
        torch.testing.assert_close(pattern.probabilities, attentions[layer][0, [3, 0]].float(), atol=1e-5, rtol=0)
        torch.testing.assert_close(pattern.of(0), attentions[layer][0, 0].float(), atol=1e-5, rtol=0)


def test_patterns_under_an_intervention_equal_eager_attention_probabilities(tiny_loaded):
    sdpa, eager = tiny_loaded("llama", "sdpa"), tiny_loaded("llama", "eager")
    prompt = build_prompt(sdpa.tokenizer, long_parts(ROW))
    generator = torch.Generator().manual_seed(1)
    steer = FocusDirection(((1, 0), (1, 3)), torch.randn(3, 4, 16, generator=generator), torch.randn(3, 4, 16, generator=generator), 2.0)
    pattern = attention_pattern(sdpa, prompt, 1, interventions=[steer])
    with torch.no_grad(), eager.model.trace(prompt.ids()):
        apply_interventions(eager, [steer])
        probabilities = eager.sites(1).probabilities.output.save()
    torch.testing.assert_close(pattern.probabilities, probabilities[0].float(), atol=1e-5, rtol=0)
    unsteered = attention_pattern(sdpa, prompt, 1)
    assert (unsteered.probabilities - pattern.probabilities).abs().max() > 1e-3


def test_patterns_plot_and_open_in_circuitsvis(tiny_loaded):
    loaded = tiny_loaded("llama", "sdpa")
    pattern = attention_pattern(loaded, build_prompt(loaded.tokenizer, long_parts(ROW)), 2, [1, 2])
    figure = pattern.plot(2)
    assert figure.axes[0].get_title() == "layer 2, head 2"
    assert "L2H1" in str(pattern.to_circuitsvis())


@pytest.mark.parametrize("layer, heads, match", [(3, None, "layer 3 is outside"), (0, [4], "heads must be distinct"),
                                                 (0, [1, 1], "heads must be distinct")])
def test_a_layer_or_head_the_model_lacks_is_one_line(tiny_loaded, layer, heads, match):
    loaded = tiny_loaded("llama", "sdpa")
    with pytest.raises(FocusInterpError, match=match):
        attention_pattern(loaded, build_prompt(loaded.tokenizer, long_parts(ROW)), layer, heads)


def test_patterns_of_the_default_model_equal_its_eager_attention(default_model):
    prompt = build_prompt(default_model.tokenizer, long_parts(ROW))
    attentions = _eager_attentions(default_model, prompt)
    pattern = attention_pattern(default_model, prompt, 23, [2, 6])
    torch.testing.assert_close(pattern.probabilities, attentions[23][0, [2, 6]].float(), atol=1e-5, rtol=0)
