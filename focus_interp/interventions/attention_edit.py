"""Split softmax as an nnsight edit of chosen heads' attention, composable with any other edit in a trace.

The model keeps its own attention implementation (SDPA by default). For the chosen heads of a layer, the rows of
the tokens that produce the response (absolute position >= ``first_row``, the last prompt token) are recomputed
from the q, k, v, mask and scaling the attention function received: W = softmax(q K^T * scaling + mask),
W' = split_softmax(W, C, tau), and those heads' outputs for those rows become W' V. As W' is W times a factor a
on C and b elsewhere, W' V = b (W V) + (a - b) (W_C V_C): the model's own output plus a term over the span's
values alone. Prompt rows are untouched.

Positions are those of the (left-padded) batch: under left padding every prompt ends at the same position, and the
longest prompt, which has no padding, has position ids equal to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Sequence

import torch
from torch import Tensor

from focus_interp.errors import FocusInterpError
from focus_interp.heads import Head, check_heads, heads_by_layer
from focus_interp.interventions.compose import PerRow
from focus_interp.interventions.split_softmax import check_tau, split_factors
from focus_interp.model.architecture import Architecture
from focus_interp.model.attention import attention_bias, attention_logits


@dataclass(frozen=True)
class SplitSoftmax:
    """Eq. 3 with exponent ``tau`` on ``heads``, span ``span`` = token [start, end) of the relevant context C.

    ``first_row``: the first position whose row is edited (the last prompt token, so the prompt's own rows and
    hence its KV cache stay as they are). It applies to every row of a batch; ``SplitSoftmaxRows`` gives each
    row its own. Apply with ``apply_interventions``.
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

    @classmethod
    def on_segment(cls, prompt, name: str, heads, tau: float) -> SplitSoftmax:
        """Split softmax on the span of ``prompt``'s segment ``name``, editing the rows from its last token on."""
        span = prompt.span(name)  # an error naming the segments there are, when the prompt lacks this one
        return cls(tuple(map(tuple, heads)), (span.start, span.stop), tau, len(prompt) - 1)

    def layers(self) -> set[int]:
        return set(heads_by_layer(self.heads))

    def check(self, architecture: Architecture) -> None:
        check_heads(self.heads, architecture)

    def is_identity(self) -> bool:
        return self.tau == 1

    def shifted(self, offset: int) -> SplitSoftmax:
        """The same edit for the prompt moved ``offset`` positions right (by left padding)."""
        return replace(self, span=(self.span[0] + offset, self.span[1] + offset), first_row=self.first_row + offset)

    def edit(self, architecture: Architecture, layer: int, values: tuple) -> None:
        """Replace the chosen heads' output rows at ``layer``; ``values`` = (args, kwargs, output) of the call."""
        edit_rows(architecture, layer, values, [self] * values[0][1].shape[0])


@dataclass(frozen=True)
class SplitSoftmaxRows(PerRow):
    """One split softmax per batch row (None leaves that row untouched), e.g. one (heads, tau) per row of a sweep
    or one span per prompt of a left-padded batch. Every row's ``first_row`` must be the same position."""

    rows: tuple[SplitSoftmax | None, ...]
    stage = "attention"
    _tables: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    def __post_init__(self):
        firsts = {row.first_row for row in self.rows if row is not None}
        if len(firsts) > 1:
            raise FocusInterpError(f"split-softmax rows start at different positions {sorted(firsts)}: left-pad the batch")

    def edit(self, architecture: Architecture, layer: int, values: tuple) -> None:
        batch = values[0][1].shape[0]
        if len(self.rows) != batch:
            raise FocusInterpError(f"{len(self.rows)} split-softmax rows for a batch of {batch}: give one per row")
        if layer not in self._tables:
            self._tables[layer] = head_table(layer, self.rows)
        edit_rows(architecture, layer, values, self.rows, self._tables[layer])


def head_table(layer: int, rows: Sequence[SplitSoftmax | None]) -> tuple[list[int], list[list[float]]]:
    """The heads of ``layer`` that any row edits, and each row's tau per such head (1 where it leaves it)."""
    active = [row if row is not None and not row.is_identity() else None for row in rows]
    row_heads = [set(heads_by_layer(row.heads).get(layer, ())) if row else set() for row in active]
    heads = sorted(set().union(*row_heads))
    return heads, [[row.tau if head in chosen else 1.0 for head in heads] for row, chosen in zip(active, row_heads)]


def edit_rows(
    architecture: Architecture,
    layer: int,
    values: tuple,
    rows: Sequence[SplitSoftmax | None],
    table: tuple[list[int], list[list[float]]] | None = None,
) -> None:
    """Apply ``rows[b]`` to batch row b of the attention call at ``layer`` (``table``: their ``head_table``)."""
    args, kwargs, output = values
    query, key, value, mask = args[1], args[2], args[3], args[4]
    n_queries, n_keys = query.shape[2], key.shape[2]
    heads, taus = table or head_table(layer, rows)
    if not heads:
        return
    last = int(kwargs["position_ids"][:, -1].max())
    first_row = next(row.first_row for row in rows if row is not None)
    first = max(0, first_row - (last + 1 - n_queries))
    if first >= n_queries:
        return
    key_start = last + 1 - n_keys
    span_start = max(0, min(row.span[0] for row in rows if row is not None) - key_start)
    span_end = min(n_keys, max(row.span[1] for row in rows if row is not None) - key_start)
    if span_end <= span_start:
        return
    bias = attention_bias(mask, n_queries, n_keys, architecture.sliding_window[layer])[..., first:, :]
    logits = attention_logits(query[:, :, first:], key, bias.to(query.device), kwargs["scaling"])[:, heads]
    key_positions = torch.arange(key_start + span_start, key_start + span_end, device=query.device)
    in_span = torch.stack(
        [(key_positions >= row.span[0]) & (key_positions < row.span[1]) if row else key_positions < 0 for row in rows]
    )
    span_weights = torch.exp(logits[..., span_start:span_end] - torch.logsumexp(logits, -1, keepdim=True))
    span_weights = span_weights * in_span[:, None, None, :]
    tau = torch.tensor(taus, device=query.device)
    inside, outside = split_factors(span_weights.sum(-1, keepdim=True), tau[:, :, None, None])
    kv_heads = [architecture.kv_head(head) for head in heads]
    span_output = _weights_times_values(span_weights, value[:, :, span_start:span_end].float(), kv_heads)
    if output.dtype == torch.float32:
        current = output[:, first:, heads].transpose(1, 2)
    else:  # the model's own W V is rounded too coarsely for b (W V) when b = 1 / (1 - pi) is large
        current = _weights_times_values(torch.softmax(logits, -1), value.float(), kv_heads)
    new_rows = (outside * current + (inside - outside) * span_output).to(output.dtype).transpose(1, 2)
    selected = (tau != 1)[:, None, :, None]
    output[:, first:, heads] = torch.where(selected, new_rows, output[:, first:, heads])


def _weights_times_values(weights: Tensor, value: Tensor, kv_heads: list[int]) -> Tensor:
    """weights [B, h, q, k] of the chosen heads times the values [B, kv, k, D] of each head's KV head."""
    return weights @ value[:, kv_heads]
