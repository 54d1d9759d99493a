"""Focus-direction training against building its activation cache, side by side in one process.

On the default model: cache N train samples (gold response + one forward each), then train every head of every
layer for E epochs on that cache. Both are linear in N, so the ratio (training time / caching time) is the figure
of merit at any N (target: 10 epochs below 1.0). Prints seconds per sample of each and the ratio; also the cache's
size on disk and the trained directions' mean norms. Uses the NQ oracle file when given, generated data otherwise.
Run: python bench/directions_training.py [--data ../shared/data/nq-open-oracle.jsonl.gz] [--n 20] [--epochs 10]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from focus_interp import load_model
from focus_interp.data import load_multidoc_qa
from focus_interp.directions.cache import build_cache
from focus_interp.directions.training import train_on_cache


def measure(data: str = "synthetic", n: int = 20, epochs: int = 10, site: str = "post_rope", log=print) -> dict:
    """Seconds of caching ``n`` train samples and of training ``epochs`` epochs on them, MB per cached sample."""
    loaded = load_model()
    rows = load_multidoc_qa(data, split="train", n=n)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        summary = build_cache(loaded, rows, folder, site, progress=False)
        caching = time.perf_counter() - started
        shards = sorted(Path(folder).glob("sample-*.safetensors"))
        size = sum(path.stat().st_size for path in shards) / 2**20
        started = time.perf_counter()
        result = train_on_cache(loaded.architecture, shards, site, epochs=epochs, progress=False)
        training = time.perf_counter() - started
    cached = len(shards)
    numbers = {
        "data": data, "epochs": epochs, "site": site, "samples": cached, "skipped": summary["n_skipped"],
        "mb_per_sample": size / max(cached, 1), "caching_s": caching, "training_s": training,
        "training_over_caching": training / caching, "final_loss": float(result.losses[-1].mean()),
        "mean_query_norm": float(result.directions.query.norm(dim=-1).mean()),
        "mean_key_norm": float(result.directions.key.norm(dim=-1).mean()),
    }
    log(f"{cached} samples cached ({numbers['skipped']} skipped), {numbers['mb_per_sample']:.1f} MB per sample on disk")
    log(f"caching:  {caching:8.1f} s  ({caching / cached:.2f} s per sample)")
    log(f"training: {training:8.1f} s  ({training / cached / epochs:.3f} s per sample and epoch, {epochs} epochs)")
    log(f"training / caching: {training / caching:.3f} (target < 1.0)")
    log(
        f"final loss {numbers['final_loss']:.4f}; mean |d_Q| {numbers['mean_query_norm']:.3f}, "
        f"mean |d_K| {numbers['mean_key_norm']:.3f}"
    )
    return numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="synthetic")
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--site", default="post_rope", choices=["post_rope", "pre_rope"])
    args = parser.parse_args()
    measure(args.data, args.n, args.epochs, args.site)


if __name__ == "__main__":
    main()
