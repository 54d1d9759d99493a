"""Evaluation sweeps into a run folder: EM of every configuration on every sample, per gold position.

A configuration is no intervention, a baseline prompt (gold document alone, distractors alone), a split softmax
(heads, k, tau) or a focus direction (heads, k, alpha). ``samples.jsonl`` holds each sample's responses and EM
under every configuration; ``results.csv`` has one row per configuration and gold position (and ``all``):
intervention, heads, k, tau, alpha, heads_source, gold_position, n, em. A rerun resumes.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

from focus_interp.architecture import Architecture
from focus_interp.directions import Directions
from focus_interp.data import gold_parts, gold_segment, long_parts, no_gold_parts
from focus_interp.errors import FocusInterpError
from focus_interp.evaluation import generate_split_softmax_sweep, generate_with_interventions
from focus_interp.generation import check_fits_window, greedy_response
from focus_interp.heads import Head, random_heads
from focus_interp.interventions import FocusDirection, SplitSoftmax
from focus_interp.interventions.split_softmax import check_tau
from focus_interp.metrics import best_subspan_em
from focus_interp.models import LoadedModel
from focus_interp.prompts import build_prompt
from focus_interp.runs import RunFolder, evaluate_rows, read_csv_rows, sample_settings, write_atomic

RESULT_COLUMNS = ("intervention", "heads", "k", "tau", "alpha", "heads_source", "gold_position", "n", "em")
BASELINES = ("none", "gold_only", "no_gold")


@dataclass(frozen=True)
class Configuration:
    """One evaluated setting; ``heads`` is ``top`` (the ranking) or ``random`` (seeded draw of k heads)."""

    intervention: str
    heads: str = ""
    k: int = 0
    tau: float | None = None
    alpha: float | None = None

    @property
    def name(self) -> str:
        parts = [self.intervention]
        if self.heads:
            parts.append(f"{self.heads} k={self.k}")
        if self.tau is not None:
            parts.append(f"tau={self.tau:g}")
        if self.alpha is not None:
            parts.append(f"alpha={self.alpha:g}")
        return " ".join(parts)


def capped_k(k_values: Sequence[int | str], n_heads: int) -> list[int]:
    """k values with ``all`` (or anything above the model's head count) replaced by that count, without repeats."""
    capped = []
    for k in k_values:
        try:
            value = n_heads if k == "all" else int(k)
        except ValueError:
            raise FocusInterpError(f"k must be a whole number or 'all', got {k!r}") from None
        if value < 1:
            raise FocusInterpError(f"k must be at least 1 or 'all', got {k}")
        value = min(value, n_heads)
        if value not in capped:
            capped.append(value)
    return capped


def split_softmax_configurations(
    k_values: Sequence[int], taus: Sequence[float], random_taus: Sequence[float] = ()
) -> list[Configuration]:
    """The baselines, then top-k heads at every tau, then random heads at every ``random_taus``."""
    configurations = [Configuration(name) for name in BASELINES]
    configurations += [Configuration("split_softmax", "top", k, tau=tau) for tau in taus for k in k_values]
    configurations += [Configuration("split_softmax", "random", k, tau=tau) for tau in random_taus for k in k_values]
    return configurations


def focus_direction_configurations(k_values: Sequence[int], alphas: Sequence[float]) -> list[Configuration]:
    """The baselines, then top-k heads at every alpha."""
    return [Configuration(name) for name in BASELINES] + [
        Configuration("focus_direction", "top", k, alpha=alpha) for alpha in alphas for k in k_values
    ]


@dataclass(frozen=True)
class HeadSets:
    """Where a configuration's heads come from: a ranking (best first) and seeded random draws."""

    ranking: tuple[Head, ...]
    source: str
    architecture: Architecture
    seed: int = 0

    def heads(self, configuration: Configuration) -> tuple[Head, ...]:
        if configuration.heads == "random":
            return tuple(random_heads(self.architecture, configuration.k, seed=self.seed + configuration.k))
        if configuration.k > len(self.ranking):
            raise FocusInterpError(f"top-{configuration.k} heads asked for, {self.source} ranks only {len(self.ranking)}")
        return self.ranking[: configuration.k]


def run_sweep(
    loaded: LoadedModel,
    rows,
    out: str | Path,
    configurations: Sequence[Configuration],
    head_sets: HeadSets,
    data: dict | None = None,
    max_new_tokens: int = 32,
    directions: Directions | None = None,
    batch_size: int = 16,
    progress: bool = True,
) -> dict:
    """Evaluate every configuration on every row not yet in ``out``, rewriting ``results.csv`` after each row;
    returns the summary.

    Split softmaxes share each prompt's prefill (``generate_split_softmax_sweep``); focus directions need
    ``directions`` and run one generation each. Rows whose prompts do not fit the
    window are skipped and listed in ``meta.json``.
    """
    if batch_size < 1:
        raise FocusInterpError(f"batch_size must be at least 1, got {batch_size}")
    for configuration in configurations:
        if configuration.heads:
            head_sets.heads(configuration)
        if configuration.tau is not None:
            check_tau(configuration.tau)
    direction_edits = {
        c.name: focus_direction_edit(c, head_sets, directions, loaded.architecture)
        for c in configurations
        if c.intervention == "focus_direction"
    }
    settings = {
        **sample_settings(loaded.name, rows, data, max_new_tokens),
        "heads_source": head_sets.source,
        "ranking": [list(head) for head in head_sets.ranking],
        "seed": head_sets.seed,
        "directions": None if directions is None else directions.describe(),
        "configurations": [configuration.name for configuration in configurations],
    }
    folder = RunFolder(out, settings)
    records = folder.records()
    plain: dict[tuple[int, ...], list[int]] = {}

    def evaluate(row: dict) -> dict:
        return _evaluate_row(loaded, row, configurations, head_sets, max_new_tokens, direction_edits, batch_size, plain)

    def write() -> None:
        write_results(folder.path / "results.csv", records, configurations, head_sets)

    return evaluate_rows(folder, rows, evaluate, records, write, loaded.name, "evaluating", progress)


def focus_direction_edit(
    configuration: Configuration, head_sets: HeadSets, directions: Directions | None, architecture: Architecture
) -> FocusDirection:
    """The focus direction of a configuration on its heads, checked against the model."""
    if directions is None:
        raise FocusInterpError("focus-direction configurations need a directions file (--directions)")
    edit = FocusDirection(head_sets.heads(configuration), directions.query, directions.key, configuration.alpha, directions.site)
    edit.check(architecture)
    return edit


def _evaluate_row(loaded, row, configurations, head_sets, max_new_tokens, direction_edits, batch_size, plain) -> dict:
    """One sample's record; ``direction_edits`` holds the focus direction of each such configuration by name. ``plain`` memoises responses without intervention by prompt: the gold-only and
    no-gold prompts of one question are the same for each of its gold positions."""
    tokenizer = loaded.tokenizer
    prompt = build_prompt(tokenizer, long_parts(row))
    check_fits_window(loaded, len(prompt), max_new_tokens)
    span, last = prompt.spans[gold_segment(row)], len(prompt) - 1
    responses: dict[str, list[int]] = {}
    swept = [c for c in configurations if c.intervention in ("none", "split_softmax")]
    edits = [
        None if c.intervention == "none" else SplitSoftmax(head_sets.heads(c), span, c.tau, last) for c in swept
    ]
    if swept:
        outputs = generate_split_softmax_sweep(loaded, prompt, edits, max_new_tokens, batch_size)
        responses.update({c.name: output for c, output in zip(swept, outputs)})
    for configuration in configurations:
        if configuration.intervention in ("gold_only", "no_gold"):
            parts = gold_parts(row) if configuration.intervention == "gold_only" else no_gold_parts(row)
            baseline = build_prompt(tokenizer, parts)
            if baseline.input_ids not in plain:
                plain[baseline.input_ids] = greedy_response(loaded, baseline, max_new_tokens)
            responses[configuration.name] = plain[baseline.input_ids]
        elif configuration.intervention == "focus_direction":
            edit = direction_edits[configuration.name]
            responses[configuration.name] = generate_with_interventions(loaded, prompt, [edit], max_new_tokens)
    texts = {name: tokenizer.decode(ids) for name, ids in responses.items()}
    return {
        "id": row["id"],
        "question": row["question"],
        "answers": list(row["answers"]),
        "gold_position": row["gold_position"],
        "responses": texts,
        "em": {name: best_subspan_em(text, row["answers"]) for name, text in texts.items()},
    }


def _heads_source(configuration: Configuration, head_sets: HeadSets) -> str:
    if configuration.heads == "top":
        return head_sets.source
    if configuration.heads == "random":
        return f"random, seed {head_sets.seed + configuration.k}"
    return ""


def write_results(path: Path, records: list[dict], configurations: Sequence[Configuration], head_sets: HeadSets) -> None:
    """``results.csv``: mean EM of each configuration per gold position and over all samples."""
    positions = sorted({record["gold_position"] for record in records})
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(RESULT_COLUMNS)
    for configuration in configurations:
        settings = asdict(configuration)
        for position in [*positions, "all"]:
            chosen = [r for r in records if position == "all" or r["gold_position"] == position]
            em = sum(r["em"][configuration.name] for r in chosen) / len(chosen) if chosen else float("nan")
            writer.writerow(
                [
                    configuration.intervention,
                    configuration.heads,
                    configuration.k or "",
                    "" if settings["tau"] is None else settings["tau"],
                    "" if settings["alpha"] is None else settings["alpha"],
                    _heads_source(configuration, head_sets),
                    position,
                    len(chosen),
                    f"{em:.6f}",
                ]
            )
    write_atomic(path, text.getvalue())


def read_results(path: str | Path) -> list[dict]:
    """Rows of a ``results.csv`` with numbers parsed (None for empty cells)."""
    path = Path(path)
    hint = f"no results at {path}: run `focus-interp compensate ... --out {path.parent}` first"
    return [
        {
            **row,
            "k": int(row["k"]) if row["k"] else None,
            "tau": float(row["tau"]) if row["tau"] else None,
            "alpha": float(row["alpha"]) if row["alpha"] else None,
            "n": int(row["n"]),
            "em": float(row["em"]),
        }
        for row in read_csv_rows(path, RESULT_COLUMNS, hint, "results.csv")
    ]
