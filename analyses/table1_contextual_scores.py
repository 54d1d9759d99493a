"""Table 1: contextual scores (R, IR, IR max, Sink) of the top-5 heads in the long, gold, correct and wrong cases.

Reads a scoring run folder; writes ``table1_contextual_scores.md``, ``.csv`` and ``.png`` into ``--out``.
long = the 20-document prompt, gold = the gold-only prompt, correct = EM on both, wrong = EM on gold-only only.
Each score with its 95% interval (questions resampled, a question's gold positions together).
Run: python analyses/table1_contextual_scores.py RUN [--out figures] [--top 5]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

from focus_interp.reports.tables import decimal_cell

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from focus_interp.evaluation.result_cells import p_text
from focus_interp.files import write_csv
from focus_interp.heads import rank_heads
from focus_interp.paper.figures import (
    command_line,
    load_head_run,
    run_description,
    run_script,
)
from focus_interp.reports.tables import markdown_table
from focus_interp.scoring.head_scores import CASES, LONG_SCORES, HeadScores

CASE_COLUMNS = {
    "long": {score: score for score in LONG_SCORES},
    "gold": {"R": "R_gold", "sink": "sink_gold"},
    **{case: {score: f"{score}_{case}" for score in LONG_SCORES} for case in CASES},
}


COMPARISONS = {
    "R − IR max, long": ("R", "IR_max", None),
    "R − IR max, correct": ("R", "IR_max", "correct"),
    "R − IR max, wrong": ("R", "IR_max", "wrong"),
    "Sink gold − Sink long": ("sink_gold", "sink", None),
}
"""Table 1's claims as paired differences: (first score, second score, case)."""


def _difference(values: dict) -> str:
    if np.isnan(values["difference"]):
        return "–"
    return f"{values['difference']:+.3f} [{values['low']:+.3f}, {values['high']:+.3f}], {p_text(values['p_value'])}"


def _fraction(interval) -> str:
    return "–" if interval is None else f"{interval.estimate:.3f} [{interval.low:.3f}, {interval.high:.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="scoring run folder")
    parser.add_argument("--out", default="figures")
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args()
    rows, meta = load_head_run(args.run)
    scores = HeadScores.load(args.run)
    top = rank_heads(rows)[: args.top]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    table, cells = [], []
    for row in top:
        for case, columns in CASE_COLUMNS.items():
            values = [[row[f"{columns[s]}{bound}"] for bound in ("", "_low", "_high")] if s in columns else [np.nan] * 3
                      for s in LONG_SCORES]
            table.append([row["layer"], row["head"], case, *(v for triple in values for v in triple)])
            cells.append([row["layer"], row["head"], case, *("–" if np.isnan(m) else f"{m:.3f} [{lo:.3f}, {hi:.3f}]" for m, lo, hi in values)])
    headers = ["layer", "head", "case", *(f"{s}{bound}" for s in LONG_SCORES for bound in ("", "_low", "_high"))]
    write_csv(out / "table1_contextual_scores.csv", headers, [[*r[:3], *map(decimal_cell, r[3:])] for r in table])
    cases = meta.get("n_cases", {})
    differences = {
        label: scores.score_difference(first, second, case) for label, (first, second, case) in COMPARISONS.items()
    }
    comparison = {
        (row["layer"], row["head"]): [_difference({key: float(grid[row["layer"], row["head"]]) for key, grid in differences[label].items()})
                                      for label in COMPARISONS]
        for row in top
    }
    text = "\n\n".join(
        [
            "# Table 1: contextual scores of the top heads",
            f"Run: {run_description(meta)}, {scores.n_questions} questions. EM long {_fraction(scores.em('em'))}, "
            f"EM gold-only {_fraction(scores.em('em_gold'))}; samples per case: correct {cases.get('correct', '?')}, "
            f"wrong {cases.get('wrong', '?')}. Each score: mean [95% interval], questions resampled.",
            markdown_table(["layer", "head", "case", "R", "IR", "IR max", "Sink"], cells),
            "The paper's comparisons, paired on the same samples (difference [95% interval], sign-flip p-value by "
            "question): R minus IR max per case, and the gold-only prompt's sink minus the long prompt's.",
            markdown_table(["layer", "head", *COMPARISONS], [[row["layer"], row["head"], *comparison[row["layer"], row["head"]]] for row in top]),
            f"Made by `{command_line()}`.",
        ]
    )
    (out / "table1_contextual_scores.md").write_text(text + "\n")

    figure, axes = plt.subplots(1, len(CASE_COLUMNS), figsize=(3.2 * len(CASE_COLUMNS), 3.4), sharey=True)
    width = 0.8 / len(LONG_SCORES)
    for axis, (case, columns) in zip(axes, CASE_COLUMNS.items()):
        for index, score in enumerate(LONG_SCORES):
            values = np.array([row[columns[score]] if score in columns else np.nan for row in top])
            bounds = np.array([[row[f"{columns[score]}{b}"] if score in columns else np.nan for row in top] for b in ("_low", "_high")])
            axis.bar(np.arange(len(top)) + index * width, values, width, yerr=np.abs(bounds - values), capsize=2,
                     error_kw={"elinewidth": 0.7}, label=score)
        axis.set_xticks(np.arange(len(top)) + 0.4 - width / 2, [f"L{r['layer']}H{r['head']}" for r in top], rotation=45)
        axis.set_title(case)
    axes[0].set_ylabel("mean attention mass (95% intervals)")
    axes[-1].legend(fontsize=8)
    figure.suptitle(f"Top-{args.top} contextual heads: {run_description(meta)}", fontsize=9)
    figure.tight_layout()
    figure.savefig(out / "table1_contextual_scores.png", dpi=150)
    print(text)


if __name__ == "__main__":
    run_script(main)
