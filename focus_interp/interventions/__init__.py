"""Interventions on attention: split softmax (attention compensation) and, later, focus directions."""

from focus_interp.interventions.split_softmax import split_softmax

__all__ = ["split_softmax"]
