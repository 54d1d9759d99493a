"""One ranking from every form head scores come in: HeadScores, a score grid, a DataFrame, a head list, a file."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from focus_interp import FocusInterpError
from focus_interp.evaluation.configurations import HeadSets
from focus_interp.evaluation.rankings import ranking_of, top_heads
from focus_interp.scoring.head_scores import HeadScores

GRID = [[0.1, 0.5, 0.3], [0.9, 0.2, np.nan]]  # 2 layers x 3 heads; hand-ranked:
RANKED = [(1, 0), (0, 1), (0, 2), (1, 1), (0, 0), (1, 2)]


def _scores() -> HeadScores:
    names = ("R", "IR", "IR_max", "sink", "R_gold", "sink_gold")
    return HeadScores([{"id": "a", "em": 1, "em_gold": 1, "scores": {name: GRID for name in names}}], 2, 3)


def test_every_form_gives_the_hand_ranked_order(tmp_path):
    frame = _scores().to_frame()
    (tmp_path / "head_scores.csv").write_text(frame.to_csv(index=False))
    (tmp_path / "heads.json").write_text("[[1, 0], [0, 1]]")
    assert ranking_of(_scores()) == RANKED
    assert ranking_of(torch.tensor(GRID)) == RANKED == ranking_of(np.array(GRID))
    assert ranking_of(frame) == RANKED
    assert ranking_of(tmp_path) == RANKED == ranking_of(tmp_path / "head_scores.csv")
    assert ranking_of(tmp_path / "heads.json") == [(1, 0), (0, 1)] == ranking_of([(1, 0), (0, 1)])
    assert top_heads(_scores(), 2) == [(1, 0), (0, 1)] == top_heads(frame, 2, "R")


def test_head_sets_take_any_form_and_check_the_heads(tiny_loaded):
    architecture = tiny_loaded("llama").architecture  # 3 layers x 4 heads
    sets = HeadSets.of(_scores(), architecture)
    assert sets.ranking == tuple(RANKED) and sets.source == "HeadScores ranked by R"
    with pytest.raises(FocusInterpError, match="has no layer 7|layer 7"):
        HeadSets.of([(7, 0)], architecture)


@pytest.mark.parametrize(
    "source, match",
    [
        ([(0, 1), (0, 1)], "listed twice"),
        ([(0, True)], "pairs of whole numbers"),
        (np.zeros((2, 3, 4)), r"must be \[layers, heads\]"),
    ],
)
def test_bad_rankings_are_one_line(source, match):
    with pytest.raises(FocusInterpError, match=match):
        ranking_of(source)


def test_head_scores_rank_by_any_column_and_refuse_one_they_lack():
    scores = _scores()
    assert ranking_of(scores, score="R_correct") == RANKED  # the one sample is of the correct case
    retrieval = HeadScores([{"id": "t", "counted": True, "scores": {"retrieval": GRID}}], 2, 3, "retrieval")
    assert ranking_of(retrieval, score="retrieval") == RANKED
    with pytest.raises(FocusInterpError, match="lack the columns R"):
        ranking_of(retrieval)
