"""Figure 2: where the contextual heads are — layer x head heatmap of the relevant score R, and its sparsity.

Reads a scoring run folder (``focus-interp heads --out RUN``); writes ``fig2_head_locations.png``,
``fig2_head_locations.csv`` (R per layer and head) and ``fig2_head_locations.md`` (counts of heads above
0.2, 0.1, 0.05, and of those whose 95% interval lies wholly above or reaches above) into ``--out``.
Run: python analyses/fig2_head_locations.py RUN [--out figures]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from focus_interp.errors import FocusInterpError
from focus_interp.files import write_csv
from focus_interp.paper.figures import (
    command_line,
    load_head_run,
    run_description,
    run_script,
)
from focus_interp.reports.plots import plot_head_grid, save_figure, score_grid
from focus_interp.reports.tables import markdown_table

THRESHOLDS = (0.2, 0.1, 0.05)


def _top_layers(grid: np.ndarray, k: int) -> str:
    """The layers of the ``k`` highest-R heads, counted, lowest layer first (e.g. "7, 18 (x2), 21")."""
    flat = np.argsort(-np.nan_to_num(grid, nan=-np.inf), axis=None)[:k]
    layers, counts = np.unique(np.unravel_index(flat, grid.shape)[0], return_counts=True)
    return ", ".join(f"{layer}" + (f" (x{count})" if count > 1 else "") for layer, count in zip(layers, counts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="scoring run folder")
    parser.add_argument("--out", default="figures")
    args = parser.parse_args()
    rows, meta = load_head_run(args.run)
    grid = score_grid(rows, "R")
    if np.isnan(grid).all():
        raise FocusInterpError(f"{args.run} has no scored samples yet: run `focus-interp heads --out {args.run}`")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    n_layers, n_heads = grid.shape

    save_figure(plot_head_grid(grid, f"Relevant score R per head\n{run_description(meta)}"), out / "fig2_head_locations.png")

    write_csv(out / "fig2_head_locations.csv", ["layer", *(f"head_{h}" for h in range(n_heads))],
              ([layer, *(f"{value:.6f}" for value in grid[layer])] for layer in range(n_layers)))
    low, high = score_grid(rows, "R_low"), score_grid(rows, "R_high")
    counts = [[f"R > {t}", int(np.sum(grid > t)), f"{np.sum(grid > t) / grid.size:.1%}", int(np.sum(low > t)),
               int(np.sum(high > t))] for t in THRESHOLDS]
    text = "\n\n".join(
        [
            "# Figure 2: contextual head locations",
            f"Run: {run_description(meta)}. Heads: {grid.size} ({n_layers} layers x {n_heads} heads). Intervals: 95%, "
            "questions resampled.",
            markdown_table(["relevant score", "heads", "share", "interval wholly above", "interval reaching above"], counts),
            f"Layers of the top-20 heads by R: {_top_layers(grid, 20)}.",
            f"Made by `{command_line()}`.",
        ]
    )
    (out / "fig2_head_locations.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    run_script(main)
