"""A long-context run's results as one object: every sample's responses, scores and sink scores under each
configuration, the table of means per task, budget and configuration (``results.csv``: each score's 95% interval
over the samples, and its paired difference to no intervention), a DataFrame, the score grid of Table 2 and its
figure."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from focus_interp.errors import FocusInterpError
from focus_interp.files import write_csv
from focus_interp.metrics.intervals import (
    PAIRED_COLUMNS,
    mean_interval,
    paired_difference,
    question_clusters,
)
from focus_interp.reports.plots import plot_score_differences
from focus_interp.reports.tables import decimal_cell
from focus_interp.runs.run_folder import read_run

RESULT_COLUMNS = ("task", "category", "budget", "configuration", "n", "score", "score_low", "score_high", "difference",
                  "difference_low", "difference_high", "p_value", "sink")

BASELINE = "none"
AVERAGE = "average"


@dataclass
class LongContextResults:
    """``records`` as in ``samples.jsonl`` (per sample: task, category, budget, and per configuration name its
    response, score in [0, 1] and sink score), the configuration names in the order they were run, and the run's
    ``meta``."""

    records: list[dict]
    configurations: list[str]
    meta: dict = field(default_factory=dict)

    @property
    def summary(self) -> dict:
        """What the run's ``meta.json`` says beside its settings (n_evaluated, n_skipped, skipped)."""
        return {key: value for key, value in self.meta.items() if key not in ("settings", "versions", "updated")}

    def table(self) -> list[dict]:
        """One row per (task, budget) and configuration: the columns of ``results.csv``; ``sink`` NaN where no
        response had tokens; the score's 95% interval (a bootstrap over the samples, each its own question), and its difference to no
        intervention on the same samples with interval and p-value (None for no intervention, or without it)."""
        groups: dict[tuple, list[dict]] = {}
        for record in self.records:
            groups.setdefault((record["task"], record["category"], record["budget"]), []).append(record)
        rows = []
        for (task, category, budget), chosen in sorted(groups.items()):
            clusters = question_clusters(chosen)
            for name in self.configurations:
                sinks = [r["sink"][name] for r in chosen if r["sink"][name] is not None]
                scores = [r["scores"][name] for r in chosen]
                interval = mean_interval(scores, clusters)
                row = {
                    "task": task, "category": category, "budget": budget, "configuration": name, "n": len(chosen),
                    "score": interval.estimate, "score_low": interval.low, "score_high": interval.high,
                    **dict.fromkeys(PAIRED_COLUMNS), "sink": float(np.mean(sinks)) if sinks else math.nan,
                }
                if BASELINE in self.configurations and name != BASELINE:
                    row.update(paired_difference(scores, [r["scores"][BASELINE] for r in chosen], clusters).columns())
                rows.append(row)
        return rows

    def to_frame(self):
        """The table as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.table(), columns=RESULT_COLUMNS)

    def score(self, configuration: str, task: str, budget: int | None = None) -> float:
        """Mean score of ``configuration`` on ``task`` (at ``budget``, or over all budgets)."""
        if configuration not in self.configurations:
            raise FocusInterpError(f"no configuration {configuration!r} in these results: they have {', '.join(self.configurations)}")
        chosen = [r for r in self.records if r["task"] == task and budget in (None, r["budget"])]
        if not chosen:
            raise FocusInterpError(f"no sample of {task}{'' if budget is None else f' at {budget} tokens'} in these results")
        return float(np.mean([r["scores"][configuration] for r in chosen]))

    def grid(self, budget: int) -> tuple[list[str], list[str], np.ndarray]:
        """Table 2 at ``budget``: row labels (tasks, then each category's average and the overall average), the
        configurations, and the [rows, configurations] scores in percent."""
        chosen = [row for row in self.table() if row["budget"] == budget]
        if not chosen:
            raise FocusInterpError(f"no sample at {budget} tokens: these results have {', '.join(map(str, self.budgets()))}")
        tasks = list(dict.fromkeys(row["task"] for row in chosen))
        categories = {row["task"]: row["category"] for row in chosen}
        score = {(row["task"], row["configuration"]): 100 * row["score"] for row in chosen}
        grid = [[score[task, name] for name in self.configurations] for task in tasks]
        labels = list(tasks)
        for category in dict.fromkeys(categories.values()):
            members = [i for i, task in enumerate(tasks) if categories[task] == category]
            grid.append(list(np.mean([grid[i] for i in members], axis=0)))
            labels.append(f"{category} ({AVERAGE})")
        grid.append(list(np.mean(grid[: len(tasks)], axis=0)))
        labels.append(AVERAGE)
        return labels, list(self.configurations), np.asarray(grid)

    def budgets(self) -> list[int]:
        return sorted({record["budget"] for record in self.records})

    def plot(self, budget: int | None = None, ax=None):
        """Table 2 at ``budget`` (default: the smallest) as a grid of scores, green where better than no
        intervention; returns the Figure."""
        if not self.records:
            raise FocusInterpError("these results hold no evaluated sample yet")
        budget = self.budgets()[0] if budget is None else budget
        labels, configurations, grid = self.grid(budget)
        baseline = configurations.index(BASELINE) if BASELINE in configurations else None
        return plot_score_differences(labels, configurations, grid, baseline, f"{budget} tokens (green: better than no intervention)", ax)

    def write_csv(self, path: str | Path) -> None:
        """``results.csv``: the table, numbers to 6 decimals, empty where there is none."""
        write_csv(Path(path), RESULT_COLUMNS, (
            [row["task"], row["category"], row["budget"], row["configuration"], row["n"],
             *(decimal_cell(row[column]) for column in RESULT_COLUMNS[5:])]
            for row in self.table()
        ))

    @classmethod
    def load(cls, folder: str | Path) -> LongContextResults:
        """The results of a ``long-context`` run folder."""
        meta, records = read_run(folder, "long-context")
        configurations = meta.get("settings", {}).get("configurations")
        if not isinstance(configurations, list) or not all(isinstance(c, str) for c in configurations):
            raise FocusInterpError(
                f"{folder} is not a long-context run folder (its meta.json names no configurations): run "
                f"`focus-interp long-context ... --out FOLDER` and pass that folder"
            )
        return cls(records, configurations, meta)
