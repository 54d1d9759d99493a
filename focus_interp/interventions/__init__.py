"""Interventions on attention, written as nnsight edits so they compose with each other and with a user's own."""

from focus_interp.interventions.attention_edit import SplitSoftmax, apply_interventions
from focus_interp.interventions.split_softmax import split_softmax

__all__ = ["SplitSoftmax", "apply_interventions", "split_softmax"]
