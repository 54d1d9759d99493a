"""Reading a task's JSON-lines file: its records in HELMET's seeded order, and one-line errors for a bad record."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from focus_interp.errors import FocusInterpError
from focus_interp.files import open_lines, parse_json_line


def seeded_records(path: Path, seed: int) -> Iterator[tuple[int, dict]]:
    """(1-based line number, JSON object) of a JSON-lines file (gzipped when named .gz) in ``shuffled_order``;
    only the lines yielded are parsed."""
    if not path.is_file():
        raise FocusInterpError(f"{path} not found: pass an existing JSON-lines file")
    with open_lines(path, "rb") as handle:
        starts, position = [], 0
        try:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    starts.append((number, position))
                position += len(line)
        except (OSError, EOFError) as error:  # e.g. a .gz name on a file that is not gzipped, or a cut-short one
            raise FocusInterpError(f"cannot read {path} ({error}): fix or download the file again") from None
        if not starts:
            raise FocusInterpError(f"{path} is empty: expected one JSON object per line")
        for index in shuffled_order(len(starts), seed):
            number, position = starts[index]
            handle.seek(position)
            yield number, parse_json_line(handle.readline(), path, number, "fix or download the file again")


def shuffled_order(count: int, seed: int) -> list[int]:
    """0 .. count-1 in the order of ``datasets``' shuffle with ``seed`` (how HELMET draws its samples)."""
    return [int(index) for index in np.random.default_rng(seed).permutation(count)]


@contextmanager
def checked(where: str, kind: str) -> Iterator[None]:
    """Turns a missing or mistyped field read inside it into a one-line ``FocusInterpError`` naming ``where``."""
    try:
        yield
    except FocusInterpError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as error:
        raise FocusInterpError(
            f"{where} is not a {kind} record ({type(error).__name__}: {error}): fix or download the file again"
        ) from None
