"""Contextual scores of a user's own prompts: their own instruction, template and segment names, checked against
eager ``output_attentions`` over the same ids."""

from __future__ import annotations

import pytest
import torch

from focus_interp import FocusInterpError, prompt_sample, score_heads
from focus_interp.prompts import SINK
from tests.conftest import eager_span_mass, own_prompt_sample


def test_own_prompts_score_like_eager_attention_over_their_segments(tiny_loaded):
    loaded = tiny_loaded("llama", "sdpa")
    samples = [own_prompt_sample(loaded.tokenizer, i) for i in range(2)]
    scores = score_heads(loaded, samples, max_new_tokens=4, progress=False)
    assert len(scores.records) == 2
    for sample, record in zip(samples, scores.records):
        prompt = sample["prompt"]
        response = record["input_ids"][len(prompt):]
        eager = eager_span_mass(loaded.hf_model, prompt, response, [SINK, "fact", "noise_a", "noise_b"]).mean(0)
        torch.testing.assert_close(torch.tensor(record["scores"]["R"]), eager[..., 1], atol=1e-5, rtol=0)
        torch.testing.assert_close(torch.tensor(record["scores"]["IR"]), eager[..., 2:].sum(-1), atol=1e-5, rtol=0)
        torch.testing.assert_close(torch.tensor(record["scores"]["IR_max"]), eager[..., 2:].max(-1).values, atol=1e-5, rtol=0)
        gold_response = record["input_ids_gold"][len(sample["gold_prompt"]):]
        eager_gold = eager_span_mass(loaded.hf_model, sample["gold_prompt"], gold_response, [SINK, "fact"]).mean(0)
        torch.testing.assert_close(torch.tensor(record["scores"]["R_gold"]), eager_gold[..., 1], atol=1e-5, rtol=0)
        assert record["em"] in (0.0, 1.0) and record["question"] == ""


def test_without_answers_or_gold_prompt_those_scores_are_none(tiny_loaded):
    loaded = tiny_loaded("llama", "sdpa")
    sample = own_prompt_sample(loaded.tokenizer, 0)
    bare = prompt_sample("bare", sample["prompt"], "fact", ["noise_a"])
    scores = score_heads(loaded, [bare], max_new_tokens=3, progress=False)
    record = scores.records[0]
    assert record["em"] is None and record["scores"]["R_gold"] is None and scores.summary["em"] is None
    assert scores.R.shape == (3, 4) and scores.R_gold.isnan().all()


@pytest.mark.parametrize(
    "relevant, irrelevant, match",
    [("facts", ["noise_a"], "has no segment facts"), ("fact", [], "name at least one irrelevant segment")],
)
def test_a_sample_naming_a_segment_its_prompt_lacks_is_one_line(tiny_loaded, relevant, irrelevant, match):
    sample = own_prompt_sample(tiny_loaded("llama").tokenizer, 0)
    with pytest.raises(FocusInterpError, match=match):
        prompt_sample("bad", sample["prompt"], relevant, irrelevant)
