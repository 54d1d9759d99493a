"""Retrieval scores: a hand-built copying head, argmax rows equal to eager attention, a resumable run folder."""

from __future__ import annotations

import math

import torch

from focus_interp.data.needles import (
    NEEDLE,
    answer_span,
    generated_needles,
    haystack_text,
    needle_prompt,
    needle_tests,
)
from focus_interp.heads import rank_heads
from focus_interp.model.generation import greedy_kwargs, newline_token_ids
from focus_interp.scoring import retrieval, retrieval_run
from focus_interp.scoring.head_score_files import read_head_scores
from focus_interp.scoring.response_attention import generate_reading_rows
from focus_interp.scoring.retrieval import NeedleRules, retrieval_score
from focus_interp.scoring.retrieval_run import score_retrieval_heads


def test_a_head_that_copies_the_needle_scores_one():
    # Prompt ids 0..9, needle at [4, 8) holds tokens 14..17; the response copies it.
    sequence = [0, 1, 2, 3, 14, 15, 16, 17, 8, 9]
    generated = [14, 15, 16, 17]
    sequence += generated
    positions = torch.zeros(4, 1, 3, dtype=torch.long)
    positions[:, 0, 0] = torch.tensor([4, 5, 6, 7])  # head 0 attends the needle token it copies
    positions[:, 0, 1] = torch.tensor([0, 0, 0, 0])  # head 1 attends the sink
    positions[:, 0, 2] = torch.tensor([5, 5, 6, 6])  # head 2: in the needle, right token on steps 1 and 2 only
    scores = retrieval_score(positions, generated, sequence, (4, 8))
    torch.testing.assert_close(scores, torch.tensor([[1.0, 0.0, 0.5]]))


def test_attending_the_same_token_outside_the_needle_does_not_count():
    sequence = [14, 1, 2, 3, 14, 15, 16, 17]
    positions = torch.tensor([[[0]], [[5]]])
    assert retrieval_score(positions, [14, 15], sequence + [14, 15], (4, 8)).item() == 0.25


def test_argmax_rows_are_those_of_eager_attention(tiny_loaded, family):
    loaded = tiny_loaded(family, "sdpa")
    test = needle_tests(generated_needles(1), [350], [0.5])[0]
    prompt = needle_prompt(loaded.tokenizer, haystack_text("synthetic", 5_000), test)
    response, rows = generate_reading_rows(loaded, prompt, retrieval._newest_argmax, 6, stops=newline_token_ids(loaded), keep_stop=True)
    assert response
    full = prompt.with_response(response)
    loaded.hf_model.set_attn_implementation("eager")
    with torch.no_grad():
        attentions = loaded.hf_model(full.ids(), output_attentions=True).attentions
    steps = len(response)
    eager = torch.stack([a[0, :, len(prompt) - 1 : len(prompt) - 1 + steps] for a in attentions], dim=1)  # [heads, layers, steps, keys]
    ours = torch.stack(rows[:steps])  # [steps, layers, heads]
    chosen = eager.gather(-1, ours.permute(2, 1, 0)[..., None]).squeeze(-1)
    torch.testing.assert_close(chosen, eager.max(dim=-1).values, atol=1e-5, rtol=0)


def test_a_run_writes_retrieval_scores_and_resumes(tiny_loaded, tmp_path, monkeypatch):
    loaded = tiny_loaded("llama", "sdpa")
    tests = needle_tests(generated_needles(1), [300, 350], [0.5])
    every = NeedleRules(strict=False)
    summary = score_retrieval_heads(loaded, tests, tmp_path, max_new_tokens=4, min_recall=0.0, progress=False, rules=every).summary
    assert summary["n_scored"] == summary["n_counted"] == 2
    rows = read_head_scores(tmp_path / "head_scores.csv")
    assert len(rows) == 3 * 4 and set(rows[0]) == {"layer", "head", "retrieval", "retrieval_low", "retrieval_high"}
    assert rank_heads(rows, "retrieval")[0]["retrieval"] >= 0.0

    def fail(*args, **kwargs):
        raise AssertionError("a finished test was scored again")

    monkeypatch.setattr(retrieval_run, "score_needle_prompt", fail)
    assert score_retrieval_heads(loaded, tests, tmp_path, max_new_tokens=4, min_recall=0.0, progress=False, rules=every).summary["n_scored"] == 2


def test_tests_that_do_not_recall_the_answer_do_not_count(tiny_loaded, tmp_path):
    loaded = tiny_loaded("llama", "sdpa")
    tests = needle_tests(generated_needles(1), [300], [0.5])
    summary = score_retrieval_heads(loaded, tests, tmp_path, max_new_tokens=3, min_recall=1.0, progress=False).summary
    assert summary["n_scored"] == 1 and summary["n_counted"] == 0
    assert all(math.isnan(row["retrieval"]) for row in read_head_scores(tmp_path / "head_scores.csv"))


def test_the_answer_span_holds_the_answer_tokens_inside_the_needle(tiny_loaded):
    tokenizer = tiny_loaded("llama").tokenizer
    needle = generated_needles(1)[0]
    prompt = needle_prompt(tokenizer, haystack_text("synthetic", 5_000), needle_tests([needle], [350], [0.5])[0])
    start, end = answer_span(prompt, tokenizer, needle["answer"])
    needle_start, needle_end = prompt.spans[NEEDLE]
    assert needle_start < start < end <= needle_end
    assert tokenizer.decode(prompt.input_ids[start:end]).strip() == needle["answer"]


def test_a_test_over_the_window_is_skipped_and_listed(tiny_loaded, tmp_path):
    loaded = tiny_loaded("llama", "sdpa")
    tests = needle_tests(generated_needles(1), [510], [0.5])
    summary = score_retrieval_heads(loaded, tests, tmp_path, max_new_tokens=8, progress=False).summary
    assert summary["n_scored"] == 0 and "exceeds the model's window" in summary["skipped"][0]["reason"]
    assert NEEDLE == "needle"


def test_wu_et_al_count_a_test_above_half_recall_with_stems():
    """Their rule: ``scorer.score(real_needle, response)['rouge1'].recall * 100 > 50`` with ``use_stemmer=True``."""
    from rouge_score import rouge_scorer

    from focus_interp.metrics.long_context import rouge1_recall

    scorer = rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=True)
    needle = "eat a sandwich and sit in Dolores Park on a sunny day"
    for response in ["eating a sandwich in the park", "sit in Dolores Park", "eat sandwiches and sit in Dolores Park on sunny days", ""]:
        theirs = scorer.score(needle, response)["rouge1"].recall * 100 > 50
        assert NeedleRules().counts(rouge1_recall(response, needle), 0.5) == theirs
    half = "eat a sandwich and sit in"  # 6 of the needle's 12 words: recall exactly 0.5
    assert rouge1_recall(half, needle) == 0.5
    assert not NeedleRules().counts(0.5, 0.5) and NeedleRules(strict=False).counts(0.5, 0.5)


def test_wu_et_al_decode_through_the_first_newline_past_the_end_of_turn(tiny_loaded):
    """Their loop stops after generating (and scoring) the first newline, and never at EOS: the same tokens as
    Hugging Face greedy generate with the newline as its only stop."""
    loaded = tiny_loaded("llama", "sdpa")
    test = needle_tests(generated_needles(1), [350], [0.5])[0]
    prompt = needle_prompt(loaded.tokenizer, haystack_text("synthetic", 5_000), test)
    span = answer_span(prompt, loaded.tokenizer, test["answer"])
    response, _ = retrieval.score_needle_prompt(loaded, prompt, span, 12)
    newline = newline_token_ids(loaded)
    with torch.no_grad():
        expected = loaded.hf_model.generate(prompt.ids(), attention_mask=torch.ones_like(prompt.ids()),
                                            **greedy_kwargs(loaded, 12, newline))[0, len(prompt):].tolist()
    assert response == expected
    assert response[-1] in newline or len(response) == 12


def test_newline_tokens_are_the_newline_alone_for_wu_and_helmets_list_for_helmet(tiny_loaded):
    from focus_interp.model.generation import HELMET_NEWLINES

    loaded = tiny_loaded("llama", "sdpa")
    vocabulary = loaded.tokenizer.get_vocab()
    assert newline_token_ids(loaded) == [vocabulary["Ċ"]]
    assert newline_token_ids(loaded, HELMET_NEWLINES) == sorted(vocabulary[t] for t in HELMET_NEWLINES if t in vocabulary)
