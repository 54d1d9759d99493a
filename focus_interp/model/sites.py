"""Named intervention sites of one layer's attention, as nnsight envoys inside a trace.

Shapes (B batch, T new tokens, T_k keys incl. cache, H query heads, K KV heads, D head_dim):

- ``q_proj`` / ``k_proj``: the projection calls; ``.output`` is [B, T, H*D] / [B, T, K*D].

Every site is reached through the attention module's ``.source``; nnsight instruments that source only when
it is touched before the module runs, so inside one trace read a layer's sites through these properties (or
``.source``) rather than mixing in ``self_attn.q_proj.output``.
- ``pre_rope``: the call that applies RoPE; ``.inputs[0][0:2]`` are q [B, H, T, D] and k [B, K, T, D] before
  RoPE (after the q/k norms of families that have them, e.g. Gemma3).
- ``post_rope``: the same call; ``.output`` is (q, k) after RoPE, [B, H, T, D] and [B, K, T, D].
- ``attention_call``: the attention function; ``.inputs[0]`` is (module, q, k, v, mask) with k, v covering every
  cached position [B, K, T_k, D], ``.inputs[1]["scaling"]`` the scale of q.k. The mask is whatever the attention
  implementation takes: None (causal), boolean (True = attend) or additive float [B, 1, T, T_k]. ``.output[0]`` is
  the attention output per head before ``o_proj``, [B, T, H, D].
- ``probabilities``: the softmax inside eager attention; ``.output`` is [B, H, T, T_k]. Only eager attention
  materialises it: load with ``attn_implementation="eager"``.
"""

from __future__ import annotations

from dataclasses import dataclass

from focus_interp.errors import FocusInterpError
from focus_interp.model.architecture import Architecture


@dataclass(frozen=True)
class LayerSites:
    """The sites of layer ``layer`` of an nnsight-wrapped model; use the properties inside a trace."""

    model: object
    architecture: Architecture
    layer: int
    attn_implementation: str

    @property
    def attention(self):
        family = self.architecture.family
        return getattr(family.layers(self.model)[self.layer], family.attention)

    @property
    def q_proj(self):
        return getattr(self.attention.source, self.architecture.family.q_proj_call)

    @property
    def k_proj(self):
        return getattr(self.attention.source, self.architecture.family.k_proj_call)

    @property
    def pre_rope(self):
        return getattr(self.attention.source, self.architecture.family.rope_call)

    post_rope = pre_rope

    @property
    def attention_call(self):
        return getattr(self.attention.source, self.architecture.family.attention_call)

    @property
    def probabilities(self):
        if self.attn_implementation != "eager":
            raise FocusInterpError(
                f"attention probabilities exist only under eager attention (this model runs "
                f"'{self.attn_implementation}'): load it with attn_implementation='eager'"
            )
        return getattr(self.attention_call.source, self.architecture.family.softmax_call)

    def __repr__(self) -> str:
        sites = "q_proj, k_proj, pre_rope, post_rope, attention_call" + (", probabilities" if self.attn_implementation == "eager" else "")
        return f"LayerSites(layer {self.layer} of {self.architecture.name}, {self.attn_implementation}: {sites})"

    def paths(self) -> dict[str, str]:
        """Site name -> the nnsight path a user writes to reach it, e.g. for printing."""
        family = self.architecture.family
        attention = f"{family.layers_path}.{self.layer}.{family.attention}"
        call = f"{attention}.source.{family.attention_call}"
        return {
            "q_proj": f"{attention}.source.{family.q_proj_call}.output",
            "k_proj": f"{attention}.source.{family.k_proj_call}.output",
            "pre_rope": f"{attention}.source.{family.rope_call}.inputs[0][0:2]",
            "post_rope": f"{attention}.source.{family.rope_call}.output",
            "attention_call": f"{call}.inputs  (q, k, v, mask; scaling=)",
            "probabilities": f"{call}.source.{family.softmax_call}.output  (eager only)",
        }
