"""Every benchmark at modest sizes in one run, and one table of their ratios.

Runs each benchmark script's ``measure`` in turn (its own lines indented as progress): model load (first load into
an empty cache, then 3 cached loads), contextual scoring (1k, 3k and 8k prompt tokens, 1 repeat; the eager path
only where it fits in free memory), the split-softmax sweep (2 samples, 16 configurations, in two passes and in
one), the focus-direction sweep (2 samples, 8 configurations), focus-direction training (3 samples, 10 epochs) and
generation with interventions (2 samples, 3 repeats). Then prints one table: benchmark, what is compared, the
ratio, its target where there is one, and the seconds (s) or peak resident memory (GB) behind it. ``--json PATH``
writes the table and every benchmark's full results.
Run: python bench/all.py [--data ../shared/data/nq-open-oracle.jsonl.gz] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import direction_sweep
import directions_training
import generation
import load_model
import scoring
import split_softmax_sweep


def _indented(line: str) -> None:
    for part in line.split("\n"):
        print(f"    {part}", flush=True)


def _row(benchmark: str, compared: str, ratio: float | None, target: str, raw: str) -> dict:
    return {"benchmark": benchmark, "compared": compared, "ratio": ratio, "target": target, "raw": raw}


def load_rows(result: dict) -> list[dict]:
    first, cached = result["first"]["total_s"], result["cached"]["total_s"]
    label = f"model load (median of {result['repeats']} cached)"
    return [_row(label, "cached / first load, total", result["cached_over_first"], "", f"{cached:.1f} / {first:.1f} s")]


def scoring_rows(result: dict) -> list[dict]:
    rows = []
    for entry in result["lengths"]:
        greedy, ours, eager = entry["greedy"], entry["ours"], entry["eager"]
        if "error" in greedy or "error" in ours:
            rows.append(_row(f"scoring, {entry['target']} tokens", "ours / greedy", None, "", greedy.get("error") or ours["error"]))
            continue
        label = f"scoring, {greedy['tokens']} + {greedy['response']} tokens"
        rows.append(_row(label, "ours / greedy, time", ours["seconds"] / greedy["seconds"], "",
                         f"{ours['seconds']:.1f} / {greedy['seconds']:.1f} s"))
        rows.append(_row(label, "ours / greedy, peak memory", ours["peak_gb"] / greedy["peak_gb"], "",
                         f"{ours['peak_gb']:.2f} / {greedy['peak_gb']:.2f} GB"))
        if "error" in eager:
            rows.append(_row(label, "eager / greedy", None, "", eager["error"]))
            continue
        rows.append(_row(label, "eager / greedy, time", eager["seconds"] / greedy["seconds"], "",
                         f"{eager['seconds']:.1f} / {greedy['seconds']:.1f} s; max \\|ours − eager\\| {entry['max_difference']:.1e}"))
        rows.append(_row(label, "eager / greedy, peak memory", eager["peak_gb"] / greedy["peak_gb"], "",
                         f"{eager['peak_gb']:.2f} / {greedy['peak_gb']:.2f} GB"))
    return rows


def sweep_rows(result: dict) -> list[dict]:
    compared = f"extra configuration / one sample (N = {result['configurations']})"
    rows = [
        _row(f"split-softmax sweep, {entry['tokens']} tokens", compared, entry["ratio"], "< 0.25",
             f"{entry['per_extra_configuration_s']:.2f} / {entry['one_sample_s']:.2f} s")
        for entry in result["samples"]
    ]
    rows.append(_row(f"split-softmax sweep, median of {len(rows)}", compared, result["median_ratio"], "< 0.25", ""))
    passes = "one pass / two passes, time"
    rows += [
        _row(f"split-softmax sweep, {entry['tokens']} tokens", passes, entry["one_pass_over_two"], "> 1",
             f"{entry['one_pass_s']:.1f} / {entry['sweep_of_n_s']:.1f} s; {entry['rows_past_first_pass']} rows past the "
             f"first pass; {'equal' if entry['equal'] else 'NOT equal'}")
        for entry in result["samples"]
    ]
    return rows


def direction_sweep_rows(result: dict) -> list[dict]:
    rows = []
    for entry in result["samples"]:
        label = f"focus-direction sweep, {entry['tokens']} tokens (N = {result['configurations']})"
        equal = "equal" if entry["equal"] else "NOT equal"
        rows.append(_row(label, "one at a time / batched, time", entry["speed_up"], ">= 2",
                         f"{entry['one_at_a_time_s']:.1f} / {entry['batched_s']:.1f} s; {equal}"))
        rows.append(_row(label, "one pass / two passes, time", entry["one_pass_speed_up"], "",
                         f"{entry['one_pass_s']:.1f} / {entry['batched_s']:.1f} s; {entry['rows_past_first_pass']} rows past the "
                         "first pass"))
        rows.append(_row(label, "one at a time / response rows, time", entry["response_rows_speed_up"], "",
                         f"{entry['one_at_a_time_s']:.1f} / {entry['response_rows_s']:.1f} s"))
    return rows


def directions_rows(result: dict) -> list[dict]:
    label = f"directions training, {result['samples']} samples x {result['epochs']} epochs"
    raw = f"{result['training_s']:.1f} / {result['caching_s']:.1f} s"
    return [_row(label, "training / caching", result["training_over_caching"], "< 1.0", raw)]


def generation_rows(result: dict) -> list[dict]:
    tokens = "+".join(str(entry["tokens"]) for entry in result["prompts"])
    label = f"generation, {tokens} tokens, up to {result['max_new_tokens']} new"
    compared = {"none": "ours without intervention / HF generate", "split_softmax": "split softmax / HF generate",
                "focus_direction": "focus direction / HF generate"}
    return [
        _row(label, compared[method], numbers["ratio"], "" if method == "none" else "<= 1.3",
             f"{numbers['ours_s']:.2f} / {numbers['plain_s']:.2f} s")
        for method, numbers in result["methods"].items()
    ]


def benchmarks(data: str) -> list[tuple[str, str, object, object]]:
    """(name, the equivalent command, a call returning the numbers, their table rows) of each benchmark."""
    suffix = "" if data == "synthetic" else f" --data {data}"
    return [
        ("load_model", "python bench/load_model.py --repeats 3",
         lambda: load_model.measure(repeats=3, log=_indented), load_rows),
        ("scoring", "python bench/scoring.py --lengths 1000 3000 8000 --repeats 1",
         lambda: scoring.measure((1000, 3000, 8000), repeats=1, log=_indented), scoring_rows),
        ("split_softmax_sweep", f"python bench/split_softmax_sweep.py --samples 2 --configurations 16{suffix}",
         lambda: split_softmax_sweep.measure(data, samples=2, configurations=16, log=_indented), sweep_rows),
        ("direction_sweep", f"python bench/direction_sweep.py --samples 2 --configurations 8{suffix}",
         lambda: direction_sweep.measure(data, samples=2, configurations=8, log=_indented), direction_sweep_rows),
        ("directions_training", f"python bench/directions_training.py --n 3{suffix}",
         lambda: directions_training.measure(data, n=3, log=_indented), directions_rows),
        ("generation", f"python bench/generation.py --samples 2 --repeats 3{suffix}",
         lambda: generation.measure(data, samples=2, repeats=3, log=_indented), generation_rows),
    ]


def table(rows: list[dict]) -> str:
    """The rows as a Markdown table."""
    lines = ["| benchmark | compared | ratio | target | raw |", "|---|---|---|---|---|"]
    for row in rows:
        ratio = "–" if row["ratio"] is None else f"{row['ratio']:.3f}"
        lines.append(f"| {row['benchmark']} | {row['compared']} | {ratio} | {row['target'] or '–'} | {row['raw']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="synthetic", help="synthetic or an NQ-Open oracle file")
    parser.add_argument("--json", help="also write the table and every benchmark's results to this JSON file")
    args = parser.parse_args()
    started = time.perf_counter()
    results, rows = {}, []
    steps = benchmarks(args.data)
    for index, (name, command, measure, to_rows) in enumerate(steps, 1):
        print(f"[{index}/{len(steps)}] {name}: as `{command}`", flush=True)
        begun = time.perf_counter()
        results[name] = measure()
        rows += to_rows(results[name])
        print(f"[{index}/{len(steps)}] {name} done in {time.perf_counter() - begun:.0f} s", flush=True)
    seconds = time.perf_counter() - started
    print(f"\nall benchmarks in {seconds / 60:.1f} min\n")
    print(table(rows))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"command": sys.argv, "data": args.data, "seconds": seconds, "table": rows, "results": results}, handle, indent=1)


if __name__ == "__main__":
    main()
