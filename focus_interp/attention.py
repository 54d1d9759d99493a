"""Attention probabilities recomputed from what a layer's attention function receives (q, k, mask, scaling)."""

from __future__ import annotations

import torch
from einops import repeat
from jaxtyping import Float
from torch import Tensor


def attention_bias(
    mask: Tensor | None,
    n_queries: int,
    n_keys: int,
    sliding_window: int | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Float[Tensor, "batch_or_1 1 q k"]:
    """The additive bias (0 = attend, -inf = masked) for the last ``n_queries`` of ``n_keys`` positions.

    ``mask`` is what the attention implementation was given: None means causal (with the layer's sliding
    window), a boolean mask has True where attention is allowed, a float mask is already additive.
    """
    if mask is None:
        query_pos = torch.arange(n_keys - n_queries, n_keys, device=device)[:, None]
        key_pos = torch.arange(n_keys, device=device)[None, :]
        allowed = key_pos <= query_pos
        if sliding_window is not None:
            allowed &= key_pos > query_pos - sliding_window
        mask = allowed[None, None]
    mask = mask[..., -n_queries:, -n_keys:]
    if mask.dtype == torch.bool:
        return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, float("-inf"))
    return mask.to(dtype)


def attention_probabilities(
    query: Float[Tensor, "batch heads q dim"],
    key: Float[Tensor, "batch kv_heads k dim"],
    bias: Float[Tensor, "batch_or_1 1 q k"],
    scaling: float,
) -> Float[Tensor, "batch heads q k"]:
    """softmax(q k^T * scaling + bias) in float32, with GQA keys shared by their group of query heads."""
    groups = query.shape[1] // key.shape[1]
    key = repeat(key, "b kv t d -> b (kv g) t d", g=groups)
    logits = torch.matmul(query.float(), key.float().transpose(-1, -2)) * scaling + bias
    return torch.softmax(logits, dim=-1)
