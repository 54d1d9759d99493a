"""Greedy generation under interventions, and the exact-match answer to a prompt."""

from __future__ import annotations

import warnings
from typing import Sequence

import torch

from focus_interp.generation import check_fits_window, cut_at_stop, greedy_kwargs, stop_token_ids
from focus_interp.interventions import apply_interventions
from focus_interp.models import LoadedModel
from focus_interp.prompts import Prompt


@torch.no_grad()
def generate_with_interventions(
    loaded: LoadedModel, prompt: Prompt, interventions: Sequence = (), max_new_tokens: int = 32
) -> list[int]:
    """Greedy response token ids (without the stop token), every intervention applied at every step."""
    check_fits_window(loaded, len(prompt), max_new_tokens)
    ids = prompt.ids().to(loaded.device)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*was never reached.*")
        with loaded.model.generate(**greedy_kwargs(loaded, max_new_tokens)) as tracer:
            with tracer.invoke(ids, attention_mask=torch.ones_like(ids)):
                for _ in tracer.iter[0:max_new_tokens]:
                    apply_interventions(loaded, interventions)
            with tracer.invoke():
                generated = tracer.result.save()
    return cut_at_stop(generated[0, ids.shape[1] :].tolist(), stop_token_ids(loaded))
