"""95% intervals by cluster bootstrap, and paired differences against a control on the same samples.

The samples of one question (its gold positions, or its needle depths) are not independent: a resample draws
questions with replacement and keeps each drawn question's samples together. Intervals are percentile intervals of
the resampled means; the paired test resamples the per-sample differences the same way. Seeded: the same values and
clusters give the same interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Sequence

import numpy as np

RESAMPLES = 2000
"""Bootstrap resamples per interval."""
SEED = 0
"""Seed of the resampling generator."""
LEVEL = 0.95
SIGNIFICANCE = 0.05


@dataclass(frozen=True)
class Interval:
    """A mean over ``n_samples`` samples of ``n_clusters`` questions, and its ``low``-``high`` interval."""

    estimate: float
    low: float
    high: float
    n_clusters: int
    n_samples: int

    def __str__(self) -> str:
        return f"{self.estimate:.2f} [{self.low:.2f}, {self.high:.2f}]"


@dataclass(frozen=True)
class PairedDifference:
    """Mean of treated minus control over the same samples, its interval, and the two-sided bootstrap p-value of
    no difference."""

    difference: float
    low: float
    high: float
    p_value: float
    n_clusters: int
    n_samples: int

    @property
    def significant(self) -> bool:
        """Whether the difference is significant at the 5% level."""
        return self.p_value < SIGNIFICANCE

    def __str__(self) -> str:
        verdict = "" if self.significant else ", not significant"
        return f"{self.difference:+.2f} [{self.low:+.2f}, {self.high:+.2f}], p {self.p_value:.3f}{verdict}"


def question_clusters(records: Sequence[dict]) -> list[Hashable]:
    """The cluster of each sample record: its question; without one its id; without either its own position."""
    return [record.get("question") or record.get("id", ("sample", index)) for index, record in enumerate(records)]


def cluster_labels(clusters: Sequence[Hashable]) -> np.ndarray:
    """Each sample's cluster as an index 0..C-1, in order of first appearance."""
    index: dict[Hashable, int] = {}
    return np.asarray([index.setdefault(cluster, len(index)) for cluster in clusters], dtype=np.int64)


def resample_weights(n_clusters: int, n_resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """[resamples, clusters] how often each cluster is drawn when ``n_clusters`` are drawn with replacement."""
    draws = np.random.default_rng(seed).integers(0, n_clusters, size=(n_resamples, n_clusters))
    weights = np.zeros((n_resamples, n_clusters))
    np.add.at(weights, (np.arange(n_resamples)[:, None], draws), 1.0)
    return weights


def resampled_means(values, clusters: Sequence[Hashable], n_resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """[resamples, ...] the mean of ``values`` ([samples, ...]; NaN for a missing value) over each cluster
    resample. A resample without any value of an entry gives NaN there."""
    values = np.asarray(values, dtype=float)
    labels = cluster_labels(clusters)
    if len(labels) != len(values):
        raise ValueError(f"{len(values)} values but {len(labels)} cluster labels")
    n_clusters = int(labels.max()) + 1
    present = ~np.isnan(values)
    sums = np.zeros((n_clusters, *values.shape[1:]))
    counts = np.zeros_like(sums)
    np.add.at(sums, labels, np.where(present, values, 0.0))
    np.add.at(counts, labels, present.astype(float))
    weights = resample_weights(n_clusters, n_resamples, seed)
    flat = (n_clusters, -1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (weights @ sums.reshape(flat)) / (weights @ counts.reshape(flat))
    return means.reshape(n_resamples, *values.shape[1:])


def mean_intervals(
    values, clusters: Sequence[Hashable], level: float = LEVEL, n_resamples: int = RESAMPLES, seed: int = SEED
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, low, high), each of ``values``' shape less the samples axis: the mean over the samples that have a
    value and its cluster-bootstrap ``level`` interval (NaN where no sample has one)."""
    values = np.asarray(values, dtype=float)
    mean = _nanmean(values)
    if not len(values):
        return mean, mean.copy(), mean.copy()
    means = resampled_means(values, clusters, n_resamples, seed)
    tail = 100 * (1 - level) / 2
    low, high = np.full_like(mean, np.nan), np.full_like(mean, np.nan)
    present = ~np.isnan(mean)
    if present.any():
        low[present], high[present] = np.nanpercentile(means[:, present], [tail, 100 - tail], axis=0)
    return mean, low, high


def _nanmean(values: np.ndarray) -> np.ndarray:
    present = ~np.isnan(values)
    counts = present.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, np.where(present, values, 0.0).sum(axis=0) / counts, np.nan)


def mean_interval(
    values: Sequence[float], clusters: Sequence[Hashable], level: float = LEVEL, n_resamples: int = RESAMPLES, seed: int = SEED
) -> Interval:
    """The mean of one value per sample and its cluster-bootstrap interval."""
    mean, low, high = mean_intervals(np.asarray(values, dtype=float), clusters, level, n_resamples, seed)
    return Interval(float(mean), float(low), float(high), len(set(clusters)), len(values))


def paired_differences(
    treated, control, clusters: Sequence[Hashable], level: float = LEVEL, n_resamples: int = RESAMPLES, seed: int = SEED,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(difference, low, high, p_value), each of the values' shape less the samples axis: the mean of ``treated -
    control`` ([samples, ...], paired by sample), its cluster-bootstrap interval, and the two-sided p-value of no
    difference: twice the smaller share of resampled differences at or beyond zero on either side (each share
    counted as (hits + 1) / (resamples + 1)), at most 1."""
    differences = np.asarray(treated, dtype=float) - np.asarray(control, dtype=float)
    if not len(differences):
        raise ValueError("a paired difference needs at least one sample")
    mean, low, high = mean_intervals(differences, clusters, level, n_resamples, seed)
    means = resampled_means(differences, clusters, n_resamples, seed)
    below = ((means <= 0).sum(axis=0) + 1) / (n_resamples + 1)
    above = ((means >= 0).sum(axis=0) + 1) / (n_resamples + 1)
    p_value = np.where(np.isnan(mean), np.nan, np.minimum(1.0, 2 * np.minimum(below, above)))
    return mean, low, high, p_value


def paired_difference(
    treated: Sequence[float], control: Sequence[float], clusters: Sequence[Hashable],
    level: float = LEVEL, n_resamples: int = RESAMPLES, seed: int = SEED,
) -> PairedDifference:
    """``paired_differences`` of one value per sample, as a ``PairedDifference``."""
    mean, low, high, p_value = paired_differences(treated, control, clusters, level, n_resamples, seed)
    return PairedDifference(float(mean), float(low), float(high), float(p_value), len(set(clusters)), len(treated))
