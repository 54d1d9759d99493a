"""Split softmax as an nnsight edit: against a hand computation from eager attention, in trace and generate."""

from __future__ import annotations

import pytest
import torch
from einops import rearrange

from focus_interp import FocusInterpError
from focus_interp.interventions import SplitSoftmax, apply_interventions, split_softmax

IDS = torch.randint(5, 380, (1, 14), generator=torch.Generator().manual_seed(3))
SPAN = (3, 7)
FIRST_ROW = 10


def _attention_outputs(loaded, layer, interventions=(), ablate_head=None):
    """Logits and the attention output [T, H, D] of ``layer`` under ``interventions`` (and a user's ablation)."""
    with torch.no_grad(), loaded.model.trace(IDS):
        apply_interventions(loaded, interventions)
        output = loaded.sites(layer).attention_call.output[0]
        if ablate_head is not None:
            output[:, :, ablate_head] = 0
        saved = output.save()
        logits = loaded.model.output.logits.save()
    return logits, saved[0]


def test_edit_equals_hand_computation_from_eager_attention(tiny_loaded, family):
    loaded = tiny_loaded(family, "sdpa")
    layer, heads = 1, [0, 3]
    tau = 0.3
    _, baseline = _attention_outputs(loaded, layer)
    logits, edited = _attention_outputs(loaded, layer, [SplitSoftmax(((layer, 0), (layer, 3)), SPAN, tau, FIRST_ROW)])

    hf = loaded.hf_model
    hf.set_attn_implementation("eager")
    values = {}
    hook = hf.model.layers[layer].self_attn.v_proj.register_forward_hook(lambda m, i, o: values.setdefault("v", o))
    with torch.no_grad():
        weights = hf(IDS, output_attentions=True).attentions[layer][0]
    hook.remove()
    hf.set_attn_implementation("sdpa")
    v = rearrange(values["v"][0], "t (k d) -> k t d", d=loaded.architecture.head_dim)
    in_span = torch.zeros(IDS.shape[1], dtype=torch.bool)
    in_span[SPAN[0] : SPAN[1]] = True
    for head in range(loaded.architecture.n_heads):
        if head in heads:
            expected = split_softmax(weights[head, FIRST_ROW:], in_span, tau) @ v[loaded.architecture.kv_head(head)]
            torch.testing.assert_close(edited[FIRST_ROW:, head], expected, atol=1e-5, rtol=0)
            assert torch.equal(edited[:FIRST_ROW, head], baseline[:FIRST_ROW, head])
            assert not torch.allclose(edited[FIRST_ROW:, head], baseline[FIRST_ROW:, head], atol=1e-4)
        else:
            assert torch.equal(edited[:, head], baseline[:, head])


def test_tau_one_is_an_exact_no_op_on_logits(tiny_loaded):
    loaded = tiny_loaded("llama", "sdpa")
    plain, _ = _attention_outputs(loaded, 2)
    same, _ = _attention_outputs(loaded, 2, [SplitSoftmax(((1, 0), (2, 1)), SPAN, 1.0, FIRST_ROW)])
    assert torch.equal(plain, same)


def test_composes_with_a_users_head_ablation_in_one_trace(tiny_loaded):
    loaded = tiny_loaded("llama", "sdpa")
    edit = SplitSoftmax(((1, 0),), SPAN, 0.2, FIRST_ROW)
    _, only_edit = _attention_outputs(loaded, 1, [edit])
    _, both = _attention_outputs(loaded, 1, [edit], ablate_head=2)
    assert torch.equal(both[:, 2], torch.zeros_like(both[:, 2]))
    assert torch.equal(both[:, [0, 1, 3]], only_edit[:, [0, 1, 3]])


def test_same_numbers_through_trace_and_generate(tiny_loaded):
    loaded = tiny_loaded("qwen2", "sdpa")
    prompt = IDS[:, : FIRST_ROW + 1]
    edit = SplitSoftmax(((0, 1), (2, 2)), SPAN, 0.1, FIRST_ROW)
    with torch.no_grad(), loaded.model.trace(prompt):
        apply_interventions(loaded, [edit])
        traced = loaded.model.output.logits[0, -1].save()
    with torch.no_grad(), loaded.model.generate(max_new_tokens=1, do_sample=False, output_logits=True, return_dict_in_generate=True) as tracer:
        with tracer.invoke(prompt):
            apply_interventions(loaded, [edit])
            generated = loaded.model.output.logits[0, -1].save()
    torch.testing.assert_close(generated, traced, atol=1e-6, rtol=0)
    plain = loaded.hf_model(prompt).logits[0, -1]
    assert not torch.allclose(plain, traced, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"tau": -1.0}, "tau must be"),
        ({"tau": float("nan")}, "tau must be"),
        ({"span": (8, 20)}, "inside the prompt"),
        ({"span": (5, 5)}, "non-empty"),
    ],
)
def test_bad_settings_are_clear_errors(kwargs, match):
    settings = {"heads": ((0, 0),), "span": SPAN, "tau": 0.5, "first_row": FIRST_ROW, **kwargs}
    with pytest.raises(FocusInterpError, match=match):
        SplitSoftmax(**settings)


def test_heads_outside_the_model_are_a_clear_error(tiny_loaded):
    loaded = tiny_loaded("llama", "sdpa")
    with pytest.raises(FocusInterpError, match="head 9 of layer 0 is out of range"):
        _attention_outputs(loaded, 0, [SplitSoftmax(((0, 9),), SPAN, 0.5, FIRST_ROW)])


def test_two_edits_of_one_layer_compose_like_one(tiny_loaded):
    loaded = tiny_loaded("mistral", "sdpa")
    together, _ = _attention_outputs(loaded, 1, [SplitSoftmax(((1, 0), (1, 2)), SPAN, 0.2, FIRST_ROW)])
    apart, _ = _attention_outputs(
        loaded, 1, [SplitSoftmax(((1, 0),), SPAN, 0.2, FIRST_ROW), SplitSoftmax(((1, 2),), SPAN, 0.2, FIRST_ROW)]
    )
    assert torch.equal(together, apart)


def test_bfloat16_model_edit_stays_close_when_most_mass_is_on_the_span(tiny_loaded):
    """tau = 1000 with pi near 1 multiplies W V by 1 / (1 - pi): a bfloat16 model must not amplify its rounding."""
    from focus_interp.model.loading import wrap_model
    from tests.conftest import tiny_hf_model, tiny_tokenizer

    span = (0, FIRST_ROW)
    reference = tiny_loaded("llama", "sdpa")
    with torch.no_grad():
        for parameter in reference.hf_model.parameters():
            parameter.copy_(parameter.to(torch.bfloat16).float())
    loaded = wrap_model(tiny_hf_model("llama", "sdpa").to(torch.bfloat16), tiny_tokenizer(), name="tiny-bf16")
    with torch.no_grad():
        for mine, theirs in zip(loaded.hf_model.parameters(), reference.hf_model.parameters()):
            mine.copy_(theirs)
    edit = [SplitSoftmax(((1, 0), (1, 1), (1, 2), (1, 3)), span, 1000.0, FIRST_ROW)]
    _, expected = _attention_outputs(reference, 1, edit)
    _, edited = _attention_outputs(loaded, 1, edit)
    _, plain = _attention_outputs(reference, 1)
    change = (expected[FIRST_ROW:] - plain[FIRST_ROW:]).abs().max()
    error = (edited[FIRST_ROW:].float() - expected[FIRST_ROW:]).abs().max()
    assert change > 0.05
    assert error < 0.008 * change  # 0.005 here; reusing the model's bfloat16 W V gives 0.012
