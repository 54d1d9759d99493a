"""Plots of head scores and sweeps: a layer x head heatmap, and exact match against the number of heads k."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def score_grid(rows: list[dict], column: str) -> np.ndarray:
    """A [layers, heads] array of one column of head scores."""
    n_layers = max(row["layer"] for row in rows) + 1
    n_heads = max(row["head"] for row in rows) + 1
    grid = np.full((n_layers, n_heads), np.nan)
    for row in rows:
        grid[row["layer"], row["head"]] = row[column]
    return grid


def plot_head_grid(grid: np.ndarray, title: str, path: Path) -> None:
    """A layer x head heatmap of R ([layers, heads], attention mass in [0, 1]) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_layers, n_heads = grid.shape
    figure, axis = plt.subplots(figsize=(max(4.0, 0.45 * n_heads + 2), max(4.0, 0.22 * n_layers + 1.5)))
    image = axis.imshow(grid, aspect="auto", cmap="viridis", origin="lower", vmin=0)
    axis.set_xlabel("head")
    axis.set_ylabel("layer")
    axis.set_xticks(range(n_heads))
    axis.set_title(title, fontsize=9)
    figure.colorbar(image, ax=axis, label="mean attention on the gold document")
    figure.tight_layout()
    figure.savefig(path, dpi=150)
    plt.close(figure)


BASELINE_LINES = {
    "none": ("baseline (all documents)", "black"),
    "gold_only": ("gold document alone", "tab:green"),
    "no_gold": ("no gold document", "tab:red"),
}


def plot_em_against_k(results: list[dict], strength: str, title: str, path: Path) -> None:
    """EM against k (log axis), one line per (heads, ``strength`` value), baselines as horizontal lines; PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines: dict[tuple[str, float], list[dict]] = {}
    for row in results:
        if row[strength] is not None:
            lines.setdefault((row["heads"], row[strength]), []).append(row)
    values = sorted({value for heads, value in lines if heads == "top"})
    figure, axis = plt.subplots(figsize=(8, 5))
    for (heads, value), rows in sorted(lines.items()):
        rows = sorted(rows, key=lambda r: r["k"])
        colour = plt.cm.viridis_r(values.index(value) / max(1, len(values) - 1)) if heads == "top" else "tab:orange"
        axis.plot(
            [r["k"] for r in rows], [r["em"] for r in rows], marker="o", color=colour,
            linestyle="-" if heads == "top" else "--", label=f"{heads} heads, {strength}={value:g}",
        )
    for row in results:
        if row["intervention"] in BASELINE_LINES:
            label, colour = BASELINE_LINES[row["intervention"]]
            axis.axhline(row["em"], color=colour, linestyle=":", label=f"{label}: {row['em']:.3f}")
    axis.set_xscale("log")
    axis.set_xlabel("number of heads k")
    axis.set_ylabel("exact match")
    axis.set_title(title, fontsize=10)
    axis.legend(fontsize=7, loc="best")
    figure.tight_layout()
    figure.savefig(path, dpi=150)
    plt.close(figure)
