"""Table 2 (and Tables 4-13): long-context tasks under focus directions, per task and budget, coloured better or
worse than no intervention; and the sink contextual score of the top heads per task with its standard deviation.

Reads a run of ``focus-interp long-context --out RUN``; writes ``table2_long_context.png`` (one panel per budget),
``.csv`` (task, category, budget, configuration, n, score and its 95% interval, the paired difference to no
intervention with its interval and p-value, sink) and ``.md`` into ``--out``.
Run: python analyses/table2_long_context.py RUN [--out figures]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from focus_interp.errors import FocusInterpError
from focus_interp.evaluation.long_context_results import BASELINE, LongContextResults
from focus_interp.metrics.intervals import SIGNIFICANCE
from focus_interp.paper.figures import command_line, run_script
from focus_interp.reports.tables import markdown_table


def _sink_table(rows: list[dict], tasks: list[str]) -> list[list]:
    """Per budget: the no-intervention sink score (percent) of each of ``tasks``, "–" where a task has none at
    that budget, then the mean and standard deviation over the scores present."""
    table = []
    for budget in sorted({row["budget"] for row in rows}):
        sinks = {row["task"]: 100 * row["sink"] for row in rows if row["budget"] == budget and row["configuration"] == BASELINE}
        values = np.asarray([sinks.get(task, np.nan) for task in tasks])
        present = values[~np.isnan(values)]
        spread = (present.mean(), present.std()) if present.size else (np.nan, np.nan)
        table.append([budget, *map(_percent, values), *map(_percent, spread)])
    return table


def _cell(row: dict | None, value: float) -> str:
    """A task's score in percent with its interval, and the difference to no intervention with its p-value; an
    average (no row) as its value alone."""
    if row is None:
        return f"{value:.1f}"
    text = f"{100 * row['score']:.1f} [{100 * row['score_low']:.1f}, {100 * row['score_high']:.1f}]"
    if row["difference"] is not None:
        star = "*" if row["p_value"] < SIGNIFICANCE else ""
        text += f" ({100 * row['difference']:+.1f}, p {row['p_value']:.2f}{star})"
    return text


def _percent(value: float) -> str:
    return "–" if np.isnan(value) else f"{value:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="long-context run folder")
    parser.add_argument("--out", default="figures")
    args = parser.parse_args()
    results = LongContextResults.load(args.run)
    rows = results.table()
    if not rows:
        raise FocusInterpError(f"{args.run} has no evaluated samples yet: run `focus-interp long-context --out {args.run}`")
    if BASELINE not in results.configurations:
        raise FocusInterpError(f"{args.run} has no run without intervention to compare with")
    meta = results.meta
    tables = {budget: results.grid(budget) for budget in results.budgets()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    figure, axes = plt.subplots(1, len(tables), figsize=(6.5 * len(tables), 0.45 * max(len(t[0]) for t in tables.values()) + 2.5), squeeze=False)
    for axis, budget in zip(axes[0], tables):
        results.plot(budget, ax=axis)
    figure.suptitle(f"{meta.get('model', '?')}: long-context tasks under focus directions, score (%)", fontsize=10)
    figure.tight_layout()
    figure.savefig(out / "table2_long_context.png", dpi=150)

    results.write_csv(out / "table2_long_context.csv")

    sections = ["# Table 2: long-context tasks under focus directions", f"Run: {meta.get('model', '?')}, "
                f"{meta.get('n_evaluated', '?')} samples ({Path(args.run).name}). Scores in percent with their 95% "
                "interval; under each configuration its paired difference to no intervention on the same samples "
                "and p-value (* where p < 0.05). Category and overall averages have no interval."]
    cells_of = {(row["task"], row["budget"], row["configuration"]): row for row in rows}
    for budget, (labels, configurations, grid) in tables.items():
        cells = []
        for label, values in zip(labels, grid):
            cells.append([label, *(_cell(cells_of.get((label, budget, c)), v) for c, v in zip(configurations, values))])
        n = {row["task"]: row["n"] for row in rows if row["budget"] == budget}
        sections += [f"## {budget} tokens ({', '.join(f'{task} {count}' for task, count in n.items())} samples)",
                     markdown_table(["task", *configurations], cells)]
    tasks = list(dict.fromkeys(row["task"] for row in rows))
    sections += ["## Sink contextual score of the top heads without intervention (%; Tables 12-13)",
                 markdown_table(["budget", *tasks, "mean", "STD"], _sink_table(rows, tasks)), f"Made by `{command_line()}`."]
    (out / "table2_long_context.md").write_text("\n\n".join(sections) + "\n")
    print("\n\n".join(sections))


if __name__ == "__main__":
    run_script(main)
