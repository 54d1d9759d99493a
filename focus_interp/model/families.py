"""Per-family names: the only place that knows how each supported architecture spells its attention.

Everything outside this module speaks in (layer, head) and site names. The node names inside a module's
forward (``apply_rotary_pos_emb_0``, ``attention_interface_1``, ``nn_functional_softmax_0``) are the names nnsight's
``.source`` gives the calls of the installed transformers source; they are checked against it by the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

from focus_interp.errors import FocusInterpError


@dataclass(frozen=True)
class Family:
    """How one architecture family names its decoder layers and the pieces of its attention."""

    name: str
    model_types: tuple[str, ...]
    layers_path: str = "model.layers"
    attention: str = "self_attn"
    q_proj_call: str = "self_q_proj_0"
    k_proj_call: str = "self_k_proj_0"
    rope_call: str = "apply_rotary_pos_emb_0"
    attention_call: str = "attention_interface_1"
    softmax_call: str = "nn_functional_softmax_0"
    per_layer_sliding_window: bool = True

    def layers(self, root):
        """The decoder-layer list of ``root``: a transformers model or the nnsight envoy around it."""
        node = root
        for part in self.layers_path.split("."):
            node = getattr(node, part)
        return node

    def sliding_window(self, config, layer: int) -> int | None:
        """The sliding window (in tokens) of ``layer``, or None for full attention."""
        window = getattr(config, "sliding_window", None)
        if not self.per_layer_sliding_window:
            return window
        layer_types = getattr(config, "layer_types", None)
        if layer_types is None or layer_types[layer] != "sliding_attention":
            return None
        return window


FAMILIES: tuple[Family, ...] = (
    Family(name="Llama", model_types=("llama",)),
    Family(name="Qwen2", model_types=("qwen2",)),
    Family(name="Mistral", model_types=("mistral",), per_layer_sliding_window=False),
    Family(name="Gemma3", model_types=("gemma3_text",)),
)


def supported_model_types() -> list[str]:
    return [t for family in FAMILIES for t in family.model_types]


def family_for(model_type: str) -> Family:
    """The family of a transformers ``config.model_type``; a clear error for any other."""
    for family in FAMILIES:
        if model_type in family.model_types:
            return family
    names = ", ".join(f"{f.name} ({'/'.join(f.model_types)})" for f in FAMILIES)
    raise FocusInterpError(f"unsupported model family '{model_type}': supported families are {names}")
