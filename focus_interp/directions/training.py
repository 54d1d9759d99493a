"""Train d_Q and d_K of every head of every layer at once from cached activations (paper §3.1).

Each head's loss is -S_C: minus the mean over the response rows of its attention mass on the gold span, with its
queries and keys shifted by (d_Q, d_K) at the chosen site. Heads do not interact, and AdamW is elementwise, so
minimising the sum over heads and layers trains every head on its own loss. Under GQA d_K is trained per KV head
(the query heads of a group share their keys, so at the pre_rope site they must share d_K) and saved repeated
for each query head of its group.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch
from einops import rearrange
from jaxtyping import Float
from torch import Tensor
from tqdm import tqdm

from focus_interp.directions.cache import read_shard
from focus_interp.directions.files import Directions
from focus_interp.errors import FocusInterpError
from focus_interp.model.architecture import Architecture
from focus_interp.model.attention import attention_bias
from focus_interp.reports.plots import plot_losses


def rotate_half(x: Tensor) -> Tensor:
    first, second = x.chunk(2, dim=-1)
    return torch.cat((-second, first), dim=-1)


def head_span_mass(
    architecture: Architecture,
    layer: int,
    tensors: dict[str, Tensor],
    metadata: dict,
    query_direction: Float[Tensor, "heads dim"],
    key_direction: Float[Tensor, "heads dim"],
    site: str,
) -> Float[Tensor, "heads"]:
    """S_C of every head of ``layer`` on one cached sample with the directions added at ``site``."""
    query, key = tensors[f"q.{layer}"], tensors[f"k.{layer}"]
    n_rows, n_keys = query.shape[1], key.shape[1]
    first = metadata["first_row"]
    key = rearrange(key, "kv t d -> kv 1 t d").expand(-1, architecture.n_groups, -1, -1)
    key = rearrange(key, "kv g t d -> (kv g) t d")
    if site == "post_rope":
        query = query + query_direction[:, None]
        key = key + key_direction[:, None]
    else:
        table = metadata["rope_table_of_layer"][layer]
        cos, sin = tensors[f"cos.{table}"], tensors[f"sin.{table}"]
        rows_cos, rows_sin = cos[first : first + n_rows], sin[first : first + n_rows]
        query = query + query_direction[:, None] * rows_cos + rotate_half(query_direction)[:, None] * rows_sin
        key = key + key_direction[:, None] * cos + rotate_half(key_direction)[:, None] * sin
    bias = attention_bias(None, n_keys - first, n_keys, architecture.sliding_window[layer])[0, 0, :n_rows]
    logits = query @ key.transpose(-1, -2) * architecture.scaling[layer] + bias
    start, end = metadata["gold_span"]
    return torch.softmax(logits, dim=-1)[..., start:end].sum(-1).mean(-1)


@dataclass
class TrainingResult:
    """Trained directions, the loss of every epoch and layer (mean -S_C over the layer's heads and the samples),
    and, from a training run, its summary (samples cached, skipped and trained on, final loss, mean norms)."""

    directions: Directions
    losses: Float[Tensor, "epochs layers"]
    summary: dict = field(default_factory=dict)

    def plot(self, ax=None):
        """The loss curves, one line per layer; returns the Figure (shown inline in a notebook)."""
        model = self.directions.metadata.get("model", "")
        return plot_losses(self.losses, f"Focus-direction training{f' on {model}' if model else ''}, one line per layer (dark = first)", ax)


def check_training_settings(epochs: int, lr: float, init_std: float) -> None:
    """One-line errors for settings that cannot train: fewer than one epoch, a learning rate that is not a positive
    float32 number, an initial spread that is not finite and non-negative."""
    if epochs < 1:
        raise FocusInterpError(f"epochs must be at least 1, got {epochs}")
    if not (math.isfinite(lr) and lr > 0):
        raise FocusInterpError(f"lr must be a finite number above 0, got {lr}")
    if lr > torch.finfo(torch.float32).max:
        raise FocusInterpError(f"lr {lr:g} is beyond what float32 holds (at most 3.4e+38): pass a smaller --lr")
    if not (math.isfinite(init_std) and init_std >= 0):
        raise FocusInterpError(f"init_std must be a finite number of at least 0, got {init_std}")


def _diverged(epoch: int, lr: float) -> FocusInterpError:
    return FocusInterpError(f"training diverged in epoch {epoch + 1}: the directions stopped being finite at lr {lr}; lower --lr")


def train_on_cache(
    architecture: Architecture,
    shards: Sequence[Path],
    site: str = "post_rope",
    epochs: int = 10,
    lr: float = 1e-3,
    init_std: float = 0.01,
    seed: int = 0,
    progress: bool = True,
) -> TrainingResult:
    """AdamW, batch 1, over ``shards`` for ``epochs``; ``losses[e, l]``: mean -S_C over the heads of layer l and
    the samples of epoch e."""
    if not shards:
        raise FocusInterpError("no cached samples to train on: build the cache first")
    check_training_settings(epochs, lr, init_std)
    if site == "pre_rope" and architecture.model_type.startswith("gemma3"):
        raise FocusInterpError(
            "pre_rope training reads the RoPE inputs, which on Gemma3 come after the q/k norms while the pre_rope "
            "edit adds to the q_proj/k_proj outputs: train Gemma3 at post_rope"
        )
    generator = torch.Generator().manual_seed(seed)
    query_shape = (architecture.n_layers, architecture.n_heads, architecture.head_dim)
    key_shape = (architecture.n_layers, architecture.n_kv_heads, architecture.head_dim)
    query_direction = torch.nn.Parameter(torch.randn(query_shape, generator=generator) * init_std)
    key_direction = torch.nn.Parameter(torch.randn(key_shape, generator=generator) * init_std)
    optimizer = torch.optim.AdamW([query_direction, key_direction], lr=lr)
    order = torch.Generator().manual_seed(seed + 1)
    losses = torch.zeros(epochs, architecture.n_layers)
    for epoch in tqdm(range(epochs), desc="training directions", unit="epoch", disable=not progress):
        for index in torch.randperm(len(shards), generator=order).tolist():
            tensors, metadata = read_shard(shards[index])
            optimizer.zero_grad()
            per_query = key_direction.repeat_interleave(architecture.n_groups, dim=1)
            per_layer = torch.stack(
                [
                    -head_span_mass(architecture, layer, tensors, metadata, query_direction[layer], per_query[layer], site)
                    for layer in range(architecture.n_layers)
                ]
            )
            per_layer.sum().backward()
            try:
                optimizer.step()
            except RuntimeError as error:  # a step too large for float32
                if "overflow" not in str(error):
                    raise
                raise _diverged(epoch, lr) from None
            if not (torch.isfinite(query_direction).all() and torch.isfinite(key_direction).all()):
                raise _diverged(epoch, lr)
            losses[epoch] += per_layer.detach().mean(-1) / len(shards)
    key_per_query_head = key_direction.detach().repeat_interleave(architecture.n_groups, dim=1)
    directions = Directions(query_direction.detach().clone(), key_per_query_head, site)
    return TrainingResult(directions, losses)
