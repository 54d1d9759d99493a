"""Contextual scoring cost: our path vs the official eager path vs plain greedy generation.

For prompts of about 1k, 3k and 8k tokens on the default model, each method runs once in a fresh process:
- ``greedy``: plain Hugging Face greedy generation of the response (SDPA attention);
- ``ours``: the same generation with the response rows' span attention read at every decoding step;
- ``official``: greedy generation, then one eager forward over [prompt, R] with ``output_attentions=True``,
  slicing the response rows per head (skipped when its T x T matrices cannot fit in memory).
Prints wall seconds and peak resident memory (GB) of each, and the ratios ours/greedy and official/greedy.
Run: python bench/scoring.py [--lengths 1000 3000 8000] [--max-new-tokens 32]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import psutil

_METHOD = r"""
import json, resource, sys, time, torch
from focus_interp import load_model, build_prompt
from focus_interp.data import multidoc_parts, synthetic_multidoc_qa
from focus_interp.generation import greedy_response
from focus_interp.scoring.response_attention import generate_with_span_attention, span_indicator

method, target, max_new = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
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
if method == "greedy":
    response = greedy_response(loaded, prompt, max_new)
elif method == "ours":
    response = generate_with_span_attention(loaded, prompt, spans, max_new).response_ids
else:
    response = greedy_response(loaded, prompt, max_new)
    full = prompt.with_response(response)
    loaded.hf_model.set_attn_implementation("eager")
    attentions = loaded.hf_model(full.ids(), output_attentions=True).attentions
    indicator = span_indicator(prompt, spans, len(full))
    rows = full.span("response")
    mass = [a[0, head, rows] @ indicator for a in attentions for head in range(a.shape[1])]
seconds = time.perf_counter() - started
peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(json.dumps({"tokens": len(prompt), "response": len(response), "seconds": seconds, "peak_gb": peak_gb}))
"""


def run(method: str, target: int, max_new_tokens: int) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", _METHOD, method, str(target), str(max_new_tokens)], capture_output=True, text=True
    )
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed"}
    return json.loads(result.stdout.strip().splitlines()[-1])


def official_fits(target: int, max_new_tokens: int, n_layers: int = 30, n_heads: int = 9) -> bool:
    """Whether every layer's float32 T x T attention (what output_attentions holds) fits in free memory."""
    tokens = target + max_new_tokens
    needed = n_layers * n_heads * tokens * tokens * 4 * 1.5
    return needed < psutil.virtual_memory().available


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[1000, 3000, 8000])
    parser.add_argument("--max-new-tokens", type=int, default=32)
    args = parser.parse_args()
    print("prompt   resp | greedy s   GB |   ours s   GB |  official s    GB | ours/greedy time  mem | official/greedy time  mem")
    for target in args.lengths:
        results = {method: run(method, target, args.max_new_tokens) for method in ("greedy", "ours")}
        if official_fits(target, args.max_new_tokens):
            results["official"] = run("official", target, args.max_new_tokens)
        else:
            results["official"] = {"error": "skipped: T x T attentions of every layer exceed free memory"}
        greedy, ours, official = results["greedy"], results["ours"], results["official"]
        line = f"{greedy['tokens']:>6} {greedy['response']:>6} | {greedy['seconds']:8.1f} {greedy['peak_gb']:4.1f} | "
        line += f"{ours['seconds']:8.1f} {ours['peak_gb']:4.1f} | "
        if "error" in official:
            line += f"{'n/a':>11} {'n/a':>5} | "
        else:
            line += f"{official['seconds']:11.1f} {official['peak_gb']:5.1f} | "
        line += f"{ours['seconds'] / greedy['seconds']:16.2f} {ours['peak_gb'] / greedy['peak_gb']:4.2f} | "
        if "error" in official:
            line += official["error"]
        else:
            line += f"{official['seconds'] / greedy['seconds']:20.2f} {official['peak_gb'] / greedy['peak_gb']:4.2f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
