"""Evaluation sweeps: configurations, shared-prefill results, results.csv, resuming."""

from __future__ import annotations

import csv
import json

import pytest

from focus_interp import FocusInterpError, build_prompt
from focus_interp.cli import EXIT_BAD_INPUT, main
from focus_interp.data import gold_parts, load_multidoc_qa, long_parts
from focus_interp.evaluation import multidoc
from focus_interp.evaluation.configurations import (
    Configuration,
    HeadSets,
    capped_k,
    split_softmax_configurations,
)
from focus_interp.evaluation.multidoc import run_sweep
from focus_interp.evaluation.sweep_results import RESULT_COLUMNS, SweepResults
from focus_interp.metrics.intervals import mean_interval, paired_difference
from focus_interp.model.generation import greedy_response
from tests.conftest import read_results_csv as read_results

ROWS = load_multidoc_qa("synthetic", n=4, gold_positions=(1, 3), n_documents=3)


def _head_sets(loaded):
    ranking = tuple((layer, head) for head in range(4) for layer in range(3))
    return HeadSets(ranking, "hand ranking", loaded.architecture, seed=0)


def test_k_grid_is_capped_at_the_model_heads():
    assert capped_k(["1", "5", "10", "all"], 7) == [1, 5, 7]
    with pytest.raises(FocusInterpError, match="at least 1"):
        capped_k(["0"], 7)


def test_sweep_results_match_their_samples_and_plain_generation(tiny_loaded, tmp_path):
    loaded = tiny_loaded("llama", "sdpa")
    configurations = split_softmax_configurations([2, 12], [0.0, 1.0], [0.0])
    run_sweep(loaded, ROWS, tmp_path, configurations, _head_sets(loaded), max_new_tokens=4, batch_size=3, progress=False)
    records = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    decode = loaded.tokenizer.decode
    for record, row in zip(records, ROWS):
        responses = record["responses"]
        assert responses["none"] == decode(greedy_response(loaded, build_prompt(loaded.tokenizer, long_parts(row)), 4))
        assert responses["gold_only"] == decode(greedy_response(loaded, build_prompt(loaded.tokenizer, gold_parts(row)), 4))
        assert responses["split_softmax top k=2 tau=1"] == responses["none"]
        assert responses["split_softmax top k=12 tau=0"] == responses["split_softmax random k=12 tau=0"]
    results = read_results(tmp_path / "results.csv")
    assert len(results) == len(configurations) * 3
    for result in results:
        name = Configuration(
            result["intervention"], result["heads"], result["k"] or 0, result["tau"], result["alpha"]
        ).name
        chosen = [r for r in records if result["gold_position"] == "all" or str(r["gold_position"]) == result["gold_position"]]
        assert result["n"] == len(chosen)
        assert result["em"] == pytest.approx(sum(r["em"][name] for r in chosen) / len(chosen))


def test_interrupted_sweep_resumes_without_recomputing(tiny_loaded, tmp_path, monkeypatch):
    loaded = tiny_loaded("llama", "sdpa")
    configurations = split_softmax_configurations([1], [0.3])
    evaluate = multidoc._evaluate_row
    calls = []

    def interrupt_on_third(*args, **kwargs):
        calls.append(args[1]["id"])
        if len(calls) == 3:
            raise KeyboardInterrupt
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(multidoc, "_evaluate_row", interrupt_on_third)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(loaded, ROWS, tmp_path, configurations, _head_sets(loaded), max_new_tokens=3, progress=False)
    with open(tmp_path / "results.csv") as handle:
        assert {row["n"] for row in csv.DictReader(handle) if row["gold_position"] == "all"} == {"2"}
    calls.clear()
    run_sweep(loaded, ROWS, tmp_path, configurations, _head_sets(loaded), max_new_tokens=3, progress=False)
    assert calls == [row["id"] for row in ROWS][2:]
    with pytest.raises(FocusInterpError, match="other settings"):
        run_sweep(loaded, ROWS, tmp_path, configurations[:2], _head_sets(loaded), max_new_tokens=3, progress=False)


def test_more_top_heads_than_ranked_is_an_error(tiny_loaded, tmp_path):
    loaded = tiny_loaded("llama", "sdpa")
    head_sets = HeadSets(((0, 0), (1, 1)), "short list", loaded.architecture)
    with pytest.raises(FocusInterpError, match="ranks only 2"):
        run_sweep(loaded, ROWS, tmp_path, split_softmax_configurations([3], [0.3]), head_sets, progress=False)


def test_compensate_without_a_head_ranking_is_one_line(default_model, tmp_path, capsys):
    """(``default_model`` converts the model first, so the command loads it from the cache without progress bars.)"""
    code = main(["compensate", "--heads", str(tmp_path / "missing"), "--out", str(tmp_path / "run"), "--n", "1"])
    assert code == EXIT_BAD_INPUT
    error = capsys.readouterr().err.strip()
    assert error.startswith("focus-interp: error: no head scores at") and "\n" not in error


def test_focus_direction_sweep_matches_generation_under_that_direction(tiny_loaded, tmp_path):
    import torch

    from focus_interp.directions import Directions
    from focus_interp.evaluation.configurations import focus_direction_configurations
    from focus_interp.interventions import FocusDirection
    from focus_interp.interventions.generation import generate_with_interventions

    loaded = tiny_loaded("qwen2", "sdpa")
    generator = torch.Generator().manual_seed(1)
    directions = Directions(torch.randn(3, 4, 16, generator=generator) * 5, torch.randn(3, 4, 16, generator=generator))
    head_sets = _head_sets(loaded)
    configurations = focus_direction_configurations([2, 12], [0.0, 3.0])
    run_sweep(loaded, ROWS.select(range(2)), tmp_path, configurations, head_sets, max_new_tokens=4, directions=directions, progress=False)
    records = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    for record, row in zip(records, ROWS):
        responses = record["responses"]
        assert responses["focus_direction top k=12 alpha=0"] == responses["none"]
        prompt = build_prompt(loaded.tokenizer, long_parts(row))
        edit = FocusDirection(head_sets.ranking, directions.query, directions.key, 3.0)
        assert responses["focus_direction top k=12 alpha=3"] == loaded.tokenizer.decode(
            generate_with_interventions(loaded, prompt, [edit], max_new_tokens=4)
        )
    assert len({record["responses"]["focus_direction top k=12 alpha=3"] for record in records} | {r["responses"]["none"] for r in records}) > 2


def test_directions_of_another_model_are_one_line(tmp_path, capsys):
    import torch

    from focus_interp.directions import Directions, save_directions

    path = tmp_path / "other.safetensors"
    save_directions(path, Directions(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4)))
    scores = tmp_path / "heads.json"
    scores.write_text("[[0, 0]]")
    code = main(["evaluate", "--directions", str(path), "--heads", str(scores), "--out", str(tmp_path / "run"), "--n", "1"])
    assert code == EXIT_BAD_INPUT
    error = capsys.readouterr().err.strip()
    assert "belong to another model" in error and "\n" not in error


def test_bad_configurations_fail_before_any_sample(tiny_loaded, tmp_path):
    loaded = tiny_loaded("llama", "sdpa")
    with pytest.raises(FocusInterpError, match="tau must be"):
        run_sweep(loaded, ROWS, tmp_path / "run", split_softmax_configurations([1], [-1.0]), _head_sets(loaded), progress=False)
    assert not (tmp_path / "run").exists()
    with pytest.raises(FocusInterpError, match="whole number or 'all'"):
        capped_k(["abc"], 7)


def test_a_sweeps_intervals_resample_questions_and_pair_each_configuration_with_no_intervention(tiny_loaded):
    loaded = tiny_loaded("llama", "sdpa")
    configurations = split_softmax_configurations([1, 2], [0.3], [0.3])
    results = run_sweep(loaded, ROWS, None, configurations, _head_sets(loaded), max_new_tokens=3, progress=False)
    top = Configuration("split_softmax", "top", 2, tau=0.3)
    questions = [r["question"] for r in results.records]
    rows = {(row["intervention"], row["heads"], row["k"], row["gold_position"]): row for row in results.table()}
    expected = mean_interval([r["em"][top.name] for r in results.records], questions)
    compared = paired_difference([r["em"][top.name] for r in results.records], [r["em"]["none"] for r in results.records], questions)
    row = rows["split_softmax", "top", 2, "all"]
    assert (row["n"], row["n_questions"]) == (len(ROWS), len(set(questions))) < (len(ROWS), len(ROWS))
    assert (row["em"], row["em_low"], row["em_high"]) == (expected.estimate, expected.low, expected.high)
    assert (row["difference"], row["difference_low"], row["difference_high"], row["p_value"]) == (
        compared.difference, compared.low, compared.high, compared.p_value)
    assert results.compare(top) == compared and results.interval(top) == expected
    assert rows["none", "", None, "all"]["p_value"] is None


def test_an_unknown_score_column_is_one_line(tmp_path):
    from focus_interp.heads import rank_heads

    with pytest.raises(FocusInterpError, match="no score column 'foo'"):
        rank_heads([{"layer": 0, "head": 0, "R": 0.1}], "foo")


def test_a_sweep_in_memory_returns_results_equal_to_its_run_folder(tiny_loaded, tmp_path):
    loaded = tiny_loaded("llama", "sdpa")
    configurations = split_softmax_configurations([1, 2], [0.3], [0.3])
    in_memory = run_sweep(loaded, ROWS, None, configurations, _head_sets(loaded), max_new_tokens=3, progress=False)
    run_sweep(loaded, ROWS, tmp_path, configurations, _head_sets(loaded), max_new_tokens=3, progress=False)
    loaded_back = SweepResults.load(tmp_path)
    assert loaded_back.configurations == configurations
    frame = in_memory.to_frame()
    assert list(frame.columns) == list(RESULT_COLUMNS) and len(frame) == len(configurations) * 3
    written = read_results(tmp_path / "results.csv")
    assert [round(row["em"], 6) for row in written] == [round(em, 6) for em in frame["em"]]
    assert loaded_back.table() == in_memory.table()
    top = Configuration("split_softmax", "top", 2, tau=0.3)
    chosen = [r for r in in_memory.records if r["gold_position"] == 3]
    assert in_memory.em(top, 3) == sum(r["em"][top.name] for r in chosen) / len(chosen)
    figure = in_memory.plot()
    axis = figure.axes[0]
    assert axis.get_xscale() == "log" and len(axis.containers) == 2
    assert sum(line.get_label().startswith(("baseline", "gold", "no gold")) for line in axis.lines) == 3
    overall = [row for row in in_memory.table() if row["gold_position"] == "all" and row["heads"] == "top"]
    top_line = next(c for c in axis.containers if c.get_label().startswith("top"))
    bars = top_line.lines[2][0].get_segments()
    assert [bound for (_, low), (_, high) in bars for bound in (low, high)] == pytest.approx(
        [bound for row in overall for bound in (row["em_low"], row["em_high"])])
    with pytest.raises(FocusInterpError, match="no configuration 'focus_direction top k=1'"):
        in_memory.em("focus_direction top k=1")
