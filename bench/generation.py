"""Greedy generation under interventions against plain Hugging Face ``generate``, side by side in one process.

On the default model, for the long prompts (20 documents, gold at 10) of a few test samples:
- ``plain``: Hugging Face greedy ``generate`` on the model inside nnsight (``loaded.hf_model``, SDPA);
- ``none``: ``generate_with_interventions`` without intervention (the same tokens, through nnsight);
- ``split_softmax``: the same under a ``SplitSoftmax`` (tau 0.3, on the gold document) on k random heads;
- ``focus_direction``: the same under a ``FocusDirection`` (post_rope, alpha 0.2, directions drawn from
  N(0, 0.01²)) on those heads.
An intervention may change the response and where it stops, so each is compared with plain generation of as many
tokens as it ran decoding steps (stop token included; ``min_new_tokens`` holds the stop back). After one untimed
warm-up pass (which also counts those steps), every repeat times, on each prompt and for each of our methods,
plain then ours back to back. Figure of merit: our seconds / plain seconds, each the sum over the prompts of the
median over the repeats (target for the interventions: within 1.3).
Run: python bench/generation.py [--data ../shared/data/nq-open-oracle.jsonl.gz] [--samples 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from focus_interp import build_prompt, load_model
from focus_interp.data import gold_segment, load_multidoc_qa, long_parts
from focus_interp.heads import random_heads
from focus_interp.interventions import FocusDirection, SplitSoftmax
from focus_interp.interventions.generation import generate_with_interventions
from focus_interp.model.generation import greedy_kwargs
from focus_interp.model.loading import LoadedModel
from focus_interp.prompts import Prompt

METHODS = ("none", "split_softmax", "focus_direction")


@torch.no_grad()
def plain_generate(loaded: LoadedModel, prompt: Prompt, n_tokens: int) -> None:
    """Hugging Face greedy ``generate`` of exactly ``n_tokens`` new tokens."""
    ids = prompt.ids().to(loaded.device)
    loaded.hf_model.generate(
        ids, attention_mask=torch.ones_like(ids), min_new_tokens=n_tokens, **greedy_kwargs(loaded, n_tokens)
    )


def _timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def measure(
    data: str = "synthetic", samples: int = 2, max_new_tokens: int = 32, repeats: int = 3, k: int = 20, log=print
) -> dict:
    """Median seconds of plain and of our generation per prompt, and our / plain over the prompts per method."""
    loaded = load_model()
    architecture = loaded.architecture
    rows = load_multidoc_qa(data, split="test", n=samples, gold_positions=(10,), n_documents=20)
    heads = tuple(random_heads(architecture, k, seed=0))
    generator = torch.Generator().manual_seed(0)
    shape = (architecture.n_layers, architecture.n_heads, architecture.head_dim)
    query, key = (0.01 * torch.randn(shape, generator=generator) for _ in range(2))
    direction = FocusDirection(heads, query, key, 0.2)
    prompts = []
    for row in rows:
        prompt = build_prompt(loaded.tokenizer, long_parts(row))
        edits = {
            "none": [],
            "split_softmax": [SplitSoftmax(heads, prompt.spans[gold_segment(row)], 0.3, len(prompt) - 1)],
            "focus_direction": [direction],
        }
        plain_generate(loaded, prompt, max_new_tokens)
        responses = {method: generate_with_interventions(loaded, prompt, edits[method], max_new_tokens) for method in METHODS}
        steps = {method: min(len(response) + 1, max_new_tokens) for method, response in responses.items()}
        prompts.append({"prompt": prompt, "edits": edits, "steps": steps, "plain": {}, "ours": {m: [] for m in METHODS}})
        log(f"warm-up on {len(prompt)} prompt tokens; decoding steps {steps}")
    for repeat in range(repeats):
        for entry in prompts:
            prompt = entry["prompt"]
            times = []
            for method in METHODS:
                n_tokens = entry["steps"][method]
                plain = _timed(lambda: plain_generate(loaded, prompt, n_tokens))
                ours = _timed(lambda: generate_with_interventions(loaded, prompt, entry["edits"][method], max_new_tokens))
                entry["plain"].setdefault(n_tokens, []).append(plain)
                entry["ours"][method].append(ours)
                times.append(f"{method} {plain:.2f} / {ours:.2f}")
            log(f"repeat {repeat + 1}/{repeats}, {len(prompt)} tokens (plain / ours s): {', '.join(times)}")
    per_prompt = [
        {
            "tokens": len(entry["prompt"]),
            "steps": entry["steps"],
            "plain_s": {str(n): statistics.median(times) for n, times in entry["plain"].items()},
            "ours_s": {method: statistics.median(times) for method, times in entry["ours"].items()},
        }
        for entry in prompts
    ]
    methods = {}
    for method in METHODS:
        ours = sum(entry["ours_s"][method] for entry in per_prompt)
        plain = sum(entry["plain_s"][str(entry["steps"][method])] for entry in per_prompt)
        methods[method] = {"ours_s": ours, "plain_s": plain, "ratio": ours / plain}
        log(f"{method}: ours {ours:.2f} s / plain {plain:.2f} s = {ours / plain:.3f}" + ("" if method == "none" else " (target <= 1.3)"))
    return {
        "data": data, "max_new_tokens": max_new_tokens, "repeats": repeats, "k": k, "prompts": per_prompt,
        "methods": methods,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="synthetic")
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--k", type=int, default=20, help="random heads the interventions edit")
    args = parser.parse_args()
    measure(args.data, args.samples, args.max_new_tokens, args.repeats, args.k)


if __name__ == "__main__":
    main()
