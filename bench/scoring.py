"""Contextual scoring cost: our path vs eager attention with our spans vs plain greedy generation.

For prompts of about 1k, 3k and 8k tokens on the default model, each method runs once in a fresh process:
- ``greedy``: plain Hugging Face greedy generation of the response (SDPA attention);
- ``ours``: the same generation with the response rows' span attention read at every decoding step;
- ``eager``: greedy generation, then one eager forward over [prompt, R] with ``output_attentions=True``,
  slicing the response rows per head (skipped when its T x T matrices cannot fit in free memory).
``--repeats N`` runs greedy and ours N times each, alternating, and keeps the median of each figure (the eager
path runs once). Prints wall seconds and peak resident memory (GB; the process's peak, model and imports included) of each,
the ratios to greedy, and the largest difference between the eager and our scores on the same sample.
Run: python bench/scoring.py [--lengths 1000 3000 8000] [--max-new-tokens 32] [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

_METHOD = r"""
import json, resource, sys, time, torch
from focus_interp import load_model, build_prompt
from focus_interp.data import multidoc_parts, synthetic_multidoc_qa
from focus_interp.model.generation import greedy_response
from focus_interp.scoring.response_attention import generate_with_span_attention, span_indicator

method, target, max_new, mass_path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
loaded = load_model()
torch.set_grad_enabled(False)
n_documents = 2
while True:
    sample = synthetic_multidoc_qa(1, n_documents=n_documents, gold_position=n_documents // 2, seed=0)[0]
    prompt = build_prompt(loaded.tokenizer, multidoc_parts(sample["question"], sample["documents"]))
    if len(prompt) >= target:
        break
    n_documents = max(n_documents + 1, int(n_documents * target / len(prompt)))
spans = ["sink"] + [f"doc_{i}" for i in range(1, n_documents + 1)]
started = time.perf_counter()
mass = None
if method == "greedy":
    response = greedy_response(loaded, prompt, max_new)
elif method == "ours":
    result = generate_with_span_attention(loaded, prompt, spans, max_new)
    response, mass = result.response_ids, result.mass
else:
    response = greedy_response(loaded, prompt, max_new)
    full = prompt.with_response(response)
    loaded.hf_model.set_attn_implementation("eager")
    attentions = loaded.hf_model(full.ids(), output_attentions=True).attentions
    indicator = span_indicator(prompt, spans, len(full))
    rows = full.span("response")
    mass = torch.stack([torch.stack([a[0, head, rows] @ indicator for head in range(a.shape[1])], 1) for a in attentions], 1)
seconds = time.perf_counter() - started
peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
if mass is not None:
    torch.save(mass, mass_path)
print(json.dumps({"tokens": len(prompt), "response": len(response), "seconds": seconds, "peak_gb": peak_gb}))
"""


def run(method: str, target: int, max_new_tokens: int, mass_path: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", _METHOD, method, str(target), str(max_new_tokens), str(mass_path)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else f"exit code {result.returncode}"}
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_repeated(methods: tuple[str, ...], repeats: int, target: int, max_new_tokens: int, paths: dict) -> dict:
    """Each method ``repeats`` times, alternating; the median seconds and peak memory of each."""
    runs = {method: [] for method in methods}
    for _ in range(repeats):
        for method in methods:
            runs[method].append(run(method, target, max_new_tokens, paths[method]))
    results = {}
    for method, attempts in runs.items():
        failed = [attempt for attempt in attempts if "error" in attempt]
        if failed:
            results[method] = failed[0]
        else:
            results[method] = {
                **attempts[0],
                "seconds": statistics.median(a["seconds"] for a in attempts),
                "peak_gb": statistics.median(a["peak_gb"] for a in attempts),
            }
    return results


def available_bytes() -> int:
    with open("/proc/meminfo") as handle:
        fields = dict(line.split(":", 1) for line in handle)
    return int(fields["MemAvailable"].split()[0]) * 1024


def eager_fits(target: int, max_new_tokens: int, n_layers: int = 30, n_heads: int = 9) -> bool:
    """Whether every layer's float32 T x T attention (what output_attentions holds) fits in free memory."""
    tokens = target + max_new_tokens
    return n_layers * n_heads * tokens * tokens * 4 * 1.5 < available_bytes()


def _cell(result: dict, key: str, width: int, digits: int) -> str:
    return f"{result[key]:{width}.{digits}f}" if key in result else f"{'n/a':>{width}}"


def _line(entry: dict) -> str:
    """One printed row: seconds and GB of each method, the ratios to greedy, the eager-ours difference."""
    greedy, ours, eager = entry["greedy"], entry["ours"], entry["eager"]
    line = f"{greedy['tokens']:>6} {greedy['response']:>4} | {_cell(greedy, 'seconds', 8, 1)} {_cell(greedy, 'peak_gb', 4, 1)} | "
    line += f"{_cell(ours, 'seconds', 6, 1)} {_cell(ours, 'peak_gb', 4, 1)} | "
    line += f"{_cell(eager, 'seconds', 10, 1)} {_cell(eager, 'peak_gb', 5, 1)} | "
    line += f"{ours['seconds'] / greedy['seconds']:16.2f} {ours['peak_gb'] / greedy['peak_gb']:4.2f} | "
    if "error" in eager:
        return line + eager["error"]
    line += f"{eager['seconds'] / greedy['seconds']:20.2f} {eager['peak_gb'] / greedy['peak_gb']:4.2f} | "
    return line + f"{entry['max_difference']:.1e}"


def measure(lengths=(1000, 3000, 8000), max_new_tokens: int = 32, repeats: int = 1, log=print) -> dict:
    """Seconds and peak GB of greedy, ours and eager at each prompt length (``log`` gets one line per length).

    Each entry of ``lengths`` holds ``target`` and, per method, its dict (``tokens``, ``response``, ``seconds``,
    ``peak_gb``) or ``{"error": ...}``; ``max_difference`` is the largest |ours - eager| (None without eager).
    """
    log("prompt resp | greedy s   GB | ours s   GB | eager s   GB | ours/greedy time mem | eager/greedy time mem | max |ours-eager|")
    entries = []
    with tempfile.TemporaryDirectory() as scratch:
        for target in lengths:
            paths = {method: Path(scratch) / f"{method}-{target}.pt" for method in ("greedy", "ours", "eager")}
            entry = {"target": target, **run_repeated(("greedy", "ours"), repeats, target, max_new_tokens, paths)}
            if eager_fits(target, max_new_tokens):
                entry["eager"] = run("eager", target, max_new_tokens, paths["eager"])
            else:
                entry["eager"] = {"error": "skipped: the T x T attentions of every layer exceed free memory"}
            entries.append(entry)
            if "error" in entry["greedy"] or "error" in entry["ours"]:
                log(f"{target:>6}: failed: {entry['greedy'].get('error') or entry['ours'].get('error')}")
                continue
            entry["max_difference"] = None
            if "error" not in entry["eager"]:
                entry["max_difference"] = (torch.load(paths["ours"]) - torch.load(paths["eager"])).abs().max().item()
            log(_line(entry))
    return {"max_new_tokens": max_new_tokens, "repeats": repeats, "lengths": entries}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[1000, 3000, 8000])
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=1, help="runs of greedy and ours (median kept)")
    args = parser.parse_args()
    measure(args.lengths, args.max_new_tokens, args.repeats, log=lambda line: print(line, flush=True))


if __name__ == "__main__":
    main()
