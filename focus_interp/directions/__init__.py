"""Focus directions: caching the query/key activations of training samples, training d_Q / d_K per head, and
their files (safetensors with metadata, and the authors' released .pth files)."""

from focus_interp.directions.files import (
    Directions,
    import_official_directions,
    load_directions,
    read_directions,
    save_directions,
)

__all__ = ["Directions", "import_official_directions", "load_directions", "read_directions", "save_directions"]
