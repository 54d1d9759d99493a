"""Focus-direction sweeps as rows of one batch: each row equals its direction run alone (every position), or a
step-by-step trace that edits only the rows from the last prompt token on (response rows)."""

from __future__ import annotations

import pytest
import torch

from focus_interp import FocusInterpError, build_prompt
from focus_interp.data import load_multidoc_qa, long_parts
from focus_interp.interventions import FocusDirection, apply_interventions
from focus_interp.interventions.generation import (
    generate_focus_direction_sweep,
    generate_with_interventions,
)

ROW = load_multidoc_qa("synthetic", n=1, gold_positions=(2,), n_documents=3)[0]


def _rows(loaded, site: str) -> list[FocusDirection | None]:
    architecture = loaded.architecture
    shape = (architecture.n_layers, architecture.n_heads, architecture.head_dim)
    generator = torch.Generator().manual_seed(0)
    query, key = torch.randn(shape, generator=generator) * 3, torch.randn(shape, generator=generator)
    if site == "pre_rope":  # query heads sharing a KV head share d_K
        key = key[:, [architecture.kv_head(h) * architecture.n_groups for h in range(architecture.n_heads)]]
    every = tuple((layer, head) for layer in range(architecture.n_layers) for head in range(architecture.n_heads))
    return [
        FocusDirection(every[:2], query, key, 4.0, site),
        None,
        FocusDirection(every, query, key, -2.0, site),
        FocusDirection(every[3:], query, key, 6.0, site),
        FocusDirection(every[1:2], query, key, 0.0, site),
    ]


@pytest.mark.parametrize("site", ["post_rope", "pre_rope"])
def test_each_row_of_a_batched_sweep_equals_its_direction_alone(tiny_loaded, family, site):
    loaded = tiny_loaded(family, "sdpa")
    prompt = build_prompt(loaded.tokenizer, long_parts(ROW))
    rows = _rows(loaded, site)
    batched = generate_focus_direction_sweep(loaded, prompt, rows, max_new_tokens=6, batch_size=2)
    alone = [generate_with_interventions(loaded, prompt, [] if row is None else [row], max_new_tokens=6) for row in rows]
    assert batched == alone
    assert len({tuple(response) for response in alone}) > 1  # the directions change the responses


@pytest.mark.parametrize("positions", ["all", "response"])
def test_a_sweep_goes_on_only_with_the_rows_not_ended_in_its_first_pass(tiny_loaded, family, monkeypatch, positions):
    """A first pass of 2 tokens and a stop token that ends some rows within it: every row equals the one-pass
    sweep's (itself tested against each direction alone, or a step-by-step trace), and only the rows still going
    decode further, from their own cache: one new token fed after the prompt and their first 2 tokens."""
    from focus_interp.interventions import generation

    loaded = tiny_loaded(family, "sdpa")
    prompt = build_prompt(loaded.tokenizer, long_parts(ROW))
    rows = _rows(loaded, "post_rope")
    unstopped = generate_focus_direction_sweep(loaded, prompt, rows, max_new_tokens=6, positions=positions)
    stop = next(token for response in unstopped for token in response[:2] if any(token not in other[:3] for other in unstopped))
    monkeypatch.setattr(loaded.hf_model.generation_config, "eos_token_id", stop)
    one_pass = generate_focus_direction_sweep(
        loaded, prompt, rows, max_new_tokens=6, batch_size=2, positions=positions, first_pass_tokens=6
    )
    assert min(map(len, one_pass)) < 2 and max(map(len, one_pass)) > 2
    decoded, traced_greedy = [], generation.traced_greedy

    def recorded(loaded, ids, n_steps, *args, **kwargs):
        cached = kwargs["past_key_values"].get_seq_length()
        decoded.append((ids.shape[0], ids.shape[1], cached, n_steps))
        return traced_greedy(loaded, ids, n_steps, *args, **kwargs)

    monkeypatch.setattr(generation, "traced_greedy", recorded)
    two_passes = generate_focus_direction_sweep(
        loaded, prompt, rows, max_new_tokens=6, batch_size=2, positions=positions, first_pass_tokens=2
    )
    assert two_passes == one_pass
    prefix = len(prompt) - 1 if positions == "response" else 0
    assert {(length, cached, n_steps) for _, length, cached, n_steps in decoded} <= {
        (len(prompt), prefix, 2), (len(prompt) + 2, len(prompt) + 1, 4)
    }
    rows_of_pass = {steps: sum(size for size, _, _, n_steps in decoded if n_steps == steps) for steps in (2, 4)}
    assert rows_of_pass == {2: len(rows), 4: sum(len(response) >= 2 for response in one_pass)}


class _FromPosition:
    """A user's own edit, independent of the sweep: alpha * d_Q (and d_K without GQA) after RoPE, only at the
    positions from ``first`` on."""

    stage = "post_rope"

    def __init__(self, direction: FocusDirection, first: int):
        self.direction, self.first = direction, first

    def layers(self) -> set[int]:
        return self.direction.layers()

    def check(self, architecture) -> None:
        pass

    def is_identity(self) -> bool:
        return False

    def edit(self, architecture, layer: int, values: tuple) -> None:
        query, key = values
        heads = [h for l, h in self.direction.heads if l == layer]
        alpha = self.direction.alpha
        query[:, heads, self.first :] += alpha * self.direction.query[layer, heads][None, :, None, :]
        if architecture.n_groups == 1:
            key[:, heads, self.first :] += alpha * self.direction.key[layer, heads][None, :, None, :]


def test_response_rows_edit_only_from_the_last_prompt_token_on(tiny_loaded, family):
    loaded = tiny_loaded(family, "sdpa")
    prompt = build_prompt(loaded.tokenizer, long_parts(ROW))
    rows = [row for row in _rows(loaded, "post_rope") if row is not None and not row.is_identity()]
    swept = generate_focus_direction_sweep(loaded, prompt, rows, max_new_tokens=5, batch_size=2, positions="response")
    for row, response in zip(rows, swept):
        tokens = list(prompt.input_ids)
        for expected in response:
            with torch.no_grad(), loaded.model.trace(torch.tensor([tokens])):
                apply_interventions(loaded, [_FromPosition(row, len(prompt) - 1)])
                logits = loaded.model.output.logits[0, -1].save()
            assert int(logits.argmax()) == expected
            tokens.append(expected)
    everywhere = generate_focus_direction_sweep(loaded, prompt, rows, max_new_tokens=5)
    assert swept != everywhere  # the prompt rows' edits matter


def test_a_sweep_refuses_other_edits_and_unknown_positions(tiny_loaded):
    loaded = tiny_loaded("llama", "sdpa")
    prompt = build_prompt(loaded.tokenizer, long_parts(ROW))
    with pytest.raises(FocusInterpError, match="positions must be one of all, response"):
        generate_focus_direction_sweep(loaded, prompt, [None], positions="prompt")
    with pytest.raises(FocusInterpError, match="takes FocusDirection rows"):
        generate_focus_direction_sweep(loaded, prompt, ["alpha 0.5"])


def test_the_default_models_batched_sweep_equals_each_direction_alone(default_model):
    prompt = build_prompt(default_model.tokenizer, long_parts(ROW))
    rows = _rows(default_model, "post_rope")[:4]
    batched = generate_focus_direction_sweep(default_model, prompt, rows, max_new_tokens=8, batch_size=4)
    alone = [generate_with_interventions(default_model, prompt, [] if row is None else [row], max_new_tokens=8) for row in rows]
    assert batched == alone
