"""Table 3: contextual scores of the top heads under focus directions, and their change from no intervention.

Reads a scoring run without intervention and scoring runs made with ``focus-interp heads --directions FILE
--direction-heads RANKING --direction-k K --alpha A`` on the same samples (the paper: alpha -0.2, 0.2, 0.5 on the
top-5 and 0.4, 0.5, 1.0 on the top-20); writes ``table3_scores_under_directions.md``, ``.csv`` and ``.png``.
Rows: the top ``--top`` heads of the baseline run by R. Scores: R, IR, IR max, Sink on the long prompt and R, Sink
on the gold-only prompt; each with its difference to the baseline on the same samples, that difference's 95%
interval (resampled by question) and its sign-flip p-value by question. Runs of the same direction on the same heads
are compared from each alpha to the next higher one (``table3_alpha_steps.csv``, header only when no two runs share
them): does IR max rise more than R?
Run: python analyses/table3_scores_under_directions.py BASELINE RUN [RUN ...] [--out figures] [--top 5]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from focus_interp.errors import FocusInterpError
from focus_interp.files import write_csv
from focus_interp.heads import rank_heads
from focus_interp.metrics.intervals import SIGNIFICANCE
from focus_interp.paper.figures import (
    command_line,
    load_head_run,
    run_description,
    run_script,
)
from focus_interp.reports.tables import decimal_cell, markdown_table
from focus_interp.scoring.head_scores import HeadScores

SCORES = {"R": "R", "IR": "IR", "IR max": "IR_max", "Sink": "sink", "R gold": "R_gold", "Sink gold": "sink_gold"}


def _setting(meta: dict) -> tuple[int, float]:
    """(k, alpha) of an intervention run."""
    settings = meta["settings"].get("interventions")
    if not settings:
        raise FocusInterpError("an intervention run has no focus direction in its meta.json: pass runs made with --directions")
    return settings["k"], settings["alpha"]


def _label(meta: dict) -> str:
    k, alpha = _setting(meta)
    return f"top-{k}, alpha={alpha:g}"


def _change_at(change: dict, head: tuple[int, int]) -> dict[str, float]:
    """One head's ``difference``, ``low``, ``high`` and ``p_value`` from a ``HeadScores.compare`` result."""
    return {key: float(grid[head]) for key, grid in change.items()}


def _change_cell(change: dict[str, float]) -> str:
    """A difference with its interval, starred where its paired p-value is significant."""
    star = "*" if change["p_value"] < SIGNIFICANCE else ""
    return f"{change['difference']:+.3f} [{change['low']:+.3f}, {change['high']:+.3f}]{star}"


def _alpha_steps(runs: list, top: list) -> tuple[list, list]:
    """Between runs of the same directions on the same heads at consecutive alphas (in increasing alpha), per head:
    the change of R, of IR max, and of IR max - R (positive: IR max rose more than R), paired by sample, each with
    its interval and p-value. Two runs of one setting at one alpha are an error."""
    groups: dict[tuple, list] = {}
    for _, scores, _ in runs:
        settings = scores.meta["settings"]["interventions"]
        key = (settings.get("fingerprint"), settings.get("site"), json.dumps(settings.get("heads")), settings["k"])
        groups.setdefault(key, []).append(scores)
    rows, cells = [], []
    for (*_, k), group in sorted(groups.items(), key=lambda item: item[0][-1]):
        group.sort(key=lambda scores: _setting(scores.meta)[1])
        alphas = [_setting(scores.meta)[1] for scores in group]
        if len(set(alphas)) != len(alphas):
            raise FocusInterpError(f"two runs of top-{k} under one direction share an alpha ({alphas}): pass each alpha once")
        for lower, higher in zip(group, group[1:]):
            step = f"top-{k}, alpha {_setting(lower.meta)[1]:g} -> {_setting(higher.meta)[1]:g}"
            changes = [higher.compare(lower, "R"), higher.compare(lower, "IR_max"), higher.compare(lower, "IR_max", minus="R")]
            for head in top:
                values = [_change_at(change, head) for change in changes]
                rows.append([step, f"L{head[0]}H{head[1]}", *(v[key] for v in values for key in ("difference", "low", "high", "p_value"))])
                cells.append([step, f"L{head[0]}H{head[1]}", *map(_change_cell, values)])
    return rows, cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("baseline", help="scoring run folder without intervention")
    parser.add_argument("runs", nargs="+", help="scoring run folders under focus directions")
    parser.add_argument("--out", default="figures")
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args()
    base_rows, base_meta = load_head_run(args.baseline)
    if base_meta["settings"].get("interventions"):
        raise FocusInterpError(f"{args.baseline} was scored under an intervention: pass the run without one first")
    baseline = HeadScores.load(args.baseline)
    top = [(r["layer"], r["head"]) for r in rank_heads(base_rows)[: args.top]]
    runs = []
    for folder in args.runs:
        scores = HeadScores.load(folder)
        meta = scores.meta
        if not meta.get("settings", {}).get("interventions"):
            raise FocusInterpError("an intervention run has no focus direction in its meta.json: pass runs made with --directions")
        if meta["settings"].get("rows") != base_meta["settings"].get("rows"):
            raise FocusInterpError(f"{folder} scored other samples than {args.baseline}: score the same data")
        runs.append((_label(meta), scores, {column: scores.compare(baseline, column) for column in SCORES.values()}))

    table, cells, deltas = [], [], []
    for label, scores, compared in runs:
        for layer, head in top:
            row, cell = [label, f"L{layer}H{head}"], [label, f"L{layer}H{head}"]
            for column in SCORES.values():
                value = float(scores.mean(column)[layer, head])
                change = _change_at(compared[column], (layer, head))
                row += [value, change["difference"], change["low"], change["high"], change["p_value"]]
                cell.append(f"{value:.3f} ({_change_cell(change)})")
            table.append(row)
            cells.append(cell)
            deltas.append(row[3])
    headers = ["intervention", "head", *(f"{name}{part}" for name in SCORES for part in ("", " Δ", " Δ low", " Δ high", " p"))]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "table3_scores_under_directions.csv", headers, [[*row[:2], *map(decimal_cell, row[2:])] for row in table])
    base_table = [["none", f"L{h[0]}H{h[1]}", *(float(baseline.mean(c)[h]) for c in SCORES.values())] for h in top]
    text = "\n\n".join(
        [
            "# Table 3: contextual scores under focus directions",
            f"Baseline run: {run_description(base_meta)} ({baseline.n_questions} questions). Heads: the top {args.top} "
            "of the baseline by R. Each cell: the mean score under the direction, then its difference to the baseline "
            "on the same samples with the 95% interval (questions resampled; * where the paired p < 0.05).",
            markdown_table(["intervention", "head", *SCORES], base_table),
            markdown_table(["intervention", "head", *SCORES], cells),
            f"Made by `{command_line()}`.",
        ]
    )
    step_rows, step_cells = _alpha_steps(runs, top)
    step_headers = ["step", "head", *(f"{name}{part}" for name in ("R Δ", "IR max Δ", "IR max Δ - R Δ") for part in ("", " low", " high", " p"))]
    write_csv(out / "table3_alpha_steps.csv", step_headers, [[*row[:2], *map(decimal_cell, row[2:])] for row in step_rows])
    if step_rows:
        text += "\n\n" + "\n\n".join(
            [
                "## Steps between alphas",
                "Between runs of the same direction on the same heads at consecutive alphas (in increasing alpha), on the "
                "same samples: the change of R, of IR max, and of IR max - R (above 0: IR max rose more than R; the "
                "paper reports it from alpha 0.4 to 0.5), "
                "each with its 95% interval by question (* where the paired p < 0.05).",
                markdown_table(["step", "head", "R Δ", "IR max Δ", "IR max Δ - R Δ"], step_cells),
            ]
        )
    (out / "table3_scores_under_directions.md").write_text(text + "\n")

    figure, axis = plt.subplots(figsize=(1.2 + 0.9 * len(runs), 3.6))
    grid = np.asarray(deltas).reshape(len(runs), len(top)).T
    limit = max(1e-9, float(np.nanmax(np.abs(grid))))
    image = axis.imshow(grid, cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
    axis.set_xticks(range(len(runs)), [label for label, _, _ in runs], rotation=45, ha="right", fontsize=8)
    axis.set_yticks(range(len(top)), [f"L{h[0]}H{h[1]}" for h in top], fontsize=8)
    for (i, j), value in np.ndenumerate(grid):
        axis.text(j, i, f"{value:+.3f}", ha="center", va="center", fontsize=7)
    figure.colorbar(image, label="Δ R (long prompt)")
    axis.set_title("Change of R under focus directions", fontsize=9)
    figure.tight_layout()
    figure.savefig(out / "table3_scores_under_directions.png", dpi=150)
    print(text)


if __name__ == "__main__":
    run_script(main)
