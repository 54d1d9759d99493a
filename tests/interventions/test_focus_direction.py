"""Focus directions as nnsight edits: attention weights against a hand computation, on four families."""

from __future__ import annotations

import pytest
import torch

from focus_interp import FocusInterpError
from focus_interp.interventions import FocusDirection, apply_interventions
from focus_interp.model.attention import attention_bias, attention_probabilities

IDS = torch.randint(5, 380, (1, 12), generator=torch.Generator().manual_seed(4))
LAYER = 1


def _directions(seed: int, scale: float = 2.0) -> torch.Tensor:
    return scale * torch.randn(3, 4, 16, generator=torch.Generator().manual_seed(seed))


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    first, second = x.chunk(2, dim=-1)
    return torch.cat((-second, first), dim=-1)


def _read_plain(loaded):
    """LAYER's pre-/post-RoPE q and k, cos/sin, probabilities and the logits, without interventions."""
    with torch.no_grad(), loaded.model.trace(IDS):
        sites = loaded.sites(LAYER)
        q_pre, k_pre, cos, sin = (x.save() for x in sites.pre_rope.inputs[0][:4])
        q_post, k_post = (x.save() for x in sites.post_rope.output)
        probabilities = sites.probabilities.output.save()
        logits = loaded.model.output.logits.save()
    return {"q_pre": q_pre, "k_pre": k_pre, "cos": cos[:, None], "sin": sin[:, None], "q": q_post, "k": k_post,
            "p": probabilities, "logits": logits}


def _read_edited(loaded, interventions):
    """LAYER's probabilities and the logits under ``interventions``."""
    with torch.no_grad(), loaded.model.trace(IDS):
        apply_interventions(loaded, interventions)
        probabilities = loaded.sites(LAYER).probabilities.output.save()
        logits = loaded.model.output.logits.save()
    return {"p": probabilities, "logits": logits}


def _expected_probabilities(loaded, q, k):
    arch = loaded.architecture
    bias = attention_bias(None, q.shape[2], k.shape[2], arch.sliding_window[LAYER])
    return attention_probabilities(q, k, bias, arch.scaling[LAYER])


def test_post_rope_adds_d_q_and_d_k_to_the_chosen_heads(tiny_loaded, family):
    loaded = tiny_loaded(family, "eager")
    d_q, d_k = _directions(0), _directions(1)
    heads, alpha = [0, 3], 0.7
    base = _read_plain(loaded)
    edited = _read_edited(loaded, [FocusDirection(tuple((LAYER, h) for h in heads), d_q, d_k, alpha)])
    groups = loaded.architecture.n_groups
    q = base["q"].clone()
    q[:, heads] += alpha * d_q[LAYER, heads][None, :, None]
    k = base["k"].repeat_interleave(groups, dim=1)
    k[:, heads] += alpha * d_k[LAYER, heads][None, :, None]  # per query head, as the authors add it
    expected = _expected_probabilities(loaded, q, k)
    torch.testing.assert_close(edited["p"][:, heads], expected[:, heads], atol=1e-5, rtol=0)
    for head in set(range(4)) - set(heads):
        assert torch.equal(edited["p"][:, head], base["p"][:, head])
    assert not torch.allclose(edited["p"][:, heads], base["p"][:, heads], atol=1e-3)


def test_post_rope_d_k_alone_leaves_attention_unchanged(tiny_loaded):
    """softmax removes the constant q_i . d_K that a key offset adds to every logit of row i."""
    loaded = tiny_loaded("llama", "eager")
    base = _read_plain(loaded)
    q, k = base["q"], base["k"].repeat_interleave(2, dim=1)
    shifted = k + 3.0 * _directions(5)[LAYER][None, :, None]
    torch.testing.assert_close(_expected_probabilities(loaded, q, shifted), base["p"], atol=1e-5, rtol=0)


def test_pre_rope_offsets_are_rotated_by_position(tiny_loaded, family):
    loaded = tiny_loaded(family, "eager")
    d_q, d_k = _directions(2), _directions(3)
    heads, alpha = [1, 2], -0.5  # one query head in each KV group
    base = _read_plain(loaded)
    edited = _read_edited(loaded, [FocusDirection(tuple((LAYER, h) for h in heads), d_q, d_k, alpha, site="pre_rope")])
    if family == "gemma3":  # its pre-RoPE q/k come after q/k norms, which rescale a q_proj offset
        assert not torch.allclose(edited["p"][:, heads], base["p"][:, heads], atol=1e-3)
        return
    arch = loaded.architecture
    q_pre, k_pre = base["q_pre"].clone(), base["k_pre"].clone()
    q_pre[:, heads] += alpha * d_q[LAYER, heads][None, :, None]
    kv = [arch.kv_head(h) for h in heads]
    k_pre[:, kv] += alpha * d_k[LAYER, heads][None, :, None]
    cos, sin = base["cos"], base["sin"]
    q = q_pre * cos + _rotate_half(q_pre) * sin
    k = k_pre * cos + _rotate_half(k_pre) * sin
    expected = _expected_probabilities(loaded, q, k)
    torch.testing.assert_close(edited["p"], expected, atol=1e-5, rtol=0)
    assert not torch.allclose(edited["p"][:, heads], base["p"][:, heads], atol=1e-3)


def test_alpha_zero_is_an_exact_no_op_on_logits(tiny_loaded):
    loaded = tiny_loaded("llama", "eager")
    base = _read_plain(loaded)
    for site in ("post_rope", "pre_rope"):
        same = _read_edited(loaded, [FocusDirection(((1, 0), (2, 3)), _directions(0), _directions(1), 0.0, site)])
        assert torch.equal(same["logits"], base["logits"])


def test_pre_rope_gqa_heads_sharing_a_kv_head_must_share_d_k(tiny_loaded):
    loaded = tiny_loaded("llama", "eager")
    with pytest.raises(FocusInterpError, match="share KV head 0"):
        _read_edited(loaded, [FocusDirection(((LAYER, 0), (LAYER, 1)), _directions(0), _directions(1), 0.5, "pre_rope")])


def test_directions_of_another_model_are_a_clear_error(tiny_loaded):
    loaded = tiny_loaded("llama", "eager")
    wrong = torch.zeros(28, 24, 128)
    with pytest.raises(FocusInterpError, match="made for another model"):
        _read_edited(loaded, [FocusDirection(((0, 0),), wrong, wrong, 0.5)])
    with pytest.raises(FocusInterpError, match="site 'middle'"):
        FocusDirection(((0, 0),), _directions(0), _directions(1), 0.5, site="middle")


class UniformHeads:
    """The README's example of a user's own intervention: zero the queries of ``heads`` of one layer after RoPE,
    so their attention is uniform over the positions each token sees."""

    stage = "post_rope"

    def __init__(self, layer, heads):
        self.layer, self.heads = layer, list(heads)

    def layers(self):
        return {self.layer}

    def check(self, architecture):
        if self.layer >= architecture.n_layers:
            raise FocusInterpError(f"layer {self.layer} is beyond the model's {architecture.n_layers}")

    def is_identity(self):
        return not self.heads

    def edit(self, architecture, layer, values):
        query, key = values
        query[:, self.heads] = 0


def test_a_users_own_intervention_composes_with_a_focus_direction_in_one_trace(tiny_loaded):
    loaded = tiny_loaded("llama", "eager")
    direction = FocusDirection(((LAYER, 3),), _directions(0), _directions(1), 0.7)
    alone = _read_edited(loaded, [direction])
    both = _read_edited(loaded, [UniformHeads(LAYER, [1]), direction])
    positions = IDS.shape[1]
    uniform = torch.tril(torch.ones(positions, positions)) / torch.arange(1, positions + 1)[:, None]
    torch.testing.assert_close(both["p"][0, 1], uniform, atol=1e-6, rtol=0)
    assert torch.equal(both["p"][:, 3], alone["p"][:, 3])
