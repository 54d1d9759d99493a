"""Attention patterns of chosen heads of one layer over a whole prompt, under any attention implementation.

The pattern is recomputed from what the layer's attention function receives (q and k after RoPE and after any
intervention that changes them, the mask, the scaling), in float32, for the chosen heads only: [heads, T, T] for
one layer at a time, equal to eager ``output_attentions`` (tested), while the model keeps running SDPA. Memory:
heads x T x T floats (20 heads of a 3,000-token prompt: 720 MB), so choose the heads you look at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from jaxtyping import Float
from torch import Tensor

from focus_interp.errors import FocusInterpError
from focus_interp.interventions import apply_interventions
from focus_interp.interventions.compose import AttentionReader
from focus_interp.model.attention import attention_bias
from focus_interp.model.loading import LoadedModel
from focus_interp.prompts import Prompt
from focus_interp.reports.plots import plot_attention_pattern


@dataclass(frozen=True)
class AttentionPattern:
    """``probabilities[i, q, k]``: attention of position q on position k in head ``heads[i]`` of ``layer``;
    ``tokens`` the prompt's tokens as text, one per position."""

    layer: int
    heads: tuple[int, ...]
    tokens: tuple[str, ...]
    probabilities: Float[Tensor, "heads T T"]

    def of(self, head: int) -> Float[Tensor, "T T"]:
        """The pattern of one head (its number in the layer)."""
        if head not in self.heads:
            raise FocusInterpError(f"head {head} of layer {self.layer} was not read: these patterns hold heads {list(self.heads)}")
        return self.probabilities[self.heads.index(head)]

    def plot(self, head: int | None = None, ax=None):
        """One head's pattern (default: the first read) as a query x key heatmap; returns the Figure."""
        head = self.heads[0] if head is None else head
        return plot_attention_pattern(self.of(head), self.tokens, f"layer {self.layer}, head {head}", ax)

    def to_circuitsvis(self):
        """The patterns as circuitsvis's interactive view (``pip install circuitsvis``): shown inline in a notebook."""
        try:
            from circuitsvis.attention import attention_heads
        except ImportError:
            raise FocusInterpError("circuitsvis is not installed: pip install circuitsvis") from None
        return attention_heads(attention=self.probabilities, tokens=list(self.tokens),
                               attention_head_names=[f"L{self.layer}H{head}" for head in self.heads])


class _PatternReader(AttentionReader):
    """Keeps the chosen heads' full attention probabilities of one layer."""

    def __init__(self, layer: int, heads: Sequence[int]):
        self.read_layers, self.heads = {layer}, list(heads)
        self.read: list[Tensor] = []

    def edit(self, architecture, layer: int, values: tuple) -> None:
        args, kwargs, _ = values
        query, key, mask = args[1][0, self.heads], args[2][0, [head // architecture.n_groups for head in self.heads]], args[4]
        n = query.shape[1]
        bias = attention_bias(mask, n, key.shape[1], architecture.sliding_window[layer], device=query.device)[0, 0]
        logits = query.float() @ key.float().transpose(-1, -2) * kwargs["scaling"] + bias
        self.read.append(torch.softmax(logits, dim=-1).cpu())


@torch.no_grad()
def attention_pattern(
    loaded: LoadedModel, prompt: Prompt, layer: int, heads: Sequence[int] | None = None, interventions: Sequence = ()
) -> AttentionPattern:
    """The attention patterns of ``heads`` (default: all) of ``layer`` over ``prompt``, in one forward pass under
    ``interventions`` (read after those that change q or k, as the model computes its attention)."""
    architecture = loaded.architecture
    if not 0 <= layer < architecture.n_layers:
        raise FocusInterpError(f"layer {layer} is outside the model's layers 0-{architecture.n_layers - 1}")
    heads = list(range(architecture.n_heads)) if heads is None else [int(head) for head in heads]
    outside = [head for head in heads if not 0 <= head < architecture.n_heads]
    if outside or not heads or len(set(heads)) != len(heads):
        raise FocusInterpError(f"heads must be distinct numbers in 0-{architecture.n_heads - 1}, got {heads}")
    reader = _PatternReader(layer, heads)
    with loaded.model.trace(prompt.ids().to(loaded.device)):
        apply_interventions(loaded, [*interventions, reader])
    tokens = tuple(loaded.tokenizer.decode([token]) for token in prompt.input_ids)
    return AttentionPattern(layer, tuple(heads), tokens, reader.read[0])
