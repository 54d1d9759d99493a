"""Preallocated KV caches: a prompt fed in pieces through one gives the logits of one full forward pass, each kept
row goes on as that row alone, and a cache that runs out of room says so."""

from __future__ import annotations

import pytest
import torch

from focus_interp import FocusInterpError
from focus_interp.model.kv_cache import preallocated_cache, repeat_prefix_cache

TOKENS = torch.randint(5, 400, (3, 20), generator=torch.Generator().manual_seed(0))


def _forward(loaded, ids, cache):
    return loaded.hf_model(ids, past_key_values=cache, use_cache=True).logits


@torch.no_grad()
def test_a_prompt_fed_in_pieces_through_a_preallocated_cache_equals_one_forward_pass(tiny_loaded, family):
    loaded = tiny_loaded(family, "sdpa")
    full = loaded.hf_model(TOKENS).logits
    cache = preallocated_cache(loaded.hf_model.config, TOKENS.shape[1])
    pieces = [_forward(loaded, TOKENS[:, start:end], cache) for start, end in ((0, 12), (12, 13), (13, 20))]
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-5, rtol=1e-5)
    assert cache.get_seq_length() == TOKENS.shape[1]


@torch.no_grad()
def test_kept_rows_go_on_as_each_row_alone(tiny_loaded, family):
    loaded = tiny_loaded(family, "sdpa")
    cache = preallocated_cache(loaded.hf_model.config, TOKENS.shape[1])
    _forward(loaded, TOKENS[:, :15], cache)
    cache.batch_select_indices(torch.tensor([2, 0]))
    going_on = _forward(loaded, TOKENS[[2, 0], 15:], cache)
    alone = torch.stack([loaded.hf_model(TOKENS[row : row + 1]).logits[0, 15:] for row in (2, 0)])
    torch.testing.assert_close(going_on, alone, atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_copies_of_a_prefix_go_on_like_the_whole_prompt(tiny_loaded, family):
    loaded = tiny_loaded(family, "sdpa")
    prefix = loaded.hf_model(TOKENS[:1, :10], use_cache=True).past_key_values
    cache = repeat_prefix_cache(prefix, 2, 20)
    tails = torch.cat([TOKENS[:1, 10:], TOKENS[1:2, 10:]])
    going_on = _forward(loaded, tails, cache)
    for row in range(2):
        whole = loaded.hf_model(torch.cat([TOKENS[:1, :10], tails[row : row + 1]], dim=1)).logits[0, 10:]
        torch.testing.assert_close(going_on[row], whole, atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_a_preallocated_cache_without_room_says_how_much_it_holds(tiny_loaded):
    loaded = tiny_loaded("llama", "sdpa")
    cache = preallocated_cache(loaded.hf_model.config, 8)
    with pytest.raises(FocusInterpError, match="holds 8 positions, 12 were needed"):
        _forward(loaded, TOKENS[:, :12], cache)
