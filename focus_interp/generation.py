"""Greedy decoding of a prompt's response, stopping at the end of the assistant turn."""

from __future__ import annotations

import warnings
from typing import Callable, Sequence

import torch

from focus_interp.errors import FocusInterpError
from focus_interp.models import LoadedModel
from focus_interp.prompts import Prompt


def stop_token_ids(loaded: LoadedModel) -> list[int]:
    """Token ids that end a response: the generation config's EOS ids (e.g. end of turn) and the tokenizer's EOS."""
    configured = loaded.hf_model.generation_config.eos_token_id
    ids = set(configured if isinstance(configured, list) else [configured] if configured is not None else [])
    if loaded.tokenizer.eos_token_id is not None:
        ids.add(loaded.tokenizer.eos_token_id)
    return sorted(ids)


def cut_at_stop(tokens: Sequence[int], stops: Sequence[int]) -> list[int]:
    """The tokens before the first stop token."""
    for index, token in enumerate(tokens):
        if token in stops:
            return list(tokens[:index])
    return list(tokens)


def check_fits_window(loaded: LoadedModel, n_prompt: int, max_new_tokens: int) -> None:
    """An error when the prompt plus the response (and one more decoding step) exceeds the model's window."""
    if max_new_tokens < 1:
        raise FocusInterpError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
    window = loaded.architecture.context_length
    if n_prompt + max_new_tokens + 1 > window:
        raise FocusInterpError(
            f"prompt of {n_prompt} tokens plus {max_new_tokens} new tokens exceeds the model's window of {window}"
        )


def greedy_kwargs(loaded: LoadedModel, max_new_tokens: int) -> dict:
    """Keyword arguments of a greedy ``generate`` that stops at the end of the turn."""
    return {
        "max_new_tokens": max_new_tokens,
        "do_sample": False,
        "eos_token_id": stop_token_ids(loaded),
        "pad_token_id": loaded.tokenizer.pad_token_id,
    }


@torch.no_grad()
def greedy_response(loaded: LoadedModel, prompt: Prompt, max_new_tokens: int = 32) -> list[int]:
    """The greedy response token ids to ``prompt``, without the stop token."""
    check_fits_window(loaded, len(prompt), max_new_tokens)
    ids = prompt.ids().to(loaded.device)
    output = loaded.hf_model.generate(ids, attention_mask=torch.ones_like(ids), **greedy_kwargs(loaded, max_new_tokens))
    return cut_at_stop(output[0, ids.shape[1] :].tolist(), stop_token_ids(loaded))


@torch.no_grad()
def traced_greedy(
    loaded: LoadedModel, prompt: Prompt, n_steps: int, each_step: Callable[[int], None], first_step: int = 0
) -> list[int]:
    """Greedy generation of up to ``n_steps`` tokens through nnsight, calling ``each_step(step)`` inside the trace
    at decoding steps ``first_step`` .. ``n_steps - 1`` (step 0 reads the prompt); returns the generated ids
    before the first stop token. A generation that stops early simply runs fewer steps.
    """
    ids = prompt.ids().to(loaded.device)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*was never reached.*")
        with loaded.model.generate(**greedy_kwargs(loaded, n_steps)) as tracer:
            with tracer.invoke(ids, attention_mask=torch.ones_like(ids)):
                for step in tracer.iter[first_step:n_steps]:
                    each_step(step)
            with tracer.invoke():
                generated = tracer.result.save()
    return cut_at_stop(generated[0, ids.shape[1] :].tolist(), stop_token_ids(loaded))
