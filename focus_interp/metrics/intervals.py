"""95% intervals by cluster bootstrap, and paired differences against a control on the same samples.

The samples of one question (its gold positions, or its needle depths) are not independent: a resample draws
questions with replacement and keeps each drawn question's samples together. Intervals are percentile intervals of
the resampled means (none below 2 questions). A paired difference is the mean of the per-sample differences, with
its cluster-bootstrap interval and the p-value of a sign-flip test by question: under no difference each
question's summed difference is as likely negated, so the flips are enumerated (up to 2^12 questions' worth) or
drawn. On independent pairs of 0/1 outcomes that test is McNemar's exact test. Seeded: the same values and clusters
give the same numbers.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache
from typing import Hashable, Sequence

import numpy as np

RESAMPLES = 2000
"""Bootstrap resamples per interval."""
FLIPS = 10000
"""Random sign flips of the paired test when there are too many questions to enumerate them all."""
EXACT_UP_TO = 12
"""Up to this many questions the paired test enumerates every sign flip."""
SEED = 0
"""Seed of the resampling generator."""
LEVEL = 0.95
SIGNIFICANCE = 0.05
"""A paired difference with a p-value below this is called significant."""
PAIRED_COLUMNS = ("difference", "difference_low", "difference_high", "p_value")
"""The columns a table gives a paired difference to no intervention."""


@dataclass(frozen=True)
class Interval:
    """A mean over the ``n_samples`` samples (of ``n_clusters`` questions) that have a value, and its
    ``low``-``high`` interval (NaN below 2 questions)."""

    estimate: float
    low: float
    high: float
    n_clusters: int
    n_samples: int

    def __str__(self) -> str:
        return f"{self.estimate:.2f} [{self.low:.2f}, {self.high:.2f}]"


@dataclass(frozen=True)
class PairedDifference:
    """Mean of treated minus control over the same samples, its interval, and the two-sided sign-flip p-value of
    no difference."""

    difference: float
    low: float
    high: float
    p_value: float
    n_clusters: int
    n_samples: int

    def columns(self) -> dict[str, float]:
        """The difference as a table's ``PAIRED_COLUMNS``."""
        return dict(zip(PAIRED_COLUMNS, (self.difference, self.low, self.high, self.p_value)))

    @property
    def significant(self) -> bool:
        """Whether the p-value is below ``SIGNIFICANCE``."""
        return self.p_value < SIGNIFICANCE

    def __str__(self) -> str:
        verdict = "" if self.significant else ", not significant"
        p_value = "p < 0.001" if self.p_value < 0.001 else f"p {self.p_value:.3f}"
        return f"{self.difference:+.2f} [{self.low:+.2f}, {self.high:+.2f}], {p_value}{verdict}"


def question_clusters(records: Sequence[dict]) -> list[Hashable]:
    """The cluster of each sample record: its question; without one its id; without either its own position."""
    clusters: list[Hashable] = []
    for index, record in enumerate(records):
        if record.get("question"):
            clusters.append(("question", record["question"]))
        elif record.get("id") is not None:
            clusters.append(("id", record["id"]))
        else:
            clusters.append(("sample", index))
    return clusters


def cluster_labels(clusters: Sequence[Hashable]) -> np.ndarray:
    """Each sample's cluster as an index 0..C-1, in order of first appearance."""
    index: dict[Hashable, int] = {}
    return np.asarray([index.setdefault(cluster, len(index)) for cluster in clusters], dtype=np.int64)


@lru_cache(maxsize=64)
def resample_weights(n_clusters: int, n_resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """[resamples, clusters] how often each cluster is drawn when ``n_clusters`` are drawn with replacement."""
    draws = np.random.default_rng(seed).integers(0, n_clusters, size=(n_resamples, n_clusters))
    flat = (np.arange(n_resamples)[:, None] * n_clusters + draws).ravel()
    weights = np.bincount(flat, minlength=n_resamples * n_clusters).reshape(n_resamples, n_clusters).astype(float)
    weights.setflags(write=False)
    return weights


@lru_cache(maxsize=64)
def sign_flips(n_clusters: int, seed: int = SEED) -> np.ndarray:
    """[flips, clusters] of +-1: every assignment up to ``EXACT_UP_TO`` clusters, else ``FLIPS`` seeded draws."""
    if n_clusters <= EXACT_UP_TO:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=n_clusters)))
    else:
        signs = np.random.default_rng(seed).choice((1.0, -1.0), size=(FLIPS, n_clusters))
    signs.setflags(write=False)
    return signs


def _cluster_sums(values: np.ndarray, clusters: Sequence[Hashable]) -> tuple[np.ndarray, np.ndarray]:
    """([clusters, ...] sums of the present values, [clusters, ...] how many are present)."""
    labels = cluster_labels(clusters)
    if len(labels) != len(values):
        raise ValueError(f"{len(values)} values but {len(labels)} cluster labels")
    present = ~np.isnan(values)
    sums = np.zeros((int(labels.max()) + 1, *values.shape[1:]))
    counts = np.zeros_like(sums)
    np.add.at(sums, labels, np.where(present, values, 0.0))
    np.add.at(counts, labels, present.astype(float))
    return sums, counts


def resampled_means(values, clusters: Sequence[Hashable], n_resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """[resamples, ...] the mean of ``values`` ([samples, ...]; NaN for a missing value) over each cluster
    resample. A resample without any value of an entry gives NaN there."""
    values = np.asarray(values, dtype=float)
    sums, counts = _cluster_sums(values, clusters)
    weights = resample_weights(len(sums), n_resamples, seed)
    flat = (len(sums), -1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (weights @ sums.reshape(flat)) / (weights @ counts.reshape(flat))
    return means.reshape(n_resamples, *values.shape[1:])


def mean_intervals(
    values, clusters: Sequence[Hashable], level: float = LEVEL, n_resamples: int = RESAMPLES, seed: int = SEED
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, low, high), each of ``values``' shape less the samples axis: the mean over the samples that have a
    value and its cluster-bootstrap ``level`` interval (NaN where no sample has one, or only one question does)."""
    values = np.asarray(values, dtype=float)
    mean = _nanmean(values)
    low, high = np.full_like(mean, np.nan), np.full_like(mean, np.nan)
    if not len(values):
        return mean, low, high
    _, counts = _cluster_sums(values, clusters)
    enough = (counts > 0).sum(axis=0) >= 2
    if enough.any():
        means = resampled_means(values, clusters, n_resamples, seed)
        tail = 100 * (1 - level) / 2
        low[enough], high[enough] = np.nanpercentile(means[:, enough], [tail, 100 - tail], axis=0)
    return mean, low, high


def _nanmean(values: np.ndarray) -> np.ndarray:
    present = ~np.isnan(values)
    counts = present.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, np.where(present, values, 0.0).sum(axis=0) / counts, np.nan)


def _counted(values: np.ndarray, clusters: Sequence[Hashable]) -> tuple[int, int]:
    """(questions, samples) with a value, of one value per sample."""
    present = ~np.isnan(values)
    return len({cluster for cluster, has in zip(clusters, present) if has}), int(present.sum())


def mean_interval(
    values: Sequence[float], clusters: Sequence[Hashable], level: float = LEVEL, n_resamples: int = RESAMPLES, seed: int = SEED
) -> Interval:
    """The mean of one value per sample and its cluster-bootstrap interval."""
    values = np.asarray(values, dtype=float)
    mean, low, high = mean_intervals(values, clusters, level, n_resamples, seed)
    return Interval(float(mean), float(low), float(high), *_counted(values, clusters))


def paired_differences(
    treated, control, clusters: Sequence[Hashable], level: float = LEVEL, n_resamples: int = RESAMPLES, seed: int = SEED,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(difference, low, high, p_value), each of the values' shape less the samples axis: the mean of ``treated -
    control`` ([samples, ...], paired by sample; a pair missing either value is left out), its cluster-bootstrap
    interval, and the two-sided sign-flip p-value: the share of sign assignments to the questions' summed
    differences whose mean is at least as far from zero as the observed one (drawn flips count the observed
    assignment too: (hits + 1) / (flips + 1))."""
    differences = np.asarray(treated, dtype=float) - np.asarray(control, dtype=float)
    if not len(differences):
        raise ValueError("a paired difference needs at least one sample")
    mean, low, high = mean_intervals(differences, clusters, level, n_resamples, seed)
    sums, counts = _cluster_sums(differences, clusters)
    total = counts.sum(axis=0)
    signs = sign_flips(len(sums), seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        flipped = np.abs(signs @ sums.reshape(len(sums), -1)).reshape(len(signs), *sums.shape[1:]) / total
        observed = np.abs(sums.sum(axis=0)) / total
    hits = (flipped >= observed - 1e-12).sum(axis=0)
    exact = len(sums) <= EXACT_UP_TO
    p_value = hits / len(signs) if exact else (hits + 1) / (len(signs) + 1)
    p_value = np.where(total > 0, np.minimum(1.0, p_value), np.nan)
    return mean, low, high, p_value


def paired_difference(
    treated: Sequence[float], control: Sequence[float], clusters: Sequence[Hashable],
    level: float = LEVEL, n_resamples: int = RESAMPLES, seed: int = SEED,
) -> PairedDifference:
    """``paired_differences`` of one value per sample, as a ``PairedDifference``."""
    mean, low, high, p_value = paired_differences(treated, control, clusters, level, n_resamples, seed)
    differences = np.asarray(treated, dtype=float) - np.asarray(control, dtype=float)
    return PairedDifference(float(mean), float(low), float(high), float(p_value), *_counted(differences, clusters))
