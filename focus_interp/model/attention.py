"""Attention probabilities recomputed from what a layer's attention function receives (q, k, mask, scaling)."""

from __future__ import annotations

import torch
from einops import rearrange
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
    if mask is None and n_queries == 1 and (sliding_window is None or n_keys <= sliding_window):
        return torch.zeros(1, 1, 1, n_keys, dtype=dtype, device=device)
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


def attention_logits(
    query: Float[Tensor, "batch heads q dim"],
    key: Float[Tensor, "batch kv_heads k dim"],
    bias: Float[Tensor, "batch_or_1 1 q k"],
    scaling: float,
) -> Float[Tensor, "batch heads q k"]:
    """q k^T * scaling + bias in float32, with GQA keys shared by their group of query heads.

    Each KV head is multiplied with its group of queries at once; keys are never copied per query head.
    """
    grouped = rearrange(query.float(), "b (kv g) q d -> b kv (g q) d", kv=key.shape[1])
    logits = torch.matmul(grouped, key.float().transpose(-1, -2))
    return rearrange(logits, "b kv (g q) k -> b (kv g) q k", q=query.shape[2]) * scaling + bias


def attention_probabilities(
    query: Float[Tensor, "batch heads q dim"],
    key: Float[Tensor, "batch kv_heads k dim"],
    bias: Float[Tensor, "batch_or_1 1 q k"],
    scaling: float,
) -> Float[Tensor, "batch heads q k"]:
    """softmax(q k^T * scaling + bias) in float32 (see ``attention_logits``)."""
    return torch.softmax(attention_logits(query, key, bias, scaling), dim=-1)
