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

import math
from dataclasses import dataclass
from typing import Literal

import torch
from einops import rearrange
from jaxtyping import Float
from torch import Tensor

from focus_interp.errors import FocusInterpError
from focus_interp.heads import Head, check_heads, heads_by_layer
from focus_interp.interventions.compose import PerRow
from focus_interp.model.architecture import Architecture

SITES = ("post_rope", "pre_rope")
DIRECTION_POSITIONS = ("all", "response")
"""Where a swept focus direction edits: every position (the paper's), or only the rows from the last prompt token on
(the prompt's rows untouched, so the prompt's prefill is shared like a split-softmax sweep's)."""


@dataclass(frozen=True, eq=False)
class FocusDirection:
    """alpha * (d_Q, d_K) on ``heads`` at ``site``; ``query``/``key``: [layers, heads, head_dim] directions.

    Apply with ``apply_interventions``.
    """

    heads: tuple[Head, ...]
    query: Float[Tensor, "layers heads dim"]
    key: Float[Tensor, "layers heads dim"]
    alpha: float
    site: Literal["post_rope", "pre_rope"] = "post_rope"

    def __post_init__(self):
        if self.site not in SITES:
            raise FocusInterpError(f"site '{self.site}' is not one of {', '.join(SITES)}")
        if not math.isfinite(self.alpha):
            raise FocusInterpError(f"alpha must be a finite number (negative values are allowed), got {self.alpha}")
        if self.query.shape != self.key.shape or self.query.dim() != 3:
            raise FocusInterpError(
                f"directions must be two [layers, heads, head_dim] tensors, got {tuple(self.query.shape)} and "
                f"{tuple(self.key.shape)}"
            )
        for name, tensor in (("d_Q", self.query), ("d_K", self.key)):
            if not torch.isfinite(self.alpha * tensor.float()).all():
                raise FocusInterpError(
                    f"alpha {self.alpha:g} times {name} is not finite (NaN or infinite values): use finite directions "
                    "and a smaller alpha"
                )

    @classmethod
    def from_directions(cls, directions, heads, alpha: float) -> FocusDirection:
        """``alpha`` times trained ``directions`` (a ``Directions``: query, key, site) on ``heads``."""
        return cls(tuple(map(tuple, heads)), directions.query, directions.key, alpha, directions.site)

    @property
    def stage(self) -> str:
        """``post_rope`` edits RoPE's output; ``pre_rope`` adds to the ``q_proj``/``k_proj`` outputs (stage ``projections``)."""
        return "post_rope" if self.site == "post_rope" else "projections"

    def layers(self) -> set[int]:
        return set(heads_by_layer(self.heads))

    def check(self, architecture: Architecture) -> None:
        expected = (architecture.n_layers, architecture.n_heads, architecture.head_dim)
        if tuple(self.query.shape) != expected:
            raise FocusInterpError(
                f"directions of shape {tuple(self.query.shape)} do not fit {architecture.name} {expected}: "
                "they were made for another model"
            )
        check_heads(self.heads, architecture)
        if self.site == "pre_rope":
            for layer, heads in heads_by_layer(self.heads).items():
                self.key_owners(architecture, layer, heads)

    def is_identity(self) -> bool:
        return self.alpha == 0

    def edit(self, architecture: Architecture, layer: int, values: tuple) -> None:
        """Add the offsets at ``layer``; ``values`` = (q, k) of this intervention's site."""
        query, key = values
        heads = heads_by_layer(self.heads)[layer]
        if self.site == "post_rope":
            query[:, heads] += self._offsets(layer, heads, self.query, query)[None, :, None, :]
            if architecture.n_groups == 1:
                key[:, heads] += self._offsets(layer, heads, self.key, key)[None, :, None, :]
            return
        owners = self.key_owners(architecture, layer, heads)
        query_heads = rearrange(query, "b t (h d) -> b t h d", d=architecture.head_dim)
        query_heads[:, :, heads] += self._offsets(layer, heads, self.query, query)
        key_heads = rearrange(key, "b t (k d) -> b t k d", d=architecture.head_dim)
        key_heads[:, :, list(owners)] += self._offsets(layer, list(owners.values()), self.key, key)

    def _offsets(self, layer: int, heads: list[int], directions: Tensor, like: Tensor) -> Tensor:
        return (self.alpha * directions[layer, heads]).to(device=like.device, dtype=like.dtype)

    def key_owners(self, architecture: Architecture, layer: int, heads: list[int]) -> dict[int, int]:
        """{KV head: the chosen query head whose d_K it takes}; an error when a group's d_K disagree."""
        owners: dict[int, int] = {}
        for head in heads:
            kv_head = architecture.kv_head(head)
            owner = owners.setdefault(kv_head, head)
            if not torch.equal(self.key[layer, owner], self.key[layer, head]):
                group = [h for h in heads if architecture.kv_head(h) == kv_head]
                raise FocusInterpError(
                    f"pre_rope d_K differs between query heads {group} of layer {layer}, which share KV head "
                    f"{kv_head}: give them one d_K or use site='post_rope'"
                )
        return dict(sorted(owners.items()))


@dataclass(frozen=True, eq=False)
class FocusDirectionRows(PerRow):
    """One focus direction per batch row (None leaves that row untouched), e.g. one (heads, alpha) per row of a
    sweep over one prompt; every row's edit equals that direction applied to a batch of one. The rows share a site.
    """

    rows: tuple[FocusDirection | None, ...]

    def __post_init__(self):
        sites = {row.site for row in self.rows if row is not None}
        if len(sites) > 1:
            raise FocusInterpError(f"focus-direction rows at different sites {sorted(sites)}: batch rows of one site")

    @property
    def stage(self) -> str:
        return next((row.stage for row in self.rows if row is not None), "post_rope")

    def edit(self, architecture: Architecture, layer: int, values: tuple) -> None:
        """Add each row's offsets at ``layer`` to that row of ``values`` = (q, k) of the rows' site."""
        query, key = values
        if len(self.rows) != query.shape[0]:
            raise FocusInterpError(f"{len(self.rows)} focus-direction rows for a batch of {query.shape[0]}: give one per row")
        for index, row in enumerate(self.rows):
            if row is not None and not row.is_identity() and layer in row.layers():
                row.edit(architecture, layer, (query[index : index + 1], key[index : index + 1]))
