"""The real default model: loads from its converted cache and answers."""

from __future__ import annotations

import time

from focus_interp import build_prompt, load_model
from focus_interp.cli import main
from focus_interp.generation import greedy_response
from focus_interp.models import default_cache_dir


def test_default_model_loads_from_cache_and_generates(default_model):
    converted = list((default_cache_dir() / "models").glob("SmolLM2-135M-Instruct*/model.safetensors"))
    assert len(converted) == 1
    started = time.perf_counter()
    reloaded = load_model()
    assert time.perf_counter() - started < 60
    arch = reloaded.architecture
    assert (arch.n_layers, arch.n_heads, arch.n_kv_heads, arch.head_dim, arch.context_length) == (30, 9, 3, 64, 8192)
    prompt = build_prompt(reloaded.tokenizer, ["What is the capital of France?"])
    answer = reloaded.tokenizer.decode(greedy_response(reloaded, prompt, max_new_tokens=12))
    assert "Paris" in answer


def test_demo_command_answers_a_generated_question_and_scores_heads(default_model, capsys, tmp_path):
    args = ["demo", "--documents", "3", "--gold-positions", "1", "3", "--n", "2", "--out", str(tmp_path), "--top", "4"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "query heads    9 per layer" in out and "post_rope" in out and "exact match" in out
    assert "top 4 contextual heads" in out
    assert (tmp_path / "head_scores.csv").read_text().count("\n") == 1 + 270


def test_demo_command_bad_model_is_one_line(capsys):
    assert main(["demo", "--model", "no-such-model.gguf"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("focus-interp: error:") and "\n" not in err
