"""Figure 9: contextual heads versus retrieval heads — the top-k of each on the layer x head grid, their overlap,
and where each sits by layer.

Reads a contextual scoring run (``focus-interp heads --out RUN``) and a retrieval run
(``focus-interp retrieval-heads --out RUN``); writes ``fig9_contextual_vs_retrieval.png``, ``.csv`` (both top-k
lists: kind, rank, layer, head, score, shared) and ``.md`` (the overlap) into ``--out``.
Run: python analyses/fig9_contextual_vs_retrieval.py CONTEXTUAL_RUN RETRIEVAL_RUN [--k 20] [--out figures]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap

from focus_interp.errors import FocusInterpError
from focus_interp.files import write_csv
from focus_interp.heads import rank_heads
from focus_interp.paper.figures import (
    command_line,
    load_head_run,
    run_description,
    run_script,
)
from focus_interp.reports.plots import score_grid
from focus_interp.reports.tables import decimal_cell, markdown_table
from focus_interp.scoring.head_scores import HeadScores, shared_top_heads

KINDS = {"contextual": ("R", "tab:blue"), "retrieval": ("retrieval", "tab:orange")}
SHARED_COLOR = "tab:purple"


def _top(rows: list[dict], column: str, k: int, run: str) -> list[dict]:
    """The best ``k`` heads among those with a score above 0 (fewer when fewer have one)."""
    ranked = [row for row in rank_heads(rows, column) if row[column] > 0]
    if not ranked:
        raise FocusInterpError(f"{run} has no head with a {column} score above 0: finish that run or give it more tests")
    return ranked[:k]


def _retrieval_description(meta: dict) -> str:
    return f"{meta.get('n_scored', '?')} needle tests, {meta.get('n_counted', '?')} recalling the answer"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("contextual", help="contextual scoring run folder")
    parser.add_argument("retrieval", help="retrieval scoring run folder")
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--out", default="figures")
    args = parser.parse_args()
    if args.k < 1:
        raise FocusInterpError(f"--k must be at least 1, got {args.k}")
    runs = {"contextual": load_head_run(args.contextual, "R"), "retrieval": load_head_run(args.retrieval, "retrieval")}
    if runs["contextual"][1].get("model") != runs["retrieval"][1].get("model"):
        raise FocusInterpError(
            f"the runs are of different models: {runs['contextual'][1].get('model')} and {runs['retrieval'][1].get('model')}"
        )
    top = {kind: _top(runs[kind][0], KINDS[kind][0], args.k, getattr(args, kind)) for kind in KINDS}
    sets = {kind: {(row["layer"], row["head"]) for row in rows} for kind, rows in top.items()}
    shared = sets["contextual"] & sets["retrieval"]
    _, shared_low, shared_high = shared_top_heads(HeadScores.load(args.contextual), HeadScores.load(args.retrieval), args.k)
    grid_shape = score_grid(runs["contextual"][0], "R").shape
    n_layers, n_heads = grid_shape
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    membership = np.zeros(grid_shape)
    for value, kind in enumerate(KINDS, start=1):
        for layer, head in sets[kind]:
            membership[layer, head] += value
    figure, (grid_axis, layer_axis) = plt.subplots(1, 2, figsize=(11, max(4.0, 0.22 * n_layers + 1.5)))
    colors = ListedColormap(["whitesmoke", KINDS["contextual"][1], KINDS["retrieval"][1], SHARED_COLOR])
    grid_axis.imshow(membership, aspect="auto", origin="lower", cmap=colors, vmin=-0.5, vmax=3.5, interpolation="nearest")
    grid_axis.set_xlabel("head")
    grid_axis.set_ylabel("layer")
    grid_axis.set_xticks(range(n_heads))
    grid_axis.set_title(f"top-{args.k} heads: contextual (blue), retrieval (orange), both (purple): {len(shared)} shared", fontsize=9)
    layers = np.arange(n_layers)
    for offset, kind in zip((-0.2, 0.2), KINDS):
        counts = np.bincount([layer for layer, _ in sets[kind]], minlength=n_layers)
        layer_axis.barh(layers + offset, counts, height=0.4, color=KINDS[kind][1], label=f"{kind} (top {args.k})")
    layer_axis.set_xlabel("heads in the top-k")
    layer_axis.set_ylabel("layer")
    layer_axis.set_ylim(-0.5, n_layers - 0.5)
    layer_axis.legend(fontsize=8)
    figure.suptitle(
        f"contextual: {run_description(runs['contextual'][1])}; retrieval: {_retrieval_description(runs['retrieval'][1])}",
        fontsize=9,
    )
    figure.tight_layout()
    figure.savefig(out / "fig9_contextual_vs_retrieval.png", dpi=150)

    write_csv(out / "fig9_contextual_vs_retrieval.csv", ("kind", "rank", "layer", "head", "score", "score_low", "score_high", "shared"), [
        (kind, rank, row["layer"], row["head"], *(decimal_cell(row[KINDS[kind][0] + bound]) for bound in ("", "_low", "_high")),
         int((row["layer"], row["head"]) in shared))
        for kind, rows in top.items()
        for rank, row in enumerate(rows, start=1)
    ])

    def layer_summary(kind: str) -> str:
        found = [layer for layer, _ in sets[kind]]
        return f"layers {min(found)}-{max(found)}, median {np.median(found):g}"

    table = [
        [kind, len(sets[kind]), layer_summary(kind), ", ".join(f"({l}, {h})" for l, h in sorted(sets[kind] - shared))]
        for kind in KINDS
    ]
    text = "\n\n".join(
        [
            "# Figure 9: contextual versus retrieval heads",
            f"Contextual run: {run_description(runs['contextual'][1])}. Retrieval run: "
            f"{_retrieval_description(runs['retrieval'][1])} ({Path(args.retrieval).name}).",
            f"Heads with a score above 0: {len(top['contextual'])} contextual and {len(top['retrieval'])} retrieval "
            f"in the top-{args.k} lists. Shared by both top-{args.k} lists: {len(shared)} of {args.k} (95% interval "
            f"{shared_low:g}-{shared_high:g}, each run's questions resampled)"
            + (f": {', '.join(f'({l}, {h})' for l, h in sorted(shared))}." if shared else "."),
            markdown_table(["kind", "heads", "where", "heads not in the other list (layer, head)"], table),
            "Best heads, score [95% interval, questions resampled]: " + "; ".join(
                f"{kind} ({rows[0]['layer']}, {rows[0]['head']}) {rows[0][KINDS[kind][0]]:.3f} "
                f"[{rows[0][KINDS[kind][0] + '_low']:.3f}, {rows[0][KINDS[kind][0] + '_high']:.3f}]"
                for kind, rows in top.items()) + ".",
            f"Made by `{command_line()}`.",
        ]
    )
    (out / "fig9_contextual_vs_retrieval.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    run_script(main)
