"""Bad input to every command, analysis script and public entry point: one clear line, and nothing half-written."""

from __future__ import annotations

import json
import re
import runpy
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from transformers import Qwen2Config

from focus_interp import FocusInterpError, build_prompt, load_model
from focus_interp.cli import EXIT_BAD_INPUT, main
from focus_interp.data import load_multidoc_qa
from focus_interp.data.long_context import build_long_context_task
from focus_interp.data.needles import generated_needles, load_needles, needle_tests
from focus_interp.directions import Directions, read_directions, save_directions
from focus_interp.directions.run import train_directions
from focus_interp.evaluation.configurations import capped_k
from focus_interp.evaluation.rankings import ranking_from
from focus_interp.interventions import FocusDirection, SplitSoftmax
from focus_interp.model.architecture import config_fingerprint
from focus_interp.model.generation import greedy_response
from focus_interp.scoring.contextual_run import score_heads
from focus_interp.scoring.retrieval_run import score_retrieval_heads
from tests.conftest import TINY_SIZES, tiny_hf_model, tiny_tokenizer
from tests.conftest import read_results_csv as read_results

ROOT = Path(__file__).resolve().parents[1]
ORACLE_LINE = json.dumps({"question": "who?", "answers": ["Ana"], "ctxs": [{"title": "T", "text": "Ana did.", "isgold": True}]})
SMALL = ["--n", "1", "--documents", "3", "--gold-positions", "1", "--max-new-tokens", "2"]
BASE = {
    "heads": SMALL,
    "compensate": [*SMALL, "--heads", "{heads}", "--k", "1", "--taus", "0.3"],
    "evaluate": [*SMALL, "--heads", "{heads}", "--directions", "{directions}", "--k", "1", "--alphas", "0.2"],
    "train-directions": [*SMALL, "--epochs", "1"],
    "retrieval-heads": ["--n-needles", "1", "--lengths", "300", "--depths", "0.5", "--max-new-tokens", "2"],
    "long-context": ["--heads", "{heads}", "--tasks", "json_kv", "--budgets", "300", "--n", "1", "--max-new-tokens", "2"],
}
"""Each command's options for a small run on the tiny model; a case's own options come after and win."""


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """A tiny model folder and files of every kind, good and bad, by name."""
    folder = tmp_path_factory.mktemp("inputs")
    tiny_hf_model("llama").save_pretrained(folder / "model")
    tiny_tokenizer().save_pretrained(folder / "model")
    files = {
        "heads.json": "[[0, 0], [1, 1], [2, 3]]",
        "layer_beyond.json": "[[0, 0], [3, 1]]",
        "head_beyond.json": "[[0, 4]]",
        "no_heads.json": "[]",
        "not_json_heads.json": "[[0, 0],",
        "bad_line_data.jsonl": f"{ORACLE_LINE}\n{{not json\n",
        "bad_line_kv.jsonl": "{not json\n",
        "empty.jsonl": "",
        "bad_line_needles.jsonl": '{"needle": "N.", "question": "Q?"}\n{oops\n',
        "number_needle.jsonl": '{"needle": 5, "question": "Q?"}\n',
        "not_gzip.jsonl.gz": "plain text",
        "not_safetensors.safetensors": "plain text",
        "a_file": "not a folder\n",
    }
    paths = {"folder": folder, "model": folder / "model"}
    for file_name, text in files.items():
        (folder / file_name).write_text(text)
        paths[file_name.split(".")[0]] = folder / file_name
    qwen2 = {"model": "tiny-qwen2", "config_fingerprint": config_fingerprint(Qwen2Config(**TINY_SIZES))}
    for name, head_dim, metadata in (("directions", 16, {}), ("wrong_shape", 8, {}), ("other_model", 16, qwen2)):
        paths[name] = folder / f"{name}.safetensors"
        save_directions(paths[name], Directions(torch.zeros(3, 4, head_dim), torch.zeros(3, 4, head_dim), metadata=metadata))
    return paths


@pytest.fixture(scope="module")
def heads_run(inputs, tmp_path_factory) -> Path:
    """A finished scoring run of the tiny model on one sample."""
    out = tmp_path_factory.mktemp("runs") / "heads"
    assert main(command(inputs, out, "heads")) == 0
    return out


def command(inputs: dict, out: Path, name: str, *options: str) -> list[str]:
    """The arguments of command ``name`` on the tiny model at small sizes, then ``options`` ("{name}" is the file
    of that name in ``inputs``), into ``out``."""
    words = [name, "--model", "{model}", *BASE[name], *options]
    return [word.format(**inputs) for word in words] + ["--out", str(out)]


def refused(argv: list[str], capsys, code: int = EXIT_BAD_INPUT) -> tuple[str, str]:
    """Run a command that must exit with ``code`` (bad input) and one ``focus-interp: error:`` line, last on
    stderr, and no traceback; returns that line and stdout."""
    assert main(argv) == code
    captured = capsys.readouterr()
    assert captured.err.count("focus-interp: error: ") == 1 and "Traceback" not in captured.err
    line = captured.err.strip().splitlines()[-1]
    assert line.startswith("focus-interp: error: ")
    return line, captured.out


@pytest.mark.parametrize(
    "name, options, missing",
    [
        ("heads", ["--data", "{missing}"], "missing.jsonl.gz"),
        ("train-directions", ["--data", "{missing}"], "missing.jsonl.gz"),
        ("compensate", ["--heads", "{missing}"], "missing.json"),
        ("long-context", ["--heads", "{missing}"], "missing.json"),
        ("evaluate", ["--directions", "{missing}"], "missing.safetensors"),
        ("heads", ["--directions", "{missing}", "--direction-heads", "{heads}"], "missing.safetensors"),
        ("retrieval-heads", ["--needles", "{missing}"], "missing.jsonl"),
        ("retrieval-heads", ["--haystack", "{missing}"], "missing.jsonl.gz"),
        ("long-context", ["--kv-file", "{missing}"], "missing.jsonl.gz"),
    ],
)
def test_a_missing_input_file_is_one_line_that_names_it(inputs, tmp_path, capsys, name, options, missing):
    files = {**inputs, "missing": tmp_path / missing}
    error, _ = refused(command(files, tmp_path / "run", name, *options), capsys)
    assert str(tmp_path / missing) in error
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "name, options, match",
    [
        ("heads", ["--data", "{bad_line_data}"], "bad_line_data.jsonl, line 2 is not valid JSON"),
        ("train-directions", ["--data", "{bad_line_data}"], "bad_line_data.jsonl, line 2 is not valid JSON"),
        ("retrieval-heads", ["--needles", "{bad_line_needles}"], r"bad_line_needles.jsonl, line 2 is not valid JSON .*: fix that line"),
        ("retrieval-heads", ["--needles", "{number_needle}"], "number_needle.jsonl, line 1: needle, question and real_needle must be strings"),
        ("compensate", ["--heads", "{not_json_heads}"], r"not_json_heads.json is not valid JSON .*: expected \[\[layer, head\]"),
    ],
)
def test_a_malformed_file_is_one_line_that_names_the_line(inputs, tmp_path, capsys, name, options, match):
    error, _ = refused(command(inputs, tmp_path / "run", name, *options), capsys)
    assert re.search(match, error)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "options, reason",
    [
        (["--kv-file", "{not_gzip}"], r"cannot read \S*not_gzip.jsonl.gz .*: fix or download the file again"),
        (["--kv-file", "{bad_line_kv}"], "bad_line_kv.jsonl, line 1 is not valid JSON"),
        (["--n", "0"], r"n \(0\) must be positive"),
    ],
)
def test_long_context_says_why_no_task_can_be_built(inputs, tmp_path, capsys, options, reason):
    error, out = refused(command(inputs, tmp_path / "run", "long-context", *options), capsys)
    assert error == "focus-interp: error: no task is available: see the messages above"
    assert re.search(f"unavailable: json_kv at 300 tokens: .*{reason}", out)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "name, options, match",
    [
        ("heads", ["--n", "0"], "n=0 must be a positive number of rows"),
        ("compensate", ["--n", "0"], "n=0 must be a positive number of rows"),
        ("evaluate", ["--n", "0"], "n=0 must be a positive number of rows"),
        ("train-directions", ["--n", "0"], "n=0 must be a positive number of rows"),
        ("heads", ["--data", "{empty}"], "empty.jsonl is empty: expected one JSON object per line"),
        ("retrieval-heads", ["--needles", "{empty}"], "empty.jsonl is empty: expected one JSON object per line"),
        ("retrieval-heads", ["--n-needles", "0"], "the number of needles must be at least 1"),
    ],
)
def test_an_empty_dataset_is_refused_before_the_run_folder(inputs, tmp_path, capsys, name, options, match):
    error, _ = refused(command(inputs, tmp_path / "run", name, *options), capsys)
    assert match in error
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "name, options, match",
    [
        ("evaluate", ["--directions", "{wrong_shape}"], "directions 'q' have shape (3, 4, 8), this model needs (3, 4, 16)"),
        ("heads", ["--directions", "{wrong_shape}", "--direction-heads", "{heads}"], "have shape (3, 4, 8)"),
        ("evaluate", ["--directions", "{other_model}"], "directions were made for tiny-qwen2"),
        ("long-context", ["--directions", "{other_model}"], "use directions of this model"),
        ("evaluate", ["--directions", "{not_safetensors}"], "not_safetensors.safetensors is not a safetensors directions file"),
    ],
)
def test_directions_that_do_not_fit_the_model_are_refused(inputs, tmp_path, capsys, name, options, match):
    error, _ = refused(command(inputs, tmp_path / "run", name, *options), capsys)
    assert match in error
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "name, options, match",
    [
        ("compensate", ["--heads", "{layer_beyond}"], "layer 3 is out of range: model has layers 0-2"),
        ("evaluate", ["--heads", "{head_beyond}"], "head 4 of layer 0 is out of range: model has heads 0-3"),
        ("long-context", ["--heads", "{layer_beyond}"], "layer 3 is out of range"),
        ("heads", ["--directions", "{directions}", "--direction-heads", "{head_beyond}"], "head 4 of layer 0 is out of range"),
        ("compensate", ["--heads", "{no_heads}"], "no_heads.json ranks no heads: pass a scoring run folder or a non-empty JSON"),
        ("long-context", ["--heads", "{no_heads}"], "ranks no heads"),
    ],
)
def test_a_head_list_beyond_the_model_or_empty_is_refused(inputs, tmp_path, capsys, name, options, match):
    error, _ = refused(command(inputs, tmp_path / "run", name, *options), capsys)
    assert match in error
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "name, options, match",
    [
        pytest.param("compensate", ["--taus", "-0.5"], "tau must be a number >= 0", id="negative-tau"),
        pytest.param("compensate", ["--random-taus", "-1"], "tau must be a number >= 0", id="negative-random-tau"),
        pytest.param("compensate", ["--k", "0"], "k must be at least 1 or 'all', got 0", id="k-zero"),
        pytest.param("evaluate", ["--k", "-1"], "k must be at least 1 or 'all', got -1", id="k-negative"),
        pytest.param("long-context", ["--directions", "{directions}", "--k", "0"], "k must be at least 1", id="long-context-k-zero"),
        pytest.param("heads", ["--directions", "{directions}", "--direction-heads", "{heads}", "--direction-k", "0"],
                     "--direction-k must be at least 1", id="direction-k-zero"),
        pytest.param("evaluate", ["--alphas", "nan"], "alpha must be a finite number", id="alpha-nan"),
        pytest.param("compensate", ["--batch-size", "0"], "batch_size must be at least 1", id="batch-size-zero"),
        pytest.param("train-directions", ["--lr", "nan"], "lr must be a finite number above 0, got nan", id="lr-nan"),
        pytest.param("train-directions", ["--epochs", "0"], "epochs must be at least 1", id="epochs-zero"),
        pytest.param("heads", ["--sink-tokens", "-1"], "sink_tokens must be 0 or more", id="sink-tokens-negative"),
        pytest.param("retrieval-heads", ["--depths", "1.5"], r"depths must lie in [0, 1], got [1.5]", id="depth-beyond-1"),
        pytest.param("retrieval-heads", ["--min-recall", "2"], "min_recall must lie in [0, 1]", id="min-recall-beyond-1"),
        *(pytest.param(name, ["--max-new-tokens", "0"], "max_new_tokens must be at least 1, got 0", id=f"{name}-max-new-tokens-zero")
          for name in BASE),
    ],
)
def test_a_bad_setting_is_refused_before_the_run_folder(inputs, tmp_path, capsys, name, options, match):
    error, _ = refused(command(inputs, tmp_path / "run", name, *options), capsys)
    assert match in error
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "name, options, setting",
    [("compensate", ["--taus", "0"], ("tau", 0.0)), ("evaluate", ["--alphas", "-0.5"], ("alpha", -0.5))],
)
def test_zero_tau_and_negative_alpha_are_valid_settings(inputs, tmp_path, name, options, setting):
    """tau = 0 puts all of a row's attention on the span; alpha < 0 turns the heads away from it."""
    out = tmp_path / "run"
    assert main(command(inputs, out, name, *options)) == 0
    column, value = setting
    rows = [row for row in read_results(out / "results.csv") if row[column] == value and row["gold_position"] == "all"]
    assert rows and all(row["n"] == 1 for row in rows)


@pytest.mark.parametrize("name", ["heads", "compensate"])
def test_prompts_over_the_window_are_skipped_with_a_note(inputs, tmp_path, capsys, name):
    out = tmp_path / "run"
    assert main(command(inputs, out, name, "--documents", "30")) == 0
    assert "skipped 1 samples (listed in meta.json), e.g.: prompt of" in capsys.readouterr().out
    meta = json.loads((out / "meta.json").read_text())
    assert meta["n_skipped"] == 1 and "exceeds the model's window of 512" in meta["skipped"][0]["reason"]
    assert not (out / "samples.jsonl").exists()


@pytest.mark.parametrize(
    "name, options, match",
    [
        ("retrieval-heads", ["--lengths", "5000"], "no length fits the model's window of 512 with the response: pass smaller --lengths"),
        ("long-context", ["--budgets", "5000"], "no budget fits the model's window: pass smaller --budgets"),
    ],
)
def test_lengths_over_the_window_are_refused_when_none_is_left(inputs, tmp_path, capsys, name, options, match):
    error, out = refused(command(inputs, tmp_path / "run", name, *options), capsys)
    assert match in error and "5000" in out
    assert not (tmp_path / "run").exists()


def test_training_directions_when_every_prompt_is_over_the_window_says_why(inputs, tmp_path, capsys):
    out = tmp_path / "run"
    error, _ = refused(command(inputs, out, "train-directions", "--documents", "30"), capsys)
    assert "no sample could be cached to train on" in error and "exceeds the model's window of 512" in error
    assert not (out / "directions.safetensors").exists() and not (out / "losses.csv").exists()


def test_retrieval_heads_when_no_test_fits_its_length_says_why(inputs, tmp_path, capsys):
    error, _ = refused(command(inputs, tmp_path / "run", "retrieval-heads", "--lengths", "5"), capsys)
    assert "no test could be scored" in error and "context length 5 is shorter than the question and needle" in error
    assert "--min-recall" not in error


@pytest.mark.parametrize("name", list(BASE))
def test_an_out_that_is_a_file_is_refused_and_left_alone(inputs, tmp_path, capsys, name):
    out = tmp_path / "results"
    out.write_text("keep me\n")
    error, _ = refused(command(inputs, out, name), capsys)
    assert error == f"focus-interp: error: {out} is a file: --out must name a folder"
    assert out.read_text() == "keep me\n"


@pytest.mark.parametrize(
    "name, options, match",
    [
        ("heads", ["--max-new-tokens", "3"], "(max_new_tokens differ): pass another output folder or the same settings"),
        ("compensate", [], "holds a run with other settings"),
        ("retrieval-heads", [], "holds a run with other settings"),
    ],
)
def test_an_out_holding_a_run_with_other_settings_is_refused_and_left_alone(inputs, heads_run, capsys, name, options, match):
    before = {path.name: path.read_bytes() for path in heads_run.iterdir()}
    error, _ = refused(command(inputs, heads_run, name, *options), capsys)
    assert match in error
    assert {path.name: path.read_bytes() for path in heads_run.iterdir()} == before


def test_demo_with_a_missing_model_is_one_line_and_writes_nothing(inputs, tmp_path, capsys):
    missing = tmp_path / "no-model"
    error, _ = refused(["demo", "--model", str(missing), "--out", str(tmp_path / "demo")], capsys)
    assert f"model '{missing}' not found: pass a short name" in error
    assert not (tmp_path / "demo").exists()


def test_demo_into_a_folder_of_another_command_is_refused_untouched(inputs, heads_run, capsys):
    before = {path.name: path.read_bytes() for path in heads_run.iterdir()}
    error, _ = refused(["demo", "--model", str(inputs["model"]), "--quick", "--out", str(heads_run)], capsys)
    assert "holds a run of another command" in error
    assert {path.name: path.read_bytes() for path in heads_run.iterdir()} == before


def analysis_error(monkeypatch, script: str, *args: str) -> str:
    """Run an analysis script in this process; it must stop with one ``SCRIPT: error:`` line, returned."""
    path = ROOT / "analyses" / script
    monkeypatch.setattr(sys, "argv", [str(path), *args])
    with pytest.raises(SystemExit) as stopped:
        runpy.run_path(str(path), run_name="__main__")
    message = str(stopped.value.code)
    assert message.startswith(f"{script}: error: ") and "\n" not in message
    return message


@pytest.mark.parametrize(
    "script, runs, match",
    [
        ("fig2_head_locations.py", ["{missing}"], "is not a run folder (no meta.json): run `focus-interp heads"),
        ("table1_contextual_scores.py", ["{missing}"], "is not a run folder"),
        ("fig3_split_softmax.py", ["{heads_run}"], "is not a sweep's run folder (its meta.json lists no configurations): pass the folder of `focus-interp compensate`"),
        ("fig4_focus_directions.py", ["{missing}"], "is not a run folder"),
        ("fig9_contextual_vs_retrieval.py", ["{heads_run}", "{heads_run}"], "has no retrieval scores: pass a run of `focus-interp retrieval-heads`"),
        ("table2_long_context.py", ["{heads_run}"], "run `focus-interp long-context"),
        ("table3_scores_under_directions.py", ["{heads_run}", "{heads_run}"], "pass runs made with --directions"),
    ],
)
def test_an_analysis_of_the_wrong_run_is_one_line_and_writes_nothing(heads_run, tmp_path, monkeypatch, script, runs, match):
    folders = {"heads_run": heads_run, "missing": tmp_path / "missing"}
    out = tmp_path / "figures"
    assert match in analysis_error(monkeypatch, script, *(run.format(**folders) for run in runs), "--out", str(out))
    assert not out.exists()


@pytest.mark.parametrize("script", ["fig2_head_locations.py", "table1_contextual_scores.py"])
def test_an_analysis_into_an_out_that_is_a_file_is_one_line(heads_run, tmp_path, monkeypatch, script):
    out = tmp_path / "figures"
    out.write_text("keep me\n")
    message = analysis_error(monkeypatch, script, str(heads_run), "--out", str(out))
    assert message.endswith(f"cannot make the folder {out} (File exists): pass another --out")
    assert out.read_text() == "keep me\n"


def _rows():
    return load_multidoc_qa("synthetic", n=1, gold_positions=(1,), n_documents=3)


LIBRARY_CASES = [
    pytest.param(lambda c: load_model(str(c.folder / "no-model")), "not found: pass a short name", id="load_model-missing"),
    pytest.param(lambda c: load_multidoc_qa(c.bad_line_data), "line 2 is not valid JSON", id="load_multidoc_qa-bad-line"),
    pytest.param(lambda c: load_multidoc_qa(c.empty), "is empty", id="load_multidoc_qa-empty"),
    pytest.param(lambda c: load_multidoc_qa("synthetic", n=0), "n=0 must be a positive number", id="load_multidoc_qa-n-zero"),
    pytest.param(lambda c: load_needles(c.number_needle), "must be strings", id="load_needles-number"),
    pytest.param(lambda c: needle_tests(generated_needles(1), [300], [-0.1]), "depths must lie in", id="needle_tests-depth"),
    pytest.param(lambda c: read_directions(c.wrong_shape, c.loaded.architecture), "they belong to another model", id="read_directions-shape"),
    pytest.param(lambda c: read_directions(c.other_model, c.loaded.architecture), "made for tiny-qwen2", id="read_directions-other-model"),
    pytest.param(lambda c: read_directions(c.not_safetensors), "is not a safetensors directions file", id="read_directions-not-safetensors"),
    pytest.param(lambda c: ranking_from(c.layer_beyond, c.loaded.architecture), "layer 3 is out of range", id="ranking_from-layer"),
    pytest.param(lambda c: ranking_from(c.no_heads, c.loaded.architecture), "ranks no heads", id="ranking_from-empty"),
    pytest.param(lambda c: SplitSoftmax(((0, 0),), (1, 3), -0.1, 5), "tau must be a number >= 0", id="SplitSoftmax-negative-tau"),
    pytest.param(lambda c: FocusDirection(((0, 0),), torch.zeros(3, 4, 16), torch.zeros(3, 4, 16), float("inf")),
                 "alpha must be a finite number", id="FocusDirection-infinite-alpha"),
    pytest.param(lambda c: capped_k(["0"], 12), "k must be at least 1", id="capped_k-zero"),
    pytest.param(lambda c: build_long_context_task("json_kv", c.loaded.tokenizer, 300, 1, source=c.not_gzip),
                 "cannot read", id="build_long_context_task-not-gzip"),
    pytest.param(lambda c: greedy_response(c.loaded, build_prompt(c.loaded.tokenizer, ["word " * 600]), 2),
                 "exceeds the model's window of 512", id="greedy_response-over-window"),
    pytest.param(lambda c: score_heads(c.loaded, _rows(), c.out, max_new_tokens=0, progress=False),
                 "max_new_tokens must be at least 1", id="score_heads-max-new-tokens-zero"),
    pytest.param(lambda c: score_heads(c.loaded, _rows(), c.a_file / "run", max_new_tokens=2, progress=False),
                 "a_file is a file: --out must name a folder", id="score_heads-inside-a-file"),
    pytest.param(lambda c: train_directions(c.loaded, _rows(), c.out, lr=float("nan"), progress=False),
                 "lr must be a finite number above 0", id="train_directions-lr-nan"),
    pytest.param(lambda c: score_retrieval_heads(c.loaded, needle_tests(generated_needles(1), [300], [0.5]), c.out,
                                                 c.folder / "missing.jsonl.gz", progress=False),
                 "haystack file not found", id="score_retrieval_heads-missing-haystack"),
]


@pytest.mark.parametrize("call, match", LIBRARY_CASES)
def test_a_public_entry_point_given_bad_input_raises_one_line_and_writes_nothing(inputs, tiny_loaded, tmp_path, call, match):
    context = SimpleNamespace(**inputs, loaded=tiny_loaded("llama", "sdpa"), out=tmp_path / "run")
    with pytest.raises(FocusInterpError, match=re.escape(match)) as error:
        call(context)
    assert "\n" not in str(error.value)
    assert not context.out.exists()
