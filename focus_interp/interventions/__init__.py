"""Interventions on attention: split softmax and focus directions, written as nnsight edits on a layer's sites,
composed in execution order with each other and a user's own edits, and generation under them."""

from focus_interp.interventions.ablation import HeadAblation, mean_head_outputs
from focus_interp.interventions.attention_edit import SplitSoftmax, SplitSoftmaxRows
from focus_interp.interventions.compose import apply_interventions
from focus_interp.interventions.focus_direction import FocusDirection, FocusDirectionRows
from focus_interp.interventions.split_softmax import split_softmax

__all__ = [
    "FocusDirection",
    "FocusDirectionRows",
    "HeadAblation",
    "SplitSoftmax",
    "SplitSoftmaxRows",
    "apply_interventions",
    "mean_head_outputs",
    "split_softmax",
]
