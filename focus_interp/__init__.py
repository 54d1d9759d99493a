"""focus_interp: find contextual heads, compensate their attention, and train focus directions."""

from focus_interp.architecture import Architecture
from focus_interp.errors import FocusInterpError
from focus_interp.models import DEFAULT_MODEL, LoadedModel, load_model, wrap_model
from focus_interp.prompts import Prompt, Segment, build_prompt
from focus_interp.sites import LayerSites

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
