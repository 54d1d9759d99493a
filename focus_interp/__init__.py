"""focus_interp: find contextual heads, compensate their attention, and train focus directions."""

from focus_interp.errors import FocusInterpError
from focus_interp.model.architecture import Architecture
from focus_interp.model.loading import (
    DEFAULT_MODEL,
    LoadedModel,
    load_model,
    wrap_model,
)
from focus_interp.model.sites import LayerSites
from focus_interp.prompts import Prompt, Segment, build_prompt

__all__ = [
    "Architecture",
    "DEFAULT_MODEL",
    "FocusInterpError",
    "LayerSites",
    "LoadedModel",
    "Prompt",
    "Segment",
    "build_prompt",
    "load_model",
    "wrap_model",
]
