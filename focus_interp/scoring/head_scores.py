"""Head scores as one object: each scored sample's [layers, heads] scores, their means (over all samples or one case
of Table 1) with their 95% intervals (questions resampled, a question's samples together), the top heads, a DataFrame
and a heatmap. A run folder (``samples.jsonl``, ``meta.json``,
``head_scores.csv``) is its form on disk: ``save`` writes one, ``load`` reads one back."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from focus_interp.errors import FocusInterpError
from focus_interp.files import write_csv
from focus_interp.heads import Head, rank_heads
from focus_interp.metrics.intervals import (
    mean_interval,
    mean_intervals,
    paired_differences,
    question_clusters,
    resampled_means,
)
from focus_interp.reports.plots import plot_head_grid
from focus_interp.runs.run_folder import RunFolder, read_run
from focus_interp.scoring.contextual import SCORE_NAMES

LONG_SCORES = ("R", "IR", "IR_max", "sink")
CASES = {
    "correct": lambda r: r["em_gold"] == 1 and r["em"] == 1,
    "wrong": lambda r: r["em_gold"] == 1 and r["em"] == 0,
}
"""Table 1's cases: EM on the gold-only prompt and on the long prompt (correct), or on the gold-only one only (wrong)."""
MEANS = (*SCORE_NAMES, *(f"{s}_{case}" for case in CASES for s in LONG_SCORES))
COLUMNS = ("layer", "head", *(f"{mean}{bound}" for mean in MEANS for bound in ("", "_low", "_high")))
"""The columns of a contextual ``head_scores.csv``: each mean, then its 95% interval (``R``, ``R_low``, ``R_high``, ...)."""
KINDS = {"contextual": SCORE_NAMES, "retrieval": ("retrieval",)}
_LABELS = {
    "R": "mean attention on the gold document",
    "IR": "mean attention on the irrelevant documents",
    "IR_max": "mean attention on the most-attended irrelevant document",
    "sink": "mean attention on the sink tokens",
    "R_gold": "mean attention on the gold document (gold-only prompt)",
    "sink_gold": "mean attention on the sink tokens (gold-only prompt)",
    "retrieval": "retrieval score",
}


@dataclass
class HeadScores:
    """The scores of one run: ``records`` as in ``samples.jsonl`` (``scores`` holds each name's [layers][heads] list,
    None for a sample whose response was empty), the model's sizes, and the run's ``meta`` (``meta.json``).

    ``kind`` is ``contextual`` (R, IR, IR_max, sink, R_gold, sink_gold; per case: ``correct``, ``wrong``) or
    ``retrieval`` (``retrieval``, averaged over the tests whose answer counts, as Wu et al.).
    """

    records: list[dict]
    n_layers: int
    n_heads: int
    kind: str = "contextual"
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise FocusInterpError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")

    @property
    def names(self) -> tuple[str, ...]:
        """The score names this run has."""
        return KINDS[self.kind]

    @property
    def summary(self) -> dict:
        """What the run's ``meta.json`` says beside its settings (n_scored, n_skipped, EM, ...)."""
        return {key: value for key, value in self.meta.items() if key not in ("settings", "versions", "updated")}

    def _counted(self, case: str | None = None) -> list[dict]:
        records = [r for r in self.records if r.get("counted", True)]
        if case is None:
            return records
        if self.kind != "contextual" or case not in CASES:
            raise FocusInterpError(f"case must be one of {', '.join(CASES)} (contextual scores only), got {case!r}")
        return [r for r in records if CASES[case](r)]

    def _check_name(self, name: str) -> None:
        if name not in self.names:
            raise FocusInterpError(f"no score '{name}' in {self.kind} scores: choose one of {', '.join(self.names)}")

    def per_sample(self, name: str = "R", case: str | None = None) -> Float[Tensor, "samples layers heads"]:
        """Every counted sample's scores ``name``; NaN for a sample without that score (an empty response)."""
        self._check_name(name)
        empty = torch.full((self.n_layers, self.n_heads), math.nan, dtype=torch.float64)
        grids = [
            empty if r["scores"].get(name) is None else torch.tensor(r["scores"][name], dtype=torch.float64)
            for r in self._counted(case)
        ]
        return torch.stack(grids) if grids else empty[None][:0]

    def mean(self, name: str = "R", case: str | None = None) -> Float[Tensor, "layers heads"]:
        """The mean of ``name`` over the samples that have it (of ``case`` when given); NaN when none has."""
        scores = self.per_sample(name, case)
        present = ~scores[:, 0, 0].isnan()
        if not present.any():
            return torch.full((self.n_layers, self.n_heads), math.nan, dtype=torch.float64)
        return scores[present].mean(0)

    def interval(self, name: str = "R", case: str | None = None) -> tuple[Float[Tensor, "layers heads"], Float[Tensor, "layers heads"]]:
        """The 95% interval (low, high) of ``mean(name, case)``: a cluster bootstrap over the questions, each
        question's samples (its gold positions) drawn together; NaN where no sample has the score."""
        _, low, high = self._intervals(name, case)
        return torch.from_numpy(low), torch.from_numpy(high)

    def _intervals(self, name: str, case: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        scores = self.per_sample(name, case).numpy()
        return mean_intervals(scores, question_clusters(self._counted(case)))

    def compare(self, baseline: HeadScores, name: str = "R", minus: str | None = None) -> dict[str, Float[Tensor, "layers heads"]]:
        """These scores minus ``baseline``'s on the same samples (matched by id; e.g. under a focus direction
        against without one): ``difference``, its 95% interval ``low``-``high`` and ``p_value``, paired by sample
        and resampled by question. A pair where either run lacks the score is left out; NaN only where no pair has
        it. With ``minus``, the score compared is ``name - minus`` of each sample (a pair is left out when either
        score is missing in either run): e.g. ``higher.compare(lower, "IR_max", minus="R")`` is how much more IR
        max rose than R from ``lower`` to these scores (Table 3)."""
        self._check_name(name)
        if minus is not None:
            self._check_name(minus)
        mine = {r["id"]: index for index, r in enumerate(self._counted())}
        theirs = {r["id"]: index for index, r in enumerate(baseline._counted())}
        shared = [sample for sample in mine if sample in theirs]
        if not shared:
            raise FocusInterpError("the two runs share no scored sample: score the same samples in both")
        def score(scores: HeadScores) -> Tensor:
            return scores.per_sample(name) - (scores.per_sample(minus) if minus is not None else 0)

        treated = score(self)[[mine[s] for s in shared]].numpy()
        control = score(baseline)[[theirs[s] for s in shared]].numpy()
        clusters = question_clusters([self._counted()[mine[s]] for s in shared])
        values = paired_differences(treated, control, clusters)
        return {key: torch.from_numpy(np.asarray(value)) for key, value in zip(("difference", "low", "high", "p_value"), values)}

    def score_difference(self, first: str = "R", second: str = "IR_max", case: str | None = None) -> dict[str, Float[Tensor, "layers heads"]]:
        """Score ``first`` minus score ``second`` on the same samples (of ``case``), e.g. R against IR_max (Table 1)
        or sink_gold against sink: ``difference``, its 95% interval ``low``-``high`` and ``p_value``, paired by
        sample and resampled by question."""
        treated, control = self.per_sample(first, case).numpy(), self.per_sample(second, case).numpy()
        if not len(treated):
            nan = torch.full((self.n_layers, self.n_heads), math.nan, dtype=torch.float64)
            return {key: nan.clone() for key in ("difference", "low", "high", "p_value")}
        values = paired_differences(treated, control, question_clusters(self._counted(case)))
        return {key: torch.from_numpy(np.asarray(value)) for key, value in zip(("difference", "low", "high", "p_value"), values)}

    def em(self, key: str = "em"):
        """EM on the long prompt (``em``) or the gold-only one (``em_gold``) over the counted samples that have
        it, with its 95% interval by question (an ``Interval``; None when no sample has it)."""
        if self.kind != "contextual" or key not in ("em", "em_gold"):
            raise FocusInterpError(f"EM is 'em' or 'em_gold' of contextual scores, got {key!r} of {self.kind} scores")
        chosen = [r for r in self._counted() if r.get(key) is not None]
        return mean_interval([r[key] for r in chosen], question_clusters(chosen)) if chosen else None

    @property
    def n_questions(self) -> int:
        """How many questions the counted samples come from (the clusters of the intervals)."""
        return len(set(question_clusters(self._counted())))

    @property
    def R(self) -> Float[Tensor, "layers heads"]:
        return self.mean("R")

    @property
    def IR(self) -> Float[Tensor, "layers heads"]:
        return self.mean("IR")

    @property
    def IR_max(self) -> Float[Tensor, "layers heads"]:
        return self.mean("IR_max")

    @property
    def sink(self) -> Float[Tensor, "layers heads"]:
        return self.mean("sink")

    @property
    def R_gold(self) -> Float[Tensor, "layers heads"]:
        return self.mean("R_gold")

    @property
    def sink_gold(self) -> Float[Tensor, "layers heads"]:
        return self.mean("sink_gold")

    @property
    def retrieval(self) -> Float[Tensor, "layers heads"]:
        return self.mean("retrieval")

    def table(self) -> dict[str, np.ndarray]:
        """Column of ``head_scores.csv`` -> [layers, heads]: each mean (per case too, for contextual scores) followed
        by its 95% interval, ``{name}_low`` and ``{name}_high``."""
        means = [(name, name, None) for name in self.names]
        if self.kind == "contextual":
            means += [(f"{name}_{case}", name, case) for case in CASES for name in LONG_SCORES]
        table = {}
        for column, name, case in means:
            _, low, high = self._intervals(name, case)
            table.update({column: self.mean(name, case).numpy(), f"{column}_low": low, f"{column}_high": high})
        return table

    def to_frame(self):
        """A pandas DataFrame, one row per (layer, head), one column per score (and per case): ``head_scores.csv``."""
        import pandas as pd

        table = self.table()
        layers, heads = np.meshgrid(range(self.n_layers), range(self.n_heads), indexing="ij")
        return pd.DataFrame({"layer": layers.ravel(), "head": heads.ravel(), **{k: v.ravel() for k, v in table.items()}})

    def top(self, k: int, by: str | None = None) -> list[Head]:
        """The ``k`` heads with the highest mean ``by`` (R, or retrieval), best first, as (layer, head)."""
        by = by or self.names[0]
        self._check_name(by)
        if k < 0:
            raise FocusInterpError(f"k must be 0 or more, got {k}")
        grid = self.mean(by).numpy()
        rows = [{"layer": layer, "head": head, by: grid[layer, head]} for layer in range(self.n_layers) for head in range(self.n_heads)]
        return [(row["layer"], row["head"]) for row in rank_heads(rows, by)[:k]]

    def plot(self, name: str | None = None, ax=None, case: str | None = None):
        """A layer x head heatmap of the mean ``name`` (of ``case``); returns its Figure (shown inline in a notebook)."""
        name = name or self.names[0]
        scores = self.mean(name, case).numpy()
        model = self.meta.get("model") or self.meta.get("settings", {}).get("model", "")
        n = len(self._counted(case))
        title = f"{name} per head{f' ({case})' if case else ''}: {model}, {n} samples"
        return plot_head_grid(scores, title, ax=ax, label=_LABELS[name])

    def write_csv(self, path: str | Path) -> None:
        """``head_scores.csv``: one row per (layer, head), the means and their intervals to 6 decimals, empty where no
        sample has one."""
        table = self.table()
        write_csv(Path(path), ("layer", "head", *table), (
            [layer, head, *("" if math.isnan(v) else f"{v:.6f}" for v in (column[layer, head] for column in table.values()))]
            for layer in range(self.n_layers)
            for head in range(self.n_heads)
        ))

    def save(self, folder: str | Path) -> None:
        """Write this run as a run folder (samples, meta, head_scores.csv); a folder of another run is refused."""
        with RunFolder(folder, self.meta.get("settings", {})) as run:
            if run.records():
                raise FocusInterpError(f"{run.path} already holds samples: save into a new folder")
            for record in self.records:
                run.append(record)
            self.record_in(run, self.summary)

    def record_in(self, folder: RunFolder, summary: dict) -> None:
        """Keep these scores in ``folder``: its ``head_scores.csv`` (for a run on disk) and its ``meta.json``
        (``summary``, the model's sizes and the kind, which ``load`` reads back); ``meta`` becomes that meta.json."""
        if folder.path is not None:
            self.write_csv(folder.path / "head_scores.csv")
        folder.write_meta({**summary, "n_layers": self.n_layers, "n_heads": self.n_heads, "kind": self.kind})
        self.meta = folder.meta

    @classmethod
    def load(cls, folder: str | Path) -> HeadScores:
        """The scores of a run folder written by a scoring run (``heads``, ``retrieval-heads``) or by ``save``."""
        meta, records = read_run(folder, "heads")
        kind = meta.get("kind") or ("retrieval" if "min_recall" in meta.get("settings", {}) else "contextual")
        n_layers, n_heads = meta.get("n_layers"), meta.get("n_heads")
        if n_layers is None:
            if not records:
                raise FocusInterpError(f"{folder} holds no scored sample and does not give the model's sizes")
            grid = next(iter(r["scores"][KINDS[kind][0]] for r in records if r["scores"].get(KINDS[kind][0]) is not None), None)
            if grid is None:
                raise FocusInterpError(f"{folder} holds no sample with scores")
            n_layers, n_heads = len(grid), len(grid[0])
        return cls(records, n_layers, n_heads, kind, meta)


def shared_top_heads(first: HeadScores, second: HeadScores, k: int = 20) -> tuple[int, float, float]:
    """How many heads the top-``k`` lists of two runs share (each ranked by its first score, among the heads
    scoring above 0, as Figure 9), and that count's 95% interval when each run's questions are resampled."""
    def top_sets(grids: np.ndarray) -> np.ndarray:
        flat = grids.reshape(len(grids), -1)
        ranked = np.where(np.isnan(flat) | (flat <= 0), -np.inf, flat)
        order = np.argsort(-ranked, axis=1, kind="stable")[:, :k]
        chosen = np.zeros_like(flat, dtype=bool)
        np.put_along_axis(chosen, order, np.take_along_axis(ranked, order, axis=1) > -np.inf, axis=1)
        return chosen

    def means_and_resamples(scores: HeadScores, seed: int) -> tuple[np.ndarray, np.ndarray]:
        values = scores.per_sample(scores.names[0]).numpy()
        resampled = resampled_means(values, question_clusters(scores._counted()), seed=seed)
        return scores.mean(scores.names[0]).numpy()[None], resampled

    (first_mean, first_resampled), (second_mean, second_resampled) = (
        means_and_resamples(first, seed=0), means_and_resamples(second, seed=1)  # the two runs resampled independently
    )
    observed = int((top_sets(first_mean) & top_sets(second_mean)).sum())
    shared = (top_sets(first_resampled) & top_sets(second_resampled)).sum(axis=1)
    low, high = np.percentile(shared, [2.5, 97.5])
    return observed, float(low), float(high)
