"""Small helpers for the analysis scripts: read a run folder, write markdown tables, record the command."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from focus_interp.errors import FocusInterpError
from focus_interp.reports.plots import plot_em_against_k, save_figure
from focus_interp.reports.tables import write_sweep_csv


def load_head_run(folder: str | Path, column: str = "R") -> tuple[list[dict], dict]:
    """One row per head (the columns of ``head_scores.csv``: means and 95% intervals, recomputed from the run's
    samples) and the ``meta.json`` of a scoring run folder whose scores have ``column`` (R for contextual scoring,
    retrieval for retrieval scoring)."""
    from focus_interp.scoring.head_scores import HeadScores

    folder = Path(folder)
    command = "retrieval-heads" if column == "retrieval" else "heads"
    if not (folder / "meta.json").is_file():
        raise FocusInterpError(f"{folder} is not a run folder (no meta.json): run `focus-interp {command} --out {folder}` first")
    scores = HeadScores.load(folder)
    if column not in scores.names:
        raise FocusInterpError(f"{folder} has no {column} scores: pass a run of `focus-interp {command}`")
    rows = [{**row, "layer": int(row["layer"]), "head": int(row["head"])} for row in scores.to_frame().to_dict("records")]
    return rows, scores.meta


def command_line() -> str:
    """The command that is running, as a user would type it from the project folder."""
    script = Path(sys.argv[0])
    try:
        script = script.resolve().relative_to(Path.cwd())
    except ValueError:
        pass
    return shlex.join(["python", str(script), *sys.argv[1:]])


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
    except (FileExistsError, NotADirectoryError) as error:  # making the --out folder where a file is
        sys.exit(f"{Path(sys.argv[0]).name}: error: cannot make the folder {error.filename} ({error.strerror}): pass another --out")


def sweep_results(run: str | Path, gold_position: str) -> tuple[list[dict], dict]:
    """The table of a sweep run (``SweepResults.table``: EM, intervals, paired differences) for one gold position
    (or ``all``), and its ``meta.json``."""
    from focus_interp.evaluation.sweep_results import SweepResults

    results = SweepResults.load(run)
    rows = [row for row in results.table() if row["gold_position"] == gold_position]
    if not rows:
        raise FocusInterpError(f"{run} has no samples at gold position {gold_position}")
    return rows, results.meta


def sweep_title(name: str, meta: dict, n: int, gold_position: str) -> str:
    settings = meta["settings"]
    data = settings.get("data", {})
    return (
        f"{name} on {settings['model']}: {n} {data.get('split', '')} samples, "
        f"{data.get('n_documents', '?')} documents, gold position {gold_position}"
    )


def sweep_figure_main(doc: str, strength: str, stem: str, name: str) -> None:
    """The command line of the Figure 3 / Figure 4 scripts: plot a sweep run's EM against k per ``strength``."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("run", help="sweep run folder")
    parser.add_argument("--out", default="figures")
    parser.add_argument("--gold-position", default="all", help="a gold position, or 'all'")
    args = parser.parse_args()
    results, meta = sweep_results(args.run, args.gold_position)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    n = results[0]["n"]
    save_figure(plot_em_against_k(results, strength, sweep_title(name, meta, n, args.gold_position)), out / f"{stem}.png")
    write_sweep_csv(results, out / f"{stem}.csv")
    print(f"written: {out}/{stem}.png and .csv ({n} samples)\ncommand: {command_line()}")
