"""Focus directions: the d_Q / d_K tensors of every head, their files, and (later) their training."""

from focus_interp.directions.files import Directions, load_directions, save_directions

__all__ = ["Directions", "load_directions", "save_directions"]
