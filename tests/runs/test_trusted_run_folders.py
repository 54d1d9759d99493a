"""A run folder never gives a silently wrong number: one process at a time, everything that moves a number pinned,
and inputs that would make a wrong number refused. Each test names the case it covers (1-9, then the tracebacks)."""

from __future__ import annotations

import errno
import gzip
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from focus_interp import FocusInterpError, wrap_model
from focus_interp.cli import EXIT_BAD_INPUT, EXIT_SYSTEM, main
from focus_interp.data import load_multidoc_qa
from focus_interp.data.multidoc.loading import dropped_answers
from focus_interp.directions import (
    Directions,
    import_official_directions,
    save_directions,
)
from focus_interp.files import FolderLock, read_appended_records
from focus_interp.interventions import FocusDirection
from focus_interp.metrics.exact_match import best_subspan_em
from focus_interp.model import gguf
from focus_interp.scoring.contextual_run import score_heads
from tests.conftest import tiny_hf_model, tiny_tokenizer
from tests.test_robustness import command, inputs, refused  # noqa: F401, F811 (inputs is a fixture)

ROOT = Path(__file__).resolve().parents[2]


def _ids(folder: Path) -> list[str]:
    return [record["id"] for record in read_appended_records(folder / "samples.jsonl")]


def test_case_1_a_second_process_in_a_held_folder_is_refused_naming_the_holder(inputs, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    with FolderLock(out):
        error, _ = refused(command(inputs, out, "heads"), capsys)
    assert f"{out} is in use by another run (pid {os.getpid()})" in error
    assert main(command(inputs, out, "heads")) == 0
    assert not (out / ".lock").exists()


def test_case_1_two_identical_commands_at_once_one_is_refused_and_each_id_is_kept_once(inputs, tmp_path):
    out = tmp_path / "run"
    argv = command(inputs, out, "heads", "--n", "36", "--max-new-tokens", "8")  # seconds of work: the runs overlap
    started = [
        subprocess.Popen([sys.executable, "-m", "focus_interp.cli", *argv], cwd=ROOT, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    finished = [(process.wait(timeout=600), process.stderr.read()) for process in started]
    codes = sorted(code for code, _ in finished)
    assert codes == [0, EXIT_BAD_INPUT], finished
    refusal = next(err for code, err in finished if code == EXIT_BAD_INPUT).strip().splitlines()[-1]
    assert "is in use by another run (pid " in refusal
    ids = _ids(out)
    assert len(ids) == 36 and len(set(ids)) == 36


def test_case_1_a_folder_holding_one_sample_twice_is_refused(inputs, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(command(inputs, out, "heads", "--n", "2")) == 0
    lines = (out / "samples.jsonl").read_text().splitlines(keepends=True)
    (out / "samples.jsonl").write_text("".join([*lines, lines[0]]))
    error, _ = refused(command(inputs, out, "heads", "--n", "2"), capsys)
    assert "holds sample '0-g1' twice (records 1 and 3)" in error


@pytest.mark.parametrize(
    "change, setting",
    [
        pytest.param(["--dtype", "bfloat16"], "model_identity", id="dtype"),
        pytest.param(["--model", "{other_model}"], "model_identity", id="other-model-same-folder-name"),
        pytest.param(["--data", "{edited_data}"], "rows", id="edited-data-file"),
    ],
)
def test_case_2_a_rerun_with_another_dtype_model_or_data_is_refused(inputs, tmp_path, capsys, change, setting):
    oracle = [{"question": f"who is {i}?", "answers": [f"Name{i}"], "ctxs": [{"title": f"T{i}", "text": f"Name{i} is.", "isgold": True}]}
              for i in range(6)]
    data, edited = tmp_path / "data.jsonl", tmp_path / "edited" / "data.jsonl"
    edited.parent.mkdir()
    data.write_text("".join(json.dumps(line) + "\n" for line in oracle))
    oracle[0]["ctxs"][0]["text"] = "Name0 is someone else."
    edited.write_text("".join(json.dumps(line) + "\n" for line in oracle))
    other = tmp_path / "other" / inputs["model"].name  # another tiny model under the same folder name
    hf_model = tiny_hf_model("llama")
    torch.manual_seed(1)
    for parameter in hf_model.parameters():
        parameter.data.normal_()
    hf_model.save_pretrained(other)
    tiny_tokenizer().save_pretrained(other)
    files = {**inputs, "other_model": other, "edited_data": edited}
    out = tmp_path / "run"
    assert main(command(files, out, "heads", "--data", str(data))) == 0
    rerun = command(files, out, "heads", "--data", str(data), *change)
    error, _ = refused(rerun, capsys)
    assert f"holds a run with other settings ({setting}" in error or f", {setting}" in error


def test_case_2_the_model_identity_pins_config_weights_dtype_and_device():
    hf_model = tiny_hf_model("llama")
    loaded = wrap_model(hf_model, tiny_tokenizer(), name="tiny")
    identity = loaded.identity()
    assert set(identity) == {"config", "weights", "dtype", "device"} and identity["dtype"] == "float32"
    assert wrap_model(tiny_hf_model("llama"), tiny_tokenizer(), name="another name").identity() == identity
    with torch.no_grad():
        next(hf_model.parameters())[0, 0] += 1.0
    assert loaded.identity()["weights"] != identity["weights"]


def test_case_3_a_ranking_without_any_score_is_refused(inputs, tmp_path, capsys):
    scores = tmp_path / "head_scores.csv"
    scores.write_text("layer,head,R\n" + "".join(f"{layer},{head},\n" for layer in range(3) for head in range(4)))
    error, _ = refused(command({**inputs, "heads": scores}, tmp_path / "run", "compensate"), capsys)
    assert f"{scores}: no head has a 'R' score (its run scored no sample)" in error
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("answer", ["", "the", "?", "*"])
def test_case_4_an_answer_that_normalises_to_nothing_never_matches(answer):
    assert best_subspan_em("any response at all", [answer]) == 0.0
    assert best_subspan_em("Paris, of course", [answer, "Paris"]) == 1.0


def test_case_4_such_answers_are_dropped_at_load_and_counted_in_meta(inputs, tmp_path):
    lines = [{"question": f"q{i}?", "answers": answers, "ctxs": [{"title": f"T{i}", "text": f"Text {i}.", "isgold": True}]}
             for i, answers in enumerate([["*", "Ana"], ["the"], ["Bo"], ["Cy"]])]
    path = tmp_path / "oracle.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    rows = load_multidoc_qa(path, split="all", n_documents=2, gold_positions=(1,))
    assert [row["answers"] for row in rows] == [["Ana"], ["Bo"], ["Cy"]]
    assert dropped_answers(rows) == {"answers": 2, "questions": [1]}
    out = tmp_path / "run"
    assert main(command(inputs, out, "heads", "--data", str(path), "--split", "all", "--documents", "2", "--n", "3")) == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["settings"]["data"]["dropped_answers"] == {"answers": 2, "questions": [1]}


@pytest.mark.parametrize(
    "flags, match",
    [
        pytest.param([True, "false"], r"line 1: every 'isgold' must be true or false", id="string-flag"),
        pytest.param([True, 1], r"line 1: every 'isgold' must be true or false", id="number-flag"),
        pytest.param([True, True], r"line 1: 2 documents have \"isgold\": true", id="two-golds"),
    ],
)
def test_case_5_non_boolean_or_ambiguous_gold_flags_are_refused_with_the_line(tmp_path, flags, match):
    ctxs = [{"title": f"T{i}", "text": f"Text {i}.", "isgold": flag} for i, flag in enumerate(flags)]
    path = tmp_path / "oracle.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(json.dumps({"question": "q?", "answers": ["Ana"], "ctxs": ctxs}) + "\n")
    with pytest.raises(FocusInterpError, match=match):
        load_multidoc_qa(path, split="all", n_documents=2)


@pytest.mark.parametrize(
    "options, match",
    [
        pytest.param(["--lr", "inf"], "lr must be a finite number above 0, got inf", id="lr-inf"),
        pytest.param(["--lr", "1e300"], "lr 1e+300 is beyond what float32 holds", id="lr-beyond-float32"),
        pytest.param(["--init-std", "nan"], "init_std must be a finite number of at least 0, got nan", id="init-std-nan"),
        pytest.param(["--init-std", "inf"], "init_std must be a finite number of at least 0, got inf", id="init-std-inf"),
    ],
)
def test_case_6_non_finite_training_settings_are_refused_before_the_run_folder(inputs, tmp_path, capsys, options, match):
    error, _ = refused(command(inputs, tmp_path / "run", "train-directions", *options), capsys)
    assert match in error
    assert not (tmp_path / "run").exists()


def test_case_6_a_training_that_diverges_stops_with_one_line(inputs, tmp_path, capsys):
    error, _ = refused(command(inputs, tmp_path / "run", "train-directions", "--lr", "1e30", "--n", "2"), capsys)
    assert "training diverged in epoch 1: the directions stopped being finite at lr 1e+30; lower --lr" in error
    assert not (tmp_path / "run" / "directions.safetensors").exists()


def test_case_6_non_finite_directions_and_overflowing_alphas_are_refused(inputs, tmp_path, capsys):
    with pytest.raises(FocusInterpError, match="hold NaN or infinite values"):
        Directions(torch.full((3, 4, 16), float("nan")), torch.zeros(3, 4, 16))
    finite = torch.ones(3, 4, 16)
    with pytest.raises(FocusInterpError, match="alpha 1e\\+300 times d_Q is not finite"):
        FocusDirection(((0, 0),), finite, finite, 1e300)
    directions = tmp_path / "ones.safetensors"
    save_directions(directions, Directions(finite, finite.clone()))
    error, _ = refused(command({**inputs, "directions": directions}, tmp_path / "run", "evaluate", "--alphas", "1e300"), capsys)
    assert "is not finite" in error and not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "name, text",
    [
        pytest.param("repeated.json", "[[2, 3], [2, 3], [2, 3], [0, 1]]", id="json"),
        pytest.param("head_scores.csv", "layer,head,R\n2,3,0.5\n2,3,0.5\n0,1,0.1\n", id="csv"),
    ],
)
def test_case_7_a_ranking_that_lists_a_head_twice_is_refused(inputs, tmp_path, capsys, name, text):
    path = tmp_path / name
    path.write_text(text)
    error, _ = refused(command({**inputs, "heads": path}, tmp_path / "run", "compensate", "--k", "3"), capsys)
    assert "head (layer 2, head 3) is listed twice: list each head once" in error


def test_case_8_library_rows_that_share_an_id_are_refused(tiny_loaded, tmp_path):
    rows = list(load_multidoc_qa("synthetic", n=2, n_documents=3, gold_positions=(1,)))
    with pytest.raises(FocusInterpError, match="two samples have the id '0-g1'"):
        score_heads(tiny_loaded("llama", "sdpa"), [rows[0], rows[1], rows[0]], tmp_path / "run", max_new_tokens=2, progress=False)
    assert not (tmp_path / "run").exists()


def test_case_9_a_last_record_without_its_newline_is_repaired_on_open(inputs, tmp_path):
    out = tmp_path / "run"
    assert main(command(inputs, out, "heads", "--n", "3")) == 0
    samples = out / "samples.jsonl"
    first, second, _ = samples.read_text().splitlines(keepends=True)
    samples.write_text(first + second.rstrip("\n"))  # a crash right before the second record's newline
    assert main(command(inputs, out, "heads", "--n", "3")) == 0
    assert main(command(inputs, out, "heads", "--n", "3")) == 0
    assert samples.read_text().endswith("\n") and len(samples.read_text().splitlines()) == 3
    assert sorted(_ids(out)) == sorted(set(_ids(out))) and len(_ids(out)) == 3


def test_a_full_disk_during_a_run_is_one_line_and_the_rerun_resumes(inputs, tmp_path, capsys, monkeypatch):
    from focus_interp import files

    real_append = files.append_record
    calls = []

    def disk_full_on_second(path, record):
        calls.append(record["id"])
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real_append(path, record)

    monkeypatch.setattr("focus_interp.runs.run_folder.append_record", disk_full_on_second)
    out = tmp_path / "run"
    error, _ = refused(command(inputs, out, "heads", "--n", "3"), capsys, code=EXIT_SYSTEM)
    assert "(No space left on device): free some space, then rerun the same command: it resumes" in error
    monkeypatch.setattr("focus_interp.runs.run_folder.append_record", real_append)
    assert main(command(inputs, out, "heads", "--n", "3")) == 0
    assert len(set(_ids(out))) == 3 == len(_ids(out))


@pytest.mark.parametrize(
    "name, text, options, match",
    [
        pytest.param("head_scores.csv", "layer,head,R\nx,0,0.5\n", [], "head_scores.csv, line 2: layer and head must be whole numbers",
                     id="non-integer-layer"),
        pytest.param("head_scores.csv", "layer,head,R\n0,0,high\n", [], "head_scores.csv, line 2: layer and head must be whole numbers",
                     id="non-numeric-score"),
        pytest.param("booleans.json", "[[true, 0], [1, 1]]", [], "must hold a JSON list of [layer, head] integer pairs", id="boolean-head"),
        pytest.param(None, None, ["--taus", "0.3", "0.3"], "taus list 0.3 more than once", id="repeated-taus"),
    ],
)
def test_bad_rankings_and_repeated_settings_are_one_line(inputs, tmp_path, capsys, name, text, options, match):
    files = dict(inputs)
    if name is not None:
        files["heads"] = tmp_path / name
        files["heads"].write_text(text)
    error, _ = refused(command(files, tmp_path / "run", "compensate", *options), capsys)
    assert match in error and not (tmp_path / "run").exists()


def test_repeated_alphas_are_one_line(inputs, tmp_path, capsys):
    error, _ = refused(command(inputs, tmp_path / "run", "evaluate", "--alphas", "0.2", "0.2"), capsys)
    assert "alphas list 0.2 more than once" in error


def test_heads_with_one_document_is_one_line_and_writes_nothing(inputs, tmp_path, capsys):
    error, _ = refused(command(inputs, tmp_path / "run", "heads", "--documents", "1"), capsys)
    assert "contextual scores need the gold document and at least one distractor" in error
    assert not (tmp_path / "run").exists()


def test_a_released_directions_folder_with_an_unnumbered_file_is_one_line(tmp_path):
    for name in ("head_q_directions_0.pth", "head_k_directions_0.pth", "head_q_directions_final.pth"):
        torch.save(torch.zeros(4, 16), tmp_path / name)
    with pytest.raises(FocusInterpError, match="holds head_q_directions_final.pth: the released format names each file"):
        import_official_directions(tmp_path)


def test_a_model_whose_weights_are_a_refused_pickle_is_one_line(inputs, tmp_path, capsys):
    folder = tmp_path / "pickled"
    tiny_hf_model("llama").config.save_pretrained(folder)
    tiny_tokenizer().save_pretrained(folder)
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps({"weights": subprocess.Popen}))  # a class: code to run
    error, _ = refused(command({**inputs, "model": folder}, tmp_path / "run", "heads"), capsys)
    assert "its weights are a pickle that torch refuses to load safely" in error


def test_a_conversion_cut_short_leaves_a_folder_the_next_one_removes(tmp_path, monkeypatch):
    target = tmp_path / "models" / "model-123"
    stale = target.parent / f".{target.name}-k1ll3d"
    (stale / "weights").mkdir(parents=True)
    seen = []
    monkeypatch.setattr(gguf, "_convert", lambda source, destination: seen.append(stale.exists()) or destination)
    assert gguf.convert_gguf(tmp_path / "model.gguf", target) == target
    assert seen == [False] and not (target.parent / ".lock").exists()


def test_a_read_only_cache_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(gguf.os, "access", lambda path, mode: False)
    with pytest.raises(FocusInterpError, match="cannot write converted models into .*: set FOCUS_INTERP_CACHE to a writable folder"):
        gguf.convert_gguf(tmp_path / "model.gguf", tmp_path / "models" / "model-123")
