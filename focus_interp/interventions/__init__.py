"""Interventions on attention (split softmax, focus directions), written as nnsight edits so they compose with each other and with a user's own."""

from focus_interp.interventions.attention_edit import SplitSoftmax, SplitSoftmaxRows
from focus_interp.interventions.compose import apply_interventions
from focus_interp.interventions.focus_direction import FocusDirection
from focus_interp.interventions.split_softmax import split_softmax

__all__ = ["FocusDirection", "SplitSoftmax", "SplitSoftmaxRows", "apply_interventions", "split_softmax"]
