"""Head sets, as (layer, head) pairs: the top-k heads of a scoring run's ``head_scores.csv``."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from focus_interp.errors import FocusInterpError


def read_head_scores(path: str | Path) -> list[dict]:
    """Rows of a ``head_scores.csv``: ints for layer/head, floats (NaN for empty) for the scores."""
    path = Path(path)
    if not path.is_file():
        raise FocusInterpError(f"no head scores at {path}: run `focus-interp heads ... --out {path.parent}` first")
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"layer", "head", "R"} - set(reader.fieldnames or ())
        if missing:
            raise FocusInterpError(f"{path} is not a head_scores.csv: it lacks the columns {', '.join(sorted(missing))}")
        return [
            {key: int(value) if key in ("layer", "head") else float(value or "nan") for key, value in row.items()}
            for row in reader
        ]


def rank_heads(rows: list[dict], score: str = "R") -> list[dict]:
    """Head-score rows best first by ``score`` (ties by layer, head); heads without that score come last."""
    def key(row: dict) -> tuple:
        value = row[score]
        return (math.isnan(value), -value if not math.isnan(value) else 0.0, row["layer"], row["head"])

    return sorted(rows, key=key)


def top_heads(path: str | Path, k: int, score: str = "R") -> list[tuple[int, int]]:
    """The ``k`` heads with the highest mean ``score`` in a ``head_scores.csv``, best first, as (layer, head)."""
    return [(row["layer"], row["head"]) for row in rank_heads(read_head_scores(path), score)[:k]]
