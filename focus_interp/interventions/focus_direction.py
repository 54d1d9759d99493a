"""Focus directions (paper Eq. 5): add alpha * d_Q to the queries and alpha * d_K to the keys of chosen heads.

Directions are per query head, ``[layers, heads, head_dim]``, added at every position (as the authors' edited
model does). Sites:

- ``post_rope`` (the paper's): after RoPE. Adding d_K to every key of a row adds the constant q_i . d_K to that
  row's logits, which softmax removes, so d_K cannot change attention here; it is added to the keys when each
  query head has its own KV head and left out under GQA, where a per-query-head key offset has no KV head to
  live on (the attention weights are the same either way).
- ``pre_rope``: the ``q_proj`` / ``k_proj`` outputs, before RoPE rotates them by position, so d_K does matter.
  Under GQA the query heads sharing a KV head must then agree on d_K: the directions of the chosen heads of one
  group are required to be equal (else a clear error).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from einops import rearrange
from jaxtyping import Float
from torch import Tensor

from focus_interp.errors import FocusInterpError
from focus_interp.heads import Head, check_heads, heads_by_layer
from focus_interp.models import LoadedModel

SITES = ("post_rope", "pre_rope")


@dataclass(frozen=True, eq=False)
class FocusDirection:
    """alpha * (d_Q, d_K) on ``heads`` at ``site``; ``query``/``key``: [layers, heads, head_dim] directions."""

    heads: tuple[Head, ...]
    query: Float[Tensor, "layers heads dim"]
    key: Float[Tensor, "layers heads dim"]
    alpha: float
    site: Literal["post_rope", "pre_rope"] = "post_rope"

    def __post_init__(self):
        if self.site not in SITES:
            raise FocusInterpError(f"site '{self.site}' is not one of {', '.join(SITES)}")
        if self.query.shape != self.key.shape or self.query.dim() != 3:
            raise FocusInterpError(
                f"directions must be two [layers, heads, head_dim] tensors, got {tuple(self.query.shape)} and "
                f"{tuple(self.key.shape)}"
            )

    def apply(self, loaded: LoadedModel) -> None:
        """Write the edit into the current nnsight trace (once per forward pass, i.e. per generation step)."""
        architecture = loaded.architecture
        expected = (architecture.n_layers, architecture.n_heads, architecture.head_dim)
        if tuple(self.query.shape) != expected:
            raise FocusInterpError(
                f"directions of shape {tuple(self.query.shape)} do not fit {architecture.name} {expected}: "
                "they were made for another model"
            )
        check_heads(self.heads, architecture)
        if self.alpha == 0:
            return
        for layer, heads in heads_by_layer(self.heads).items():
            if self.site == "post_rope":
                self._post_rope(loaded, layer, heads)
            else:
                self._pre_rope(loaded, layer, heads)

    def _offsets(self, layer: int, heads: list[int], directions: Tensor, like: Tensor) -> Tensor:
        return (self.alpha * directions[layer, heads]).to(device=like.device, dtype=like.dtype)

    def _post_rope(self, loaded: LoadedModel, layer: int, heads: list[int]) -> None:
        query, key = loaded.sites(layer).post_rope.output
        query[:, heads] += self._offsets(layer, heads, self.query, query)[None, :, None, :]
        if loaded.architecture.n_groups == 1:
            key[:, heads] += self._offsets(layer, heads, self.key, key)[None, :, None, :]

    def _pre_rope(self, loaded: LoadedModel, layer: int, heads: list[int]) -> None:
        architecture = loaded.architecture
        kv_heads = sorted({architecture.kv_head(head) for head in heads})
        key_offsets = []
        for kv_head in kv_heads:
            group = [head for head in heads if architecture.kv_head(head) == kv_head]
            if any(not torch.equal(self.key[layer, group[0]], self.key[layer, head]) for head in group[1:]):
                raise FocusInterpError(
                    f"pre_rope d_K differs between query heads {group} of layer {layer}, which share KV head "
                    f"{kv_head}: give them one d_K or use site='post_rope'"
                )
            key_offsets.append(group[0])
        sites = loaded.sites(layer)
        query = sites.q_proj.output
        query_heads = rearrange(query, "b t (h d) -> b t h d", d=architecture.head_dim)
        query_heads[:, :, heads] += self._offsets(layer, heads, self.query, query)
        key = sites.k_proj.output
        key_heads = rearrange(key, "b t (k d) -> b t k d", d=architecture.head_dim)
        key_heads[:, :, kv_heads] += self._offsets(layer, key_offsets, self.key, key)
