"""The authors' scoring, for parity: their span search against their own function, quoted, and their scores
against eager attention over their sequence and spans."""

from __future__ import annotations

import random

import pytest
import torch

from focus_interp.data import load_multidoc_qa
from focus_interp.scoring.authors_scoring import authors_record, find_needle_idx
from focus_interp.scoring.contextual_run import score_heads


def _their_find_needle_idx(prompt_ids, needle_ids):
    """decoding_methods.find_needle_idx of billzyx/focus_direction, on lists instead of tensors."""
    span_len = len(needle_ids)
    max_overlap = 0
    best_start_idx, best_end_idx = -1, -1
    for i in range(len(prompt_ids)):
        token_span = prompt_ids[i: i + span_len]
        span_ids = set(token_span)
        overlap = float(len(span_ids.intersection(set(needle_ids)))) / len(set(needle_ids))
        if overlap > max_overlap:
            max_overlap = overlap
            best_start_idx, best_end_idx = i, i + span_len
    if max_overlap > 0.7:
        return best_start_idx, best_end_idx
    return -1, -1


def test_the_span_search_is_the_authors_find_needle_idx():
    rng = random.Random(0)
    for _ in range(500):
        prompt = [rng.randrange(12) for _ in range(rng.randint(1, 40))]
        needle = [rng.randrange(12) for _ in range(rng.randint(1, 8))]
        if rng.random() < 0.5 and len(prompt) > 4:
            start = rng.randrange(len(prompt) - 2)
            needle = prompt[start : start + rng.randint(1, 6)]
        found = find_needle_idx(prompt, needle)
        assert (found or (-1, -1)) == _their_find_needle_idx(prompt, needle)
    assert find_needle_idx([1, 2, 3, 4, 5, 6], [3, 4, 5]) == (2, 5)
    assert find_needle_idx([1, 2, 3, 4, 5, 6], [9, 3, 4]) is None  # 2 of 3 ids: not above 0.7


def test_their_scores_equal_eager_attention_over_their_sequence_and_spans(tiny_loaded):
    loaded = tiny_loaded("llama", "sdpa")
    row = load_multidoc_qa("synthetic", n=1, n_documents=3, gold_positions=(2,))[0]
    record = authors_record(loaded, row, max_new_tokens=6)
    if record["scores"]["R"] is None:
        pytest.skip("the search found no response window in this sample")
    implementation = loaded.hf_model.config._attn_implementation
    loaded.hf_model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            attentions = loaded.hf_model(torch.tensor([record["input_ids"]]), output_attentions=True).attentions
    finally:
        loaded.hf_model.set_attn_implementation(implementation)
    first, last = record["spans"]["response"]
    start, end = record["spans"]["relevant"]
    relevant = torch.stack([a[0, :, first:last, start:end].sum(-1).mean(-1) for a in attentions])
    sink = torch.stack([a[0, :, first:last, 0:2].sum(-1).mean(-1) for a in attentions])
    irrelevant = torch.stack([torch.stack([a[0, :, first:last, s:e].sum(-1).mean(-1) for s, e in record["spans"]["irrelevant"]], -1)
                              for a in attentions])
    torch.testing.assert_close(torch.tensor(record["scores"]["R"]), relevant, atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.tensor(record["scores"]["sink"]), sink, atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.tensor(record["scores"]["IR"]), irrelevant.sum(-1), atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.tensor(record["scores"]["IR_max"]), irrelevant.max(-1).values, atol=1e-5, rtol=0)


def test_score_heads_takes_the_authors_search_as_an_option(tiny_loaded):
    loaded = tiny_loaded("llama", "sdpa")
    rows = load_multidoc_qa("synthetic", n=2, n_documents=3, gold_positions=(1, 3))
    scores = score_heads(loaded, rows, max_new_tokens=4, progress=False, span_search="authors")
    assert scores.meta["settings"]["span_search"] == "authors" and len(scores.records) == 2
    with pytest.raises(Exception, match="unknown span search 'fuzzy'"):
        score_heads(loaded, rows, max_new_tokens=4, progress=False, span_search="fuzzy")
