"""Head rankings read from a file: every head best first from a scoring run's head_scores.csv, or a JSON list of
[layer, head] pairs (the format of the authors' released heads)."""

from __future__ import annotations

import json
from pathlib import Path

from focus_interp.errors import FocusInterpError
from focus_interp.heads import Head, check_heads, rank_heads
from focus_interp.model.architecture import Architecture
from focus_interp.scoring.head_score_files import read_head_scores


def heads_from_json(path: str | Path, architecture: Architecture | None = None) -> list[Head]:
    """A JSON list of [layer, head] pairs, best first (the format of the authors' ``relevant_heads.json``).

    With ``architecture``, every head is checked to exist in that model.
    """
    path = Path(path)
    if not path.is_file():
        raise FocusInterpError(f"head list not found: {path}")
    try:
        pairs = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise FocusInterpError(f"{path} is not valid JSON (line {error.lineno}): expected [[layer, head], ...]") from None
    if not isinstance(pairs, list) or not all(
        isinstance(pair, list) and len(pair) == 2 and all(type(x) is int for x in pair) for pair in pairs
    ):
        raise FocusInterpError(f"{path} must hold a JSON list of [layer, head] integer pairs")
    heads = [(layer, head) for layer, head in pairs]
    if architecture is not None:
        check_heads(heads, architecture)
    return heads


def ranking_from(path: str | Path, architecture: Architecture, score: str = "R") -> list[Head]:
    """Every head ranked best first from a scoring run folder or its ``head_scores.csv``, or a JSON head list."""
    path = Path(path)
    if path.is_dir():
        path = path / "head_scores.csv"
    if path.suffix == ".json":
        heads = heads_from_json(path, architecture)
    else:
        rows = read_head_scores(path)
        try:
            ranked = rank_heads(rows, score)
        except FocusInterpError as error:
            raise FocusInterpError(f"{path}: {error}") from None
        heads = [(row["layer"], row["head"]) for row in ranked]
        check_heads(heads, architecture)
    if not heads:
        raise FocusInterpError(f"{path} ranks no heads: pass a scoring run folder or a non-empty JSON [[layer, head], ...]")
    return heads

