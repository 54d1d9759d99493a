"""Figure 3: EM against the number of top-k contextual heads under split softmax, for each tau.

Reads a sweep run folder of ``focus-interp compensate``; writes ``fig3_split_softmax.png`` and ``.csv`` into
``--out``. Lines: top-k heads at every tau, random heads (dashed) at their tau, and the three baselines (no
intervention on the long prompt, gold document alone, distractors alone) as horizontal lines.
Run: python analyses/fig3_split_softmax.py RUN [--out figures] [--gold-position all]
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from focus_interp.errors import FocusInterpError
from focus_interp.reports import command_line, run_script
from focus_interp.sweeps import read_results

BASELINE_STYLES = {"none": ("baseline (all documents)", "black"), "gold_only": ("gold document alone", "tab:green"), "no_gold": ("no gold document", "tab:red")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="sweep run folder (focus-interp compensate --out RUN)")
    parser.add_argument("--out", default="figures")
    parser.add_argument("--gold-position", default="all", help="a gold position, or 'all'")
    args = parser.parse_args()
    run = Path(args.run)
    results = [r for r in read_results(run / "results.csv") if r["gold_position"] == args.gold_position]
    if not results:
        raise FocusInterpError(f"{run}/results.csv has no rows for gold position {args.gold_position}")
    meta = json.loads((run / "meta.json").read_text())
    n = results[0]["n"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    swept = [r for r in results if r["intervention"] == "split_softmax"]
    lines: dict[tuple[str, float], list[dict]] = {}
    for row in swept:
        lines.setdefault((row["heads"], row["tau"]), []).append(row)
    figure, axis = plt.subplots(figsize=(8, 5))
    colours = plt.cm.viridis_r
    taus = sorted({tau for heads, tau in lines if heads == "top"})
    for (heads, tau), rows in sorted(lines.items()):
        rows = sorted(rows, key=lambda r: r["k"])
        colour = colours(taus.index(tau) / max(1, len(taus) - 1)) if heads == "top" else "tab:orange"
        axis.plot(
            [r["k"] for r in rows], [r["em"] for r in rows], marker="o", color=colour,
            linestyle="-" if heads == "top" else "--", label=f"{heads} heads, tau={tau:g}",
        )
    for row in results:
        if row["intervention"] in BASELINE_STYLES:
            label, colour = BASELINE_STYLES[row["intervention"]]
            axis.axhline(row["em"], color=colour, linestyle=":", label=f"{label}: {row['em']:.3f}")
    axis.set_xscale("log")
    axis.set_xlabel("number of heads k (top-k contextual, or random)")
    axis.set_ylabel("exact match")
    settings = meta["settings"]
    data = settings.get("data", {})
    axis.set_title(
        f"Split softmax on {settings['model']}: {n} {data.get('split', '')} samples, "
        f"{data.get('n_documents', '?')} documents, gold position {args.gold_position}",
        fontsize=10,
    )
    axis.legend(fontsize=7, loc="best")
    figure.tight_layout()
    figure.savefig(out / "fig3_split_softmax.png", dpi=150)
    with open(out / "fig3_split_softmax.csv", "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["intervention", "heads", "k", "tau", "gold_position", "n", "em"])
        for row in results:
            writer.writerow([row["intervention"], row["heads"], row["k"] or "", "" if row["tau"] is None else row["tau"], row["gold_position"], row["n"], f"{row['em']:.6f}"])
    print(f"written: {out}/fig3_split_softmax.png and .csv ({n} samples)\ncommand: {command_line()}")


if __name__ == "__main__":
    run_script(main)
