"""Head ablation against a hook on the Hugging Face module, and the builders that take a prompt's segment or trained
directions; checked against the edits written out by hand."""

from __future__ import annotations

import pytest
import torch

from focus_interp import (
    Directions,
    FocusInterpError,
    build_prompt,
    generate_with_interventions,
)
from focus_interp.interventions import (
    FocusDirection,
    HeadAblation,
    SplitSoftmax,
    apply_interventions,
    mean_head_outputs,
)
from focus_interp.prompts import Segment

D = 16  # head_dim of the tiny models


def _prompt(tokenizer):
    return build_prompt(tokenizer, [Segment("doc_1", "the red house stands by the river"), "\n", Segment("question", "where is it?")])


def _logits(loaded, prompt, interventions=()):
    with torch.no_grad(), loaded.model.trace(prompt.ids()):
        apply_interventions(loaded, list(interventions))
        logits = loaded.model.output.logits.save()
    return logits


def _logits_with_o_proj_inputs(loaded, prompt, layer: int, head: int, value):
    """The same forward pass with the Hugging Face model itself, head ``head``'s slice of o_proj's input set."""
    def replace(module, args):
        hidden = args[0].clone()
        hidden[..., head * D:(head + 1) * D] = value
        return (hidden,)

    handle = loaded.hf_model.model.layers[layer].self_attn.o_proj.register_forward_pre_hook(replace)
    try:
        with torch.no_grad():
            return loaded.hf_model(prompt.ids()).logits
    finally:
        handle.remove()


def test_zero_ablation_equals_zeroing_the_heads_slice_of_o_proj(tiny_loaded):
    loaded = tiny_loaded("llama", "sdpa")
    prompt = _prompt(loaded.tokenizer)
    ablated = _logits(loaded, prompt, [HeadAblation(((1, 2),))])
    expected = _logits_with_o_proj_inputs(loaded, prompt, 1, 2, 0.0)
    torch.testing.assert_close(ablated, expected, atol=1e-5, rtol=0)
    assert not torch.allclose(ablated, _logits(loaded, prompt), atol=1e-4)


def test_mean_ablation_writes_the_mean_output_over_the_prompts(tiny_loaded):
    loaded = tiny_loaded("llama", "sdpa")
    prompts = [_prompt(loaded.tokenizer), build_prompt(loaded.tokenizer, ["another short prompt about boats"])]
    seen = []
    handle = loaded.hf_model.model.layers[2].self_attn.o_proj.register_forward_pre_hook(lambda m, a: seen.append(a[0][0]))
    with torch.no_grad():
        for prompt in prompts:
            loaded.hf_model(prompt.ids())
    handle.remove()
    means = mean_head_outputs(loaded, prompts)
    by_hand = torch.cat(seen).reshape(-1, 4, D).mean(0)
    torch.testing.assert_close(means[2], by_hand, atol=1e-5, rtol=0)
    ablated = _logits(loaded, prompts[0], [HeadAblation(((2, 3),), means)])
    torch.testing.assert_close(ablated, _logits_with_o_proj_inputs(loaded, prompts[0], 2, 3, means[2, 3]), atol=1e-5, rtol=0)


def test_split_softmax_on_a_segment_is_the_edit_written_by_hand(tiny_loaded):
    prompt = _prompt(tiny_loaded("llama").tokenizer)
    edit = SplitSoftmax.on_segment(prompt, "doc_1", [(0, 1), (2, 3)], 0.3)
    assert edit == SplitSoftmax(((0, 1), (2, 3)), prompt.spans["doc_1"], 0.3, len(prompt) - 1)
    with pytest.raises(FocusInterpError, match="prompt has no segment 'doc_9'"):
        SplitSoftmax.on_segment(prompt, "doc_9", [(0, 1)], 0.3)


def test_a_focus_direction_from_trained_directions_takes_their_tensors_and_site():
    query, key = torch.randn(3, 4, D), torch.randn(3, 4, D)
    built = FocusDirection.from_directions(Directions(query, key, "pre_rope"), [(1, 2)], 0.5)
    assert built.heads == ((1, 2),) and built.alpha == 0.5 and built.site == "pre_rope"
    assert built.query is query and built.key is key


def test_layer_sites_print_in_one_short_line(tiny_loaded):
    loaded = tiny_loaded("llama", "eager")
    assert repr(loaded.sites(1)) == (
        "LayerSites(layer 1 of tiny-llama, eager: q_proj, k_proj, pre_rope, post_rope, attention_call, probabilities)"
    )



def test_an_edit_without_the_protocol_is_refused_in_one_line(tiny_loaded):
    loaded = tiny_loaded("llama", "sdpa")

    class NoStage:
        def edit(self, architecture, layer, values):
            pass

    with pytest.raises(FocusInterpError, match="NoStage does not follow the intervention protocol: it needs a stage"):
        _logits(loaded, _prompt(loaded.tokenizer), [NoStage()])
    assert FocusDirection(((0, 0),), torch.zeros(3, 4, D), torch.zeros(3, 4, D), 0.1, "pre_rope").stage == "projections"


class _ReadsAnEarlierLayer:
    """A user's edit at layer 2 that reads layer 0's queries: the model has run past them."""

    stage = "post_rope"

    def __init__(self, loaded):
        self.loaded = loaded

    def layers(self):
        return {2}

    def check(self, architecture):
        pass

    def is_identity(self):
        return False

    def edit(self, architecture, layer, values):
        values[0][:] = values[0] + 0 * self.loaded.sites(0).post_rope.output[0].sum()


def test_an_edit_that_reads_a_layer_already_run_points_to_the_protocol(tiny_loaded):
    loaded = tiny_loaded("llama", "sdpa")
    prompt = _prompt(loaded.tokenizer)
    with pytest.raises(FocusInterpError, match=r"_ReadsAnEarlierLayer.edit at layer 2 \(post_rope\) read a value the model had "
                                               r"already computed .*list that layer in layers\(\)") as raised:
        generate_with_interventions(loaded, prompt, [_ReadsAnEarlierLayer(loaded)], max_new_tokens=2)
    assert "\n" not in str(raised.value)
    with pytest.raises(FocusInterpError, match="read a value the model had already computed"):
        _logits(loaded, prompt, [_ReadsAnEarlierLayer(loaded)])
