"""The attention sites of every family read what the layer really computes."""

from __future__ import annotations

import torch
from einops import rearrange

from focus_interp.model.attention import attention_bias, attention_probabilities
from tests.conftest import SLIDING_WINDOW

SEQ = 12  # longer than the sliding window, so windowed layers differ from full attention
IDS = torch.randint(5, 380, (2, SEQ), generator=torch.Generator().manual_seed(1))
LEFT_PADDED = torch.ones(2, SEQ, dtype=torch.long)
LEFT_PADDED[0, :3] = 0


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    first, second = x.chunk(2, dim=-1)
    return torch.cat((-second, first), dim=-1)


def test_architecture_matches_config(tiny_loaded, family):
    loaded = tiny_loaded(family)
    arch, config = loaded.architecture, loaded.hf_model.config
    assert (arch.n_layers, arch.n_heads, arch.n_kv_heads, arch.head_dim) == (3, 4, 2, 16)
    assert arch.context_length == config.max_position_embeddings
    expected_windows = {
        "llama": (None, None, None),
        "qwen2": (None, SLIDING_WINDOW, SLIDING_WINDOW),
        "mistral": (SLIDING_WINDOW,) * 3,
        "gemma3": (SLIDING_WINDOW, None, SLIDING_WINDOW),
    }[family]
    assert arch.sliding_window == expected_windows
    expected_scale = 32**-0.5 if family == "gemma3" else 16**-0.5
    assert arch.scaling == (expected_scale,) * 3


def test_probabilities_site_equals_eager_output_attentions(tiny_loaded, family):
    loaded = tiny_loaded(family, "eager")
    n_layers = loaded.architecture.n_layers
    read = []
    with torch.no_grad(), loaded.model.trace(IDS, attention_mask=LEFT_PADDED):
        for layer in range(n_layers):
            read.append(loaded.sites(layer).probabilities.output.save())
    with torch.no_grad():
        reference = loaded.hf_model(IDS, attention_mask=LEFT_PADDED, output_attentions=True).attentions
    for layer in range(n_layers):
        assert read[layer].shape == (2, 4, SEQ, SEQ)
        torch.testing.assert_close(read[layer], reference[layer], atol=1e-5, rtol=0)


def test_post_rope_qk_reproduce_attention_output(tiny_loaded, family):
    """softmax(q k^T * scaling + mask) v from the post-RoPE sites equals the attention function's output."""
    loaded = tiny_loaded(family, "sdpa")
    arch = loaded.architecture
    for attention_mask in (None, LEFT_PADDED):
        saved = []
        with torch.no_grad(), loaded.model.trace(IDS, attention_mask=attention_mask):
            for layer in range(arch.n_layers):
                sites = loaded.sites(layer)
                q, k = sites.post_rope.output
                args, kwargs = sites.attention_call.inputs
                output = sites.attention_call.output[0]
                saved.append((q.save(), k.save(), args[3].save(), args[4], kwargs["scaling"], output.save()))
        for layer, (q, k, v, mask, scaling, output) in enumerate(saved):
            assert scaling == arch.scaling[layer]
            bias = attention_bias(mask, SEQ, SEQ, arch.sliding_window[layer])
            weights = attention_probabilities(q, k, bias, scaling)
            values = v.repeat_interleave(arch.n_groups, dim=1)
            recomputed = rearrange(weights @ values, "b h t d -> b t h d")
            real_rows = slice(None) if attention_mask is None else (LEFT_PADDED.bool()[..., None, None].expand_as(output))
            torch.testing.assert_close(recomputed[real_rows], output[real_rows], atol=1e-5, rtol=0)


def test_pre_rope_site_rotates_into_post_rope(tiny_loaded, family):
    loaded = tiny_loaded(family, "sdpa")
    arch = loaded.architecture
    with torch.no_grad(), loaded.model.trace(IDS):
        sites = loaded.sites(1)
        q_proj = sites.q_proj.output.save()
        k_proj = sites.k_proj.output.save()
        q_pre, k_pre, cos, sin = (x.save() for x in sites.pre_rope.inputs[0][:4])
        q_post, k_post = (x.save() for x in sites.post_rope.output)
    cos, sin = cos[:, None], sin[:, None]
    torch.testing.assert_close(q_pre * cos + _rotate_half(q_pre) * sin, q_post, atol=1e-6, rtol=0)
    torch.testing.assert_close(k_pre * cos + _rotate_half(k_pre) * sin, k_post, atol=1e-6, rtol=0)
    q_heads = rearrange(q_proj, "b t (h d) -> b h t d", d=arch.head_dim)
    k_heads = rearrange(k_proj, "b t (h d) -> b h t d", d=arch.head_dim)
    if family == "gemma3":
        attention = loaded.hf_model.model.layers[1].self_attn
        q_heads, k_heads = attention.q_norm(q_heads), attention.k_norm(k_heads)
    torch.testing.assert_close(q_heads, q_pre, atol=1e-6, rtol=0)
    torch.testing.assert_close(k_heads, k_pre, atol=1e-6, rtol=0)
