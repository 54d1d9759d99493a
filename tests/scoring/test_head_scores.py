"""HeadScores: the scores of a run as an object, in memory or read back from its run folder, equal either way."""

from __future__ import annotations

import math

import pytest
import torch
from matplotlib.figure import Figure

from focus_interp import FocusInterpError, score_heads
from focus_interp.data import load_multidoc_qa
from focus_interp.heads import rank_heads
from focus_interp.metrics.intervals import mean_intervals
from focus_interp.scoring.head_score_files import read_head_scores
from focus_interp.scoring.head_scores import COLUMNS, HeadScores

ROWS = load_multidoc_qa("synthetic", split="train", n=4, gold_positions=(1, 3), n_documents=3)


@pytest.fixture(scope="module")
def in_memory(tiny_loaded_module):
    return score_heads(tiny_loaded_module, ROWS, max_new_tokens=3, progress=False)


@pytest.fixture(scope="module")
def tiny_loaded_module():
    from focus_interp import wrap_model
    from tests.conftest import tiny_hf_model, tiny_tokenizer

    return wrap_model(tiny_hf_model("llama", "sdpa"), tiny_tokenizer(), name="tiny-llama")


def test_scoring_with_no_folder_returns_every_sample_in_memory(in_memory):
    assert isinstance(in_memory, HeadScores) and len(in_memory.records) == 4
    assert in_memory.per_sample("R").shape == (4, 3, 4) and in_memory.R.shape == (3, 4)
    torch.testing.assert_close(in_memory.R, in_memory.per_sample("R").mean(0))
    assert in_memory.summary["n_scored"] == 4 and in_memory.summary["model"] == "tiny-llama"


def test_the_means_per_case_are_those_of_the_samples_of_that_case(in_memory):
    correct = [r for r in in_memory.records if r["em"] == 1 and r["em_gold"] == 1]
    expected = torch.tensor([r["scores"]["IR"] for r in correct], dtype=torch.float64).mean(0) if correct else None
    if expected is None:
        assert in_memory.mean("IR", "correct").isnan().all()
    else:
        torch.testing.assert_close(in_memory.mean("IR", "correct"), expected)


def test_each_mean_carries_its_interval_over_questions(in_memory, tmp_path):
    questions = [r["question"] for r in in_memory.records]
    assert in_memory.n_questions == len(set(questions)) == 2
    low, high = in_memory.interval("R")
    _, expected_low, expected_high = mean_intervals(in_memory.per_sample("R").numpy(), questions)
    torch.testing.assert_close(low, torch.from_numpy(expected_low))
    torch.testing.assert_close(high, torch.from_numpy(expected_high))
    assert (low <= in_memory.R + 1e-12).all() and (in_memory.R <= high + 1e-12).all()
    in_memory.write_csv(tmp_path / "head_scores.csv")
    row = next(r for r in read_head_scores(tmp_path / "head_scores.csv") if (r["layer"], r["head"]) == (1, 2))
    assert (row["R_low"], row["R_high"]) == pytest.approx((low[1, 2].item(), high[1, 2].item()), abs=1e-6)


def test_top_heads_frame_and_csv_agree(in_memory, tmp_path):
    frame = in_memory.to_frame()
    assert tuple(frame.columns) == COLUMNS and len(frame) == 12
    best = max(((layer, head) for layer in range(3) for head in range(4)), key=lambda h: in_memory.R[h].item())
    assert in_memory.top(1) == [best]
    in_memory.write_csv(tmp_path / "head_scores.csv")
    ranked = rank_heads(read_head_scores(tmp_path / "head_scores.csv"))
    assert [(row["layer"], row["head"]) for row in ranked[:5]] == in_memory.top(5)


def test_a_saved_run_loads_back_equal_and_equals_a_run_into_a_folder(in_memory, tiny_loaded_module, tmp_path):
    in_memory.save(tmp_path / "saved")
    loaded_back = HeadScores.load(tmp_path / "saved")
    torch.testing.assert_close(loaded_back.R, in_memory.R)
    assert loaded_back.top(5) == in_memory.top(5)
    into_folder = score_heads(tiny_loaded_module, ROWS, tmp_path / "run", max_new_tokens=3, progress=False)
    torch.testing.assert_close(into_folder.R, in_memory.R)
    torch.testing.assert_close(HeadScores.load(tmp_path / "run").sink_gold, in_memory.sink_gold)
    assert (tmp_path / "saved" / "head_scores.csv").read_text() == (tmp_path / "run" / "head_scores.csv").read_text()
    with pytest.raises(FocusInterpError, match="already holds samples"):
        in_memory.save(tmp_path / "run")


def test_plot_draws_the_mean_on_a_given_axes_or_a_new_figure(in_memory):
    figure = in_memory.plot("R")
    assert isinstance(figure, Figure)
    image = figure.axes[0].images[0].get_array()
    torch.testing.assert_close(torch.tensor(image.data), in_memory.R)
    mine = Figure()
    axes = mine.subplots(1, 2)
    assert in_memory.plot("sink", ax=axes[1]) is mine and axes[1].images and not axes[0].images


def test_unknown_names_and_cases_are_one_line(in_memory):
    with pytest.raises(FocusInterpError, match="no score 'retrieval' in contextual scores"):
        in_memory.mean("retrieval")
    with pytest.raises(FocusInterpError, match="case must be one of correct, wrong"):
        in_memory.mean("R", "maybe")


def test_a_sample_without_a_score_is_left_out_of_its_mean():
    def record(r_gold):
        scores = {name: [[0.5]] for name in ("R", "IR", "IR_max", "sink", "sink_gold")}
        return {"id": str(r_gold), "em": 1, "em_gold": 1, "scores": {**scores, "R_gold": r_gold}}

    scores = HeadScores([record([[0.2]]), record(None)], 1, 1)
    assert scores.R_gold.item() == pytest.approx(0.2)
    assert math.isnan(scores.per_sample("R_gold")[1, 0, 0])


def test_shared_top_heads_counts_the_overlap_of_two_rankings_with_its_interval(in_memory):
    from focus_interp.scoring.head_scores import shared_top_heads

    top = in_memory.top(4)
    def retrieval_run(chosen):
        grid = [[1.0 if (layer, head) in chosen else 0.0 for head in range(4)] for layer in range(3)]
        records = [{"id": f"t{i}", "question": f"q{i}", "counted": True, "scores": {"retrieval": grid}} for i in range(3)]
        return HeadScores(records, 3, 4, "retrieval")

    same, low, high = shared_top_heads(in_memory, retrieval_run(set(top)), 4)
    assert same == 4 and low <= high == 4
    others = {(layer, head) for layer in range(3) for head in range(4)} - set(in_memory.top(8))
    assert shared_top_heads(in_memory, retrieval_run(others), 4)[0] == 0


def test_a_score_difference_is_paired_by_sample_and_empty_cases_give_nan(in_memory):
    difference = in_memory.score_difference("sink_gold", "sink")
    expected = (in_memory.per_sample("sink_gold") - in_memory.per_sample("sink")).mean(0)
    torch.testing.assert_close(difference["difference"], expected)
    assert ((difference["low"] <= difference["difference"] + 1e-12) & (difference["p_value"] <= 1)).all()
    empty = HeadScores([], 3, 4)
    assert empty.score_difference("R", "IR_max", "correct")["difference"].isnan().all()


def test_compare_with_minus_pairs_the_change_of_one_score_against_another_by_sample():
    def run(samples):
        return HeadScores(
            [
                {"id": name, "question": f"q{int(name[1]) // 2}", "em": 1, "em_gold": 1,
                 "scores": {"R": None if r is None else [[r]], "IR": [[0.0]], "IR_max": [[ir_max]], "sink": [[0.0]],
                            "R_gold": [[0.0]], "sink_gold": [[0.0]]}}
                for name, r, ir_max in samples
            ],
            1, 1,
        )

    lower = run([("s0", 0.20, 0.10), ("s1", 0.30, 0.10), ("s2", 0.40, 0.20), ("s3", 0.10, 0.05), ("s4", None, 0.9)])
    higher = run([("s5", 0.9, 0.0), ("s4", 0.5, 0.0), ("s3", 0.20, 0.05), ("s2", 0.40, 0.20), ("s1", 0.30, 0.40), ("s0", 0.25, 0.20)])
    # matched by id (s4 lacks R in lower, s5 is only in higher: both left out); per sample, (IR_max - R) higher
    # minus lower: +0.05, +0.30, 0.00, -0.10; R alone: +0.05, 0, 0, +0.10
    faster = higher.compare(lower, "IR_max", minus="R")
    assert faster["difference"].item() == pytest.approx(0.0625)
    assert faster["low"].item() <= 0.0625 <= faster["high"].item() and 0 < faster["p_value"].item() <= 1
    assert higher.compare(lower, "R")["difference"].item() == pytest.approx(0.0375)
    with pytest.raises(FocusInterpError, match="no score 'Q'"):
        higher.compare(lower, "IR_max", minus="Q")
