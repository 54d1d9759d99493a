"""Cost of each extra split-softmax configuration in a sweep that shares the prompt's prefill.

On the default model, for the long prompts (20 documents) of a few samples, times side by side in one process:
- ``one sample``: generating the response under one split softmax from scratch (prefill + decoding), the cost a
  sweep would pay per configuration without sharing;
- ``sweep of N``: the split-softmax sweep over N configurations (top-k heads x tau), prefilled once;
- ``one pass``: the same sweep decoding every batch to its longest response (``first_pass_tokens`` = the budget),
  where the default lets the rows still going after ``FIRST_PASS_TOKENS`` go on from their own cache.
The cost per extra configuration is (sweep of N - sweep of 1) / (N - 1); the ratio to one sample is the figure
of merit (target: under 0.25). ``one pass / two`` is the second pass's speed-up, with both sweeps' responses
checked equal. Uses the NQ oracle file when given, generated data otherwise. The configurations are random heads
(1 to 20) at five taus, or with ``--heads RANKING`` Figure 3's grid of top heads: k in ``TOP_K`` x tau in ``TAUS``,
whose tau 0.1 rows on many heads run long (where the second pass matters).
Run: python bench/split_softmax_sweep.py [--data ../shared/data/nq-open-oracle.jsonl.gz] [--samples 3] [--heads RANKING]
"""

from __future__ import annotations

import argparse
import statistics
import time

from focus_interp import build_prompt, load_model
from focus_interp.data import gold_segment, load_multidoc_qa, long_parts
from focus_interp.evaluation.rankings import ranking_of
from focus_interp.heads import random_heads
from focus_interp.interventions import SplitSoftmax
from focus_interp.interventions.generation import (
    FIRST_PASS_TOKENS,
    generate_split_softmax_sweep,
    generate_with_interventions,
)

TAUS = (0.1, 0.3, 0.6, 1.5, 1000.0)
TOP_K = (1, 5, 10, 20, 30, 50, 100, 150, 200, "all")


def _timed(function) -> tuple:
    """Seconds ``function()`` took, and what it returned."""
    started = time.perf_counter()
    value = function()
    return time.perf_counter() - started, value


def measure(
    data: str = "synthetic", samples: int = 3, configurations: int = 48, batch_size: int = 16, max_new_tokens: int = 100,
    log=print, heads: str | None = None,
) -> dict:
    """Per sample: seconds of one sample, of a sweep of 1 and of N configurations (in two passes and in one), the
    extra-configuration ratio and the one-pass / two-pass ratio. ``heads``: a ranking (run folder, head_scores.csv
    or JSON head list) whose top-k grid replaces the random heads."""
    if max_new_tokens <= FIRST_PASS_TOKENS:
        log(f"up to {max_new_tokens} new tokens: no row outlasts the first pass of {FIRST_PASS_TOKENS}, one pass and two are the same")
    loaded = load_model()
    if heads is None:
        head_sets = [tuple(random_heads(loaded.architecture, 1 + index % 20, seed=index)) for index in range(configurations)]
        taus = [TAUS[index % len(TAUS)] for index in range(configurations)]
    else:
        ranking = ranking_of(heads, loaded.architecture)
        grid = [(tau, len(ranking) if k == "all" else k) for tau in TAUS for k in TOP_K][:configurations]
        head_sets, taus = [tuple(ranking[:k]) for _, k in grid], [tau for tau, _ in grid]
    rows = load_multidoc_qa(data, split="test", n=samples, gold_positions=(10,), n_documents=20)
    entries = []
    log(
        f"{'tokens':>6} {'one sample s':>12} {'sweep of 1 s':>12} {'sweep of N s':>12} {'per extra config':>16} "
        f"{'ratio':>6} {'one pass s':>10} {'one pass / two':>14}"
    )
    for row in rows:
        prompt = build_prompt(loaded.tokenizer, long_parts(row))
        span, last = prompt.spans[gold_segment(row)], len(prompt) - 1
        sweep = [SplitSoftmax(chosen, span, tau, last) for chosen, tau in zip(head_sets, taus)]
        one, _ = _timed(lambda: generate_with_interventions(loaded, prompt, sweep[:1], max_new_tokens))
        sweep_one, _ = _timed(lambda: generate_split_softmax_sweep(loaded, prompt, sweep[:1], max_new_tokens))
        sweep_all, two = _timed(lambda: generate_split_softmax_sweep(loaded, prompt, sweep, max_new_tokens, batch_size))
        one_pass, single = _timed(
            lambda: generate_split_softmax_sweep(loaded, prompt, sweep, max_new_tokens, batch_size, max_new_tokens)
        )
        extra = (sweep_all - sweep_one) / (len(sweep) - 1)
        entries.append(
            {"tokens": len(prompt), "one_sample_s": one, "sweep_of_1_s": sweep_one, "sweep_of_n_s": sweep_all,
             "per_extra_configuration_s": extra, "ratio": extra / one, "one_pass_s": one_pass,
             "one_pass_over_two": one_pass / sweep_all, "equal": two == single,
             "rows_past_first_pass": sum(len(response) >= FIRST_PASS_TOKENS for response in single)}
        )
        log(
            f"{len(prompt):>6} {one:>12.2f} {sweep_one:>12.2f} {sweep_all:>12.2f} {extra:>15.3f}s {extra / one:>6.3f} "
            f"{one_pass:>10.2f} {one_pass / sweep_all:>14.2f}"
        )
    median = statistics.median(entry["ratio"] for entry in entries)
    speedup = statistics.median(entry["one_pass_over_two"] for entry in entries)
    log(
        f"\nN = {len(head_sets)} configurations ({'random heads' if heads is None else 'top heads of ' + heads}), "
        f"batches of {batch_size}, up to {max_new_tokens} new tokens"
    )
    log(f"cost of an extra configuration / cost of one sample: median {median:.3f} (target < 0.25)")
    log(
        f"one pass / two passes (rows past {FIRST_PASS_TOKENS} tokens go on from their cache): median {speedup:.2f}; rows past "
        f"the first pass {[entry['rows_past_first_pass'] for entry in entries]} of {len(head_sets)}; responses equal "
        f"in {sum(entry['equal'] for entry in entries)} of {len(entries)} samples"
    )
    return {
        "data": data, "configurations": len(head_sets), "heads": heads, "batch_size": batch_size, "max_new_tokens": max_new_tokens,
        "samples": entries, "median_ratio": median, "median_one_pass_over_two": speedup,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="synthetic")
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--configurations", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=100)
    parser.add_argument("--heads", help="a ranking whose top-k grid (Figure 3's) replaces the random heads")
    args = parser.parse_args()
    measure(args.data, args.samples, args.configurations, args.batch_size, args.max_new_tokens, heads=args.heads)


if __name__ == "__main__":
    main()
