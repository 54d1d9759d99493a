"""TransformerLens backend: the bridge's logits, span scores and intervened logits against the nnsight model."""

from __future__ import annotations

import pytest
import torch

from focus_interp import build_prompt
from focus_interp.data import multidoc_parts, synthetic_multidoc_qa
from focus_interp.interop.transformer_lens import (
    span_attention_transformer_lens,
    transformer_bridge,
    transformer_lens_hooks,
)
from focus_interp.interventions import FocusDirection, SplitSoftmax, apply_interventions
from focus_interp.interventions.generation import generate_with_interventions
from focus_interp.scoring.response_attention import generate_with_span_attention

SAMPLE = synthetic_multidoc_qa(1, n_documents=3, gold_position=2, seed=5)[0]
SPANS = ["sink", "instruction", "doc_1", "doc_2", "doc_3", "question"]
IDS = torch.randint(5, 380, (1, 14), generator=torch.Generator().manual_seed(3))


def _prompt(loaded):
    return build_prompt(loaded.tokenizer, multidoc_parts(SAMPLE["question"], SAMPLE["documents"]))


def _directions(seed: int) -> torch.Tensor:
    return 2.0 * torch.randn(3, 4, 16, generator=torch.Generator().manual_seed(seed))


def _edits(prompt):
    """A split softmax on a document, and focus directions at both sites (one query head per KV group)."""
    return {
        "split_softmax": SplitSoftmax(((1, 0), (1, 3), (2, 1)), prompt.spans["doc_2"], 0.3, len(prompt) - 1),
        "post_rope": FocusDirection(((0, 2), (1, 0), (2, 3)), _directions(0), _directions(1), 0.7),
        "pre_rope": FocusDirection(((0, 1), (1, 2), (2, 0)), _directions(2), _directions(3), 0.7, "pre_rope"),
    }


def _nnsight_logits(loaded, ids, interventions=()):
    with torch.no_grad(), loaded.model.trace(ids):
        apply_interventions(loaded, interventions)
        logits = loaded.model.output.logits.save()
    return logits


def test_bridge_logits_equal_the_hf_model_and_leave_it_untouched(tiny_loaded, family):
    loaded = tiny_loaded(family, "sdpa")
    attention_class = type(loaded.hf_model.model.layers[0].self_attn)
    bridge = transformer_bridge(loaded)
    with torch.no_grad():
        difference = (bridge(IDS) - loaded.hf_model(IDS).logits).abs().max()
    assert difference < 1e-4
    assert loaded.attn_implementation == "sdpa"
    assert type(loaded.hf_model.model.layers[0].self_attn) is attention_class
    torch.testing.assert_close(_nnsight_logits(loaded, IDS), loaded.hf_model(IDS).logits, atol=0, rtol=0)


@pytest.mark.parametrize("edit", [None, "split_softmax", "pre_rope"])
def test_span_scores_equal_those_read_during_generation(tiny_loaded, edit):
    loaded = tiny_loaded("llama", "sdpa")
    prompt = _prompt(loaded)
    interventions = [_edits(prompt)[edit]] if edit else []
    generated = generate_with_span_attention(loaded, prompt, SPANS, max_new_tokens=6, interventions=interventions)
    assert len(generated.response_ids) >= 2
    bridge = transformer_bridge(loaded)
    hooks = transformer_lens_hooks(interventions, loaded.architecture)
    mass = span_attention_transformer_lens(bridge, prompt, generated.response_ids, SPANS, hooks)
    torch.testing.assert_close(mass, generated.mass, atol=1e-4, rtol=0)


def _assert_hooks_match_the_nnsight_edit(loaded, interventions):
    """Logits of [prompt, 4 tokens] from the last prompt row on, TransformerLens hooks against the nnsight edit;
    returns (hooked, plain) bridge logits and the first edited row."""
    prompt = _prompt(loaded)
    ids = prompt.with_response(IDS[0, :4].tolist()).ids()
    first = len(prompt) - 1
    bridge = transformer_bridge(loaded)
    with torch.no_grad():
        hooked = bridge.run_with_hooks(ids, fwd_hooks=transformer_lens_hooks(interventions, loaded.architecture))
        plain = bridge(ids)
    traced = _nnsight_logits(loaded, ids, interventions)
    torch.testing.assert_close(hooked[0, first:], traced[0, first:], atol=1e-4, rtol=0)
    assert (hooked[0, -1] - plain[0, -1]).abs().max() > 1e-2
    return hooked, plain, first


@pytest.mark.parametrize("edit", ["split_softmax", "post_rope", "pre_rope"])
def test_intervened_logits_equal_the_nnsight_edit(tiny_loaded, edit):
    loaded = tiny_loaded("llama", "sdpa")
    hooked, plain, first = _assert_hooks_match_the_nnsight_edit(loaded, [_edits(_prompt(loaded))[edit]])
    if edit == "split_softmax":  # the prompt's own rows are untouched
        assert torch.equal(hooked[0, :first], plain[0, :first])


def test_all_three_edits_together_equal_the_nnsight_edits_on_every_family(tiny_loaded, family):
    loaded = tiny_loaded(family, "sdpa")
    _assert_hooks_match_the_nnsight_edit(loaded, list(_edits(_prompt(loaded)).values()))


@pytest.mark.parametrize("edit", ["split_softmax", "post_rope", "pre_rope"])
def test_cached_generation_under_the_hooks_equals_generate_with_interventions(tiny_loaded, edit):
    loaded = tiny_loaded("llama", "sdpa")
    prompt = _prompt(loaded)
    interventions = [_edits(prompt)[edit]]
    expected = generate_with_interventions(loaded, prompt, interventions, max_new_tokens=8)
    bridge = transformer_bridge(loaded)
    with bridge.hooks(fwd_hooks=transformer_lens_hooks(interventions, loaded.architecture)):
        generated = bridge.generate(prompt.ids(), max_new_tokens=8, do_sample=False, verbose=False, stop_at_eos=False)
    assert generated[0, len(prompt) : len(prompt) + len(expected)].tolist() == expected
    assert expected != generate_with_interventions(loaded, prompt, [], max_new_tokens=8)


def test_a_model_class_without_a_transformer_lens_adapter_is_a_one_line_error():
    from transformers import LlamaForCausalLM

    from focus_interp import FocusInterpError, wrap_model
    from tests.conftest import tiny_hf_model, tiny_tokenizer

    class CustomLlamaForCausalLM(LlamaForCausalLM):
        pass

    model = tiny_hf_model("llama")
    model.__class__ = CustomLlamaForCausalLM
    loaded = wrap_model(model, tiny_tokenizer(), name="custom")
    with pytest.raises(FocusInterpError, match="no adapter for CustomLlamaForCausalLM") as error:
        transformer_bridge(loaded)
    assert "\n" not in str(error.value)
