"""Apply several interventions in one trace, in the order the model computes what they touch.

nnsight serves a trace's reads in execution order, so edits are grouped by layer and, within a layer, by stage:
``projections`` (the ``q_proj``/``k_proj`` outputs), ``post_rope`` (the RoPE output), then ``attention`` (the
attention call's inputs, read once, then its output). Each stage's values are read once and handed to every
intervention of that stage, so any number of interventions compose; a user's own edits of later nodes can follow
in the same trace. Every intervention follows the ``Intervention`` protocol.
"""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

from nnsight.intervention.interleaver import OutOfOrderError

from focus_interp.errors import FocusInterpError
from focus_interp.model.loading import LoadedModel

STAGES = ("projections", "post_rope", "attention")
"""Where in a layer an intervention edits, in the order the model computes them."""


@runtime_checkable
class Intervention(Protocol):
    """What ``apply_interventions`` needs of an edit, ours (``SplitSoftmax``, ``FocusDirection``, ``HeadAblation``)
    or a user's own.

    ``stage``: one of ``STAGES``. ``edit(architecture, layer, values)`` changes ``values`` in place: (q, k) of the
    ``q_proj``/``k_proj`` outputs for ``projections``, [B, T, H*D] and [B, T, K*D]; (q, k) after RoPE for
    ``post_rope``, [B, H, T, D] and [B, K, T, D]; (args, kwargs, output) of the attention call for ``attention``,
    ``output`` [B, T, H, D] (each head's output before ``o_proj``).

    ``apply_interventions`` calls ``edit`` layer by layer and, within a layer, stage by stage: an edit sees its own
    layer's values, and reading another layer's node from it is an error (the model has run past it).
    """

    stage: str

    def layers(self) -> set[int]:
        """The layers it edits."""

    def check(self, architecture) -> None:
        """Raise ``FocusInterpError`` when it does not fit the model (a head it lacks, directions of another shape)."""

    def is_identity(self) -> bool:
        """True when it would change nothing (e.g. tau 1, alpha 0), so it is skipped."""

    def edit(self, architecture, layer: int, values: tuple) -> None:
        """Edit ``values`` of ``layer`` in place."""


class AttentionReader:
    """Base of the attention-stage interventions that only read what a layer's attention function receives (and
    change nothing): set ``read_layers`` and write ``edit``."""

    stage = "attention"
    read_layers: set[int] = set()

    def layers(self) -> set[int]:
        return self.read_layers

    def check(self, architecture) -> None:
        pass

    def is_identity(self) -> bool:
        return False


class PerRow:
    """Base of the interventions that hold one edit per batch row (``rows``; None leaves a row untouched): the
    layers, checks and identity of the rows together."""

    rows: tuple

    def layers(self) -> set[int]:
        return set().union(*(row.layers() for row in self.rows if row is not None))

    def check(self, architecture) -> None:
        for row in self.rows:
            if row is not None:
                row.check(architecture)

    def is_identity(self) -> bool:
        return all(row is None or row.is_identity() for row in self.rows)


def _stage_values(loaded: LoadedModel, layer: int, stage: str) -> tuple:
    sites = loaded.sites(layer)
    if stage == "projections":
        return sites.q_proj.output, sites.k_proj.output
    if stage == "post_rope":
        return tuple(sites.post_rope.output)
    args, kwargs = sites.attention_call.inputs
    return args, kwargs, sites.attention_call.output[0]


def apply_interventions(loaded: LoadedModel, interventions: Sequence) -> None:
    """Write every intervention's edits into the current trace or generation step."""
    for intervention in interventions:
        if not isinstance(intervention, Intervention) or intervention.stage not in STAGES:
            raise FocusInterpError(
                f"{type(intervention).__name__} does not follow the intervention protocol: it needs a stage (one of "
                f"{', '.join(STAGES)}), layers(), check(architecture), is_identity() and edit(architecture, layer, values)"
            )
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
                    _edit_in_order(intervention, loaded.architecture, layer, stage, values)


def _edit_in_order(intervention, architecture, layer: int, stage: str, values: tuple) -> None:
    """``intervention.edit``, with nnsight's out-of-order error turned into one line that says the order the
    protocol runs edits in."""
    try:
        intervention.edit(architecture, layer, values)
    except OutOfOrderError as error:
        raise FocusInterpError(
            f"{type(intervention).__name__}.edit at layer {layer} ({stage}) read a value the model had already computed "
            f"({error}): edits run layer by layer, in the stage order {', '.join(STAGES)}, and see only their own layer's "
            "values: to use an earlier layer, list that layer in layers() too and keep what you need when edit is "
            "called there (the Intervention protocol, focus_interp.interventions.compose)"
        ) from None


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
