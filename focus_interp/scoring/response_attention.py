"""Attention of each response token on named prompt spans, read while the response is generated.

The rows of a response token in a forward pass over [prompt, R] are exactly the rows the decoding steps compute,
so no second pass and no T x T matrix is needed: decoding step s (s >= 1; step 0 is the prompt) feeds response
token s - 1 (0-based), and each layer's attention function receives its query and the keys of every position up
to it; we recompute that one row,
softmax(q K^T * scaling + mask), in float32 and sum it over each span. The model itself keeps running its own
attention implementation (SDPA by default). Memory: O(layers x heads x T) per step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from jaxtyping import Float
from torch import Tensor

from focus_interp.interventions import apply_interventions
from focus_interp.interventions.compose import AttentionReader
from focus_interp.model.attention import attention_bias, attention_probabilities
from focus_interp.model.generation import check_fits_window, traced_greedy
from focus_interp.model.loading import LoadedModel
from focus_interp.prompts import Prompt


@dataclass(frozen=True)
class ResponseAttention:
    """The greedy response to a prompt and its rows' attention mass on named spans.

    ``mass[i, l, h, s]``: attention of response token i (as the model reads [prompt, R]) in layer l, head h,
    summed over the tokens of span ``span_names[s]``.
    """

    response_ids: tuple[int, ...]
    span_names: tuple[str, ...]
    mass: Float[Tensor, "rows layers heads spans"]

    def mean_over_response(self) -> Float[Tensor, "layers heads spans"]:
        """The contextual score of every span: mean attention mass over the response rows."""
        return self.mass.mean(dim=0)


def span_indicator(prompt: Prompt, span_names: Sequence[str], length: int) -> Float[Tensor, "positions spans"]:
    """1 where position p belongs to span s; zero rows for positions after the prompt."""
    indicator = torch.zeros(length, len(span_names))
    for column, name in enumerate(span_names):
        indicator[prompt.span(name), column] = 1.0
    return indicator


class NewestRowReader(AttentionReader):
    """Reads every layer's newest attention row, after the interventions that change q or k there, and keeps
    ``reduce(probabilities, end)`` of it: ``probabilities`` [heads, keys] covers positions [end - keys, end)."""

    def __init__(self, architecture, reduce: Callable[[Tensor, int], Tensor], end: int):
        self.reduce, self.end = reduce, end
        self.read_layers = set(range(architecture.n_layers))
        self.layers_read: list[Tensor] = []

    def edit(self, architecture, layer: int, values: tuple) -> None:
        args, kwargs, _ = values
        query, key, mask = args[1][:, :, -1:], args[2], args[4]
        bias = attention_bias(mask, 1, key.shape[2], architecture.sliding_window[layer])
        probabilities = attention_probabilities(query, key, bias.to(query.device), kwargs["scaling"])
        self.layers_read.append(self.reduce(probabilities[0, :, 0], self.end))


@torch.no_grad()
def generate_reading_rows(
    loaded: LoadedModel,
    prompt: Prompt,
    reduce: Callable[[Tensor, int], Tensor],
    n_steps: int,
    interventions: Sequence = (),
    stops: Sequence[int] | None = None,
    keep_stop: bool = False,
) -> tuple[list[int], list[Tensor]]:
    """Greedy response to ``prompt`` over up to ``n_steps`` decoding steps, and per step s the stacked
    ``reduce`` [layers, ...] of the row that step computes: step 0's is the last prompt token's row (which
    predicts response token 0), step s's is response token s - 1's row. ``stops``, ``keep_stop``: as
    ``traced_greedy``'s (default: stop before the end of turn).
    """
    n_prompt = len(prompt)
    rows = []

    def step(index: int) -> None:
        # Every step is read: nnsight counts a node's steps from the step that first touches it, so every step
        # must touch the same nodes.
        reader = NewestRowReader(loaded.architecture, reduce, n_prompt + index)
        apply_interventions(loaded, [*interventions, reader])
        rows.append(reader.layers_read)

    response = traced_greedy(loaded, prompt.ids(), n_steps, step, stops=stops, keep_stop=keep_stop)[0]
    return response, [torch.stack(layers).cpu() for layers in rows]


@torch.no_grad()
def generate_with_span_attention(
    loaded: LoadedModel,
    prompt: Prompt,
    span_names: Sequence[str],
    max_new_tokens: int = 32,
    interventions: Sequence = (),
    stops: Sequence[int] | None = None,
) -> ResponseAttention:
    """Greedy response to ``prompt`` (stopped at the end of turn) and its rows' mass on ``span_names``.

    Generates up to ``max_new_tokens`` response tokens; one more decoding step is run when needed so that the
    last kept token's row is computed too. ``interventions`` apply at every step, the prompt included, and the
    rows are read as the intervened model computes them (after edits of q and k, before edits of the output).
    ``stops``: the tokens that end the response (default: the end of turn).
    """
    check_fits_window(loaded, len(prompt), max_new_tokens)
    indicator = span_indicator(prompt, span_names, len(prompt) + max_new_tokens + 1).to(loaded.device)

    def span_mass(probabilities: Tensor, end: int) -> Tensor:
        return probabilities @ indicator[end - probabilities.shape[-1] : end]

    response, rows = generate_reading_rows(loaded, prompt, span_mass, max_new_tokens + 1, interventions, stops)
    response = response[:max_new_tokens]
    if not response:
        architecture = loaded.architecture
        return ResponseAttention((), tuple(span_names), torch.zeros(0, architecture.n_layers, architecture.n_heads, len(span_names)))
    return ResponseAttention(tuple(response), tuple(span_names), torch.stack(rows[1 : len(response) + 1]))
