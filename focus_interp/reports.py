"""Small helpers for the analysis scripts: read a run folder, write markdown tables, record the command."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import numpy as np

from focus_interp.errors import FocusInterpError
from focus_interp.heads import read_head_scores


def load_head_run(folder: str | Path, column: str = "R") -> tuple[list[dict], dict]:
    """The rows of ``head_scores.csv`` and the ``meta.json`` of a scoring run folder whose scores have ``column``
    (R for contextual scoring, retrieval for retrieval scoring)."""
    folder = Path(folder)
    meta_path = folder / "meta.json"
    command = "retrieval-heads" if column == "retrieval" else "heads"
    if not meta_path.is_file():
        raise FocusInterpError(f"{folder} is not a run folder (no meta.json): run `focus-interp {command} --out {folder}` first")
    rows = read_head_scores(folder / "head_scores.csv")
    if rows and column not in rows[0]:
        raise FocusInterpError(f"{folder} has no {column} scores: pass a run of `focus-interp {command}`")
    return rows, json.loads(meta_path.read_text())


def score_grid(rows: list[dict], column: str) -> np.ndarray:
    """A [layers, heads] array of one column of head scores."""
    n_layers = max(row["layer"] for row in rows) + 1
    n_heads = max(row["head"] for row in rows) + 1
    grid = np.full((n_layers, n_heads), np.nan)
    for row in rows:
        grid[row["layer"], row["head"]] = row[column]
    return grid


def plot_head_grid(grid: np.ndarray, title: str, path: Path) -> None:
    """A layer x head heatmap of R ([layers, heads], attention mass in [0, 1]) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_layers, n_heads = grid.shape
    figure, axis = plt.subplots(figsize=(max(4.0, 0.45 * n_heads + 2), max(4.0, 0.22 * n_layers + 1.5)))
    image = axis.imshow(grid, aspect="auto", cmap="viridis", origin="lower", vmin=0)
    axis.set_xlabel("head")
    axis.set_ylabel("layer")
    axis.set_xticks(range(n_heads))
    axis.set_title(title, fontsize=9)
    figure.colorbar(image, ax=axis, label="mean attention on the gold document")
    figure.tight_layout()
    figure.savefig(path, dpi=150)
    plt.close(figure)


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
    except (FileExistsError, NotADirectoryError) as error:  # making the --out folder where a file is
        sys.exit(f"{Path(sys.argv[0]).name}: error: cannot make the folder {error.filename} ({error.strerror}): pass another --out")


BASELINE_LINES = {
    "none": ("baseline (all documents)", "black"),
    "gold_only": ("gold document alone", "tab:green"),
    "no_gold": ("no gold document", "tab:red"),
}


def sweep_results(run: str | Path, gold_position: str) -> tuple[list[dict], dict]:
    """The ``results.csv`` rows of a sweep run for one gold position (or ``all``), and its ``meta.json``."""
    from focus_interp.sweeps import read_results

    run = Path(run)
    results = [r for r in read_results(run / "results.csv") if r["gold_position"] == gold_position]
    if not results:
        raise FocusInterpError(f"{run}/results.csv has no rows for gold position {gold_position}")
    return results, json.loads((run / "meta.json").read_text())


def plot_em_against_k(results: list[dict], strength: str, title: str, path: Path) -> None:
    """EM against k (log axis), one line per (heads, ``strength`` value), baselines as horizontal lines; PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines: dict[tuple[str, float], list[dict]] = {}
    for row in results:
        if row[strength] is not None:
            lines.setdefault((row["heads"], row[strength]), []).append(row)
    values = sorted({value for heads, value in lines if heads == "top"})
    figure, axis = plt.subplots(figsize=(8, 5))
    for (heads, value), rows in sorted(lines.items()):
        rows = sorted(rows, key=lambda r: r["k"])
        colour = plt.cm.viridis_r(values.index(value) / max(1, len(values) - 1)) if heads == "top" else "tab:orange"
        axis.plot(
            [r["k"] for r in rows], [r["em"] for r in rows], marker="o", color=colour,
            linestyle="-" if heads == "top" else "--", label=f"{heads} heads, {strength}={value:g}",
        )
    for row in results:
        if row["intervention"] in BASELINE_LINES:
            label, colour = BASELINE_LINES[row["intervention"]]
            axis.axhline(row["em"], color=colour, linestyle=":", label=f"{label}: {row['em']:.3f}")
    axis.set_xscale("log")
    axis.set_xlabel("number of heads k")
    axis.set_ylabel("exact match")
    axis.set_title(title, fontsize=10)
    axis.legend(fontsize=7, loc="best")
    figure.tight_layout()
    figure.savefig(path, dpi=150)
    plt.close(figure)


def write_sweep_csv(results: list[dict], path: Path) -> None:
    """The plotted numbers: one row per configuration."""
    columns = ["intervention", "heads", "k", "tau", "alpha", "gold_position", "n", "em"]
    lines = [",".join(columns)]
    for row in results:
        cells = ["" if row[c] is None else f"{row[c]:.6f}" if c == "em" else str(row[c]) for c in columns]
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n")


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
    plot_em_against_k(results, strength, sweep_title(name, meta, n, args.gold_position), out / f"{stem}.png")
    write_sweep_csv(results, out / f"{stem}.csv")
    print(f"written: {out}/{stem}.png and .csv ({n} samples)\ncommand: {command_line()}")
