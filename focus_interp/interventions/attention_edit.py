"""Split softmax as an nnsight edit of chosen heads' attention, composable with any other edit in a trace.

The model keeps its own attention implementation (SDPA by default). For the chosen heads of a layer, the rows of
the tokens that produce the response (absolute position >= ``first_row``, the last prompt token) are recomputed
from the q, k, v, mask and scaling the attention function received: W = softmax(q K^T * scaling + mask),
W' = split_softmax(W, C, tau), and those heads' outputs for those rows become W' V. Prompt rows are untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from focus_interp.architecture import Architecture
from focus_interp.attention import attention_bias, attention_probabilities
from focus_interp.errors import FocusInterpError
from focus_interp.heads import Head, check_heads, heads_by_layer
from focus_interp.interventions.split_softmax import check_tau, split_softmax


@dataclass(frozen=True)
class SplitSoftmax:
    """Eq. 3 with exponent ``tau`` on ``heads``, span ``span`` = token [start, end) of the relevant context C.

    ``first_row``: the first position whose row is edited (the last prompt token, so the prompt's own rows and
    hence its KV cache stay as they are). Apply with ``apply_interventions``.
    """

    heads: tuple[Head, ...]
    span: tuple[int, int]
    tau: float
    first_row: int
    stage = "attention"

    def __post_init__(self):
        check_tau(self.tau)
        start, end = self.span
        if not 0 <= start < end <= self.first_row + 1:
            raise FocusInterpError(
                f"split-softmax span {self.span} must be a non-empty token range inside the prompt (0-{self.first_row})"
            )

    def layers(self) -> set[int]:
        return set(heads_by_layer(self.heads))

    def check(self, architecture: Architecture) -> None:
        check_heads(self.heads, architecture)

    def is_identity(self) -> bool:
        return self.tau == 1

    def edit(self, architecture: Architecture, layer: int, values: tuple) -> None:
        """Replace the chosen heads' output rows at ``layer``; ``values`` = (args, kwargs, output) of the call."""
        args, kwargs, output = values
        heads = heads_by_layer(self.heads)[layer]
        query, key, value, mask = args[1], args[2], args[3], args[4]
        positions = kwargs["position_ids"][0]
        first = max(0, self.first_row - int(positions[0]))
        n_queries, n_keys = query.shape[2], key.shape[2]
        if first >= n_queries:
            return
        kv_heads = [architecture.kv_head(head) for head in heads]
        bias = attention_bias(mask, n_queries, n_keys, architecture.sliding_window[layer])[..., first:, :]
        weights = attention_probabilities(query[:, heads, first:], key[:, kv_heads], bias.to(query.device), kwargs["scaling"])
        key_positions = torch.arange(int(positions[-1]) + 1 - n_keys, int(positions[-1]) + 1, device=query.device)
        in_span = (key_positions >= self.span[0]) & (key_positions < self.span[1])
        edited = split_softmax(weights, in_span, self.tau).to(value.dtype) @ value[:, kv_heads]
        output[:, first:, heads] = edited.transpose(1, 2)
