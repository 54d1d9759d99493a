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


def decimal_cell(value: float | None) -> str:
    """A number of a CSV table to 6 decimals; empty for None or NaN."""
    return "" if value is None or np.isnan(value) else f"{value:.6f}"


SWEEP_COLUMNS = ("intervention", "heads", "k", "tau", "alpha", "positions", "gold_position", "n", "n_questions", "em", "em_low", "em_high",
                 "difference", "difference_low", "difference_high", "p_value")
_DECIMALS = {"em", "em_low", "em_high", "difference", "difference_low", "difference_high", "p_value"}


def write_sweep_csv(results: list[dict], path: Path) -> None:
    """The plotted numbers: one row per configuration, EM with its 95% interval and the paired difference to no
    intervention (empty where there is none)."""
    write_csv(path, SWEEP_COLUMNS, ([decimal_cell(row[c]) if c in _DECIMALS else row[c] for c in SWEEP_COLUMNS] for row in results))
