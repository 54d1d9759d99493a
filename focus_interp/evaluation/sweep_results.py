"""A sweep's results as one object: every sample's responses and EM under each configuration, the table of mean EM
per configuration and gold position (``results.csv``) with its 95% interval (resampled by question) and its paired
difference to no intervention on the same samples, a DataFrame and the EM-against-k figure (Figures 3 and 4)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

from focus_interp.errors import FocusInterpError
from focus_interp.evaluation.configurations import Configuration
from focus_interp.files import write_csv
from focus_interp.metrics.intervals import (
    PAIRED_COLUMNS,
    mean_interval,
    paired_difference,
    question_clusters,
)
from focus_interp.reports.plots import plot_em_against_k
from focus_interp.reports.tables import decimal_cell
from focus_interp.runs.run_folder import read_run

RESULT_COLUMNS = (
    "intervention", "heads", "k", "tau", "alpha", "positions", "heads_source", "gold_position", "n", "n_questions", "em", "em_low",
    "em_high", "difference", "difference_low", "difference_high", "p_value",
)
"""``em_low``-``em_high``: the 95% interval of ``em`` over ``n_questions`` questions; ``difference``: EM minus no
intervention's on the same samples, its interval and the sign-flip p-value by question (empty for no intervention, or
when the sweep has none)."""
CONTROL = "none"


@dataclass
class SweepResults:
    """``records`` as in ``samples.jsonl`` (``em`` maps a configuration's name to 0 or 1), the ``configurations``
    in the order they were run, where top heads came from (``heads_source``) and the seed of the random ones, and
    the run's ``meta``."""

    records: list[dict]
    configurations: list[Configuration]
    heads_source: str = ""
    seed: int = 0
    meta: dict = field(default_factory=dict)

    @property
    def summary(self) -> dict:
        """What the run's ``meta.json`` says beside its settings (n_evaluated, n_skipped, skipped)."""
        return {key: value for key, value in self.meta.items() if key not in ("settings", "versions", "updated")}

    def _source(self, configuration: Configuration) -> str:
        if configuration.heads == "top":
            return self.heads_source
        if configuration.heads == "random":
            return f"random, seed {self.seed + configuration.k}"
        return ""

    def table(self) -> list[dict]:
        """One row per configuration and gold position (then ``all``; samples of your own have no gold position and
        count in ``all`` only): the columns of ``results.csv``, with numbers (``em`` and its interval NaN where
        there is no sample; the comparison None for no intervention, or when the sweep has none)."""
        positions = sorted({record["gold_position"] for record in self.records} - {None})
        control = CONTROL in {c.name for c in self.configurations}
        rows = []
        for configuration in self.configurations:
            for position in [*positions, "all"]:
                chosen = [r for r in self.records if position == "all" or r["gold_position"] == position]
                clusters = question_clusters(chosen)
                row = {
                    **asdict(configuration), "k": configuration.k or None, "heads_source": self._source(configuration),
                    "positions": configuration.positions if configuration.intervention == "focus_direction" else None,
                    "gold_position": str(position), "n": len(chosen), "n_questions": len(set(clusters)),
                    "em": math.nan, "em_low": math.nan, "em_high": math.nan, **dict.fromkeys(PAIRED_COLUMNS),
                }
                if chosen:
                    em = [r["em"][configuration.name] for r in chosen]
                    interval = mean_interval(em, clusters)
                    row.update(em=interval.estimate, em_low=interval.low, em_high=interval.high)
                    if control and configuration.name != CONTROL:
                        row.update(paired_difference(em, [r["em"][CONTROL] for r in chosen], clusters).columns())
                rows.append(row)
        return rows

    def compare(self, configuration: Configuration | str, gold_position: int | str = "all"):
        """``configuration``'s EM minus no intervention's on the same samples (of ``gold_position``, or all), with
        its 95% interval and sign-flip p-value by question (``PairedDifference``)."""
        name = self._name(configuration)
        if CONTROL not in {c.name for c in self.configurations}:
            raise FocusInterpError("these results have no 'none' configuration to compare with: sweep it too")
        chosen = self._chosen(gold_position)
        return paired_difference([r["em"][name] for r in chosen], [r["em"][CONTROL] for r in chosen], question_clusters(chosen))

    def interval(self, configuration: Configuration | str, gold_position: int | str = "all"):
        """Mean EM of ``configuration`` with its 95% interval by question (``Interval``)."""
        name = self._name(configuration)
        chosen = self._chosen(gold_position)
        return mean_interval([r["em"][name] for r in chosen], question_clusters(chosen))

    def _name(self, configuration: Configuration | str) -> str:
        name = configuration if isinstance(configuration, str) else configuration.name
        if name not in {c.name for c in self.configurations}:
            raise FocusInterpError(f"no configuration {name!r} in these results: they have {', '.join(c.name for c in self.configurations)}")
        return name

    def _chosen(self, gold_position: int | str) -> list[dict]:
        chosen = [r for r in self.records if gold_position == "all" or str(r["gold_position"]) == str(gold_position)]
        if not chosen:
            raise FocusInterpError(f"no sample at gold position {gold_position} in these results")
        return chosen

    def to_frame(self):
        """The table as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.table(), columns=RESULT_COLUMNS)

    def em(self, configuration: Configuration | str, gold_position: int | str = "all") -> float:
        """Mean EM of one configuration (or its name) over the samples of ``gold_position`` (or all)."""
        name = self._name(configuration)
        chosen = self._chosen(gold_position)
        return sum(r["em"][name] for r in chosen) / len(chosen)

    def plot(self, strength: str | None = None, gold_position: int | str = "all", ax=None):
        """EM against k, one line per (heads, tau or alpha), the baselines as horizontal lines (Figures 3, 4)."""
        strength = strength or ("tau" if any(c.tau is not None for c in self.configurations) else "alpha")
        rows = [row for row in self.table() if row["gold_position"] == str(gold_position)]
        if not rows:
            raise FocusInterpError(f"no results at gold position {gold_position}")
        model = self.meta.get("settings", {}).get("model", "")
        title = f"EM against k on {model}: {rows[0]['n']} samples, gold position {gold_position}"
        return plot_em_against_k(rows, strength, title, ax=ax)

    def write_csv(self, path: str | Path) -> None:
        """``results.csv``: the table, EM, intervals and differences to 6 decimals, empty where there is none."""
        write_csv(Path(path), RESULT_COLUMNS, (
            [row["intervention"], row["heads"], row["k"], row["tau"], row["alpha"], row["positions"], row["heads_source"],
             row["gold_position"], row["n"], row["n_questions"],
             *(decimal_cell(row[column]) for column in ("em", "em_low", "em_high", *PAIRED_COLUMNS))]
            for row in self.table()
        ))

    @classmethod
    def load(cls, folder: str | Path) -> SweepResults:
        """The results of a sweep's run folder (``compensate``, ``evaluate``, or the demo's ``evaluation``)."""
        meta, records = read_run(folder, "compensate")
        settings = meta.get("settings", {})
        if not isinstance(settings.get("configurations"), list) or not all(isinstance(c, dict) for c in settings["configurations"]):
            raise FocusInterpError(
                f"{folder} is not a sweep's run folder (its meta.json lists no configurations): pass the folder of "
                "`focus-interp compensate` or `evaluate` (--out)"
            )
        configurations = [Configuration(**c) for c in settings["configurations"]]
        return cls(records, configurations, settings.get("heads_source", ""),
                   settings.get("seed", 0), meta)


def configuration_records(configurations: Sequence[Configuration]) -> list[dict]:
    """The configurations as the JSON a run folder keeps of them (whole, so ``SweepResults.load`` rebuilds them;
    ``positions`` only where it is not the default, so folders of earlier versions resume)."""
    return [
        {key: value for key, value in asdict(configuration).items() if key != "positions" or value != "all"}
        for configuration in configurations
    ]
