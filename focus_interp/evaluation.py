"""Greedy generation under interventions."""

from __future__ import annotations

from typing import Sequence

from focus_interp.generation import check_fits_window, traced_greedy
from focus_interp.interventions import apply_interventions
from focus_interp.models import LoadedModel
from focus_interp.prompts import Prompt


def generate_with_interventions(
    loaded: LoadedModel, prompt: Prompt, interventions: Sequence = (), max_new_tokens: int = 32
) -> list[int]:
    """Greedy response token ids (without the stop token), every intervention applied at every step."""
    check_fits_window(loaded, len(prompt), max_new_tokens)
    return traced_greedy(loaded, prompt, max_new_tokens, lambda step: apply_interventions(loaded, interventions))
