"""Focus directions: the d_Q / d_K tensors of every head, their files, and (later) their training."""

from focus_interp.directions.files import Directions, import_official_directions, load_directions, read_directions, save_directions

__all__ = ["Directions", "import_official_directions", "load_directions", "read_directions", "save_directions"]
