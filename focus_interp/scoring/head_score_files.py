"""Reading a scoring run's ``head_scores.csv``: one row per (layer, head), ints for layer and head, floats for scores."""

from __future__ import annotations

from pathlib import Path

from focus_interp.errors import FocusInterpError
from focus_interp.files import read_csv_rows


def read_head_scores(path: str | Path) -> list[dict]:
    """Rows of a ``head_scores.csv``: ints for layer/head, floats (NaN for empty) for the scores."""
    path = Path(path)
    hint = f"no head scores at {path}: run `focus-interp heads ... --out {path.parent}` (or retrieval-heads) first"
    parsed = []
    for number, row in enumerate(read_csv_rows(path, ("layer", "head"), hint, "head_scores.csv"), start=2):
        try:
            parsed.append({key: int(value) if key in ("layer", "head") else float(value or "nan") for key, value in row.items()})
        except (TypeError, ValueError):
            raise FocusInterpError(
                f"{path}, line {number}: layer and head must be whole numbers and every score a number or empty"
            ) from None
    return parsed
