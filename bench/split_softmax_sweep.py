"""Cost of each extra split-softmax configuration in a sweep that shares the prompt's prefill.

On the default model, for the long prompts (20 documents) of a few samples, times side by side in one process:
- ``one sample``: generating the response under one split softmax from scratch (prefill + decoding), the cost a
  sweep would pay per configuration without sharing;
- ``sweep of N``: the split-softmax sweep over N configurations (top-k heads x tau), prefilled once.
The cost per extra configuration is (sweep of N - sweep of 1) / (N - 1); the ratio to one sample is the figure
of merit (target: under 0.25). Uses the NQ oracle file when given, generated data otherwise.
Run: python bench/split_softmax_sweep.py [--data ../shared/data/nq-open-oracle.jsonl.gz] [--samples 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from focus_interp import build_prompt, load_model
from focus_interp.data import gold_segment, load_multidoc_qa, long_parts
from focus_interp.heads import random_heads
from focus_interp.interventions import SplitSoftmax
from focus_interp.interventions.generation import (
    generate_split_softmax_sweep,
    generate_with_interventions,
)


def _timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def measure(
    data: str = "synthetic", samples: int = 3, configurations: int = 48, batch_size: int = 16, max_new_tokens: int = 32,
    log=print,
) -> dict:
    """Per sample: seconds of one sample, of a sweep of 1 and of N configurations, and the extra-configuration ratio."""
    loaded = load_model()
    rows = load_multidoc_qa(data, split="test", n=samples, gold_positions=(10,), n_documents=20)
    entries = []
    log(f"{'tokens':>6} {'one sample s':>12} {'sweep of 1 s':>12} {'sweep of N s':>12} {'per extra config':>16} {'ratio':>6}")
    for row in rows:
        prompt = build_prompt(loaded.tokenizer, long_parts(row))
        span, last = prompt.spans[gold_segment(row)], len(prompt) - 1
        sweep = [
            SplitSoftmax(tuple(random_heads(loaded.architecture, 1 + index % 20, seed=index)), span, tau, last)
            for index, tau in enumerate([0.1, 0.3, 0.6, 1.5, 1000.0] * configurations)
        ][:configurations]
        one = _timed(lambda: generate_with_interventions(loaded, prompt, sweep[:1], max_new_tokens))
        sweep_one = _timed(lambda: generate_split_softmax_sweep(loaded, prompt, sweep[:1], max_new_tokens))
        sweep_all = _timed(lambda: generate_split_softmax_sweep(loaded, prompt, sweep, max_new_tokens, batch_size))
        extra = (sweep_all - sweep_one) / (len(sweep) - 1)
        entries.append(
            {"tokens": len(prompt), "one_sample_s": one, "sweep_of_1_s": sweep_one, "sweep_of_n_s": sweep_all,
             "per_extra_configuration_s": extra, "ratio": extra / one}
        )
        log(f"{len(prompt):>6} {one:>12.2f} {sweep_one:>12.2f} {sweep_all:>12.2f} {extra:>15.3f}s {extra / one:>6.3f}")
    median = statistics.median(entry["ratio"] for entry in entries)
    log(f"\nN = {configurations} configurations, batches of {batch_size}")
    log(f"cost of an extra configuration / cost of one sample: median {median:.3f} (target < 0.25)")
    return {
        "data": data, "configurations": configurations, "batch_size": batch_size, "max_new_tokens": max_new_tokens,
        "samples": entries, "median_ratio": median,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="synthetic")
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--configurations", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    args = parser.parse_args()
    measure(args.data, args.samples, args.configurations, args.batch_size, args.max_new_tokens)


if __name__ == "__main__":
    main()
