"""Head ablation: replace chosen heads' attention output (before ``o_proj``) with zeros or with a mean output.

The attention-stage edit of the intervention protocol: ``values`` = (args, kwargs, output) of a layer's attention
call, ``output`` the attention output per head, [B, T, H, D]. Mean ablation takes the mean to write per head, e.g. from
``mean_head_outputs`` over prompts of the task.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor

from focus_interp.errors import FocusInterpError
from focus_interp.heads import Head, check_heads, heads_by_layer
from focus_interp.model.architecture import Architecture


@dataclass(frozen=True, eq=False)
class HeadAblation:
    """Zero the attention output of ``heads`` (``means`` None), or set it to ``means[layer, head]`` [layers, heads, D]."""

    heads: tuple[Head, ...]
    means: Float[Tensor, "layers heads dim"] | None = None
    stage = "attention"

    def __post_init__(self):
        if self.means is not None and (self.means.dim() != 3 or not torch.isfinite(self.means).all()):
            raise FocusInterpError("means must be a finite [layers, heads, head_dim] tensor (see mean_head_outputs)")

    def layers(self) -> set[int]:
        return set(heads_by_layer(self.heads))

    def check(self, architecture: Architecture) -> None:
        check_heads(self.heads, architecture)
        expected = (architecture.n_layers, architecture.n_heads, architecture.head_dim)
        if self.means is not None and tuple(self.means.shape) != expected:
            raise FocusInterpError(f"means of shape {tuple(self.means.shape)} do not fit {architecture.name} {expected}")

    def is_identity(self) -> bool:
        return not self.heads

    def edit(self, architecture: Architecture, layer: int, values: tuple) -> None:
        output = values[2]
        heads = heads_by_layer(self.heads)[layer]
        if self.means is None:
            output[:, :, heads] = 0
        else:
            output[:, :, heads] = self.means[layer, heads].to(device=output.device, dtype=output.dtype)


def mean_head_outputs(loaded, prompts) -> Float[Tensor, "layers heads dim"]:
    """Every head's attention output averaged over all positions of ``prompts`` (a sequence of ``Prompt``): the
    values a mean ablation writes."""
    architecture = loaded.architecture
    total = torch.zeros(architecture.n_layers, architecture.n_heads, architecture.head_dim, dtype=torch.float64)
    count = 0
    for prompt in prompts:
        outputs = []  # filled inside the trace: nnsight hands back what the block appends to an outer list
        with torch.no_grad(), loaded.model.trace(prompt.ids()):
            for layer in range(architecture.n_layers):
                outputs.append(loaded.sites(layer).attention_call.output[0].save())
        total += torch.stack([output[0].double().sum(0).cpu() for output in outputs])
        count += len(prompt)
    if not count:
        raise FocusInterpError("mean_head_outputs needs at least one prompt")
    return (total / count).float()
