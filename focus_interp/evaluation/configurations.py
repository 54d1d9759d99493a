"""Evaluated configurations as typed data: no intervention, the baseline prompts (gold document alone, distractors
alone), split softmax (heads, k, tau) and focus directions (heads, k, alpha); each says which prompt it answers
and builds its own intervention."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from focus_interp.data.samples import SamplePrompts
from focus_interp.directions import Directions
from focus_interp.errors import FocusInterpError
from focus_interp.evaluation.rankings import ranking_of
from focus_interp.heads import Head, check_heads, random_heads
from focus_interp.interventions import FocusDirection, SplitSoftmax
from focus_interp.interventions.focus_direction import DIRECTION_POSITIONS
from focus_interp.interventions.split_softmax import check_tau
from focus_interp.model.architecture import Architecture

BASELINES = ("none", "gold_only", "no_gold")
INTERVENTIONS = (*BASELINES, "split_softmax", "focus_direction")
FIELDS = {
    **{name: () for name in BASELINES}, "split_softmax": ("heads", "k", "tau"), "focus_direction": ("heads", "k", "alpha", "positions"),
}


@dataclass(frozen=True)
class Configuration:
    """One evaluated setting: ``intervention`` one of ``INTERVENTIONS``; for split softmax (``tau``) and focus
    directions (``alpha``), ``heads`` is ``top`` (the first k of the ranking) or ``random`` (a seeded draw of k). A
    focus direction edits every position (``positions="all"``, the paper's) or only the rows from the last prompt
    token on (``"response"``: the prompt's rows untouched, so a sweep shares their prefill)."""

    intervention: str
    heads: str = ""
    k: int = 0
    tau: float | None = None
    alpha: float | None = None
    positions: str = "all"

    def __post_init__(self) -> None:
        if self.intervention not in INTERVENTIONS:
            raise FocusInterpError(f"no intervention {self.intervention!r}: choose one of {', '.join(INTERVENTIONS)}")
        edits = self.intervention in ("split_softmax", "focus_direction")
        if edits and (self.heads not in ("top", "random") or self.k < 1):
            raise FocusInterpError(f"{self.intervention} needs heads 'top' or 'random' and k of at least 1, got {self.heads!r}, {self.k}")
        strength = {"split_softmax": ("tau", self.tau), "focus_direction": ("alpha", self.alpha)}.get(self.intervention)
        if strength is not None and strength[1] is None:
            raise FocusInterpError(f"{self.intervention} needs {strength[0]}")
        if self.tau is not None:
            check_tau(self.tau)
        if self.positions not in DIRECTION_POSITIONS:
            raise FocusInterpError(f"positions must be one of {', '.join(DIRECTION_POSITIONS)}, got {self.positions!r}")
        given = {"heads": self.heads != "", "k": self.k != 0, "tau": self.tau is not None, "alpha": self.alpha is not None,
                 "positions": self.positions != "all"}
        unused = [name for name, present in given.items() if present and name not in FIELDS[self.intervention]]
        if unused:
            raise FocusInterpError(f"{self.intervention} takes no {', '.join(unused)}")

    @property
    def prompt(self) -> str:
        """The sample prompt this configuration answers: ``long``, ``gold_only`` or ``no_gold``."""
        return self.intervention if self.intervention in ("gold_only", "no_gold") else "long"

    def check(self, head_sets: HeadSets, directions: Directions | None) -> None:
        """Errors, before any sample runs, for heads the ranking or the model lacks and for missing or mismatched
        directions."""
        if self.heads:
            check_heads(head_sets.heads(self), head_sets.architecture)
        if self.intervention == "focus_direction":
            self.build(head_sets, directions)

    def build(self, head_sets: HeadSets, directions: Directions | None = None, prompts: SamplePrompts | None = None):
        """The intervention on ``prompts.long`` (split softmax on its relevant segment, a focus direction
        anywhere), or None for the plain model and the baseline prompts."""
        if self.intervention == "split_softmax":
            if prompts is None:
                raise FocusInterpError("split softmax needs the sample's prompts (its relevant segment)")
            return SplitSoftmax.on_segment(prompts.long, prompts.relevant, head_sets.heads(self), self.tau)
        if self.intervention == "focus_direction":
            return focus_direction_edit(self, head_sets, directions)
        return None

    @property
    def name(self) -> str:
        parts = [self.intervention]
        if self.heads:
            parts.append(f"{self.heads} k={self.k}")
        if self.tau is not None:
            parts.append(f"tau={self.tau:g}")
        if self.alpha is not None:
            parts.append(f"alpha={self.alpha:g}")
        if self.positions != "all":
            parts.append(f"{self.positions} rows")
        return " ".join(parts)


def capped_k(k_values: Sequence[int | str], n_heads: int) -> list[int]:
    """k values with ``all`` (or anything above the model's head count) replaced by that count, without repeats."""
    capped = []
    for k in k_values:
        try:
            value = n_heads if k == "all" else int(k)
        except ValueError:
            raise FocusInterpError(f"k must be a whole number or 'all', got {k!r}") from None
        if value < 1:
            raise FocusInterpError(f"k must be at least 1 or 'all', got {k}")
        value = min(value, n_heads)
        if value not in capped:
            capped.append(value)
    return capped


def check_distinct(name: str, values: Sequence[float]) -> None:
    """An error naming a value listed twice (its configuration would be evaluated, and reported, twice)."""
    repeated = sorted({value for value in values if list(values).count(value) > 1})
    if repeated:
        raise FocusInterpError(f"{name} list {', '.join(f'{value:g}' for value in repeated)} more than once: list each once")


def split_softmax_configurations(
    k_values: Sequence[int], taus: Sequence[float], random_taus: Sequence[float] = ()
) -> list[Configuration]:
    """The baselines, then top-k heads at every tau, then random heads at every ``random_taus``."""
    check_distinct("taus", taus)
    check_distinct("random taus", random_taus)
    configurations = [Configuration(name) for name in BASELINES]
    configurations += [Configuration("split_softmax", "top", k, tau=tau) for tau in taus for k in k_values]
    configurations += [Configuration("split_softmax", "random", k, tau=tau) for tau in random_taus for k in k_values]
    return configurations


def focus_direction_configurations(
    k_values: Sequence[int], alphas: Sequence[float], positions: Sequence[str] = ("all",)
) -> list[Configuration]:
    """The baselines, then top-k heads at every alpha, for each of ``positions`` (``all``, ``response``)."""
    check_distinct("alphas", alphas)
    if len(set(positions)) != len(positions):
        raise FocusInterpError(f"positions list a value more than once: {', '.join(positions)}")
    return [Configuration(name) for name in BASELINES] + [
        Configuration("focus_direction", "top", k, alpha=alpha, positions=where)
        for where in positions for alpha in alphas for k in k_values
    ]


def focus_direction_edit(configuration: Configuration, head_sets: HeadSets, directions: Directions | None) -> FocusDirection:
    """The focus direction of a configuration on its heads, checked against the model."""
    if directions is None:
        raise FocusInterpError("focus-direction configurations need a directions file (--directions)")
    edit = FocusDirection(head_sets.heads(configuration), directions.query, directions.key, configuration.alpha, directions.site)
    edit.check(head_sets.architecture)
    return edit


@dataclass(frozen=True)
class HeadSets:
    """Where a configuration's heads come from: a ranking (best first) and seeded random draws."""

    ranking: tuple[Head, ...]
    source: str
    architecture: Architecture
    seed: int = 0

    @classmethod
    def of(cls, source, architecture: Architecture, score: str = "R", seed: int = 0, name: str | None = None) -> HeadSets:
        """Head sets whose ranking is ``ranking_of(source, architecture, score)``: ``HeadScores``, a score grid, a
        DataFrame, a head list or a file; ``name`` (default: what the source is) labels the top heads in results."""
        label = name or (str(source) if isinstance(source, (str, Path)) else f"{type(source).__name__} ranked by {score}")
        return cls(tuple(ranking_of(source, architecture, score)), label, architecture, seed)

    def heads(self, configuration: Configuration) -> tuple[Head, ...]:
        if configuration.heads == "random":
            return tuple(random_heads(self.architecture, configuration.k, seed=self.seed + configuration.k))
        if configuration.k > len(self.ranking):
            raise FocusInterpError(f"top-{configuration.k} heads asked for, {self.source} ranks only {len(self.ranking)}")
        return self.ranking[: configuration.k]
