"""Focus-direction sweeps: N configurations of one sample as rows of one batch against one generation each.

On the default model, for the long prompts (20 documents) of a few samples, times side by side in one process:
- ``one at a time``: each of the N directions (top-k heads x alpha) through ``generate_with_interventions``;
- ``batched``: ``generate_focus_direction_sweep`` over the same N, every position edited (each row's response is
  checked to equal its one-at-a-time response);
- ``response rows``: the same sweep editing only the rows from the last prompt token on (the prefill shared).
The figures of merit are one at a time / batched (target: at least 2 at N >= 8) and one at a time / response
rows. Random N(0, 0.3²) directions on random heads; generated data unless ``--data`` names the NQ oracle file.
Run: python bench/direction_sweep.py [--data ../shared/data/nq-open-oracle.jsonl.gz] [--samples 2] [--configurations 8]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from focus_interp import build_prompt, load_model
from focus_interp.data import load_multidoc_qa, long_parts
from focus_interp.heads import random_heads
from focus_interp.interventions import FocusDirection
from focus_interp.interventions.generation import (
    generate_focus_direction_sweep,
    generate_with_interventions,
)

ALPHAS = (-0.5, -0.2, 0.2, 0.3, 0.5, 1.0)


def _timed(function):
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def measure(
    data: str = "synthetic", samples: int = 2, configurations: int = 8, batch_size: int = 16, max_new_tokens: int = 32,
    log=print,
) -> dict:
    """Per sample: seconds one at a time, batched and response rows, their ratios, and whether batched rows equal
    their one-at-a-time responses."""
    loaded = load_model()
    architecture = loaded.architecture
    shape = (architecture.n_layers, architecture.n_heads, architecture.head_dim)
    generator = torch.Generator().manual_seed(0)
    query, key = 0.3 * torch.randn(shape, generator=generator), 0.3 * torch.randn(shape, generator=generator)
    sweep = [
        FocusDirection(tuple(random_heads(architecture, (1, 5, 10, 20)[index % 4], seed=index)), query, key, ALPHAS[index % len(ALPHAS)])
        for index in range(configurations)
    ]
    rows = load_multidoc_qa(data, split="test", n=samples, gold_positions=(10,), n_documents=20)
    entries = []
    log(f"{'tokens':>6} {'one at a time s':>15} {'batched s':>10} {'response rows s':>15} {'speed-up':>8} {'rows':>6} {'equal':>6}")
    for row in rows:
        prompt = build_prompt(loaded.tokenizer, long_parts(row))
        alone_s, alone = _timed(lambda: [generate_with_interventions(loaded, prompt, [edit], max_new_tokens) for edit in sweep])
        batched_s, batched = _timed(lambda: generate_focus_direction_sweep(loaded, prompt, sweep, max_new_tokens, batch_size))
        response_s, _ = _timed(lambda: generate_focus_direction_sweep(loaded, prompt, sweep, max_new_tokens, batch_size, "response"))
        entries.append({
            "tokens": len(prompt), "one_at_a_time_s": alone_s, "batched_s": batched_s, "response_rows_s": response_s,
            "speed_up": alone_s / batched_s, "response_rows_speed_up": alone_s / response_s, "equal": batched == alone,
        })
        log(f"{len(prompt):>6} {alone_s:>15.2f} {batched_s:>10.2f} {response_s:>15.2f} {alone_s / batched_s:>8.2f} "
            f"{alone_s / response_s:>6.2f} {str(batched == alone):>6}")
    speed_up = statistics.median(entry["speed_up"] for entry in entries)
    response = statistics.median(entry["response_rows_speed_up"] for entry in entries)
    log(f"\nN = {configurations} configurations, batches of {batch_size}, up to {max_new_tokens} new tokens")
    log(f"one at a time / batched: median {speed_up:.2f} (target >= 2); one at a time / response rows: median {response:.2f}")
    return {
        "data": data, "configurations": configurations, "batch_size": batch_size, "max_new_tokens": max_new_tokens,
        "samples": entries, "median_speed_up": speed_up, "median_response_rows_speed_up": response,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="synthetic")
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--configurations", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    args = parser.parse_args()
    measure(args.data, args.samples, args.configurations, args.batch_size, args.max_new_tokens)


if __name__ == "__main__":
    main()
