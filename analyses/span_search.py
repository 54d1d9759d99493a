"""The authors' span search against exact spans: how often their fuzzy search misplaces a document or the
response, and how much the top heads change.

Reads two scoring runs over the same samples, ``focus-interp heads ... --span-search exact --out EXACT`` and
``focus-interp heads ... --span-search authors --out AUTHORS``; writes ``span_search.md`` and ``span_search.csv``
(one row per sample: documents, windows shifted, mean and largest shift in tokens, windows reaching outside their
document's line, whether the response window is misplaced, shared heads among the top 10 by R) into ``--out``.
Run: python analyses/span_search.py EXACT AUTHORS [--out figures]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from focus_interp.errors import FocusInterpError
from focus_interp.files import write_csv
from focus_interp.heads import rank_heads
from focus_interp.paper.figures import command_line, run_script
from focus_interp.reports.tables import markdown_table
from focus_interp.scoring.head_scores import HeadScores

TOP = 10


def _top(grid: np.ndarray, k: int = TOP) -> set[tuple[int, int]]:
    rows = [{"layer": layer, "head": head, "R": float(grid[layer, head])} for layer, head in np.ndindex(grid.shape)]
    return {(row["layer"], row["head"]) for row in rank_heads(rows, "R")[:k]}


def _placement(record: dict) -> dict:
    """Window counts of one authors' record: documents, shifted, shifts (found start - exact start), outside."""
    documents = record["placement"]["relevant"] + record["placement"]["irrelevant"]
    shifts, outside, missing = [], 0, 0
    for document in documents:
        found, exact, line = document["found"], document["exact"], document["line"]
        if found is None:
            missing += 1
            continue
        shifts.append(found[0] - exact[0])
        outside += found[0] < line[0] or found[1] > line[1]
    response = record["placement"]["response"]
    return {"documents": len(documents), "missing": missing, "shifts": shifts, "outside": outside,
            "response_misplaced": response["found"] != response["exact"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exact", help="scoring run with exact spans")
    parser.add_argument("authors", help="scoring run of the same samples with --span-search authors")
    parser.add_argument("--out", default="figures")
    args = parser.parse_args()
    exact, authors = HeadScores.load(args.exact), HeadScores.load(args.authors)
    if authors.meta.get("settings", {}).get("span_search") != "authors":
        raise FocusInterpError(f"{args.authors} was not scored with --span-search authors")
    ours = {record["id"]: index for index, record in enumerate(exact.records)}
    shared_ids = [record["id"] for record in authors.records if record["id"] in ours]
    if not shared_ids:
        raise FocusInterpError("the two runs share no sample: score the same data and split in both")
    exact_R, authors_R = exact.per_sample("R"), authors.per_sample("R")
    table, all_shifts, totals = [], [], {"documents": 0, "outside": 0, "missing": 0, "misplaced": 0}
    for index, record in enumerate(authors.records):
        if record["id"] not in ours:
            continue
        counts = _placement(record)
        shifts = counts["shifts"]
        all_shifts += shifts
        totals["documents"] += counts["documents"]
        totals["outside"] += counts["outside"]
        totals["missing"] += counts["missing"]
        totals["misplaced"] += counts["response_misplaced"]
        grid_ours, grid_theirs = exact_R[ours[record["id"]]].numpy(), authors_R[index].numpy()
        overlap = "" if np.isnan(grid_theirs).all() else len(_top(grid_ours) & _top(grid_theirs))
        table.append([record["id"], counts["documents"], sum(shift != 0 for shift in shifts),
                      f"{np.mean(shifts):.2f}" if shifts else "", min(shifts, default=0), counts["outside"],
                      int(counts["response_misplaced"]), overlap])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    columns = ["id", "documents", "shifted", "mean_shift", "most_left_shift", "outside_line", "response_misplaced", f"top{TOP}_shared"]
    write_csv(out / "span_search.csv", columns, table)
    shifts = np.asarray(all_shifts)
    mean_top = len(_top(np.nanmean(exact_R.numpy(), 0)) & _top(np.nanmean(authors_R.numpy(), 0)))
    overlaps = [row[-1] for row in table if row[-1] != ""]
    summary = [
        ["samples", len(table)],
        ["document windows", totals["documents"]],
        ["not found (overlap at most 0.7)", totals["missing"]],
        ["shifted from the exact span", f"{np.sum(shifts != 0)} ({np.mean(shifts != 0):.1%})"],
        ["shifted left / right", f"{np.sum(shifts < 0)} / {np.sum(shifts > 0)}"],
        ["largest shift left, tokens", int(-shifts.min()) if shifts.size and shifts.min() < 0 else 0],
        ["reaching outside their document's line", f"{totals['outside']} ({totals['outside'] / max(totals['documents'], 1):.1%})"],
        ["samples whose response window is misplaced", totals["misplaced"]],
        [f"top-{TOP} heads shared per sample, mean (min)", f"{np.mean(overlaps):.1f} ({min(overlaps)})" if overlaps else "–"],
        [f"top-{TOP} heads of the mean R shared", mean_top],
    ]
    text = "\n\n".join([
        "# The authors' span search against exact spans",
        f"Runs: {args.exact} (exact spans) and {args.authors} (the authors' search), {exact.meta.get('model', '?')}.",
        markdown_table(["", "count"], summary),
        f"Made by `{command_line()}`.",
    ])
    (out / "span_search.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    run_script(main)
