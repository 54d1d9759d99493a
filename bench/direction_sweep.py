"""Focus-direction sweeps: N configurations of one sample as rows of one batch against one generation each.

On the default model, for the long prompts (20 documents) of a few samples, times side by side in one process:
- ``one at a time``: each of the N directions (top-k heads x alpha) through ``generate_with_interventions``;
- ``batched``: ``generate_focus_direction_sweep`` over the same N, every position edited (each row's response is
  checked to equal its one-at-a-time response);
- ``one pass``: the batched sweep decoding every batch to its longest response (``first_pass_tokens`` = the
  budget), where the default decodes only the rows still going after ``FIRST_PASS_TOKENS`` further;
- ``response rows``: the same sweep editing only the rows from the last prompt token on (the prefill shared).
The figures of merit are one at a time / batched (target: at least 2 at N >= 8), one pass / batched and one at a
time / response rows. Random N(0, 0.3²) directions on random heads, or with ``--directions`` and ``--heads``
Figure 4's grid (top 1, 5, 10, 20, 50 heads x alpha) of trained directions; generated data unless ``--data``
names the NQ oracle file.
Run: python bench/direction_sweep.py [--data ../shared/data/nq-open-oracle.jsonl.gz] [--samples 2] [--configurations 8]
     [--max-new-tokens 32] [--documents 20] [--directions FILE --heads RANKING]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from focus_interp import build_prompt, load_model
from focus_interp.data import load_multidoc_qa, long_parts
from focus_interp.directions import read_directions
from focus_interp.evaluation.rankings import ranking_of
from focus_interp.heads import random_heads
from focus_interp.interventions import FocusDirection
from focus_interp.interventions.generation import (
    FIRST_PASS_TOKENS,
    generate_focus_direction_sweep,
    generate_with_interventions,
)

ALPHAS = (-0.5, -0.2, 0.2, 0.3, 0.5, 1.0)
TOP_K = (1, 5, 10, 20, 50)


def _timed(function):
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def _sweep(loaded, configurations: int, directions: str | None, heads: str | None) -> list[FocusDirection]:
    """``configurations`` directions: random ones on random heads, or ``configurations`` spread evenly over Figure 4's
    (alpha, top k) grid of trained ``directions`` on the top heads of the ranking ``heads``."""
    architecture = loaded.architecture
    if directions is None:
        shape = (architecture.n_layers, architecture.n_heads, architecture.head_dim)
        generator = torch.Generator().manual_seed(0)
        query, key = 0.3 * torch.randn(shape, generator=generator), 0.3 * torch.randn(shape, generator=generator)
        return [
            FocusDirection(tuple(random_heads(architecture, (1, 5, 10, 20)[index % 4], seed=index)), query, key, ALPHAS[index % len(ALPHAS)])
            for index in range(configurations)
        ]
    trained, ranking = read_directions(directions, architecture), ranking_of(heads, architecture)
    grid = [(alpha, k) for alpha in ALPHAS for k in TOP_K]
    spread = [grid[index * len(grid) // configurations] for index in range(min(configurations, len(grid)))]
    return [FocusDirection.from_directions(trained, ranking[:k], alpha) for alpha, k in spread]


def measure(
    data: str = "synthetic", samples: int = 2, configurations: int = 8, batch_size: int = 16, max_new_tokens: int = 32,
    log=print, documents: int = 20, directions: str | None = None, heads: str | None = None,
) -> dict:
    """Per sample: seconds one at a time, batched (two passes), in one pass and response rows, their ratios, and
    whether batched rows equal their one-at-a-time and one-pass responses."""
    if (directions is None) != (heads is None):
        raise SystemExit("give --directions and --heads together (Figure 4's grid), or neither (random directions)")
    if max_new_tokens <= FIRST_PASS_TOKENS:
        log(f"up to {max_new_tokens} new tokens: no row outlasts the first pass of {FIRST_PASS_TOKENS}, one pass and two are the same")
    loaded = load_model()
    sweep = _sweep(loaded, configurations, directions, heads)
    rows = load_multidoc_qa(data, split="test", n=samples, gold_positions=(min(10, documents),), n_documents=documents)
    entries = []
    log(f"{'tokens':>6} {'one at a time s':>15} {'batched s':>10} {'one pass s':>10} {'response rows s':>15} "
        f"{'speed-up':>8} {'one pass / batched':>18} {'rows':>6} {'past first pass':>15} {'equal':>6}")
    for row in rows:
        prompt = build_prompt(loaded.tokenizer, long_parts(row))
        alone_s, alone = _timed(lambda: [generate_with_interventions(loaded, prompt, [edit], max_new_tokens) for edit in sweep])
        batched_s, batched = _timed(lambda: generate_focus_direction_sweep(loaded, prompt, sweep, max_new_tokens, batch_size))
        one_pass_s, one_pass = _timed(
            lambda: generate_focus_direction_sweep(loaded, prompt, sweep, max_new_tokens, batch_size, first_pass_tokens=max_new_tokens)
        )
        response_s, _ = _timed(lambda: generate_focus_direction_sweep(loaded, prompt, sweep, max_new_tokens, batch_size, "response"))
        equal = batched == alone == one_pass
        past = sum(len(response) >= FIRST_PASS_TOKENS for response in batched)
        entries.append({
            "tokens": len(prompt), "one_at_a_time_s": alone_s, "batched_s": batched_s, "one_pass_s": one_pass_s,
            "response_rows_s": response_s, "speed_up": alone_s / batched_s, "one_pass_speed_up": one_pass_s / batched_s,
            "response_rows_speed_up": alone_s / response_s, "rows_past_first_pass": past, "equal": equal,
        })
        log(f"{len(prompt):>6} {alone_s:>15.2f} {batched_s:>10.2f} {one_pass_s:>10.2f} {response_s:>15.2f} "
            f"{alone_s / batched_s:>8.2f} {one_pass_s / batched_s:>18.2f} {alone_s / response_s:>6.2f} {past:>15} {str(equal):>6}")
    speed_up = statistics.median(entry["speed_up"] for entry in entries)
    one_pass = statistics.median(entry["one_pass_speed_up"] for entry in entries)
    response = statistics.median(entry["response_rows_speed_up"] for entry in entries)
    log(f"\nN = {configurations} configurations, batches of {batch_size}, up to {max_new_tokens} new tokens, {documents} documents")
    log(f"one at a time / batched: median {speed_up:.2f} (target >= 2); one pass / batched: median {one_pass:.2f}; "
        f"one at a time / response rows: median {response:.2f}")
    return {
        "data": data, "configurations": configurations, "batch_size": batch_size, "max_new_tokens": max_new_tokens,
        "documents": documents, "directions": directions, "heads": heads, "samples": entries,
        "median_speed_up": speed_up, "median_one_pass_speed_up": one_pass, "median_response_rows_speed_up": response,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="synthetic")
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--configurations", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--documents", type=int, default=20)
    parser.add_argument("--directions", help="a trained directions file (with --heads: Figure 4's grid)")
    parser.add_argument("--heads", help="a head ranking: run folder, head_scores.csv or JSON head list")
    args = parser.parse_args()
    measure(args.data, args.samples, args.configurations, args.batch_size, args.max_new_tokens, print, args.documents,
            args.directions, args.heads)


if __name__ == "__main__":
    main()
