"""Cluster-bootstrap intervals and paired differences: hand-worked cases, the normal approximation on independent
samples, and the cluster rule (a question's repeated samples add no information)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from focus_interp.metrics.intervals import (
    mean_interval,
    mean_intervals,
    paired_difference,
    paired_differences,
)


def test_two_clusters_give_the_hand_worked_interval():
    # resampled means are 0, 1/2, 1 with chances 1/4, 1/2, 1/4: the 2.5% and 97.5% percentiles are 0 and 1
    interval = mean_interval([0.0, 1.0], ["a", "b"])
    assert (interval.estimate, interval.low, interval.high) == (0.5, 0.0, 1.0)
    assert (interval.n_clusters, interval.n_samples) == (2, 2)


def test_independent_samples_match_the_normal_approximation():
    values = np.random.default_rng(1).binomial(1, 0.3, size=400).astype(float)
    interval = mean_interval(values, range(len(values)))
    half_width = 1.96 * values.std(ddof=1) / np.sqrt(len(values))
    assert interval.low == pytest.approx(values.mean() - half_width, abs=0.01)
    assert interval.high == pytest.approx(values.mean() + half_width, abs=0.01)


def test_repeating_a_questions_samples_leaves_its_interval_unchanged():
    values = np.random.default_rng(2).binomial(1, 0.4, size=30).astype(float)
    once = mean_interval(values, range(30))
    five_times = mean_interval(np.repeat(values, 5), np.repeat(np.arange(30), 5))
    assert (five_times.estimate, five_times.low, five_times.high) == (once.estimate, once.low, once.high)
    assert (five_times.n_clusters, five_times.n_samples) == (30, 150)
    as_if_independent = mean_interval(np.repeat(values, 5), range(150))
    assert as_if_independent.high - as_if_independent.low < 0.6 * (once.high - once.low)


def test_intervals_of_a_grid_equal_each_entry_alone_and_skip_missing_values():
    values = np.random.default_rng(3).random((12, 2, 3))
    values[4] = np.nan
    clusters = [i // 3 for i in range(12)]
    mean, low, high = mean_intervals(values, clusters)
    assert mean.shape == low.shape == high.shape == (2, 3)
    np.testing.assert_allclose(mean, np.nanmean(values, axis=0))
    assert (low <= mean).all() and (mean <= high).all()
    alone = mean_intervals(values[:, 1, 2], clusters)
    assert (float(alone[1]), float(alone[2])) == (low[1, 2], high[1, 2])


def test_an_entry_without_values_has_no_interval():
    values = np.array([[1.0, np.nan], [0.0, np.nan]])
    mean, low, high = mean_intervals(values, [0, 1])
    assert np.isnan([mean[1], low[1], high[1]]).all() and (low[0], high[0]) == (0.0, 1.0)


def test_the_same_seed_gives_the_same_interval_and_another_seed_another():
    values = np.random.default_rng(4).random(40)
    assert mean_interval(values, range(40)) == mean_interval(values, range(40))
    assert mean_interval(values, range(40), seed=1) != mean_interval(values, range(40))


def test_a_paired_difference_without_change_is_zero_and_not_significant():
    control = [1.0, 0.0, 1.0, 1.0]
    difference = paired_difference(control, control, range(4))
    assert (difference.difference, difference.low, difference.high, difference.p_value) == (0.0, 0.0, 0.0, 1.0)
    assert not difference.significant and "not significant" in str(difference)


@pytest.mark.parametrize("gained, lost", [(30, 15), (25, 15), (40, 20), (20, 20), (3, 0)])
def test_a_paired_difference_agrees_with_mcnemars_exact_test_on_independent_pairs(gained, lost):
    # gained: samples right only when treated; lost: right only in the control; 100 right and 155 wrong in both
    control = np.r_[np.zeros(gained), np.ones(lost), np.ones(100), np.zeros(155)]
    treated = np.r_[np.ones(gained), np.zeros(lost), np.ones(100), np.zeros(155)]
    difference = paired_difference(treated, control, range(len(control)))
    exact = stats.binomtest(gained, gained + lost, 0.5).pvalue
    assert difference.difference == pytest.approx((gained - lost) / len(control))
    assert difference.significant == (exact < 0.05)
    assert difference.p_value == pytest.approx(exact, abs=0.01)


def test_a_small_paired_difference_on_few_questions_is_not_significant():
    control = np.array([0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    treated = control.copy()
    treated[0] = 1.0  # one sample of 15 better, as the demo's +0.5 direction
    difference = paired_difference(treated, control, range(15))
    assert difference.difference == pytest.approx(1 / 15) and difference.p_value > 0.3 and not difference.significant


def test_paired_differences_of_a_grid_equal_each_entry_alone():
    rng = np.random.default_rng(6)
    treated, control = rng.random((20, 2, 3)), rng.random((20, 2, 3))
    clusters = [i // 4 for i in range(20)]
    difference, low, high, p_value = paired_differences(treated, control, clusters)
    alone = paired_difference(treated[:, 1, 0], control[:, 1, 0], clusters)
    assert (difference[1, 0], low[1, 0], high[1, 0], p_value[1, 0]) == pytest.approx(
        (alone.difference, alone.low, alone.high, alone.p_value))
    assert alone.n_clusters == 5 and alone.n_samples == 20


def test_one_question_gives_no_interval_and_no_significance():
    interval = mean_interval([0.0, 1.0, 1.0], ["a", "a", "a"])
    assert interval.estimate == pytest.approx(2 / 3) and np.isnan([interval.low, interval.high]).all()
    difference = paired_difference([1.0, 0.0], [0.0, 0.0], ["a", "a"])
    assert difference.p_value == 1.0 and not difference.significant


def test_five_questions_all_better_are_the_hand_worked_two_of_thirty_two_sign_flips():
    # one of each question's three gold positions improves: only "all +" and "all -" reach the observed |mean|
    control = np.zeros(15)
    treated = np.tile([1.0, 0.0, 0.0], 5)
    difference = paired_difference(treated, control, np.repeat(np.arange(5), 3))
    assert difference.difference == pytest.approx(1 / 3)
    assert difference.p_value == pytest.approx(2 / 32) and not difference.significant
    assert (difference.n_clusters, difference.n_samples) == (5, 15)


def test_samples_without_a_value_are_not_counted():
    interval = mean_interval([1.0, np.nan, 0.0, np.nan], ["a", "b", "c", "c"])
    assert (interval.estimate, interval.n_clusters, interval.n_samples) == (0.5, 2, 2)
