"""The Figure 2 and Table 1 scripts on a small run folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from focus_interp.data import load_multidoc_qa
from focus_interp.heads import rank_heads
from focus_interp.reports.plots import score_grid
from focus_interp.scoring.contextual_run import score_heads
from focus_interp.scoring.head_score_files import read_head_scores
from focus_interp.scoring.head_scores import HeadScores

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tiny_run(tiny_loaded, tmp_path):
    rows = load_multidoc_qa("synthetic", split="train", n=4, gold_positions=(1, 3), n_documents=3)
    run = tmp_path / "run"
    score_heads(tiny_loaded("llama", "sdpa"), rows, run, {"source": "synthetic"}, max_new_tokens=3, progress=False)
    return run


def _run_script(name: str, *args: str) -> str:
    result = subprocess.run([sys.executable, str(ROOT / "analyses" / name), *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_fig2_counts_heads_above_thresholds(tiny_run, tmp_path):
    out = tmp_path / "figures"
    _run_script("fig2_head_locations.py", str(tiny_run), "--out", str(out))
    grid = score_grid(read_head_scores(tiny_run / "head_scores.csv"), "R")
    report = (out / "fig2_head_locations.md").read_text()
    for threshold in (0.2, 0.1, 0.05):
        assert f"| R > {threshold} | {int(np.sum(grid > threshold))} |" in report
    assert (out / "fig2_head_locations.png").stat().st_size > 0
    written = np.loadtxt(out / "fig2_head_locations.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(written[:, 1:], grid, atol=1e-6)


def test_table1_lists_top_heads_by_case(tiny_run, tmp_path):
    out = tmp_path / "figures"
    _run_script("table1_contextual_scores.py", str(tiny_run), "--out", str(out), "--top", "3")
    rows = rank_heads(read_head_scores(tiny_run / "head_scores.csv"))[:3]
    lines = (out / "table1_contextual_scores.csv").read_text().splitlines()
    assert len(lines) == 1 + 3 * 4
    assert lines[0].split(",")[3:6] == ["R", "R_low", "R_high"]
    first = lines[1].split(",")
    assert (int(first[0]), int(first[1]), first[2]) == (rows[0]["layer"], rows[0]["head"], "long")
    assert [float(value) for value in first[3:6]] == pytest.approx([rows[0]["R"], rows[0]["R_low"], rows[0]["R_high"]], abs=1e-6)
    assert (out / "table1_contextual_scores.png").stat().st_size > 0


def test_missing_run_folder_is_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "analyses" / "fig2_head_locations.py"), str(tmp_path / "nothing")],
        capture_output=True, text=True,
    )
    assert result.returncode != 0 and "is not a run folder" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_fig3_plots_every_configuration_of_a_sweep(tiny_loaded, tmp_path):
    import csv

    from focus_interp.evaluation.configurations import (
        HeadSets,
        split_softmax_configurations,
    )
    from focus_interp.evaluation.multidoc import run_sweep
    from tests.conftest import read_results_csv as read_results

    loaded = tiny_loaded("llama", "sdpa")
    rows = load_multidoc_qa("synthetic", split="test", n=2, gold_positions=(1, 3), n_documents=3)
    ranking = tuple((layer, head) for layer in range(3) for head in range(4))
    run = tmp_path / "sweep"
    configurations = split_softmax_configurations([1, 12], [0.3, 2.0], [0.3])
    run_sweep(loaded, rows, run, configurations, HeadSets(ranking, "hand", loaded.architecture), max_new_tokens=2, progress=False)
    out = tmp_path / "figures"
    _run_script("fig3_split_softmax.py", str(run), "--out", str(out))
    assert (out / "fig3_split_softmax.png").stat().st_size > 0
    with open(out / "fig3_split_softmax.csv") as handle:
        written = list(csv.DictReader(handle))
    expected = [r for r in read_results(run / "results.csv") if r["gold_position"] == "all"]
    assert len(written) == len(configurations) == len(expected)
    assert [float(r["em"]) for r in written] == pytest.approx([r["em"] for r in expected])


def test_fig3_without_results_is_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "analyses" / "fig3_split_softmax.py"), str(tmp_path)], capture_output=True, text=True
    )
    assert result.returncode != 0
    assert result.stderr.strip().startswith("fig3_split_softmax.py: error: ") and "is not a run folder" in result.stderr


def test_table3_reports_score_changes_under_directions(tiny_run, tiny_loaded, tmp_path):
    import csv

    import torch

    from focus_interp.interventions import FocusDirection

    loaded = tiny_loaded("llama", "sdpa")
    rows = load_multidoc_qa("synthetic", split="train", n=4, gold_positions=(1, 3), n_documents=3)
    query = torch.randn(3, 4, 16, generator=torch.Generator().manual_seed(0)) * 4
    top = [(r["layer"], r["head"]) for r in rank_heads(read_head_scores(tiny_run / "head_scores.csv"))[:2]]
    for k, alpha in ((2, 1.5), (2, 3.0), (1, 3.0)):
        edit = FocusDirection(tuple(top[:k]), query, torch.zeros_like(query), alpha)
        score_heads(
            loaded, rows, tmp_path / f"directed-{k}-{alpha}", {"source": "synthetic"}, max_new_tokens=3, progress=False,
            interventions=[edit], interventions_settings={"k": k, "alpha": alpha},
        )
    run, stronger, one_head = (tmp_path / f"directed-{name}" for name in ("2-1.5", "2-3.0", "1-3.0"))
    out = tmp_path / "figures"
    _run_script(
        "table3_scores_under_directions.py", str(tiny_run), str(stronger), str(one_head), str(run), "--out", str(out), "--top", "2"
    )
    base = {(r["layer"], r["head"]): r for r in read_head_scores(tiny_run / "head_scores.csv")}
    directed = {(r["layer"], r["head"]): r for r in read_head_scores(run / "head_scores.csv")}
    strongest = {(r["layer"], r["head"]): r for r in read_head_scores(stronger / "head_scores.csv")}
    with open(out / "table3_scores_under_directions.csv") as handle:
        written = list(csv.DictReader(handle))
    assert [row["head"] for row in written] == [f"L{layer}H{head}" for layer, head in top] * 3
    assert [row["intervention"] for row in written[:4]] == ["top-2, alpha=3"] * 2 + ["top-1, alpha=3"] * 2
    with open(out / "table3_alpha_steps.csv") as handle:
        steps = list(csv.DictReader(handle))
    assert [row["step"] for row in steps] == ["top-2, alpha 1.5 -> 3"] * 2
    for row, head in zip(steps, top):
        faster = (strongest[head]["IR_max"] - strongest[head]["R"]) - (directed[head]["IR_max"] - directed[head]["R"])
        assert float(row["IR max Δ - R Δ"]) == pytest.approx(faster, abs=1e-5)
        assert float(row["R Δ"]) == pytest.approx(strongest[head]["R"] - directed[head]["R"], abs=1e-5)
        assert float(row["IR max Δ"]) == pytest.approx(strongest[head]["IR_max"] - directed[head]["IR_max"], abs=1e-5)
    written = written[4:]
    twice = subprocess.run(
        [sys.executable, str(ROOT / "analyses" / "table3_scores_under_directions.py"), str(tiny_run), str(run), str(run), "--out", str(out)],
        capture_output=True, text=True,
    )
    assert twice.returncode != 0 and "share an alpha" in twice.stderr
    compared = HeadScores.load(run).compare(HeadScores.load(tiny_run), "R")
    for row, head in zip(written, top):
        assert row["intervention"] == "top-2, alpha=1.5"
        assert float(row["R Δ"]) == pytest.approx(directed[head]["R"] - base[head]["R"], abs=1e-6)
        assert [float(row[f"R Δ {bound}"]) for bound in ("low", "high")] == pytest.approx(
            [compared["low"][head].item(), compared["high"][head].item()], abs=1e-6)
        assert float(row["R Δ low"]) <= float(row["R Δ"]) <= float(row["R Δ high"]) and 0 < float(row["R p"]) <= 1
    assert any(abs(float(row["R Δ"])) > 1e-4 for row in written)


def test_fig4_plots_an_alpha_sweep(tiny_loaded, tmp_path):
    import csv

    import torch

    from focus_interp.directions import Directions
    from focus_interp.evaluation.configurations import (
        HeadSets,
        focus_direction_configurations,
    )
    from focus_interp.evaluation.multidoc import run_sweep
    from tests.conftest import read_results_csv as read_results

    loaded = tiny_loaded("llama", "sdpa")
    rows = load_multidoc_qa("synthetic", split="test", n=2, gold_positions=(1, 3), n_documents=3)
    ranking = tuple((layer, head) for layer in range(3) for head in range(4))
    directions = Directions(torch.randn(3, 4, 16), torch.zeros(3, 4, 16))
    run = tmp_path / "sweep"
    configurations = focus_direction_configurations([1, 12], [-0.5, 2.0])
    run_sweep(
        loaded, rows, run, configurations, HeadSets(ranking, "hand", loaded.architecture), max_new_tokens=2,
        directions=directions, progress=False,
    )
    out = tmp_path / "figures"
    _run_script("fig4_focus_directions.py", str(run), "--out", str(out), "--gold-position", "3")
    assert (out / "fig4_focus_directions.png").stat().st_size > 0
    with open(out / "fig4_focus_directions.csv") as handle:
        written = list(csv.DictReader(handle))
    expected = [r for r in read_results(run / "results.csv") if r["gold_position"] == "3"]
    assert [(r["alpha"], float(r["em"])) for r in written] == [
        ("" if r["alpha"] is None else str(r["alpha"]), pytest.approx(r["em"])) for r in expected
    ]


def _retrieval_run(folder: Path, scores: dict) -> None:
    """A retrieval run folder of 3 needle tests that each score ``scores`` ((layer, head) -> score, else 0)."""
    grid = [[scores.get((layer, head), 0.0) for head in range(4)] for layer in range(3)]
    records = [{"id": f"needle-{i}", "question": f"q{i}", "counted": True, "scores": {"retrieval": grid}} for i in range(3)]
    HeadScores(records, 3, 4, "retrieval", {"model": "tiny-llama", "n_scored": 3}).save(folder)


def test_fig9_counts_the_heads_shared_by_both_top_lists(tiny_run, tmp_path):
    retrieval_run = tmp_path / "retrieval"
    scores = {(2, 1): 0.9, (0, 3): 0.5, (1, 1): 0.2}  # every other head scores 0
    _retrieval_run(retrieval_run, scores)
    out = tmp_path / "figures"
    _run_script("fig9_contextual_vs_retrieval.py", str(tiny_run), str(retrieval_run), "--k", "4", "--out", str(out))
    contextual = {(r["layer"], r["head"]) for r in rank_heads(read_head_scores(tiny_run / "head_scores.csv"))[:4]}
    shared = len(contextual & set(scores))
    report = (out / "fig9_contextual_vs_retrieval.md").read_text()
    assert "4 contextual and 3 retrieval" in report and f"Shared by both top-4 lists: {shared} of 4" in report
    lines = (out / "fig9_contextual_vs_retrieval.csv").read_text().splitlines()
    assert len(lines) == 1 + 4 + 3 and sum(line.endswith(",1") for line in lines) == 2 * shared
    assert (out / "fig9_contextual_vs_retrieval.png").stat().st_size > 0


def test_fig2_refuses_a_retrieval_run_with_one_line(tmp_path):
    _retrieval_run(tmp_path / "retrieval", {(0, 0): 0.5})
    result = subprocess.run([sys.executable, str(ROOT / "analyses" / "fig2_head_locations.py"), str(tmp_path / "retrieval")],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "has no R scores" in result.stderr and "Traceback" not in result.stderr


def test_span_search_counts_misplaced_windows_against_exact_spans(tiny_loaded, tmp_path):
    loaded = tiny_loaded("llama", "sdpa")
    rows = load_multidoc_qa("synthetic", n=2, n_documents=3, gold_positions=(1, 3))
    score_heads(loaded, rows, tmp_path / "exact", max_new_tokens=4, progress=False)
    authors = score_heads(loaded, rows, tmp_path / "authors", max_new_tokens=4, progress=False, span_search="authors")
    out = _run_script("span_search.py", str(tmp_path / "exact"), str(tmp_path / "authors"), "--out", str(tmp_path / "figures"))
    assert "| document windows | 6 |" in out and "reaching outside their document's line" in out
    lines = (tmp_path / "figures" / "span_search.csv").read_text().splitlines()
    assert lines[0].startswith("id,documents,shifted") and len(lines) == 3
    for line, record in zip(lines[1:], authors.records):
        found = [d["found"] for d in record["placement"]["relevant"] + record["placement"]["irrelevant"]]
        exact = [d["exact"] for d in record["placement"]["relevant"] + record["placement"]["irrelevant"]]
        assert int(line.split(",")[2]) == sum(f is not None and f[0] != e[0] for f, e in zip(found, exact))
