"""Greedy decoding of a prompt's response, stopping at the end of the assistant turn."""

from __future__ import annotations

import warnings
from typing import Callable, Sequence

import torch
from jaxtyping import Int
from torch import Tensor

from focus_interp.errors import FocusInterpError
from focus_interp.model.loading import LoadedModel
from focus_interp.prompts import Prompt, prompt_room


def stop_token_ids(loaded: LoadedModel) -> list[int]:
    """Token ids that end a response: the generation config's EOS ids (e.g. end of turn) and the tokenizer's EOS."""
    configured = loaded.hf_model.generation_config.eos_token_id
    ids = set(configured if isinstance(configured, list) else [configured] if configured is not None else [])
    if loaded.tokenizer.eos_token_id is not None:
        ids.add(loaded.tokenizer.eos_token_id)
    return sorted(ids)


WU_NEWLINES = ("<0x0A>", "Ċ")
"""The newline-alone tokens Wu et al.'s decoding stops at: SentencePiece's byte token and byte-level BPE's."""
HELMET_NEWLINES = ("\n", "Ċ", "ĊĊ", "<0x0A>")
"""The tokens HELMET's ``stop_new_line`` stops at."""


def newline_token_ids(loaded: LoadedModel, tokens: Sequence[str] = WU_NEWLINES) -> list[int]:
    """The ids of those of ``tokens`` the vocabulary has; an error when it has none."""
    tokenizer = loaded.tokenizer
    vocabulary = tokenizer.get_vocab()
    ids = sorted({vocabulary[token] for token in tokens if token in vocabulary})
    if not ids:
        raise FocusInterpError(f"this tokenizer has none of the newline tokens {', '.join(map(repr, tokens))}")
    return ids


def cut_at_stop(tokens: Sequence[int], stops: Sequence[int], keep_stop: bool = False) -> list[int]:
    """The tokens before the first stop token (through it, with ``keep_stop``)."""
    for index, token in enumerate(tokens):
        if token in stops:
            return list(tokens[: index + keep_stop])
    return list(tokens)


def check_max_new_tokens(max_new_tokens: int) -> None:
    """An error when a response may have no token."""
    if max_new_tokens < 1:
        raise FocusInterpError(f"max_new_tokens must be at least 1, got {max_new_tokens}")


def check_fits_window(loaded: LoadedModel, n_prompt: int, max_new_tokens: int) -> None:
    """An error when the prompt plus the response (and one more decoding step) exceeds the model's window."""
    check_max_new_tokens(max_new_tokens)
    window = loaded.architecture.context_length
    if n_prompt > prompt_room(window, max_new_tokens):
        raise FocusInterpError(
            f"prompt of {n_prompt} tokens plus {max_new_tokens} new tokens exceeds the model's window of {window}"
        )


def greedy_kwargs(loaded: LoadedModel, max_new_tokens: int, stops: Sequence[int] | None = None) -> dict:
    """Keyword arguments of a greedy ``generate`` that stops at the end of the turn (or at ``stops``)."""
    return {
        "max_new_tokens": max_new_tokens,
        "do_sample": False,
        "eos_token_id": stop_token_ids(loaded) if stops is None else list(stops),
        "pad_token_id": loaded.tokenizer.pad_token_id,
    }


@torch.no_grad()
def greedy_response(loaded: LoadedModel, prompt: Prompt, max_new_tokens: int = 32) -> list[int]:
    """The greedy response token ids to ``prompt``, without the stop token."""
    check_fits_window(loaded, len(prompt), max_new_tokens)
    ids = prompt.ids().to(loaded.device)
    output = loaded.hf_model.generate(ids, attention_mask=torch.ones_like(ids), **greedy_kwargs(loaded, max_new_tokens))
    return cut_at_stop(output[0, ids.shape[1] :].tolist(), stop_token_ids(loaded))


def left_pad(loaded: LoadedModel, prompts: Sequence[Prompt]) -> tuple[Int[Tensor, "batch T"], Int[Tensor, "batch T"], list[int]]:
    """Token ids and attention mask of ``prompts`` left-padded to the longest, and each prompt's offset (pad count)."""
    if not prompts:
        raise FocusInterpError("no prompts to generate from")
    length = max(len(prompt) for prompt in prompts)
    pad = loaded.tokenizer.pad_token_id if loaded.tokenizer.pad_token_id is not None else stop_token_ids(loaded)[0]
    ids = torch.full((len(prompts), length), pad, dtype=torch.long)
    mask = torch.zeros((len(prompts), length), dtype=torch.long)
    offsets = [length - len(prompt) for prompt in prompts]
    for row, (prompt, offset) in enumerate(zip(prompts, offsets)):
        ids[row, offset:] = prompt.ids()[0]
        mask[row, offset:] = 1
    return ids, mask, offsets


@torch.no_grad()
def traced_greedy(
    loaded: LoadedModel,
    ids: Int[Tensor, "batch T"],
    n_steps: int,
    each_step: Callable[[int], None],
    attention_mask: Int[Tensor, "batch T"] | None = None,
    past_key_values=None,
    stops: Sequence[int] | None = None,
    keep_stop: bool = False,
) -> list[list[int]]:
    """Greedy generation of up to ``n_steps`` tokens per row through nnsight, calling ``each_step(step)`` inside
    the trace at every decoding step (step 0 reads the prompt, or its uncached tail when ``past_key_values`` holds
    a prefix); returns each row's generated ids before its first stop token (the end of turn, or ``stops``;
    through it with ``keep_stop``). A generation that stops early simply runs fewer steps. ``each_step`` must touch the same nnsight nodes at every step: nnsight counts a node's steps
    from the step that first touches it.
    """
    ids = ids.to(loaded.device)
    attention_mask = torch.ones_like(ids) if attention_mask is None else attention_mask.to(loaded.device)
    extra = {} if past_key_values is None else {"past_key_values": past_key_values}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*was never reached.*")
        with loaded.model.generate(**greedy_kwargs(loaded, n_steps, stops), **extra) as tracer:
            with tracer.invoke(ids, attention_mask=attention_mask):
                for step in tracer.iter[0:n_steps]:
                    each_step(step)
            with tracer.invoke():
                generated = tracer.result.save()
    stops = stop_token_ids(loaded) if stops is None else stops
    return [cut_at_stop(row, stops, keep_stop) for row in generated[:, ids.shape[1] :].tolist()]
