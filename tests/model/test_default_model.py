"""The real default model: loads from its converted cache and answers."""

from __future__ import annotations

from focus_interp import build_prompt, load_model
from focus_interp.cli import EXIT_BAD_INPUT, main
from focus_interp.model.generation import greedy_response
from focus_interp.model.gguf import default_cache_dir


def test_default_model_loads_from_cache_and_generates(default_model):
    converted = list((default_cache_dir() / "models").glob("SmolLM2-135M-Instruct*/model.safetensors"))
    assert len(converted) == 1
    written = converted[0].stat().st_mtime_ns
    reloaded = load_model()
    assert converted[0].stat().st_mtime_ns == written
    arch = reloaded.architecture
    assert (arch.n_layers, arch.n_heads, arch.n_kv_heads, arch.head_dim, arch.context_length) == (30, 9, 3, 64, 8192)
    prompt = build_prompt(reloaded.tokenizer, ["What is the capital of France?"])
    answer = reloaded.tokenizer.decode(greedy_response(reloaded, prompt, max_new_tokens=12))
    assert "Paris" in answer


def test_heads_command_scores_every_head_of_the_default_model(default_model, capsys, tmp_path):
    args = ["heads", "--documents", "3", "--gold-positions", "1", "3", "--n", "2", "--out", str(tmp_path), "--top", "4"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "EM" in out and "top 4 contextual heads" in out
    assert (tmp_path / "head_scores.csv").read_text().count("\n") == 1 + 270


def test_demo_command_bad_model_is_one_line(capsys):
    assert main(["demo", "--model", "no-such-model.gguf"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip()
    assert err.startswith("focus-interp: error:") and "\n" not in err
