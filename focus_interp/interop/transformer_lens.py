"""TransformerLens backend: a loaded model as a TransformerBridge, our interventions as its forward hooks, and the
contextual-scoring span mass read from its attention patterns.

TransformerLens 4 replaced HookedTransformer with TransformerBridge: it wraps the Hugging Face modules and
recomputes each attention layer eagerly with hooks at every stage. Built without ``enable_compatibility_mode``
its weights are unprocessed (no LayerNorm folding, no centring), so its logits are the Hugging Face model's.
Its hook tensors: ``hook_q`` / ``hook_rot_q`` [batch, pos, heads, d_head]; ``hook_k`` / ``hook_rot_k``
[batch, pos, kv_heads, d_head] (one per KV head under GQA, before they are repeated); ``hook_pattern``
[batch, heads, q_pos, k_pos]. The bridge takes token ids (``Prompt.ids()``), not text.
"""

from __future__ import annotations

import copy
from functools import partial
from typing import TYPE_CHECKING, Callable, Sequence

import torch
from einops import rearrange
from jaxtyping import Float
from torch import Tensor

from focus_interp.errors import FocusInterpError
from focus_interp.heads import heads_by_layer
from focus_interp.interventions import FocusDirection, SplitSoftmax, split_softmax
from focus_interp.interventions.compose import check_split_softmax_overlap
from focus_interp.model.architecture import Architecture
from focus_interp.model.loading import LoadedModel
from focus_interp.prompts import Prompt
from focus_interp.scoring.response_attention import span_indicator

if TYPE_CHECKING:
    from transformer_lens.model_bridge import TransformerBridge

ForwardHook = tuple[str, Callable]


def transformer_bridge(loaded: LoadedModel) -> TransformerBridge:
    """A TransformerBridge over a copy of ``loaded.hf_model`` (TransformerLens edits the modules it wraps, so the
    loaded model and its nnsight wrapper stay as they are); an error for a model class it has no adapter for."""
    from transformer_lens.factories.architecture_adapter_factory import (
        SUPPORTED_ARCHITECTURES,
    )
    from transformer_lens.model_bridge.sources import build_bridge_from_module

    architecture = type(loaded.hf_model).__name__
    if architecture not in SUPPORTED_ARCHITECTURES:
        raise FocusInterpError(
            f"TransformerLens cannot load {loaded.name}: it has no adapter for {architecture}; use the nnsight model"
        )
    hf_model = copy.deepcopy(loaded.hf_model)
    return build_bridge_from_module(hf_model, architecture, hf_config=hf_model.config, model_name=loaded.name).eval()


def transformer_lens_hooks(interventions: Sequence, architecture: Architecture) -> list[ForwardHook]:
    """Forward hooks (name, function) doing what ``apply_interventions`` does in an nnsight trace.

    ``SplitSoftmax`` edits ``blocks.{l}.attn.hook_pattern``; ``FocusDirection`` adds to ``hook_rot_q`` /
    ``hook_rot_k`` (``post_rope``) or ``hook_q`` / ``hook_k`` (``pre_rope``), with d_K per KV head as the nnsight
    edit has it. Pass them to ``bridge.run_with_hooks(ids, fwd_hooks=...)``, or generate under ``bridge.hooks(...)``
    (its cached decoding steps are edited like ``generate_with_interventions``'s).
    """
    for intervention in interventions:
        if not isinstance(intervention, (SplitSoftmax, FocusDirection)):
            raise FocusInterpError(
                f"{type(intervention).__name__} has no TransformerLens hooks: give SplitSoftmax or FocusDirection"
            )
        intervention.check(architecture)
    check_split_softmax_overlap(interventions)
    hooks: list[ForwardHook] = []
    for intervention in interventions:
        if intervention.is_identity():
            continue
        if isinstance(intervention, SplitSoftmax):
            hooks += _split_softmax_hooks(intervention)
        else:
            hooks += _focus_direction_hooks(intervention, architecture)
    return hooks


def _split_softmax_hooks(edit: SplitSoftmax) -> list[ForwardHook]:
    return [
        (f"blocks.{layer}.attn.hook_pattern", partial(_split_pattern, edit=edit, heads=heads))
        for layer, heads in heads_by_layer(edit.heads).items()
    ]


def _split_pattern(
    pattern: Float[Tensor, "batch heads q_pos k_pos"], hook, edit: SplitSoftmax, heads: list[int]
) -> Float[Tensor, "batch heads q_pos k_pos"]:
    """Eq. 3 on ``heads``' rows from position ``edit.first_row`` on. The rows are the last q_pos of the k_pos
    positions: all of them in one forward, the newest one in a cached decoding step."""
    n_queries, n_keys = pattern.shape[-2:]
    first = max(0, edit.first_row - (n_keys - n_queries))
    in_span = torch.zeros(n_keys, dtype=torch.bool, device=pattern.device)
    in_span[edit.span[0] : edit.span[1]] = True
    edited = pattern.clone()
    rows = pattern[:, heads, first:].float()
    edited[:, heads, first:] = split_softmax(rows, in_span, edit.tau).to(pattern.dtype)
    return edited


def _focus_direction_hooks(direction: FocusDirection, architecture: Architecture) -> list[ForwardHook]:
    query_hook, key_hook = ("hook_rot_q", "hook_rot_k") if direction.site == "post_rope" else ("hook_q", "hook_k")
    hooks = []
    for layer, heads in heads_by_layer(direction.heads).items():
        query = torch.zeros(architecture.n_heads, architecture.head_dim)
        query[heads] = direction.alpha * direction.query[layer, heads]
        hooks.append((f"blocks.{layer}.attn.{query_hook}", partial(_add_per_head, offset=query)))
        if direction.site == "pre_rope":
            owners = direction.key_owners(architecture, layer, heads)
        elif architecture.n_groups == 1:
            owners = {head: head for head in heads}
        else:
            continue
        key = torch.zeros(architecture.n_kv_heads, architecture.head_dim)
        key[list(owners)] = direction.alpha * direction.key[layer, list(owners.values())]
        hooks.append((f"blocks.{layer}.attn.{key_hook}", partial(_add_per_head, offset=key)))
    return hooks


def _add_per_head(
    activation: Float[Tensor, "batch pos heads d_head"], hook, offset: Float[Tensor, "heads d_head"]
) -> Float[Tensor, "batch pos heads d_head"]:
    return activation + offset.to(activation)


@torch.no_grad()
def span_attention_transformer_lens(
    bridge: TransformerBridge,
    prompt: Prompt,
    response_ids: Sequence[int],
    span_names: Sequence[str],
    hooks: Sequence[ForwardHook] = (),
) -> Float[Tensor, "rows layers heads spans"]:
    """Attention mass of each response row on ``span_names``, from one forward over [prompt, response].

    The patterns are read before ``hooks`` edit them (after any edit of q and k), as
    ``generate_with_span_attention`` reads its rows; equal to its ``mass`` for the response it generated.
    """
    full = prompt.with_response(response_ids)
    rows = full.span("response")
    device = bridge.cfg.device
    indicator = span_indicator(prompt, span_names, len(full)).to(device)
    per_layer: dict[int, Tensor] = {}

    def read(pattern: Float[Tensor, "batch heads q_pos k_pos"], hook, layer: int) -> None:
        per_layer[layer] = pattern[0, :, rows].float() @ indicator

    layers = range(bridge.cfg.n_layers)
    readers = [(f"blocks.{layer}.attn.hook_pattern", partial(read, layer=layer)) for layer in layers]
    bridge.run_with_hooks(full.ids().to(device), fwd_hooks=[*readers, *hooks])
    mass = torch.stack([per_layer[layer] for layer in layers])
    return rearrange(mass, "layers heads rows spans -> rows layers heads spans").cpu()
