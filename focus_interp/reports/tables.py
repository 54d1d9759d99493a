"""Tables for reports: markdown tables of numbers, and the CSV of the numbers a sweep figure plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from focus_interp.files import write_csv


def markdown_table(headers: list[str], rows: list[list]) -> str:
    def cell(value) -> str:
        if isinstance(value, float):
            return "–" if np.isnan(value) else f"{value:.3f}"
        return str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


SWEEP_COLUMNS = ("intervention", "heads", "k", "tau", "alpha", "positions", "gold_position", "n", "n_questions", "em", "em_low", "em_high",
                 "difference", "difference_low", "difference_high", "p_value")
_DECIMALS = {"em", "em_low", "em_high", "difference", "difference_low", "difference_high", "p_value"}


def write_sweep_csv(results: list[dict], path: Path) -> None:
    """The plotted numbers: one row per configuration, EM with its 95% interval and the paired difference to no
    intervention (empty where there is none)."""
    def cell(column: str, value):
        if column in _DECIMALS:
            return "" if value is None or np.isnan(value) else f"{value:.6f}"
        return value

    write_csv(path, SWEEP_COLUMNS, ([cell(c, row[c]) for c in SWEEP_COLUMNS] for row in results))


def em_cell(row: dict) -> str:
    """EM and its interval: ``0.33 [0.13, 0.53]``."""
    return f"{row['em']:.2f} [{row['em_low']:.2f}, {row['em_high']:.2f}]"


def difference_cell(row: dict) -> str:
    """The paired difference to no intervention, ``+0.07 [-0.07, +0.20], p 0.62, not significant``; empty
    without one."""
    if row.get("difference") is None:
        return ""
    verdict = "" if row["p_value"] < 0.05 else ", not significant"
    return f"{row['difference']:+.2f} [{row['difference_low']:+.2f}, {row['difference_high']:+.2f}], p {row['p_value']:.3f}{verdict}"
