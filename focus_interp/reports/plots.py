"""Plots from plain numbers, each drawn on an Axes given as ``ax=`` or on a new Figure: a layer x head heatmap, exact
match against the number of heads k, exact match per configuration, training loss curves. Each returns its Figure,
which a notebook shows when it is a cell's value; ``save_figure`` writes one to a file. The matplotlib backend is
never set, and no figure is left open in pyplot."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure

BASELINE_LINES = {
    "none": ("baseline (all documents)", "black"),
    "gold_only": ("gold document alone", "tab:green"),
    "no_gold": ("no gold document", "tab:red"),
}


def axes_for(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    """``ax``, or the Axes of a new Figure of ``figsize`` inches. The Figure is made by pyplot (so the backend in
    use, e.g. a notebook's inline one, can show it) and closed there at once, so pyplot keeps no figure open."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=figsize, layout="tight")
    plt.close(figure)
    return figure.subplots()


def save_figure(figure: Figure, path: str | Path, dpi: int = 150) -> None:
    """Write ``figure`` to ``path`` (the format from its suffix)."""
    figure.savefig(path, dpi=dpi)


def score_grid(rows: list[dict], column: str) -> np.ndarray:
    """A [layers, heads] array of one column of head scores."""
    n_layers = max(row["layer"] for row in rows) + 1
    n_heads = max(row["head"] for row in rows) + 1
    grid = np.full((n_layers, n_heads), np.nan)
    for row in rows:
        grid[row["layer"], row["head"]] = row[column]
    return grid


def plot_head_grid(
    grid, title: str, ax: Axes | None = None, label: str = "mean attention on the gold document"
) -> Figure:
    """A layer x head heatmap of ``grid`` ([layers, heads], e.g. R, attention mass in [0, 1]); returns its Figure."""
    grid = np.asarray(grid, dtype=float)
    n_layers, n_heads = grid.shape
    axis = axes_for(ax, (max(4.0, 0.45 * n_heads + 2), max(4.0, 0.22 * n_layers + 1.5)))
    image = axis.imshow(grid, aspect="auto", cmap="viridis", origin="lower", vmin=0)
    axis.set_xlabel("head")
    axis.set_ylabel("layer")
    axis.set_xticks(range(n_heads))
    axis.set_title(title, fontsize=9)
    axis.figure.colorbar(image, ax=axis, label=label)
    return axis.figure


def _error(rows: list[dict], value: str = "em") -> np.ndarray | None:
    """[2, rows] distances from ``value`` down to ``value_low`` and up to ``value_high`` (errorbar's ``yerr``); None
    when the rows carry no interval."""
    if not all(f"{value}_low" in row for row in rows):
        return None
    centre = np.array([row[value] for row in rows], dtype=float)
    bounds = np.array([[row[f"{value}_low"] for row in rows], [row[f"{value}_high"] for row in rows]], dtype=float)
    return np.abs(bounds - centre)


def plot_em_against_k(results: list[dict], strength: str, title: str, ax: Axes | None = None) -> Figure:
    """EM against k (log axis), one line per (heads, ``strength`` value) with its 95% intervals as error bars (each
    line's points shifted by up to 2% per line in k, so that the bars do not overlap), baselines as horizontal lines
    (their intervals shaded); rows as ``SweepResults.table`` gives them."""
    axis = axes_for(ax, (8, 5))
    lines: dict[tuple[str, float, str], list[dict]] = {}
    for row in results:
        if row[strength] is not None:
            lines.setdefault((row["heads"], row[strength], row.get("positions") or "all"), []).append(row)
    values = sorted({value for heads, value, _ in lines if heads == "top"})
    viridis = colormaps["viridis_r"]
    spread = {value: 1 + 0.02 * (index - (len(values) - 1) / 2) for index, value in enumerate(values)}
    for (heads, value, positions), rows in sorted(lines.items()):
        rows = sorted(rows, key=lambda r: r["k"])
        colour = viridis(values.index(value) / max(1, len(values) - 1)) if heads == "top" else "tab:orange"
        style = "--" if heads != "top" else ":" if positions == "response" else "-"
        axis.errorbar(
            [r["k"] * spread.get(value, 1) for r in rows], [r["em"] for r in rows], yerr=_error(rows), marker="o",
            color=colour, capsize=2, elinewidth=0.8, linestyle=style,
            label=f"{heads} heads, {strength}={value:g}" + (", response rows" if positions == "response" else ""),
        )
    for row in results:
        if row["intervention"] in BASELINE_LINES:
            label, colour = BASELINE_LINES[row["intervention"]]
            axis.axhline(row["em"], color=colour, linestyle=":", label=f"{label}: {row['em']:.3f}")
            if "em_low" in row:
                axis.axhspan(row["em_low"], row["em_high"], color=colour, alpha=0.08)
    axis.set_xscale("log")
    axis.set_xlabel("number of heads k")
    axis.set_ylabel("exact match (95% intervals by question)")
    axis.set_title(title, fontsize=10)
    axis.legend(fontsize=7, loc="best")
    return axis.figure


def plot_em_bars(
    labels: list[str], em: list[float], colours: list[str], title: str, ax: Axes | None = None,
    intervals: list[tuple[float, float]] | None = None,
) -> Figure:
    """One horizontal bar of exact match per configuration, its value written beside it, and its 95% interval
    (``intervals``: (low, high) per bar) as an error bar."""
    axis = axes_for(ax, (8, 0.45 * len(em) + 1.2))
    bounds = None if intervals is None else np.array(intervals, dtype=float)  # None (no interval) becomes NaN
    error = None if bounds is None else np.nan_to_num(np.abs(bounds.T - np.array(em, dtype=float)))
    axis.barh(range(len(em)), em, color=colours, xerr=error, capsize=3, error_kw={"elinewidth": 0.8})
    for index, value in enumerate(em):
        right = value if bounds is None or np.isnan(bounds[index, 1]) else bounds[index, 1]
        axis.text(right + 0.01, index, f"{value:.2f}", va="center", fontsize=8)
    axis.set_yticks(range(len(em)), labels, fontsize=8)
    axis.invert_yaxis()
    axis.set_xlim(0, 1.15)
    axis.set_xlabel("exact match" if intervals is None else "exact match (95% intervals by question)")
    axis.set_title(title, fontsize=9)
    return axis.figure


def plot_losses(losses, title: str, ax: Axes | None = None) -> Figure:
    """Training loss per epoch ([epochs, layers]), one line per layer, dark for the first."""
    losses = np.asarray(losses, dtype=float)
    axis = axes_for(ax, (7, 4))
    epochs = range(1, losses.shape[0] + 1)
    viridis = colormaps["viridis"]
    for layer in range(losses.shape[1]):
        axis.plot(epochs, losses[:, layer], color=viridis(layer / max(1, losses.shape[1] - 1)), linewidth=1)
    axis.set_xlabel("epoch")
    axis.set_ylabel("loss: -mean attention on the gold document")
    axis.set_title(title, fontsize=9)
    return axis.figure


def plot_score_differences(
    labels: list[str], columns: list[str], grid, baseline: int | None, title: str, ax: Axes | None = None
) -> Figure:
    """A [rows, columns] grid of scores (percent) written in its cells, coloured by each cell's difference to the
    ``baseline`` column (green better, red worse, clipped at 20 points; uncoloured without one)."""
    grid = np.asarray(grid, dtype=float)
    axis = axes_for(ax, (1.1 * len(columns) + 3, 0.45 * len(labels) + 2))
    difference = grid - grid[:, [baseline]] if baseline is not None else np.zeros_like(grid)
    axis.imshow(np.clip(difference, -20, 20), cmap="RdYlGn", vmin=-20, vmax=20, aspect="auto")
    for (i, j), value in np.ndenumerate(grid):
        axis.text(j, i, f"{value:.1f}", ha="center", va="center", fontsize=8)
    axis.set_xticks(range(len(columns)), [c.replace("focus_direction ", "") for c in columns], rotation=30, ha="right", fontsize=8)
    axis.set_yticks(range(len(labels)), labels, fontsize=8)
    axis.set_title(title, fontsize=9)
    return axis.figure


def plot_attention_pattern(pattern, tokens: Sequence[str], title: str, ax: Axes | None = None) -> Figure:
    """A [T, T] attention pattern as a query (rows) x key (columns) heatmap; tokens label the axes when at most 60."""
    pattern = np.asarray(pattern, dtype=float)
    axis = axes_for(ax, (7, 6))
    image = axis.imshow(pattern, cmap="viridis", vmin=0, vmax=max(float(pattern.max()), 1e-9), aspect="auto")
    if len(tokens) <= 60:
        axis.set_xticks(range(len(tokens)), tokens, rotation=90, fontsize=6)
        axis.set_yticks(range(len(tokens)), tokens, fontsize=6)
    axis.set_xlabel("key position")
    axis.set_ylabel("query position")
    axis.set_title(title, fontsize=9)
    axis.figure.colorbar(image, ax=axis, label="attention")
    return axis.figure
