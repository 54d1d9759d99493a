"""focus_interp: find contextual heads, compensate their attention, and train focus directions.

The names a notebook needs, from the rooms that hold them (``focus_interp.model``, ``.prompts``, ``.interventions``,
``.scoring``, ``.directions``, ``.evaluation``)."""

from focus_interp.data.samples import prompt_sample
from focus_interp.directions import (
    Directions,
    import_official_directions,
    load_directions,
    read_directions,
)
from focus_interp.directions.run import train_directions
from focus_interp.directions.training import TrainingResult
from focus_interp.errors import FocusInterpError
from focus_interp.evaluation.configurations import Configuration, HeadSets
from focus_interp.evaluation.long_context import run_long_context
from focus_interp.evaluation.long_context_results import LongContextResults
from focus_interp.evaluation.multidoc import run_sweep
from focus_interp.evaluation.sweep_results import SweepResults
from focus_interp.interventions import (
    FocusDirection,
    HeadAblation,
    SplitSoftmax,
    apply_interventions,
)
from focus_interp.interventions.generation import generate_with_interventions
from focus_interp.model.architecture import Architecture
from focus_interp.model.loading import (
    DEFAULT_MODEL,
    LoadedModel,
    load_model,
    wrap_model,
)
from focus_interp.model.sites import LayerSites
from focus_interp.prompts import Prompt, Segment, build_prompt
from focus_interp.scoring.attention_patterns import AttentionPattern, attention_pattern
from focus_interp.scoring.contextual_run import score_heads
from focus_interp.scoring.head_scores import HeadScores
from focus_interp.scoring.retrieval_run import score_retrieval_heads

__all__ = [
    "Architecture",
    "AttentionPattern",
    "Configuration",
    "DEFAULT_MODEL",
    "Directions",
    "FocusDirection",
    "FocusInterpError",
    "HeadAblation",
    "HeadScores",
    "HeadSets",
    "LayerSites",
    "LoadedModel",
    "LongContextResults",
    "Prompt",
    "Segment",
    "SplitSoftmax",
    "SweepResults",
    "TrainingResult",
    "apply_interventions",
    "attention_pattern",
    "build_prompt",
    "generate_with_interventions",
    "import_official_directions",
    "load_directions",
    "load_model",
    "prompt_sample",
    "read_directions",
    "run_long_context",
    "run_sweep",
    "score_heads",
    "score_retrieval_heads",
    "train_directions",
    "wrap_model",
]
