"""Greedy generation under interventions, one prompt or a left-padded batch; sweeps of many edits of one prompt as
rows of one batch."""

from __future__ import annotations

from itertools import zip_longest
from typing import Sequence

import torch

from focus_interp.errors import FocusInterpError
from focus_interp.interventions import (
    FocusDirection,
    SplitSoftmax,
    SplitSoftmaxRows,
    apply_interventions,
)
from focus_interp.interventions.focus_direction import (
    DIRECTION_POSITIONS,
    FocusDirectionRows,
)
from focus_interp.model.generation import (
    check_fits_window,
    cut_at_stop,
    left_pad,
    stop_token_ids,
    traced_greedy,
)
from focus_interp.model.kv_cache import preallocated_cache, repeat_prefix_cache
from focus_interp.model.loading import LoadedModel
from focus_interp.prompts import Prompt

FIRST_PASS_TOKENS = 32
"""A sweep first decodes every row of a batch up to this many tokens; only the rows that have not ended by then go
on, from their own KV cache, to the full budget. Each decode step costs every row of its batch, so rows that end
early stop costing once the first pass is done, instead of waiting for their batch's longest response."""


def batch_split_softmax(per_prompt: Sequence[Sequence[SplitSoftmax]], offsets: Sequence[int]) -> list[SplitSoftmaxRows]:
    """The j-th split softmax of every prompt (in that prompt's own positions) as one edit of the padded batch."""
    for edits in per_prompt:
        for edit in edits:
            if not isinstance(edit, SplitSoftmax):
                raise FocusInterpError(
                    f"only split softmax can differ per prompt, got {type(edit).__name__}: pass it in interventions"
                )
    return [
        SplitSoftmaxRows(tuple(None if edit is None else edit.shifted(offset) for edit, offset in zip(column, offsets)))
        for column in zip_longest(*per_prompt)
    ]


def generate_with_interventions(
    loaded: LoadedModel,
    prompts: Prompt | Sequence[Prompt],
    interventions: Sequence = (),
    max_new_tokens: int = 32,
    per_prompt: Sequence[Sequence[SplitSoftmax]] | None = None,
) -> list[int] | list[list[int]]:
    """Greedy response token ids (without the stop token) with every intervention applied at every step.

    One ``Prompt`` gives one list of ids; a list of prompts is generated as one left-padded batch and gives one
    list per prompt. ``interventions`` apply to every row; ``per_prompt`` holds one sequence of split softmaxes
    per prompt, each in its prompt's own positions.
    """
    single = isinstance(prompts, Prompt)
    prompts = [prompts] if single else list(prompts)
    check_fits_window(loaded, max((len(prompt) for prompt in prompts), default=0), max_new_tokens)
    ids, mask, offsets = left_pad(loaded, prompts)
    edits = list(interventions)
    if len(set(offsets)) > 1 and any(isinstance(edit, (SplitSoftmax, SplitSoftmaxRows)) for edit in edits):
        raise FocusInterpError(
            "a split softmax names positions of one prompt: in a batch of prompts of different lengths pass it "
            "per prompt (per_prompt=[[SplitSoftmax(...)], ...])"
        )
    if per_prompt is not None:
        if len(per_prompt) != len(prompts):
            raise FocusInterpError(f"per_prompt has {len(per_prompt)} entries for {len(prompts)} prompts: give one each")
        edits += batch_split_softmax(per_prompt, offsets)
    responses = traced_greedy(loaded, ids, max_new_tokens, lambda step: apply_interventions(loaded, edits), attention_mask=mask)
    return responses[0] if single else responses


@torch.no_grad()
def generate_split_softmax_sweep(
    loaded: LoadedModel,
    prompt: Prompt,
    rows: Sequence[SplitSoftmax | None],
    max_new_tokens: int = 32,
    batch_size: int = 16,
    first_pass_tokens: int = FIRST_PASS_TOKENS,
) -> list[list[int]]:
    """Greedy responses to one prompt under each split softmax of ``rows`` (None: no intervention).

    Split softmax leaves the prompt's rows before the last token untouched, so that prefix is run once and its KV
    cache is shared: each batch of up to ``batch_size`` rows decodes from copies of it, starting at the last
    prompt token. Every row's ``first_row`` must be the last prompt position. Rows still going after
    ``first_pass_tokens`` (default ``FIRST_PASS_TOKENS``) go on from their own cache to the full budget.
    """
    last = len(prompt) - 1
    for row in rows:
        if row is not None and row.first_row != last:
            raise FocusInterpError(f"a sweep edits rows from the last prompt token ({last}), not from {row.first_row}")
    return _rows_of_batches(loaded, prompt, rows, max_new_tokens, batch_size, SplitSoftmaxRows, True, first_pass_tokens)


@torch.no_grad()
def generate_focus_direction_sweep(
    loaded: LoadedModel,
    prompt: Prompt,
    rows: Sequence[FocusDirection | None],
    max_new_tokens: int = 32,
    batch_size: int = 16,
    positions: str = "all",
    first_pass_tokens: int = FIRST_PASS_TOKENS,
) -> list[list[int]]:
    """Greedy responses to one prompt under each focus direction of ``rows`` (None: no intervention), up to
    ``batch_size`` rows per batch, each row its own heads and alpha.

    ``positions="all"`` edits every position, as the paper does: each row equals its direction run alone
    (``generate_with_interventions``), and the prompt is computed once per row. ``positions="response"`` leaves
    the prompt's rows before its last token untouched: that prefix is run once and its KV cache shared, and each
    row decodes from the last prompt token with its direction on every row from there. Either way, rows still going
    after ``first_pass_tokens`` (default ``FIRST_PASS_TOKENS``) go on from their own cache to the full budget.
    """
    if positions not in DIRECTION_POSITIONS:
        raise FocusInterpError(f"positions must be one of {', '.join(DIRECTION_POSITIONS)}, got {positions!r}")
    for row in rows:
        if row is not None and not isinstance(row, FocusDirection):
            raise FocusInterpError(f"a focus-direction sweep takes FocusDirection rows (or None), got {type(row).__name__}")
    return _rows_of_batches(
        loaded, prompt, rows, max_new_tokens, batch_size, FocusDirectionRows, positions == "response", first_pass_tokens
    )


def _rows_of_batches(
    loaded, prompt: Prompt, rows: Sequence, max_new_tokens: int, batch_size: int, per_row, share_prefix: bool,
    first_pass_tokens: int,
):
    """Greedy responses to ``prompt`` under each of ``rows``, ``batch_size`` rows a batch under ``per_row(chunk)``
    (one edit per batch row); with ``share_prefix`` the prompt before its last token is run once and every batch
    decodes from copies of its KV cache. Each batch decodes ``first_pass_tokens``, then its rows still going go on
    from their own cache to the full budget: greedy decoding is deterministic and the edits do not depend on when
    a step runs, so every row gets the response one full-budget decode would give."""
    if first_pass_tokens < 1:
        raise FocusInterpError(f"first_pass_tokens must be at least 1, got {first_pass_tokens}")
    check_fits_window(loaded, len(prompt), max_new_tokens)
    if batch_size < 1:
        raise FocusInterpError(f"batch_size must be at least 1, got {batch_size}")
    ids = prompt.ids().to(loaded.device)
    capacity = len(prompt) + max_new_tokens
    prefix = loaded.hf_model(ids[:, :-1], use_cache=True).past_key_values if share_prefix else None
    stops = stop_token_ids(loaded)
    first_pass = min(max_new_tokens, first_pass_tokens)

    def decode(chunk: list, tokens, n_steps: int, cache) -> list[list[int]]:
        edits = [per_row(tuple(chunk))]
        return traced_greedy(
            loaded, tokens, n_steps, lambda step: apply_interventions(loaded, edits), past_key_values=cache, keep_stop=True
        )

    responses = []
    for start in range(0, len(rows), batch_size):
        chunk = list(rows[start : start + batch_size])
        if prefix is None:
            cache = preallocated_cache(loaded.hf_model.config, capacity)
        else:
            cache = repeat_prefix_cache(prefix, len(chunk), capacity)
        batch = decode(chunk, ids.repeat(len(chunk), 1), first_pass, cache)
        going = [index for index, response in enumerate(batch) if not (response and response[-1] in stops)]
        if first_pass < max_new_tokens and going:
            cache.batch_select_indices(torch.tensor(going))
            so_far = torch.tensor([batch[index] for index in going], device=ids.device)
            tokens = torch.cat([ids.repeat(len(going), 1), so_far], dim=1)
            rest = decode([chunk[index] for index in going], tokens, max_new_tokens - first_pass, cache)
            for index, tail in zip(going, rest):
                batch[index] = batch[index] + tail
        responses += batch
    return [cut_at_stop(response, stops) for response in responses]
