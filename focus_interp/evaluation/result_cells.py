"""How a result row's numbers read in a table or a terminal: EM with its interval, the paired difference to no
intervention with its p-value and whether it is significant."""

from __future__ import annotations

import numpy as np

from focus_interp.metrics.intervals import SIGNIFICANCE


def p_text(p_value: float) -> str:
    """``p 0.062``, or ``p < 0.001`` (below what the sign flips resolve)."""
    return "p < 0.001" if p_value < 0.001 else f"p {p_value:.3f}"


def em_cell(row: dict) -> str:
    """EM and its interval, ``0.33 [0.13, 0.53]``; ``0.33 [no interval: 1 question]`` without one."""
    if row["em_low"] is None or np.isnan(row["em_low"]):
        return f"{row['em']:.2f} [no interval: {row.get('n_questions', '?')} question]"
    return f"{row['em']:.2f} [{row['em_low']:.2f}, {row['em_high']:.2f}]"


def difference_cell(row: dict) -> str:
    """The paired difference to no intervention, ``+0.07 [-0.07, +0.20], p 0.62, not significant``; empty
    without one."""
    if row.get("difference") is None:
        return ""
    verdict = "" if row["p_value"] < SIGNIFICANCE else ", not significant"
    low, high = row["difference_low"], row["difference_high"]
    bounds = "no interval" if low is None or np.isnan(low) else f"{low:+.2f}, {high:+.2f}"
    return f"{row['difference']:+.2f} [{bounds}], {p_text(row['p_value'])}{verdict}"
