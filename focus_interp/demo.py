"""The whole method on one model and generated data, from head scoring to focus directions, into a report folder.

``OUT/heads/`` scores every head on the train samples (contextual heads); ``OUT/directions/`` caches the train
samples' activations and trains focus directions; ``OUT/evaluation/`` answers the test samples under each
configuration (no intervention, gold document alone, distractors alone, split softmax on the top-k and on k random
heads, focus directions at +alpha and -alpha on the top-k heads and at +alpha on k random heads, and +alpha on the
top-k heads edited on the response rows only). Each is a run
folder that a rerun resumes. ``OUT/report.md`` embeds the figures (``heads.png``, ``em.png``,
``directions/losses.png``); ``numbers.json``, ``em.csv`` and ``top_heads.csv`` hold every number it shows, and
``timings.json`` the wall time of each stage (which ``report.md`` quotes; nothing else changes from run to run).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from focus_interp.data import load_multidoc_qa
from focus_interp.data.multidoc.protocols import DEFAULT_PROTOCOL, PROTOCOLS
from focus_interp.directions import read_directions
from focus_interp.directions.run import train_directions
from focus_interp.errors import FocusInterpError
from focus_interp.evaluation.configurations import BASELINES, Configuration, HeadSets
from focus_interp.evaluation.multidoc import run_sweep
from focus_interp.evaluation.result_cells import difference_cell, em_cell
from focus_interp.files import write_atomic, write_csv
from focus_interp.heads import rank_heads
from focus_interp.metrics.intervals import SIGNIFICANCE
from focus_interp.model.loading import LoadedModel
from focus_interp.reports.plots import (
    BASELINE_LINES,
    plot_em_bars,
    plot_head_grid,
    save_figure,
    score_grid,
)
from focus_interp.reports.tables import markdown_table
from focus_interp.scoring.contextual_run import score_heads
from focus_interp.scoring.head_score_files import read_head_scores


@dataclass(frozen=True)
class DemoSizes:
    """How much the demo runs: samples (question x gold position) per split, documents per prompt, response
    tokens, heads k, split-softmax tau, focus-direction strength alpha, training epochs and learning rate (10x the
    training command's default, to make up for the few samples)."""

    n_train: int
    n_test: int
    n_documents: int
    gold_positions: tuple[int, ...]
    max_new_tokens: int
    k: int
    tau: float
    alpha: float
    epochs: int
    lr: float

    def check(self, n_heads: int) -> None:
        if self.n_train < 1 or self.n_test < 1:
            raise FocusInterpError(f"the demo needs at least 1 train and 1 test sample, got {self.n_train} and {self.n_test}")
        if not 1 <= self.k <= n_heads:
            raise FocusInterpError(f"k must be between 1 and the model's {n_heads} heads, got {self.k}")


DEFAULT_SIZES = DemoSizes(24, 24, 20, (1, 10, 20), PROTOCOLS[DEFAULT_PROTOCOL].max_new_tokens, 20, 0.1, 0.5, 10, 1e-2)
QUICK_SIZES = DemoSizes(3, 3, 10, (1, 5, 10), 32, 10, 0.1, 0.5, 5, 1e-2)


def demo_configurations(sizes: DemoSizes) -> list[Configuration]:
    """The baselines, split softmax on the top-k and k random heads, focus directions at +-alpha on the top-k
    and at +alpha on k random heads, and +alpha on the top-k edited on the response rows only (not the paper's)."""
    k, tau, alpha = sizes.k, sizes.tau, sizes.alpha
    return [Configuration(name) for name in BASELINES] + [
        Configuration("split_softmax", "top", k, tau=tau),
        Configuration("split_softmax", "random", k, tau=tau),
        Configuration("focus_direction", "top", k, alpha=alpha),
        Configuration("focus_direction", "top", k, alpha=-alpha),
        Configuration("focus_direction", "random", k, alpha=alpha),
        Configuration("focus_direction", "top", k, alpha=alpha, positions="response"),
    ]


def run_demo(loaded: LoadedModel, out: str | Path, sizes: DemoSizes = DEFAULT_SIZES, seed: int = 0, progress: bool = True) -> dict:
    """Run (or resume) every stage into ``out`` and write the report; returns the numbers of ``numbers.json``."""
    architecture = loaded.architecture
    sizes.check(architecture.n_layers * architecture.n_heads)
    out = Path(out)
    if (out / "meta.json").exists():
        raise FocusInterpError(f"{out} holds a run of another command (it has a meta.json): pass another --out")
    data = {"source": "synthetic", "n_documents": sizes.n_documents, "gold_positions": list(sizes.gold_positions), "seed": seed,
            "protocol": DEFAULT_PROTOCOL}
    rows = {
        split: load_multidoc_qa(
            "synthetic", split=split, n=n, gold_positions=sizes.gold_positions, n_documents=sizes.n_documents, seed=seed
        )
        for split, n in (("train", sizes.n_train), ("test", sizes.n_test))
    }
    timings: dict[str, float] = {}

    def stage(name: str, message: str, work):
        print(f"\n{message}", flush=True)
        started = time.perf_counter()
        result = work()
        timings[name] = round(time.perf_counter() - started, 1)
        return result

    scoring = stage(
        "heads", f"1/3 scoring every head on {sizes.n_train} train samples into {out / 'heads'}",
        lambda: score_heads(loaded, rows["train"], out / "heads", {**data, "split": "train"}, sizes.max_new_tokens, progress=progress),
    ).summary
    if not scoring["n_scored"]:
        raise FocusInterpError("no sample fits the model's window: run the demo with a model of a longer context")
    ranking = rank_heads(read_head_scores(out / "heads" / "head_scores.csv"))
    training = stage(
        "directions", f"2/3 training focus directions on the same samples into {out / 'directions'}",
        lambda: train_directions(
            loaded, rows["train"], out / "directions", {**data, "split": "train"}, epochs=sizes.epochs, lr=sizes.lr,
            seed=seed, max_new_tokens=sizes.max_new_tokens, progress=progress,
        ),
    ).summary
    directions = read_directions(out / "directions" / "directions.safetensors", architecture)
    head_sets = HeadSets(tuple((row["layer"], row["head"]) for row in ranking), "heads", architecture, seed)
    configurations = demo_configurations(sizes)
    evaluation = stage(
        "evaluation", f"3/3 answering {sizes.n_test} test samples under {len(configurations)} configurations into {out / 'evaluation'}",
        lambda: run_sweep(
            loaded, rows["test"], out / "evaluation", configurations, head_sets, {**data, "split": "test"},
            sizes.max_new_tokens, directions=directions, progress=progress,
        ),
    )
    numbers = _numbers(loaded, sizes, seed, scoring, training, ranking, evaluation.table())
    _write_report(out, numbers, score_grid(ranking, "R"), timings)
    return numbers


TOP_COLUMNS = ("layer", "head", "R", "IR", "IR_max", "sink", "R_gold", "R_low", "R_high")
"""The columns of ``top_heads.csv``: the mean scores of the top 20 heads, and R's 95% interval by question."""
EM_COLUMNS = ("intervention", "heads", "k", "tau", "alpha", "positions", "n_questions", "em", "em_low", "em_high", "difference", "difference_low",
              "difference_high", "p_value")
"""The columns of ``em.csv`` (and of ``numbers.json``'s EM rows): EM, its 95% interval by question, and the
paired difference to no intervention with its interval and p-value."""


def _numbers(loaded, sizes, seed, scoring, training, ranking, results) -> dict:
    top = [{key: _rounded(row[key]) for key in TOP_COLUMNS} for row in ranking[:20]]
    overall = [row for row in results if row["gold_position"] == "all"]
    if not overall or not overall[0]["n"]:
        raise FocusInterpError("no test sample fits the model's window: run the demo with a model of a longer context")
    em = [{key: _rounded(row[key]) for key in EM_COLUMNS} for row in overall]
    return {
        "model": loaded.name,
        "seed": seed,
        "sizes": asdict(sizes),
        "heads": {
            **{key: scoring[key] for key in ("n_scored", "n_questions", "em", "em_gold")},
            **{key: [_rounded(bound) for bound in scoring[key]] for key in ("em_interval", "em_gold_interval")}, "top": top,
        },
        "directions": {key: training[key] for key in ("n_trained", "final_loss", "query_norm_mean", "key_norm_mean")},
        "evaluation": {"n": overall[0]["n"], "n_questions": overall[0]["n_questions"], "em": em},
    }


def _with_interval(numbers: dict, key: str) -> str:
    low, high = numbers[f"{key}_interval"]
    bounds = "no interval: 1 question" if low is None else f"{low:.2f}, {high:.2f}"
    return f"{numbers[key]:.2f} [{bounds}]"


def _rounded(value):
    """A float to the 6 decimals of ``results.csv`` (so ``numbers.json``, ``em.csv`` and it agree), NaN (no
    interval) as None; others as given."""
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 6)
    return value


def configuration_label(row: dict) -> str:
    """How the report names a configuration of ``numbers.json``'s EM rows, e.g. "split softmax, top 20 heads, tau 0.1"."""
    names = {"none": "no intervention", "gold_only": "gold document alone", "no_gold": "distractors alone"}
    if row["intervention"] in names:
        return names[row["intervention"]]
    strength = f"tau {row['tau']:g}" if row["tau"] is not None else f"alpha {row['alpha']:+g}"
    kind = "split softmax" if row["intervention"] == "split_softmax" else "focus direction"
    rows = ", response rows only" if row.get("positions") == "response" else ""
    return f"{kind}, {row['heads']} {row['k']} heads, {strength}{rows}"


def _write_report(out: Path, numbers: dict, grid, timings: dict) -> None:
    sizes, heads, directions, evaluation = numbers["sizes"], numbers["heads"], numbers["directions"], numbers["evaluation"]
    model = numbers["model"]
    save_figure(plot_head_grid(grid, f"Relevant score R per head: {model}, {heads['n_scored']} generated train samples"), out / "heads.png")
    em = evaluation["em"]
    colours = [
        BASELINE_LINES[row["intervention"]][1] if row["intervention"] in BASELINE_LINES
        else "tab:gray" if row["heads"] == "random" else "tab:blue"
        for row in em
    ]
    bars = plot_em_bars([configuration_label(row) for row in em], [row["em"] for row in em], colours,
                        f"Exact match on {evaluation['n']} generated test samples ({evaluation['n_questions']} questions): {model}",
                        intervals=[(row["em_low"], row["em_high"]) for row in em])
    save_figure(bars, out / "em.png")
    write_atomic(out / "numbers.json", json.dumps(numbers, indent=2) + "\n")
    write_atomic(out / "timings.json", json.dumps(timings, indent=2) + "\n")
    for name, columns, rows in (
        ("em.csv", EM_COLUMNS, evaluation["em"]),
        ("top_heads.csv", TOP_COLUMNS, heads["top"]),
    ):
        write_csv(out / name, columns, ([row[key] for key in columns] for row in rows))
    top_table = markdown_table(
        ["layer", "head", "R", "IR", "IR_max", "sink", "R_gold", "R 95% interval"],
        [[*(row[key] for key in TOP_COLUMNS[:7]), "–" if row["R_low"] is None else f"[{row['R_low']:.3f}, {row['R_high']:.3f}]"]
         for row in heads["top"][:10]],
    )
    em_table = markdown_table(
        ["configuration", "EM [95% interval]", "difference to no intervention [95% interval], p-value"],
        [[configuration_label(row), em_cell(row), difference_cell(row)] for row in evaluation["em"]],
    )
    unclear = [configuration_label(row) for row in evaluation["em"] if row["p_value"] is not None and row["p_value"] >= SIGNIFICANCE]
    significance = (
        f"Not significantly different from no intervention at the 5% level on these {evaluation['n']} samples: "
        f"{'; '.join(unclear)}." if unclear else "Every configuration differs significantly from no intervention at the 5% level."
    )
    gold = ", ".join(map(str, sizes["gold_positions"]))
    text = f"""# Focus directions on {model}

Generated multi-document questions (seed {numbers['seed']}): {sizes['n_documents']} documents per prompt, one of them
holding the answer (the gold document, at position {gold}); {heads['n_scored']} train and {evaluation['n']} test
samples; greedy answers of up to {sizes['max_new_tokens']} tokens, scored by exact match (EM). Wall time of the
last run of the command: {sum(timings.values()) / 60:.1f} min (scoring {timings['heads']:.0f} s, directions {timings['directions']:.0f} s,
evaluation {timings['evaluation']:.0f} s). Every number below is in `numbers.json`, `em.csv` and `top_heads.csv`.

## 1. Contextual heads

Each head's mean attention from the answer tokens to the gold document (R), to all other documents (IR), to the most
attended other document (IR_max) and to the first 2 tokens (sink); R_gold on the prompt with the gold document alone.
On the {heads['n_scored']} train samples ({heads['n_questions']} questions) the model answers with EM {_with_interval(heads, 'em')}
with all documents and {_with_interval(heads, 'em_gold')} with the gold document alone (95% intervals by question).

![R per head](heads.png)

{top_table}

## 2. Compensating attention and steering it

On the test samples: split softmax (tau {sizes['tau']:g}) scales up the attention of the top {sizes['k']} heads on the
gold document; focus directions trained on the train samples ({sizes['epochs']} epochs at learning rate {sizes['lr']:g}, final loss
{directions['final_loss']:.4f}, mean norm of d_Q {directions['query_norm_mean']:.3f} and of d_K
{directions['key_norm_mean']:.3f}) are added to those heads' queries and keys with alpha {sizes['alpha']:+g} (more
attention to the relevant context) and {-sizes['alpha']:+g} (less). Random heads are a control: {sizes['k']} heads
drawn with the seed. The last configuration adds the {sizes['alpha']:+g} direction on the response rows only (from the
last prompt token on), so it shares the prompt's prefill as split softmax does; the paper edits every position.

![EM per configuration](em.png)

Intervals are 95% cluster-bootstrap intervals over the {evaluation['n_questions']} test questions (a question's
gold positions are resampled together); each difference is paired on the same samples, with the p-value of a sign-flip test by question.

{em_table}

{significance}

Training loss (minus the attention on the gold document, per layer):

![loss](directions/losses.png)

## Files

`heads/` (head_scores.csv, samples.jsonl), `directions/` (directions.safetensors, losses.csv, cache/), `evaluation/`
(results.csv per gold position, samples.jsonl with every response). Rerunning the same command resumes each stage.
"""
    write_atomic(out / "report.md", text)
