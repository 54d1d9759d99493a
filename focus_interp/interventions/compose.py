"""Apply several interventions in one trace, in the order the model computes what they touch.

nnsight serves a trace's reads in execution order, so edits are grouped by layer and, within a layer, by stage:
``pre_rope`` (the ``q_proj``/``k_proj`` outputs), ``post_rope`` (the RoPE output), then ``attention`` (the
attention call's inputs, read once, then its output). Each stage's values are read once and handed to every
intervention of that stage, so any number of interventions compose; a user's own edits of later nodes can follow
in the same trace.

An intervention has ``stage`` (one of ``STAGES``), ``layers() -> set[int]``, ``check(architecture)`` (raises on a
mismatch), ``is_identity() -> bool`` and ``edit(architecture, layer, values)`` where ``values`` is (q, k) for
the two RoPE stages and (args, kwargs, output) for ``attention``.
"""

from __future__ import annotations

from typing import Sequence

from focus_interp.errors import FocusInterpError
from focus_interp.model.loading import LoadedModel

STAGES = ("pre_rope", "post_rope", "attention")


def _stage_values(loaded: LoadedModel, layer: int, stage: str) -> tuple:
    sites = loaded.sites(layer)
    if stage == "pre_rope":
        return sites.q_proj.output, sites.k_proj.output
    if stage == "post_rope":
        return tuple(sites.post_rope.output)
    args, kwargs = sites.attention_call.inputs
    return args, kwargs, sites.attention_call.output[0]


def apply_interventions(loaded: LoadedModel, interventions: Sequence) -> None:
    """Write every intervention's edits into the current trace or generation step."""
    for intervention in interventions:
        intervention.check(loaded.architecture)
    check_split_softmax_overlap(interventions)
    active = [intervention for intervention in interventions if not intervention.is_identity()]
    layers = sorted({layer for intervention in active for layer in intervention.layers()})
    for layer in layers:
        for stage in STAGES:
            editing = [i for i in active if i.stage == stage and layer in i.layers()]
            if editing:
                values = _stage_values(loaded, layer, stage)
                for intervention in editing:
                    intervention.edit(loaded.architecture, layer, values)


def check_split_softmax_overlap(interventions: Sequence) -> None:
    """Two split softmaxes of one head would compound (the second reads the first's output): an error."""
    from focus_interp.interventions.attention_edit import SplitSoftmax, SplitSoftmaxRows

    seen: set = set()
    for intervention in interventions:
        if isinstance(intervention, SplitSoftmax):
            heads = set(intervention.heads)
        elif isinstance(intervention, SplitSoftmaxRows):
            heads = set().union(*(set(row.heads) for row in intervention.rows if row is not None))
        else:
            continue
        shared = heads & seen
        if shared:
            raise FocusInterpError(f"two split softmaxes edit head(s) {sorted(shared)}: give each head one split softmax")
        seen |= heads
