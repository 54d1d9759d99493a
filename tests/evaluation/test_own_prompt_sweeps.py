"""Sweeps over a user's own prompts: each configuration's response equals the same edit run alone on those prompts."""

from __future__ import annotations

import pytest

from focus_interp import (
    Configuration,
    FocusInterpError,
    HeadSets,
    SplitSoftmax,
    generate_with_interventions,
    prompt_sample,
    run_sweep,
)
from focus_interp.evaluation.configurations import split_softmax_configurations
from focus_interp.model.generation import greedy_response
from tests.conftest import own_prompt_sample


def _head_sets(loaded):
    return HeadSets(((0, 1), (1, 2), (2, 0), (1, 3)), "hand ranking", loaded.architecture)


def test_own_prompts_sweep_like_each_edit_alone(tiny_loaded):
    loaded = tiny_loaded("llama", "sdpa")
    samples = [own_prompt_sample(loaded.tokenizer, i) for i in range(2)]
    configurations = split_softmax_configurations([2], [0.0], [0.0])
    sweep = run_sweep(loaded, samples, None, configurations, _head_sets(loaded), max_new_tokens=4, progress=False)
    decode = loaded.tokenizer.decode
    for sample, record in zip(samples, sweep.records):
        prompt = sample["prompt"]
        assert record["responses"]["none"] == decode(greedy_response(loaded, prompt, 4))
        assert record["responses"]["gold_only"] == decode(greedy_response(loaded, sample["gold_prompt"], 4))
        assert record["responses"]["no_gold"] == decode(greedy_response(loaded, sample["no_gold_prompt"], 4))
        alone = SplitSoftmax.on_segment(prompt, "fact", [(0, 1), (1, 2)], tau=0.0)
        assert record["responses"]["split_softmax top k=2 tau=0"] == decode(generate_with_interventions(loaded, prompt, [alone], 4))
        assert record["gold_position"] is None and record["answers"] == sample["answers"]
    frame = sweep.to_frame()
    assert set(frame["gold_position"]) == {"all"} and (frame["n"] == 2).all()


def test_a_baseline_without_its_prompt_is_refused_before_any_work(tiny_loaded):
    loaded = tiny_loaded("llama", "sdpa")
    sample = own_prompt_sample(loaded.tokenizer, 0)
    bare = prompt_sample("bare", sample["prompt"], "fact", ["noise_a"], answers=["mat 0"])
    with pytest.raises(FocusInterpError, match="sample bare has no no_gold prompt.*pass no_gold_prompt= to prompt_sample"):
        run_sweep(loaded, [bare], None, [Configuration("none"), Configuration("no_gold")], _head_sets(loaded), progress=False)
    unanswered = prompt_sample("open", sample["prompt"], "fact", ["noise_a"])
    with pytest.raises(FocusInterpError, match="sample open has no answers"):
        run_sweep(loaded, [unanswered], None, [Configuration("none")], _head_sets(loaded), progress=False)


@pytest.mark.parametrize(
    "arguments, match",
    [(("boost",), "no intervention 'boost'"), (("split_softmax", "top", 2), "split_softmax needs tau"),
     (("focus_direction", "best", 2), "needs heads 'top' or 'random'"),
     (("none", "top", 2), "none takes no heads, k"), (("focus_direction", "top", 2, 0.3, 0.5), "focus_direction takes no tau")],
)
def test_a_configuration_that_cannot_run_is_one_line(arguments, match):
    with pytest.raises(FocusInterpError, match=match):
        Configuration(*arguments)


def test_configurations_that_print_the_same_are_refused(tiny_loaded):
    loaded = tiny_loaded("llama", "sdpa")
    sample = own_prompt_sample(loaded.tokenizer, 0)
    twice = [Configuration("split_softmax", "top", 2, tau=0.1), Configuration("split_softmax", "top", 2, tau=0.1000001)]
    with pytest.raises(FocusInterpError, match="split_softmax top k=2 tau=0.1 are listed more than once"):
        run_sweep(loaded, [sample], None, twice, _head_sets(loaded), progress=False)


def test_focus_directions_sweep_as_batch_rows_like_each_alone_and_response_rows_as_their_own_sweep(tiny_loaded):
    import torch

    from focus_interp.directions import Directions
    from focus_interp.evaluation.configurations import focus_direction_configurations
    from focus_interp.interventions import FocusDirection
    from focus_interp.interventions.generation import generate_focus_direction_sweep

    loaded = tiny_loaded("llama", "sdpa")
    samples = [own_prompt_sample(loaded.tokenizer, i) for i in range(2)]
    directions = Directions(torch.randn(3, 4, 16, generator=torch.Generator().manual_seed(1)) * 3, torch.zeros(3, 4, 16))
    configurations = focus_direction_configurations([1, 3], [-2.0, 4.0], positions=("all", "response"))
    assert "focus_direction top k=3 alpha=4 response rows" in [c.name for c in configurations]
    sweep = run_sweep(loaded, samples, None, configurations, _head_sets(loaded), max_new_tokens=4, directions=directions,
                      batch_size=3, progress=False)
    decode = loaded.tokenizer.decode
    for sample, record in zip(samples, sweep.records):
        for configuration in configurations[3:]:
            edit = FocusDirection(_head_sets(loaded).ranking[: configuration.k], directions.query, directions.key, configuration.alpha)
            if configuration.positions == "all":
                alone = generate_with_interventions(loaded, sample["prompt"], [edit], 4)
            else:
                alone = generate_focus_direction_sweep(loaded, sample["prompt"], [edit], 4, positions="response")[0]
            assert record["responses"][configuration.name] == decode(alone)
    assert {row["positions"] for row in sweep.table()} == {None, "all", "response"}
