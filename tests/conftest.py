"""Shared fixtures: tiny random models of every supported family, a tiny tokenizer, the real default model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    Gemma3ForCausalLM,
    Gemma3TextConfig,
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
)

from focus_interp import build_prompt, load_model, prompt_sample, wrap_model
from focus_interp.prompts import Segment
from focus_interp.scoring.response_attention import span_indicator

SHARED_DATA = Path(os.environ.get("FOCUS_INTERP_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
"""The project's shared data folder (not on a user's machine: tests that need it skip without it)."""

TINY_SIZES = dict(
    vocab_size=400,
    hidden_size=64,
    intermediate_size=96,
    num_hidden_layers=3,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=16,
    max_position_embeddings=512,
)
SLIDING_WINDOW = 5


def tiny_hf_model(family: str, attn_implementation: str = "eager") -> torch.nn.Module:
    """A randomly initialised 3-layer model of ``family``; sliding windows (5 tokens) where the family has them."""
    torch.manual_seed(0)
    if family == "llama":
        config = LlamaConfig(**TINY_SIZES)
        cls = LlamaForCausalLM
    elif family == "qwen2":
        config = Qwen2Config(**TINY_SIZES, use_sliding_window=True, sliding_window=SLIDING_WINDOW, max_window_layers=1)
        cls = Qwen2ForCausalLM
    elif family == "mistral":
        config = MistralConfig(**TINY_SIZES, sliding_window=SLIDING_WINDOW)
        cls = MistralForCausalLM
    elif family == "gemma3":
        config = Gemma3TextConfig(
            **TINY_SIZES,
            sliding_window=SLIDING_WINDOW,
            layer_types=["sliding_attention", "full_attention", "sliding_attention"],
            query_pre_attn_scalar=32,
        )
        cls = Gemma3ForCausalLM
    else:
        raise ValueError(family)
    config._attn_implementation = attn_implementation
    model = cls(config).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "norm" in name:
                parameter.add_(0.3 * torch.randn_like(parameter))
    return model


def eager_span_mass(hf_model, prompt, response_ids, span_names) -> torch.Tensor:
    """[rows, layers, heads, spans] from one eager forward over [prompt, R] with output_attentions."""
    full = prompt.with_response(response_ids)
    implementation = hf_model.config._attn_implementation
    hf_model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            attentions = hf_model(full.ids(), output_attentions=True).attentions
    finally:
        hf_model.set_attn_implementation(implementation)
    indicator = span_indicator(prompt, span_names, len(full))
    rows = full.span("response")
    return torch.stack([a[0, :, rows] @ indicator for a in attentions]).permute(2, 0, 1, 3)


FAMILIES = ["llama", "qwen2", "mistral", "gemma3"]

_CORPUS = [
    "Write a high-quality answer for the given question using only the provided search results.",
    "Document [1](Title: Velmora) Velmora is a small town in the northern hills.",
    "Question: who founded the town? Answer: Tarin Oskell founded it in 1432.",
]
CHAT_TEMPLATE = (
    "{% for message in messages %}<|turn|>{{ message['role'] }}\n{{ message['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|turn|>assistant\n{% endif %}"
)


def own_prompt_sample(tokenizer, i: int) -> dict:
    """A sample a user writes: their own instruction, plain-text template and segment names (``fact`` relevant,
    ``noise_a``/``noise_b`` not), its answer, the fact alone and the notes without it."""
    task = Segment("task", "Read the notes, then answer.")
    fact = Segment("fact", f"Note B: the key is under mat {i}.")
    noise_a, noise_b = Segment("noise_a", f"Note A: boats float on lake {i}."), Segment("noise_b", "Note C: cats sleep a lot.")
    question = "\nWhere is the key?"

    def prompt(*notes):
        parts = [task]
        for note in notes:
            parts += ["\n", note]
        return build_prompt(tokenizer, [*parts, question], chat_template=False)

    return prompt_sample(f"own-{i}", prompt(noise_a, fact, noise_b), "fact", ["noise_a", "noise_b"], answers=[f"mat {i}"],
                         gold_prompt=prompt(fact), no_gold_prompt=prompt(noise_a, noise_b))


def tiny_tokenizer(chat_template: bool = True) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained in-process on a few sentences (vocab 400)."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<s>", "</s>", "<|turn|>", "<|end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(_CORPUS, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>")
    if chat_template:
        fast.chat_template = CHAT_TEMPLATE
    return fast


@pytest.fixture(params=FAMILIES)
def family(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def default_model():
    """The real default model (SmolLM2-135M-Instruct), converted into the user cache on first use."""
    return load_model()


@pytest.fixture
def tiny_loaded():
    """Build and wrap a tiny model: ``tiny_loaded(family, attn_implementation)``."""

    def build(family: str, attn_implementation: str = "eager"):
        return wrap_model(tiny_hf_model(family, attn_implementation), tiny_tokenizer(), name=f"tiny-{family}")

    return build


def read_results_csv(path) -> list[dict]:
    """The rows of a sweep's ``results.csv`` as written, numbers parsed: None for an empty cell (NaN for an EM)."""
    import csv
    import math

    def number(value: str, kind=float):
        return kind(value) if value else None

    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        {
            **row,
            **{column: number(row[column], int) for column in ("k", "n", "n_questions")},
            **{column: number(row[column]) for column in ("tau", "alpha", "difference", "difference_low", "difference_high", "p_value")},
            **{column: float(row[column]) if row[column] else math.nan for column in ("em", "em_low", "em_high")},
            "positions": row["positions"] or None,
        }
        for row in rows
    ]
