"""Model load time: the first load (GGUF dequantised into an empty cache) vs later loads from that cache.

Each load runs in a fresh Python process, so import time counts: ``load`` is the first ``load_model`` call of
the process (it imports transformers and nnsight), ``reload`` a second call in the same process (weights only).
Prints seconds and the cached/first ratio.
Run: python bench/load_model.py [--model smollm2-135m-instruct] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile

_TIMED_LOAD = """
import json, sys, time
started = time.perf_counter()
from focus_interp import load_model
imported = time.perf_counter()
load_model(sys.argv[1], cache_dir=sys.argv[2])
done = time.perf_counter()
load_model(sys.argv[1], cache_dir=sys.argv[2])
again = time.perf_counter()
print(json.dumps({"import_s": imported - started, "load_s": done - imported, "total_s": done - started,
                  "reload_s": again - done}))
"""


def timed_load(model: str, cache_dir: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", _TIMED_LOAD, model, cache_dir], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure(model: str = "smollm2-135m-instruct", repeats: int = 3, log=print) -> dict:
    """Seconds of the first load into an empty cache and the median of ``repeats`` cached loads, and their ratio."""
    with tempfile.TemporaryDirectory() as cache_dir:
        first = timed_load(model, cache_dir)
        cached = [timed_load(model, cache_dir) for _ in range(repeats)]
    median = {key: statistics.median(run[key] for run in cached) for key in first}
    log(f"model {model}; seconds (import + load = total, fresh process each)")
    log(f"{'':<22}{'import':>8}{'load':>8}{'total':>8}{'reload':>8}")
    for label, run in (("first load (convert)", first), ("cached load (median)", median)):
        log(f"{label:<22}{run['import_s']:8.1f}{run['load_s']:8.1f}{run['total_s']:8.1f}{run['reload_s']:8.1f}")
    ratio = median["total_s"] / first["total_s"]
    log(f"cached / first (total): {ratio:.3f}")
    return {"model": model, "repeats": repeats, "first": first, "cached": median, "cached_over_first": ratio}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    measure(args.model, args.repeats)


if __name__ == "__main__":
    main()
