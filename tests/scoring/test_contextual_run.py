"""Scoring heads into a run folder: the files, the aggregation, resuming, and bad input."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from focus_interp import FocusInterpError
from focus_interp.data import load_multidoc_qa, long_parts
from focus_interp.evaluation.rankings import top_heads
from focus_interp.prompts import build_prompt
from focus_interp.scoring import contextual_run
from focus_interp.scoring.contextual import score_sample
from focus_interp.scoring.contextual_run import score_heads
from focus_interp.scoring.head_score_files import read_head_scores
from focus_interp.scoring.head_scores import COLUMNS, HeadScores
from tests.conftest import SHARED_DATA, eager_span_mass

ROWS = load_multidoc_qa("synthetic", split="train", n=4, gold_positions=(1, 3), n_documents=3, seed=0)
DATA = {"source": "synthetic", "n": 4}


def test_sample_scores_match_eager_attention(tiny_loaded):
    loaded = tiny_loaded("qwen2", "sdpa")
    row = ROWS[1]
    record = score_sample(loaded, row, max_new_tokens=4)
    prompt = build_prompt(loaded.tokenizer, long_parts(row))
    response = record["input_ids"][len(prompt) :]
    spans = ["sink", "doc_1", "doc_2", "doc_3"]
    mass = eager_span_mass(loaded.hf_model, prompt, response, spans).mean(0)
    gold = row["gold_position"]
    others = [i for i in (1, 2, 3) if i != gold]
    scores = {name: torch.tensor(value) for name, value in record["scores"].items()}
    torch.testing.assert_close(scores["R"], mass[..., gold], atol=1e-5, rtol=0)
    torch.testing.assert_close(scores["IR"], mass[..., others].sum(-1), atol=1e-5, rtol=0)
    torch.testing.assert_close(scores["IR_max"], mass[..., others].max(-1).values, atol=1e-5, rtol=0)
    torch.testing.assert_close(scores["sink"], mass[..., 0], atol=1e-5, rtol=0)
    assert record["spans"]["doc_3"][1] <= len(prompt) and record["em"] in (0.0, 1.0)


def test_run_folder_files_and_means(tiny_loaded, tmp_path):
    loaded = tiny_loaded("llama", "sdpa")
    score_heads(loaded, ROWS, tmp_path, DATA, max_new_tokens=4, progress=False)
    path = tmp_path / "head_scores.csv"
    records = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == list(ROWS["id"])
    with open(path) as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == COLUMNS and len(rows) == 3 * 4
    expected_r = np.mean([r["scores"]["R"] for r in records], axis=0)
    table = read_head_scores(path)
    assert all(abs(row["R"] - expected_r[row["layer"], row["head"]]) < 1e-6 for row in table)
    best = max(table, key=lambda row: row["R"])
    assert top_heads(path, 1) == [(best["layer"], best["head"])]
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["settings"]["data"] == DATA and meta["settings"]["max_new_tokens"] == 4
    assert meta["n_scored"] == 4 and "torch" in meta["versions"]


def test_interrupted_run_resumes_without_recomputing(tiny_loaded, tmp_path, monkeypatch):
    loaded = tiny_loaded("llama", "sdpa")
    calls = []
    real_score_prompts = contextual_run.score_prompts

    def interrupt_on_third(loaded, row, *args):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(row["id"])
        return real_score_prompts(loaded, row, *args)

    monkeypatch.setattr(contextual_run, "score_prompts", interrupt_on_third)
    with pytest.raises(KeyboardInterrupt):
        score_heads(loaded, ROWS, tmp_path, DATA, max_new_tokens=4, progress=False)
    assert len((tmp_path / "samples.jsonl").read_text().splitlines()) == 2
    assert json.loads((tmp_path / "meta.json").read_text())["n_scored"] == 2
    with open(tmp_path / "samples.jsonl", "a") as handle:
        handle.write('{"id": "cut sho')  # a write cut short by the interruption
    calls.clear()
    monkeypatch.setattr(
        contextual_run, "score_prompts", lambda loaded, row, *args: calls.append(row["id"]) or real_score_prompts(loaded, row, *args)
    )
    score_heads(loaded, ROWS, tmp_path, DATA, max_new_tokens=4, progress=False)
    assert calls == list(ROWS["id"])[2:]
    ids = [json.loads(line)["id"] for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert ids == list(ROWS["id"])


def test_other_settings_in_the_same_folder_is_an_error(tiny_loaded, tmp_path):
    loaded = tiny_loaded("llama", "sdpa")
    score_heads(loaded, ROWS, tmp_path, DATA, max_new_tokens=4, progress=False)
    with pytest.raises(FocusInterpError, match="max_new_tokens differ"):
        score_heads(loaded, ROWS, tmp_path, DATA, max_new_tokens=8, progress=False)
    with pytest.raises(FocusInterpError, match="n, rows differ"):
        score_heads(loaded, ROWS.select(range(3)), tmp_path, DATA, max_new_tokens=4, progress=False)


def test_prompts_over_the_window_are_skipped_and_counted(tiny_loaded, tmp_path):
    loaded = tiny_loaded("llama", "sdpa")
    long_rows = load_multidoc_qa("synthetic", split="train", n=2, gold_positions=(1,), n_documents=40, seed=0)
    summary = score_heads(loaded, long_rows, tmp_path, DATA, max_new_tokens=4, progress=False).summary
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["n_skipped"] == 2 and meta["n_scored"] == 0 == summary["n_scored"]
    assert [item["id"] for item in meta["skipped"]] == list(long_rows["id"])
    assert "exceeds the model's window of 512" in meta["skipped"][0]["reason"]


def test_case_means_hand_worked():
    def record(em, em_gold, r):
        scores = {name: [[r, 2 * r]] for name in ("R", "IR", "IR_max", "sink", "R_gold", "sink_gold")}
        return {"em": em, "em_gold": em_gold, "scores": scores}

    records = [record(1, 1, 0.1), record(0, 1, 0.3), record(0, 1, 0.5), record(1, 0, 0.7)]
    records[3]["scores"]["R_gold"] = None  # an empty gold-only response
    table = HeadScores(records, 1, 2).table()
    np.testing.assert_allclose(table["R"], [[0.4, 0.8]])
    np.testing.assert_allclose(table["R_gold"], [[0.3, 0.6]])
    np.testing.assert_allclose(table["R_correct"], [[0.1, 0.2]])
    np.testing.assert_allclose(table["IR_wrong"], [[0.4, 0.8]])
    only_correct = HeadScores(records[:1], 1, 2).table()
    assert np.isnan(only_correct["sink_wrong"]).all()


def test_reading_a_missing_or_foreign_csv_is_a_clear_error(tmp_path):
    with pytest.raises(FocusInterpError, match="focus-interp heads"):
        read_head_scores(tmp_path / "head_scores.csv")
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(FocusInterpError, match="lacks the columns"):
        read_head_scores(tmp_path / "other.csv")


@pytest.mark.parametrize(
    "data, content, match",
    [
        ("missing.jsonl.gz", None, "missing.jsonl.gz"),
        ("bad.jsonl", '{"question": "q", "answers": ["a"], "ctxs": []}\n{not json\n', "bad.jsonl"),
        ("empty.jsonl", "", "empty"),
    ],
)
def test_heads_command_bad_data_is_one_line(tmp_path, capsys, data, content, match):
    from focus_interp.cli import EXIT_BAD_INPUT, main

    path = tmp_path / data
    if content is not None:
        path.write_text(content)
    assert main(["heads", "--data", str(path), "--out", str(tmp_path / "run"), "--n", "2"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and match in err


def test_heads_from_the_authors_json(tmp_path, tiny_loaded):
    from focus_interp.evaluation.rankings import heads_from_json

    official = SHARED_DATA / "official" / "meta-llama_Llama-3.2-3B-Instruct.relevant_heads.json"
    if official.is_file():
        assert heads_from_json(official)[:2] == [(13, 23), (12, 1)]
    (tmp_path / "heads.json").write_text("[[2, 3], [0, 1]]")
    assert heads_from_json(tmp_path / "heads.json") == [(2, 3), (0, 1)]
    (tmp_path / "far.json").write_text("[[2, 3], [7, 1]]")
    with pytest.raises(FocusInterpError, match="layer 7 is out of range"):
        heads_from_json(tmp_path / "far.json", tiny_loaded("llama").architecture)
    (tmp_path / "bad.json").write_text('{"heads": 1}')
    with pytest.raises(FocusInterpError, match="list of \\[layer, head\\]"):
        heads_from_json(tmp_path / "bad.json")


def test_random_heads_are_seeded_distinct_and_exclude(tiny_loaded):
    from focus_interp.heads import random_heads

    arch = tiny_loaded("llama").architecture
    chosen = random_heads(arch, 5, seed=1, exclude=[(0, 0), (1, 1)])
    assert chosen == random_heads(arch, 5, seed=1, exclude=[(0, 0), (1, 1)])
    assert len(set(chosen)) == 5 and not {(0, 0), (1, 1)} & set(chosen)
    assert sorted(random_heads(arch, 10, seed=2, exclude=[(0, 0), (1, 1)])) == sorted(
        (layer, head) for layer in range(3) for head in range(4) if (layer, head) not in {(0, 0), (1, 1)}
    )
    with pytest.raises(FocusInterpError, match="cannot draw 11 random heads: 10"):
        random_heads(arch, 11, exclude=[(0, 0), (1, 1)])
