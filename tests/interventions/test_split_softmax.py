"""Split softmax (Eq. 3) on hand-worked rows."""

from __future__ import annotations

import pytest
import torch

from focus_interp import FocusInterpError
from focus_interp.interventions import split_softmax

ROW = torch.tensor([[0.1, 0.2, 0.3, 0.15, 0.25]])
SPAN = torch.tensor([False, True, True, False, False])  # pi = 0.5


def test_hand_worked_1x5_row():
    # tau = 0.5: pi^tau = sqrt(0.5) = 0.70711; inside scale 0.70711 / 0.5, outside (1 - 0.70711) / 0.5
    inside, outside = 0.5**0.5 / 0.5, (1 - 0.5**0.5) / 0.5
    expected = torch.tensor([[0.1 * outside, 0.2 * inside, 0.3 * inside, 0.15 * outside, 0.25 * outside]])
    torch.testing.assert_close(split_softmax(ROW, SPAN, 0.5), expected)
    assert abs(split_softmax(ROW, SPAN, 0.5)[0, 1:3].sum().item() - 0.70711) < 1e-5


@pytest.mark.parametrize("tau", [0.0, 0.1, 0.3, 0.6, 1.5, 1000.0])
def test_rows_still_sum_to_one_and_mass_on_span_is_pi_to_the_tau(tau):
    weights = torch.softmax(torch.randn(4, 3, 7, generator=torch.Generator().manual_seed(0)), dim=-1)
    span = torch.tensor([False, False, True, True, True, False, False])
    out = split_softmax(weights, span, tau)
    torch.testing.assert_close(out.sum(-1), torch.ones(4, 3))
    pi = weights[..., span].sum(-1)
    torch.testing.assert_close(out[..., span].sum(-1), pi**tau)


def test_tau_one_is_exactly_the_identity():
    assert torch.equal(split_softmax(ROW, SPAN, 1.0), ROW)


def test_rows_with_nothing_or_everything_on_the_span_are_unchanged_without_nan():
    nothing = torch.tensor([[0.5, 0.0, 0.0, 0.25, 0.25]])
    everything = torch.tensor([[0.0, 0.4, 0.6, 0.0, 0.0]])
    for row in (nothing, everything):
        for tau in (0.0, 0.3, 1000.0):
            out = split_softmax(row, SPAN, tau)
            assert not torch.isnan(out).any()
            torch.testing.assert_close(out, row)


@pytest.mark.parametrize("tau", [-0.1, float("nan")])
def test_negative_or_nan_tau_is_a_clear_error(tau):
    with pytest.raises(FocusInterpError, match="tau must be a number >= 0"):
        split_softmax(ROW, SPAN, tau)
