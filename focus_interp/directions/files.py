"""Directions files: safetensors with ``q`` and ``k`` ([layers, heads, head_dim]) and string metadata."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import torch
from jaxtyping import Float
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import Tensor

from focus_interp.errors import FocusInterpError
from focus_interp.files import atomic_path
from focus_interp.interventions.focus_direction import SITES
from focus_interp.model.architecture import Architecture


@dataclass(frozen=True, eq=False)
class Directions:
    """d_Q and d_K of every head, the site they were trained for, and where they came from."""

    query: Float[Tensor, "layers heads dim"]
    key: Float[Tensor, "layers heads dim"]
    site: str = "post_rope"
    metadata: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        for name, tensor in (("q", self.query), ("k", self.key)):
            if not torch.isfinite(tensor).all():
                raise FocusInterpError(
                    f"directions '{name}' from {self.metadata.get('model', 'an unknown model')} hold NaN or infinite "
                    "values (a diverged training): retrain them with a lower lr"
                )

    def check(self, architecture: Architecture) -> None:
        """An error when these directions do not fit ``architecture``: another config, or other shapes."""
        trained = self.metadata.get("config_fingerprint")
        if trained and architecture.config_fingerprint and trained != architecture.config_fingerprint:
            raise FocusInterpError(
                f"directions were made for {self.metadata.get('model', 'another model')} (config {trained}), not for "
                f"{architecture.name} (config {architecture.config_fingerprint}): use directions of this model"
            )
        expected = (architecture.n_layers, architecture.n_heads, architecture.head_dim)
        for name, tensor in (("q", self.query), ("k", self.key)):
            if tuple(tensor.shape) != expected:
                raise FocusInterpError(
                    f"directions '{name}' have shape {tuple(tensor.shape)}, this model needs {expected} "
                    "(layers, heads, head_dim): they belong to another model"
                )

    def fingerprint(self) -> str:
        """A short hash of the tensors and the site: a resumed run must use the same directions."""
        digest = hashlib.sha256(self.site.encode())
        for tensor in (self.query, self.key):
            digest.update(tensor.detach().float().contiguous().numpy().tobytes())
        return digest.hexdigest()[:16]

    def describe(self) -> str:
        source = self.metadata.get("model", "unknown model")
        return f"{tuple(self.query.shape)} directions at {self.site} from {source} ({self.fingerprint()})"


def save_directions(path: str | Path, directions: Directions) -> None:
    """Write ``directions`` as safetensors (written to a temporary file, then moved into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {**directions.metadata, "site": directions.site}
    with atomic_path(path) as partial:
        save_file({"q": directions.query.contiguous(), "k": directions.key.contiguous()}, str(partial), metadata=metadata)


def load_directions(path: str | Path, architecture: Architecture | None = None) -> Directions:
    """Read a directions file; with ``architecture``, check its shapes fit that model."""
    path = Path(path)
    if not path.is_file():
        raise FocusInterpError(f"no directions file at {path}")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except (SafetensorError, OSError) as error:
        raise FocusInterpError(f"{path} is not a safetensors directions file ({error})") from None
    if set(tensors) != {"q", "k"}:
        raise FocusInterpError(f"{path} must hold tensors 'q' and 'k', it holds {', '.join(sorted(tensors)) or 'none'}")
    site = metadata.pop("site", "post_rope")
    if site not in SITES:
        raise FocusInterpError(f"{path} names site '{site}', not one of {', '.join(SITES)}")
    directions = Directions(tensors["q"].float(), tensors["k"].float(), site, metadata)
    if architecture is not None:
        directions.check(architecture)
    return directions


def import_official_directions(folder: str | Path, architecture: Architecture | None = None) -> Directions:
    """The authors' released directions: ``head_{q,k}_directions_{layer}.pth`` per layer, each a pickled
    ``nn.Parameter`` [heads, head_dim], read with ``torch.load(weights_only=True)``; post-RoPE site."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FocusInterpError(f"no folder of released directions at {folder}")
    names = [path.stem.rsplit("_", 1)[1] for path in folder.glob("head_q_directions_*.pth")]
    unnumbered = sorted(name for name in names if not name.isdigit())
    if unnumbered:
        raise FocusInterpError(
            f"{folder} holds head_q_directions_{unnumbered[0]}.pth: the released format names each file by its layer "
            "number (head_q_directions_0.pth, ...); move the other files out"
        )
    layers = sorted(int(name) for name in names)
    if not layers:
        raise FocusInterpError(f"{folder} holds no head_q_directions_{{layer}}.pth files")
    if layers != list(range(len(layers))):
        missing = sorted(set(range(max(layers) + 1)) - set(layers))
        raise FocusInterpError(f"{folder} lacks head_q_directions for layers {missing}")
    tensors = {}
    for kind in ("q", "k"):
        per_layer = []
        for layer in layers:
            path = folder / f"head_{kind}_directions_{layer}.pth"
            if not path.is_file():
                raise FocusInterpError(f"{path} is missing: the released format has q and k files for every layer")
            try:
                loaded = torch.load(path, weights_only=True, map_location="cpu")
            except Exception as error:  # torch raises several types for a bad pickle
                raise FocusInterpError(f"{path} is not a released directions file ({type(error).__name__})") from None
            if not isinstance(loaded, torch.Tensor):
                raise FocusInterpError(f"{path} holds a {type(loaded).__name__}, not a [heads, head_dim] tensor")
            per_layer.append(loaded.detach().float())
        if len({tuple(t.shape) for t in per_layer}) != 1 or per_layer[0].dim() != 2:
            raise FocusInterpError(f"{folder}: every {kind} file must hold one [heads, head_dim] tensor of the same shape")
        tensors[kind] = torch.stack(per_layer)
    directions = Directions(tensors["q"], tensors["k"], "post_rope", {"source": "official release", "folder": str(folder)})
    if architecture is not None:
        directions.check(architecture)
    return directions


def read_directions(path: str | Path, architecture: Architecture | None = None) -> Directions:
    """A directions file, or a folder in the authors' released format."""
    if Path(path).is_dir():
        return import_official_directions(path, architecture)
    return load_directions(path, architecture)
