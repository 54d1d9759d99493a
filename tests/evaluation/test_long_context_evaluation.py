"""Long-context runs: scores equal an independent greedy generation, sink scores equal eager attention, resume,
and the Table 2 script's differences to no intervention."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from focus_interp import FocusInterpError, cli
from focus_interp.cli import EXIT_BAD_INPUT
from focus_interp.data.long_context import build_long_context_task
from focus_interp.directions import Directions
from focus_interp.evaluation import long_context
from focus_interp.evaluation.configurations import HeadSets
from focus_interp.evaluation.long_context import (
    long_context_configurations,
    run_long_context,
)
from focus_interp.evaluation.long_context_results import (
    RESULT_COLUMNS,
    LongContextResults,
)
from focus_interp.metrics.long_context import score_response
from focus_interp.model.generation import greedy_response
from tests.conftest import eager_span_mass

ROOT = Path(__file__).resolve().parents[2]
RANKING = ((2, 1), (1, 3), (0, 0), (2, 2), (1, 0), (0, 3))


@pytest.fixture
def long_context_run(tiny_loaded, tmp_path):
    loaded = tiny_loaded("llama", "sdpa")
    samples = [s for task in ("json_kv", "ruler_mk_needle") for s in build_long_context_task(task, loaded.tokenizer, 420, 2, seed=1)]
    generator = torch.Generator().manual_seed(0)
    directions = Directions(torch.randn(3, 4, 16, generator=generator) * 4, torch.zeros(3, 4, 16))
    configurations = long_context_configurations([2], [-0.5, 0.0, 0.5])
    head_sets = HeadSets(RANKING, "hand ranking", loaded.architecture)
    run = tmp_path / "run"
    run_long_context(loaded, samples, run, configurations, head_sets, directions, max_new_tokens=4, progress=False)
    return loaded, samples, run, configurations, head_sets, directions


def test_scores_and_sink_equal_independent_computations(long_context_run):
    loaded, samples, run, *_ = long_context_run
    records = {r["id"]: r for r in map(json.loads, (run / "samples.jsonl").read_text().splitlines())}
    for sample in samples:
        prompt = sample.prompt(loaded.tokenizer)
        response = greedy_response(loaded, prompt, 4)
        record = records[sample.id]
        assert record["scores"]["none"] == score_response(sample, loaded.tokenizer.decode(response))
        assert record["responses"]["focus_direction top k=2 alpha=0"] == record["responses"]["none"]
        if response:
            sink = eager_span_mass(loaded.hf_model, prompt, response, ["sink"]).mean(0)[..., 0]
            expected = torch.stack([sink[layer, head] for layer, head in RANKING[:5]]).mean()
            assert abs(record["sink"]["none"] - float(expected)) < 1e-5


def test_results_hold_every_task_budget_and_configuration(long_context_run):
    _, samples, run, configurations, *_ = long_context_run
    with open(run / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 * len(configurations)
    assert {row["n"] for row in rows} == {"2"}
    assert {row["configuration"] for row in rows} == {c.name for c in configurations}
    results = LongContextResults.load(run)
    for row in rows:
        chosen = [r for r in results.records if r["task"] == row["task"]]
        assert float(row["score"]) == pytest.approx(np.mean([r["scores"][row["configuration"]] for r in chosen]), abs=1e-6)
    assert results.to_frame().shape == (len(rows), len(RESULT_COLUMNS))


def test_a_rerun_resumes_without_generating_again(long_context_run, monkeypatch):
    loaded, samples, run, configurations, head_sets, directions = long_context_run

    def fail(*args, **kwargs):
        raise AssertionError("a finished sample was generated again")

    monkeypatch.setattr(long_context, "generate_with_span_attention", fail)
    results = run_long_context(loaded, samples, run, configurations, head_sets, directions, max_new_tokens=4, progress=False)
    assert results.summary["n_evaluated"] == len(samples) and len(results.records) == len(samples)


@pytest.mark.parametrize("change", [
    lambda sample: replace(sample, parts=[*sample.parts, " One more line."]),
    lambda sample: replace(sample, answers=["9999999"]),
])
def test_a_rerun_over_changed_samples_with_the_same_ids_is_refused(long_context_run, change):
    loaded, samples, run, configurations, head_sets, directions = long_context_run
    changed = [change(samples[0]), *samples[1:]]
    assert changed[0].id == samples[0].id
    with pytest.raises(FocusInterpError, match="holds a run with other settings"):
        run_long_context(loaded, changed, run, configurations, head_sets, directions, max_new_tokens=4, progress=False)


def test_the_command_reports_a_budget_a_task_cannot_fill_and_runs_the_rest(tiny_loaded, tmp_path, monkeypatch, capsys):
    loaded = tiny_loaded("llama", "sdpa")
    monkeypatch.setattr(cli, "_load", lambda args: loaded)
    heads, run = tmp_path / "heads.json", tmp_path / "run"
    heads.write_text(json.dumps([list(head) for head in RANKING]))
    code = cli.main(["long-context", "--heads", str(heads), "--tasks", "json_kv", "json_kv", "--budgets", "420", "30", "420",
                     "--n", "1", "--max-new-tokens", "2", "--out", str(run)])
    assert code == 0
    assert "unavailable: json_kv at 30 tokens: " in capsys.readouterr().out
    assert [(row["task"], row["budget"]) for row in LongContextResults.load(run).table()] == [("json_kv", 420)]
    data = json.loads((run / "meta.json").read_text())["settings"]["data"]
    assert data["tasks"] == ["json_kv"] and data["budgets"] == [420, 30]


@pytest.mark.parametrize("option", ["--kv-file", "--nq-file"])
def test_a_missing_data_file_is_one_line_before_the_model_loads(tmp_path, monkeypatch, capsys, option):
    def fail(args):
        raise AssertionError("the model was loaded before the data files were checked")

    monkeypatch.setattr(cli, "_load", fail)
    missing = tmp_path / "missing.jsonl.gz"
    code = cli.main(["long-context", "--heads", "heads.json", option, str(missing), "--out", str(tmp_path / "run")])
    assert code == EXIT_BAD_INPUT
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"focus-interp: error: {option} {missing} is not a file") and "\n" not in error


def _table2(run: Path, out: Path) -> None:
    result = subprocess.run([sys.executable, str(ROOT / "analyses" / "table2_long_context.py"), str(run), "--out", str(out)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_table2_reports_differences_to_no_intervention(long_context_run, tmp_path):
    _, _, run, *_ = long_context_run
    out = tmp_path / "figures"
    _table2(run, out)
    rows = LongContextResults.load(run).table()
    base = {(r["task"], r["budget"]): r["score"] for r in rows if r["configuration"] == "none"}
    lines = (out / "table2_long_context.csv").read_text().splitlines()[1:]
    for line, row in zip(lines, rows):
        assert abs(float(line.split(",")[6]) - (row["score"] - base[row["task"], row["budget"]])) < 1e-6
    report = (out / "table2_long_context.md").read_text()
    assert "## 420 tokens" in report
    assert "STD" in report and (out / "table2_long_context.png").stat().st_size > 0


def test_table2_sink_columns_stay_aligned_when_a_task_is_missing_at_a_budget(tmp_path):
    run, out = tmp_path / "run", tmp_path / "figures"
    run.mkdir()
    (run / "meta.json").write_text(json.dumps({"model": "tiny", "settings": {"configurations": ["none"]}}))
    cells = [("json_kv", "recall", 420, 0.5, 0.1), ("rag_nq", "rag", 420, 0.25, 0.3), ("rag_nq", "rag", 840, 0.75, 0.2)]
    records = [{"id": f"{task}-{budget}", "task": task, "category": category, "budget": budget, "responses": {"none": ""},
                "scores": {"none": score}, "sink": {"none": sink}} for task, category, budget, score, sink in cells]
    (run / "samples.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    _table2(run, out)
    report = (out / "table2_long_context.md").read_text()
    assert "| budget | json_kv | rag_nq | mean | STD |" in report
    # 420: sinks 10% and 30%, mean 20%, population STD 10%; 840: json_kv missing, rag_nq alone at 20%.
    assert "| 420 | 10.0 | 30.0 | 20.0 | 10.0 |" in report
    assert "| 840 | – | 20.0 | 20.0 | 0.0 |" in report


def test_results_in_memory_grid_and_plot_follow_the_records(tiny_loaded):
    loaded = tiny_loaded("llama", "sdpa")
    samples = build_long_context_task("json_kv", loaded.tokenizer, 420, 2, seed=1)
    head_sets = HeadSets(RANKING, "hand ranking", loaded.architecture)
    results = run_long_context(loaded, samples, None, long_context_configurations([], []), head_sets, None,
                               max_new_tokens=2, progress=False)
    labels, configurations, grid = results.grid(420)
    assert labels == ["json_kv", "recall (average)", "average"] and configurations == ["none"]
    assert grid[0, 0] == pytest.approx(100 * np.mean([r["scores"]["none"] for r in results.records]))
    assert results.score("none", "json_kv") == pytest.approx(grid[0, 0] / 100)
    figure = results.plot()
    assert len(figure.axes[0].texts) == 3
    with pytest.raises(FocusInterpError, match="no sample at 999 tokens"):
        results.grid(999)
