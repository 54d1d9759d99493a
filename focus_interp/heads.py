"""Head sets, as (layer, head) pairs: top-k of a scoring run, a JSON list, or random heads for controls."""

from __future__ import annotations

import math
import random
from typing import Iterable

from focus_interp.errors import FocusInterpError
from focus_interp.model.architecture import Architecture

Head = tuple[int, int]


def rank_heads(rows: list[dict], score: str = "R") -> list[dict]:
    """Head-score rows best first by ``score`` (ties by layer, head); heads without that score come last. An error
    when no head has the score at all: such a ranking would be layer order, not a ranking."""
    if rows and score not in rows[0]:
        columns = ", ".join(name for name in rows[0] if name not in ("layer", "head"))
        raise FocusInterpError(f"no score column '{score}' in the head scores; choose one of {columns}")
    if rows and not any(math.isfinite(row[score]) for row in rows):
        raise FocusInterpError(
            f"no head has a '{score}' score (its run scored no sample): rerun the scoring on samples the model answers"
        )
    def key(row: dict) -> tuple:
        value = row[score]
        return (math.isnan(value), -value if not math.isnan(value) else 0.0, row["layer"], row["head"])

    return sorted(rows, key=key)


def check_heads(heads: Iterable[Head], architecture: Architecture) -> None:
    """An error naming the first (layer, head) that the model does not have, or that is listed twice (top-k of a
    list with repeats would edit fewer than k heads)."""
    seen = set()
    for layer, head in heads:
        architecture.check_head(layer, head)
        if (layer, head) in seen:
            raise FocusInterpError(f"head (layer {layer}, head {head}) is listed twice: list each head once")
        seen.add((layer, head))


def heads_by_layer(heads: Iterable[Head]) -> dict[int, list[int]]:
    """{layer: [head, ...]} in layer order."""
    grouped: dict[int, list[int]] = {}
    for layer, head in heads:
        grouped.setdefault(layer, []).append(head)
    return dict(sorted(grouped.items()))


def random_heads(architecture: Architecture, k: int, seed: int = 0, exclude: Iterable[Head] = ()) -> list[Head]:
    """``k`` distinct heads drawn uniformly (seeded) from those not in ``exclude``: the random-head control."""
    excluded = set(map(tuple, exclude))
    pool = [
        (layer, head)
        for layer in range(architecture.n_layers)
        for head in range(architecture.n_heads)
        if (layer, head) not in excluded
    ]
    if not 0 <= k <= len(pool):
        raise FocusInterpError(f"cannot draw {k} random heads: {len(pool)} heads are left after the exclusions")
    return random.Random(seed).sample(pool, k)
