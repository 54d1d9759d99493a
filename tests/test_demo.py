"""The main job: ``focus-interp demo --quick`` on the default model writes a report of every stage; an interrupted
run resumes without redoing finished work and gives the same numbers as an uninterrupted run with the same seed."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys

import pytest

from focus_interp.demo import (
    QUICK_SIZES,
    configuration_label,
    demo_configurations,
    run_demo,
)
from focus_interp.directions import cache as cache_module
from focus_interp.directions import run as directions_run
from focus_interp.evaluation import multidoc
from focus_interp.evaluation.result_cells import difference_cell, em_cell
from focus_interp.scoring import contextual_run


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    """The report folder of the quick demo, run as a user runs it."""
    out = tmp_path_factory.mktemp("demo") / "report"
    done = subprocess.run(
        [sys.executable, "-m", "focus_interp.cli", "demo", "--quick", "--out", str(out)],
        capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "query heads    9 per layer" in done.stdout and "post_rope" in done.stdout
    assert f"written: {out}/report.md" in done.stdout
    return out


def test_the_quick_demo_report_embeds_its_figures_and_holds_every_number(quick_report):
    report = (quick_report / "report.md").read_text()
    for figure in re.findall(r"!\[[^]]*\]\(([^)]+)\)", report):
        assert (quick_report / figure).stat().st_size > 0, figure
    assert {"heads.png", "em.png", "directions/losses.png"} <= set(re.findall(r"\]\(([^)]+)\)", report))
    numbers = json.loads((quick_report / "numbers.json").read_text())
    em = numbers["evaluation"]["em"]
    assert len(em) == len(demo_configurations(QUICK_SIZES)) and numbers["evaluation"]["n"] == QUICK_SIZES.n_test
    with open(quick_report / "em.csv") as handle:
        assert [float(row["em"]) for row in csv.DictReader(handle)] == [row["em"] for row in em]
    with open(quick_report / "evaluation" / "results.csv") as handle:
        overall = [row for row in csv.DictReader(handle) if row["gold_position"] == "all"]
    assert [float(row["em"]) for row in overall] == [row["em"] for row in em]
    assert [float(row["p_value"] or "nan") for row in overall][1:] == [row["p_value"] for row in em][1:]
    assert "95% cluster-bootstrap intervals" in report
    for row in em:
        assert f"| {configuration_label(row)} | {em_cell(row)} | {difference_cell(row)} |" in report
    unclear = [configuration_label(row) for row in em if row["p_value"] is not None and row["p_value"] >= 0.05]
    assert ("Not significantly different from no intervention" in report) == bool(unclear)
    head = numbers["heads"]["top"][0]
    assert f"| {head['layer']} | {head['head']} | {head['R']:.3f} |" in report
    with open(quick_report / "heads" / "head_scores.csv") as handle:
        best = max(csv.DictReader(handle), key=lambda row: float(row["R"]))
    assert (int(best["layer"]), int(best["head"])) == (head["layer"], head["head"])
    assert numbers["directions"]["n_trained"] == QUICK_SIZES.n_train


def test_an_interrupted_demo_resumes_without_recomputing_and_repeats_the_numbers(default_model, quick_report, tmp_path, monkeypatch):
    real_evaluate_row = multidoc._evaluate_row
    evaluated = []

    def interrupt_on_second(loaded, row, *args):
        if evaluated:
            raise KeyboardInterrupt
        evaluated.append(row["id"])
        return real_evaluate_row(loaded, row, *args)

    monkeypatch.setattr(multidoc, "_evaluate_row", interrupt_on_second)
    with pytest.raises(KeyboardInterrupt):
        run_demo(default_model, tmp_path, QUICK_SIZES, progress=False)
    assert not (tmp_path / "numbers.json").exists()

    def finished_work(*args):
        pytest.fail("a rerun redid finished work")

    monkeypatch.setattr(contextual_run, "score_prompts", finished_work)
    monkeypatch.setattr(cache_module, "cache_sample", finished_work)
    monkeypatch.setattr(directions_run, "train_on_cache", finished_work)
    rerun = []
    monkeypatch.setattr(multidoc, "_evaluate_row", lambda loaded, row, *args: rerun.append(row["id"]) or real_evaluate_row(loaded, row, *args))
    run_demo(default_model, tmp_path, QUICK_SIZES, progress=False)
    assert len(rerun) == QUICK_SIZES.n_test - 1 and evaluated[0] not in rerun
    again = json.loads((tmp_path / "numbers.json").read_text())
    first = json.loads((quick_report / "numbers.json").read_text())
    assert again["evaluation"] == first["evaluation"]
    assert [(h["layer"], h["head"]) for h in again["heads"]["top"]] == [(h["layer"], h["head"]) for h in first["heads"]["top"]]
    assert {key: again[key] for key in ("model", "seed", "sizes")} == {key: first[key] for key in ("model", "seed", "sizes")}
    assert _floats(again) == pytest.approx(_floats(first), rel=1e-5)


def _floats(value) -> list[float]:
    """Every number in a JSON value, in order."""
    if isinstance(value, dict):
        return [x for key in sorted(value) for x in _floats(value[key])]
    if isinstance(value, list):
        return [x for item in value for x in _floats(item)]
    return [float(value)] if isinstance(value, (int, float)) and not isinstance(value, bool) else []
