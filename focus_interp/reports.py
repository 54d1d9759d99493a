"""Small helpers for the analysis scripts: read a run folder, write markdown tables, record the command."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import numpy as np

from focus_interp.errors import FocusInterpError
from focus_interp.heads import read_head_scores


def load_head_run(folder: str | Path) -> tuple[list[dict], dict]:
    """The rows of ``head_scores.csv`` and the ``meta.json`` of a scoring run folder."""
    folder = Path(folder)
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        raise FocusInterpError(f"{folder} is not a run folder (no meta.json): run `focus-interp heads --out {folder}` first")
    return read_head_scores(folder / "head_scores.csv"), json.loads(meta_path.read_text())


def score_grid(rows: list[dict], column: str) -> np.ndarray:
    """A [layers, heads] array of one column of head scores."""
    n_layers = max(row["layer"] for row in rows) + 1
    n_heads = max(row["head"] for row in rows) + 1
    grid = np.full((n_layers, n_heads), np.nan)
    for row in rows:
        grid[row["layer"], row["head"]] = row[column]
    return grid


def command_line() -> str:
    """The command that is running, as a user would type it from the project folder."""
    script = Path(sys.argv[0])
    try:
        script = script.resolve().relative_to(Path.cwd())
    except ValueError:
        pass
    return shlex.join(["python", str(script), *sys.argv[1:]])


def markdown_table(headers: list[str], rows: list[list]) -> str:
    def cell(value) -> str:
        if isinstance(value, float):
            return "–" if np.isnan(value) else f"{value:.3f}"
        return str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def run_description(meta: dict) -> str:
    settings = meta.get("settings", {})
    data = settings.get("data", {})
    source = Path(str(data.get("source", "?"))).name
    return (
        f"{meta.get('model', settings.get('model', '?'))}, {meta.get('n_scored', '?')} {data.get('split', '')} samples "
        f"from {source}"
    )


def run_script(main) -> None:
    """Run an analysis script's ``main``; bad input ends with a one-line message instead of a traceback."""
    try:
        main()
    except FocusInterpError as error:
        sys.exit(f"{Path(sys.argv[0]).name}: error: {error}")
