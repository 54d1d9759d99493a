"""Head rankings, every head best first, from whatever holds them: scores in memory (``HeadScores``, a [layers,
heads] tensor or array, a DataFrame), a list of (layer, head) pairs, a scoring run folder or its head_scores.csv,
or a JSON list of [layer, head] pairs (the format of the authors' released heads)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from focus_interp.errors import FocusInterpError
from focus_interp.heads import Head, check_heads, rank_heads
from focus_interp.model.architecture import Architecture
from focus_interp.scoring.head_score_files import read_head_scores
from focus_interp.scoring.head_scores import HeadScores


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


def ranking_from(path: str | Path, architecture: Architecture | None, score: str = "R") -> list[Head]:
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
        if architecture is not None:
            check_heads(heads, architecture)
    if not heads:
        raise FocusInterpError(f"{path} ranks no heads: pass a scoring run folder or a non-empty JSON [[layer, head], ...]")
    return heads


def ranking_of(source, architecture: Architecture | None = None, score: str = "R") -> list[Head]:
    """Every head of ``source`` best first by ``score``: ``HeadScores``; a [layers, heads] tensor or array of scores;
    a DataFrame with ``layer``, ``head`` and ``score`` columns; a sequence of (layer, head) pairs, taken as ranked;
    or a path (a scoring run folder, its head_scores.csv, a JSON head list). With ``architecture``, every head is
    checked to exist in that model; a head listed twice is an error either way."""
    if isinstance(source, HeadScores):
        source = source.to_frame()  # every column of head_scores.csv, per case included, ranks alike
    if isinstance(source, (torch.Tensor, np.ndarray)):
        grid = np.asarray(source.detach().cpu() if isinstance(source, torch.Tensor) else source, dtype=float)
        if grid.ndim != 2:
            raise FocusInterpError(f"a score grid must be [layers, heads], got shape {grid.shape}")
        rows = [{"layer": l, "head": h, score: grid[l, h]} for l in range(grid.shape[0]) for h in range(grid.shape[1])]
        heads = [(row["layer"], row["head"]) for row in rank_heads(rows, score)]
    elif hasattr(source, "to_dict") and hasattr(source, "columns"):
        missing = {"layer", "head", score} - set(source.columns)
        if missing:
            raise FocusInterpError(f"the scores lack the columns {', '.join(sorted(missing))}")
        rows = [{"layer": int(r["layer"]), "head": int(r["head"]), score: float(r[score])} for r in source.to_dict("records")]
        heads = [(row["layer"], row["head"]) for row in rank_heads(rows, score)]
    elif isinstance(source, (str, Path)):
        heads = ranking_from(source, architecture, score)
    else:
        heads = [tuple(pair) for pair in source]
        if not all(len(pair) == 2 and all(type(x) is int for x in pair) for pair in heads):
            raise FocusInterpError("a head list must hold (layer, head) pairs of whole numbers")
    if architecture is not None:
        check_heads(heads, architecture)
    elif len(set(heads)) != len(heads):
        raise FocusInterpError("a head is listed twice in the ranking: list each head once")
    return heads


def top_heads(source, k: int, score: str = "R", architecture: Architecture | None = None) -> list[Head]:
    """The first ``k`` heads of ``ranking_of(source, architecture, score)``, as (layer, head)."""
    if k < 0:
        raise FocusInterpError(f"k must be 0 or more, got {k}")
    return ranking_of(source, architecture, score)[:k]
