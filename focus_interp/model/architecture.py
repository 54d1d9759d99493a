"""What a loaded model is made of: sizes, per-layer attention settings, and range checks for (layer, head)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from focus_interp.errors import FocusInterpError
from focus_interp.model.families import Family, family_for


@dataclass(frozen=True)
class Architecture:
    """Sizes of a decoder and the attention settings of each layer.

    ``scaling[l]`` multiplies q.k in layer l; ``sliding_window[l]`` is its window in tokens (None = full
    attention); ``context_length`` is the model's window in tokens.
    """

    name: str
    family: Family
    model_type: str
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    context_length: int
    scaling: tuple[float, ...]
    sliding_window: tuple[int | None, ...]
    config_fingerprint: str = ""

    @classmethod
    def from_model(cls, hf_model, name: str) -> "Architecture":
        """Read the sizes from ``hf_model.config`` and each layer's scaling from its attention module."""
        config = hf_model.config
        family = family_for(config.model_type)
        n_heads = config.num_attention_heads
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // n_heads
        layers = family.layers(hf_model)
        return cls(
            name=name,
            family=family,
            model_type=config.model_type,
            n_layers=config.num_hidden_layers,
            n_heads=n_heads,
            n_kv_heads=getattr(config, "num_key_value_heads", None) or n_heads,
            head_dim=head_dim,
            context_length=config.max_position_embeddings,
            scaling=tuple(float(getattr(layer, family.attention).scaling) for layer in layers),
            sliding_window=tuple(family.sliding_window(config, i) for i in range(config.num_hidden_layers)),
            config_fingerprint=config_fingerprint(config),
        )

    @property
    def n_groups(self) -> int:
        """Query heads per KV head (GQA group size)."""
        return self.n_heads // self.n_kv_heads

    def check_layer(self, layer: int) -> None:
        if not isinstance(layer, int) or not 0 <= layer < self.n_layers:
            raise FocusInterpError(
                f"layer {layer} is out of range: {self.name} has layers 0-{self.n_layers - 1}"
            )

    def check_head(self, layer: int, head: int) -> None:
        self.check_layer(layer)
        if not isinstance(head, int) or not 0 <= head < self.n_heads:
            raise FocusInterpError(
                f"head {head} of layer {layer} is out of range: {self.name} has heads 0-{self.n_heads - 1}"
            )

    def kv_head(self, head: int) -> int:
        """The KV head that query head ``head`` reads (GQA)."""
        return head // self.n_groups

    def describe(self) -> str:
        """A few lines for a terminal: sizes and which layers use a sliding window."""
        sliding = [i for i, w in enumerate(self.sliding_window) if w is not None]
        lines = [
            f"model          {self.name} ({self.family.name}, model_type={self.model_type})",
            f"layers         {self.n_layers}",
            f"query heads    {self.n_heads} per layer ({self.n_layers * self.n_heads} in all)",
            f"kv heads       {self.n_kv_heads} per layer (group size {self.n_groups})",
            f"head_dim       {self.head_dim}",
            f"context        {self.context_length} tokens",
            f"scaling        {self.scaling[0]:.6g}",
        ]
        if sliding:
            lines.append(f"sliding window {self.sliding_window[sliding[0]]} tokens on layers {sliding}")
        else:
            lines.append("sliding window none (every layer attends to the whole context)")
        return "\n".join(lines)


_FINGERPRINTED = (
    "model_type", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
    "num_key_value_heads", "head_dim", "max_position_embeddings", "rope_theta", "rope_parameters", "rope_scaling",
    "rms_norm_eps", "sliding_window", "tie_word_embeddings",
)


def config_fingerprint(config) -> str:
    """A short hash of the config entries that fix a model's shapes and attention (not its weights)."""
    entries = {key: getattr(config, key, None) for key in _FINGERPRINTED}
    text = json.dumps(entries, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
