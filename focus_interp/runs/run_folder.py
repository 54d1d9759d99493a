"""Run folders: append-only ``samples.jsonl`` that a rerun resumes, and ``meta.json`` that pins the settings."""

from __future__ import annotations

import hashlib
import json
import platform
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Callable

from tqdm import tqdm

from focus_interp.errors import FocusInterpError
from focus_interp.files import (
    FolderLock,
    append_record,
    read_appended_records,
    write_atomic,
)
from focus_interp.model.generation import check_max_new_tokens
from focus_interp.model.loading import LoadedModel

_VERSIONED = ("focus-interp", "torch", "transformers", "nnsight")


def versions() -> dict[str, str]:
    """Versions of Python and of the packages whose changes can move the numbers."""
    found = {}
    for name in _VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return {"python": platform.python_version(), **found}


def rows_fingerprint(rows) -> str:
    """A short hash of the rows' full content (question, answers, documents, gold position, ...): a resumed run must
    see the same samples, not only the same ids."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps(row, sort_keys=True, default=str).encode() + b"\n")
    return digest.hexdigest()[:16]


def check_unique_ids(rows) -> None:
    """An error naming the first id that two rows share (a run would keep only one of them)."""
    seen = set()
    for row in rows:
        if row["id"] in seen:
            raise FocusInterpError(f"two samples have the id {row['id']!r}: give every sample its own id")
        seen.add(row["id"])


def sample_settings(loaded: LoadedModel, rows, data: dict | None, max_new_tokens: int) -> dict:
    """The settings every run over samples pins: the model (name, config and weights fingerprints, dtype, device),
    data source, the rows' full content, and the response length. Errors, before any run folder is made, for a
    response length below 1 and for rows that share an id."""
    check_max_new_tokens(max_new_tokens)
    check_unique_ids(rows)
    return {
        "model": loaded.name,
        "model_identity": loaded.identity(),
        "data": data or {},
        "rows": rows_fingerprint(rows),
        "n": len(rows),
        "max_new_tokens": max_new_tokens,
    }


def read_run(folder: str | Path, command: str) -> tuple[dict, list[dict]]:
    """The ``meta.json`` and the records of a finished (or interrupted) run folder; an error saying which
    ``command`` makes one when ``folder`` is not a run folder."""
    folder = Path(folder)
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        raise FocusInterpError(f"{folder} is not a run folder (no meta.json): run `focus-interp {command} --out {folder}` first")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError:
        raise FocusInterpError(f"{meta_path} is not a run's meta.json: pass a run folder") from None
    return meta, read_appended_records(folder / "samples.jsonl")


def make_folder(path: Path) -> Path:
    """``path`` made as a folder (with its parents); an error when it, or a parent, is a file."""
    in_the_way = next((part for part in (path, *path.parents) if part.exists() and not part.is_dir()), None)
    if in_the_way is not None:
        raise FocusInterpError(f"{in_the_way} is a file: --out must name a folder")
    path.mkdir(parents=True, exist_ok=True)
    return path


class RunFolder:
    """A folder that holds one run; ``settings`` must match those of any run already in it.

    Use it as ``with RunFolder(out, settings) as folder:``: it holds the folder's lock (``FolderLock``) from
    construction to the end of the block, so a second process is refused instead of writing the same samples.
    With ``path`` None the run lives in memory only: no file, no lock, nothing to resume. ``meta`` is the last
    ``meta.json`` written (or that would have been).
    """

    def __init__(self, path: str | Path | None, settings: dict):
        self.path = None if path is None else Path(path)
        self.settings = settings
        self.meta: dict = {}
        self.lock = None
        if self.path is None:
            self.write_meta({})
            return
        self.samples_path = self.path / "samples.jsonl"
        self.meta_path = self.path / "meta.json"
        make_folder(self.path)
        self.lock = FolderLock(self.path).acquire()
        try:
            self._check_or_write_meta()
        except BaseException:
            self.lock.release()
            raise

    def __enter__(self) -> RunFolder:
        return self

    def __exit__(self, *exc) -> None:
        if self.lock is not None:
            self.lock.release()

    def file(self, name: str) -> Path | None:
        """The path of the run's file ``name``, or None for a run in memory."""
        return None if self.path is None else self.path / name

    def _check_or_write_meta(self) -> None:
        if self.meta_path.exists():
            try:
                previous = json.loads(self.meta_path.read_text()).get("settings") or {}
            except (json.JSONDecodeError, AttributeError):
                raise FocusInterpError(f"{self.meta_path} is not a run's meta.json: pass another output folder") from None
            current = json.loads(json.dumps(self.settings))
            if previous != current:
                changed = sorted(k for k in set(previous) | set(current) if previous.get(k) != current.get(k))
                raise FocusInterpError(
                    f"{self.path} holds a run with other settings ({', '.join(changed)} differ): "
                    "pass another output folder or the same settings"
                )
        else:
            self.write_meta({})

    def write_meta(self, summary: dict) -> None:
        meta = {
            "settings": self.settings,
            "versions": versions(),
            "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **summary,
        }
        self.meta = json.loads(json.dumps(meta))
        if self.path is not None:
            write_atomic(self.meta_path, json.dumps(meta, indent=2) + "\n")

    def records(self) -> list[dict]:
        """Finished records; a last line cut short by an interruption is dropped from the file, and a folder that
        holds one sample twice is refused."""
        if self.path is None:
            return []
        records = read_appended_records(self.samples_path)
        seen: dict = {}
        for number, record in enumerate(records, start=1):
            if record.get("id") in seen:
                raise FocusInterpError(
                    f"{self.samples_path} holds sample {record.get('id')!r} twice (records {seen[record.get('id')]} and "
                    f"{number}): remove the repeated record or pass another --out"
                )
            seen[record.get("id")] = number
        return records

    def append(self, record: dict) -> None:
        if self.path is not None:
            append_record(self.samples_path, record)


def process_rows(
    folder: RunFolder,
    rows,
    process: Callable[[dict], dict],
    records: list[dict],
    skipped: list[dict],
    desc: str,
    progress: bool = True,
    after_each: Callable[[], None] | None = None,
) -> None:
    """Run ``process(row)`` on each row whose id is not among ``records``; each new record is appended to
    ``folder`` and to ``records`` as it finishes. A row whose processing raises ``FocusInterpError`` goes to
    ``skipped`` with its reason; ``after_each`` runs after every row (e.g. to rewrite a results file). An
    interruption keeps every finished record.
    """
    done = {record["id"] for record in records}
    with tqdm(total=len(rows), initial=len(done), desc=desc, unit="sample", disable=not progress) as bar:
        for row in rows:
            if row["id"] in done:
                continue
            try:
                record = process(row)
            except FocusInterpError as error:
                skipped.append({"id": row["id"], "reason": str(error)})
            else:
                folder.append(record)
                records.append(record)
                done.add(row["id"])
            if after_each is not None:
                after_each()
            bar.update()


def evaluate_rows(
    folder: RunFolder,
    rows,
    process: Callable[[dict], dict],
    records: list[dict],
    write: Callable[[], None],
    model: str,
    desc: str,
    progress: bool = True,
) -> dict:
    """``process_rows`` with ``write()`` (a results file) after every row and once more at the end, even when
    interrupted; ``meta.json`` then gets the summary it returns: model, n_evaluated, n_skipped, skipped."""
    skipped: list[dict] = []
    try:
        process_rows(folder, rows, process, records, skipped, desc, progress, after_each=write)
    finally:
        write()
        summary = {"model": model, "n_evaluated": len(records), "n_skipped": len(skipped), "skipped": skipped}
        folder.write_meta(summary)
    return summary
