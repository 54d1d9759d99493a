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


def write_sweep_csv(results: list[dict], path: Path) -> None:
    """The plotted numbers: one row per configuration."""
    columns = ["intervention", "heads", "k", "tau", "alpha", "gold_position", "n", "em"]
    write_csv(path, columns, ([f"{row[c]:.6f}" if c == "em" else row[c] for c in columns] for row in results))
