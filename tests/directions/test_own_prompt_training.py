"""Direction training on a user's own prompts: the cache holds their relevant segment and the response to their
gold prompt."""

from __future__ import annotations

import pytest

from focus_interp import FocusInterpError, prompt_sample, train_directions
from focus_interp.directions.cache import build_cache, read_shard
from focus_interp.model.generation import greedy_response
from tests.conftest import own_prompt_sample


def test_own_prompts_cache_their_relevant_span_and_gold_response(tiny_loaded, tmp_path):
    loaded = tiny_loaded("llama", "sdpa")
    samples = [own_prompt_sample(loaded.tokenizer, i) for i in range(2)]
    summary = build_cache(loaded, samples, tmp_path, max_new_tokens=3, progress=False)
    for sample, shard in zip(samples, summary["shards"]):
        tensors, metadata = read_shard(shard)
        prompt = sample["prompt"]
        response = greedy_response(loaded, sample["gold_prompt"], 3)
        assert tuple(metadata["gold_span"]) == prompt.spans["fact"]
        assert int(metadata["first_row"]) == len(prompt) and int(metadata["length"]) == len(prompt) + len(response)
        assert tensors["q.0"].shape[1] == len(response)
    result = train_directions(loaded, samples, epochs=2, max_new_tokens=3, progress=False)
    assert result.summary["n_trained"] == 2 and result.losses.shape == (2, loaded.architecture.n_layers)


def test_own_prompts_without_a_gold_prompt_are_refused_before_any_work(tiny_loaded, tmp_path):
    loaded = tiny_loaded("llama", "sdpa")
    sample = own_prompt_sample(loaded.tokenizer, 0)
    bare = prompt_sample("bare", sample["prompt"], "fact", ["noise_a"])
    with pytest.raises(FocusInterpError, match="sample bare has no gold_only prompt.*pass gold_prompt= to prompt_sample"):
        train_directions(loaded, [bare], tmp_path, progress=False)
    assert not (tmp_path / "cache").exists()
