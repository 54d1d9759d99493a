"""Reading and writing the project's files: JSON lines with line-numbered one-line errors, records appended one
line at a time, CSV tables (quoted by the csv module, written whole), atomic writes a reader never sees half of,
and folder locks that keep a second process out."""

from __future__ import annotations

import csv
import fcntl
import gzip
import io
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from focus_interp.errors import FocusInterpError


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A hidden sibling of ``path`` to write the file to; it replaces ``path`` when the block ends without error."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file, so a reader never sees half a file."""
    with atomic_path(path) as partial:
        partial.write_text(text)


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Sequence]) -> None:
    """A CSV table with a header row, written atomically; cells as given (None is an empty cell)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(["" if cell is None else cell for cell in row] for row in rows)
    write_atomic(path, text.getvalue())


def read_csv_rows(path: Path, required: Iterable[str], missing_file: str, kind: str) -> list[dict]:
    """The rows of a CSV file as dicts of strings; one-line errors for a missing file (``missing_file``) or a file
    that lacks a ``required`` column (it is not a ``kind``)."""
    if not path.is_file():
        raise FocusInterpError(missing_file)
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = set(required) - set(reader.fieldnames or ())
        if missing:
            raise FocusInterpError(f"{path} is not a {kind}: it lacks the columns {', '.join(sorted(missing))}")
        return list(reader)


def parse_json_line(line: str | bytes, path: Path, number: int, hint: str) -> dict:
    """One line of a JSON-lines file as a dict; an error naming the file and line, ending in ``hint``."""
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        reason = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
        raise FocusInterpError(f"{path}, line {number} is not valid JSON ({reason}): {hint}") from None
    if not isinstance(record, dict):
        raise FocusInterpError(f"{path}, line {number} is not a JSON object: {hint}")
    return record


def open_lines(path: Path, mode: str = "rt"):
    """``path`` opened for reading (gunzipped when its name ends in .gz)."""
    if path.suffix == ".gz":
        return gzip.open(path, mode, encoding="utf-8") if "t" in mode else gzip.open(path, mode)
    return open(path, mode, encoding="utf-8") if "t" in mode else open(path, mode)


def read_jsonl(path: Path, hint: str = "fix or download the file again") -> Iterator[tuple[int, dict]]:
    """(1-based line number, JSON object) of each non-blank line of a JSON-lines file (gzipped when named .gz).

    Read one line at a time, so a large file is never held whole. One-line errors for a missing, unreadable or
    empty file and for a line that is not a JSON object, each ending in ``hint``.
    """
    if not path.is_file():
        raise FocusInterpError(f"{path} not found: pass an existing JSON-lines file")
    found = False
    try:
        with open_lines(path) as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    found = True
                    yield number, parse_json_line(line, path, number, hint)
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise FocusInterpError(f"cannot read {path} ({error}): {hint}") from None
    if not found:
        raise FocusInterpError(f"{path} is empty: expected one JSON object per line")


def read_appended_records(path: Path) -> list[dict]:
    """The records of an append-only JSON-lines file. The tail an interruption left is repaired in the file: a last
    line cut short is dropped, a whole last record that lacks its newline gets it (so the next record starts a line
    of its own). Any other bad line is an error."""
    if not path.exists():
        return []
    lines = path.read_text().splitlines(keepends=True)
    records = []
    for number, line in enumerate(lines, start=1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if number < len(lines):
                raise FocusInterpError(f"{path}, line {number} is not valid JSON: remove that line") from None
            write_atomic(path, "".join(lines[:-1]))
            return records
    if lines and not lines[-1].endswith("\n"):
        write_atomic(path, "".join(lines) + "\n")
    return records


def append_record(path: Path, record: dict) -> None:
    """Append ``record`` as one JSON line, flushed to disk before returning."""
    with open(path, "a") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


LOCK_NAME = ".lock"


class FolderLock:
    """Held from ``acquire()`` (or entering a ``with`` block) to ``release()``; the lock file is removed on release.

    A second process (or a second lock in this one) on the same folder is refused with one line naming the holder,
    or, with ``wait``, waits for it. The operating system drops the lock of a process that dies, so a killed run
    never leaves its folder locked.
    """

    def __init__(self, folder: str | Path, wait: bool = False):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.wait = wait
        self._fd: int | None = None

    def acquire(self) -> FolderLock:
        while self._fd is None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if self.wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise FocusInterpError(
                    f"{self.folder} is in use by another run (pid {holder}): wait for it to finish or pass another --out"
                ) from None
            if _same_file(fd, self.path):
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
                self._fd = fd
            else:  # the holder removed the file between our open and our lock: lock the new one
                os.close(fd)
        return self

    def release(self) -> None:
        if self._fd is not None:
            self.path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False
