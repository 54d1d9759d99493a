"""HELMET's metrics against values worked out by hand."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from focus_interp import FocusInterpError
from focus_interp.metrics.long_context import (
    classification_accuracy,
    multiple_choice_accuracy,
    ndcg_at_10,
    parse_answer_line,
    parse_ranking,
    rouge_f1,
    ruler_recall,
    score,
    score_response,
    substring_exact_match,
)


def test_substring_exact_match_normalises_case_punctuation_and_articles():
    assert substring_exact_match("It was, of course, THE Beatles!", ["beatles"]) == 1.0
    assert substring_exact_match("The answer is Paris.", ["London", "a Paris"]) == 1.0
    assert substring_exact_match("The answer is Paris.", ["London"]) == 0.0


def test_ruler_recall_is_the_fraction_of_values_found_worked_by_hand():
    values = ["7654321", "1234567", "1111111", "2222222"]
    assert ruler_recall("The numbers are 1234567, 7654321, 2222222 and 1111111.", values) == 1.0
    # 1234567 and 7654321 found, 1111111 and 2222222 not: 2 of 4.
    assert ruler_recall("The numbers are 1234567 and 7654321.", values) == 0.5
    # 1 of 1 (a multi-key needle), found inside a longer run of digits as HELMET's substring test finds it.
    assert ruler_recall("It is 91234567.", ["1234567"]) == 1.0
    assert ruler_recall("none here", ["1234567"]) == 0.0


def test_ruler_recall_ignores_case_but_not_punctuation():
    # Lower-cased substrings only: "Blue-Fox" is found, "red kite" is not in "red, kite".
    assert ruler_recall("BLUE-FOX and red, kite", ["Blue-Fox", "red kite"]) == 0.5
    with pytest.raises(FocusInterpError, match="at least one expected value"):
        ruler_recall("anything", [])


def test_parse_ranking_takes_the_longest_chain_of_ids_and_drops_repeats():
    assert parse_ranking("Ranking: [ID: 3] > ID1 > 2 > ID3") == ["3", "1", "2"]
    assert parse_ranking("I like 7. Ranking: ID4 > ID9") == ["4", "9"]
    assert parse_ranking("no ranking at all") == []


def test_ndcg_at_10_of_a_three_passage_ranking_worked_by_hand():
    # qrels a=2, b=1, c=0; ranking c, a, b; linear gain rel (the gain 2^rel - 1 would give 0.6590018).
    # DCG  = 0/log2(2) + 2/log2(3) + 1/log2(4) = 0 + 2/1.5849625 + 1/2 = 1.7618595
    # IDCG = 2/log2(2) + 1/log2(3) + 0         = 2 + 0.6309298         = 2.6309298
    # NDCG = 1.7618595 / 2.6309298 = 0.6696718
    qrels = {"a": 2, "b": 1, "c": 0}
    assert ndcg_at_10(["c", "a", "b"], qrels) == pytest.approx(0.6696718, abs=1e-6)
    assert ndcg_at_10(["a", "b", "c"], qrels) == pytest.approx(1.0)


def test_ndcg_at_10_ignores_repeats_unlabelled_ids_and_ranks_past_ten():
    assert ndcg_at_10(["a", "a"], {"a": 1}) == pytest.approx(1.0)
    assert ndcg_at_10(["x", "a"], {"a": 1}) == pytest.approx(1 / math.log2(3))
    assert ndcg_at_10([str(i) for i in range(10)] + ["a"], {"a": 1}) == 0.0
    assert ndcg_at_10(["a"], {"a": 0, "b": 0}) == 0.0


def test_parse_answer_line_reads_after_the_prefix_else_the_first_line():
    assert parse_answer_line(" 12\nlabel: 3", "label:") == "3"
    assert parse_answer_line(" 7\n\nmore text", "label:") == "7"
    assert parse_answer_line("Label: label: 4", "label:") == "4"


def test_classification_accuracy_is_exact_match_of_the_parsed_label():
    assert classification_accuracy(" 7\nlabel: 12", "12") == 1.0
    assert classification_accuracy(" 17", "7") == 0.0


def test_multiple_choice_accuracy_follows_helmet():
    answers = ["B", "B. a red kite"]
    assert multiple_choice_accuracy("B", answers) == 1.0
    assert multiple_choice_accuracy("Answer: B\nBecause...", answers) == 1.0
    assert multiple_choice_accuracy("It must be b. A red kite, clearly.", answers) == 1.0
    assert multiple_choice_accuracy("I pick b", answers) == 0.0
    assert multiple_choice_accuracy("C", answers) == 0.0
    with pytest.raises(FocusInterpError, match="letter"):
        multiple_choice_accuracy("B", ["B"])


def test_rouge_f1_is_the_lcs_f1_worked_by_hand():
    # 6 tokens each side, LCS "the cat on the mat" = 5: P = R = 5/6, F1 = 5/6.
    assert rouge_f1("The cat sat on the mat.", ["the cat lay on the mat", "a dog"]) == pytest.approx(5 / 6)
    # LCS of "a b c d" and "b d e" is "b d": P = 2/4, R = 2/3, F1 = 2 * (1/2) * (2/3) / (1/2 + 2/3) = 4/7.
    assert rouge_f1("a b c d", ["b d e"]) == pytest.approx(4 / 7)
    assert rouge_f1("", ["anything"]) == 0.0


def test_score_dispatches_by_metric_name():
    assert score("ndcg@10", "Ranking: ID2 > ID1", [], {"1": 1, "2": 0}) == pytest.approx(1 / math.log2(3))
    assert score("rouge_l_f1", "Answer: the cat sat\nand then it left", ["the cat sat"]) == pytest.approx(1.0)
    assert score("classification_accuracy", " 5", ["5"]) == 1.0
    assert score("ruler_recall", "1 and 3", ["1", "2"]) == 0.5
    with pytest.raises(FocusInterpError, match="needs qrels"):
        score("ndcg@10", "ID1", [])
    with pytest.raises(FocusInterpError, match="unknown metric"):
        score("bleu", "x", ["x"])


def test_score_response_reads_the_samples_metric_answers_and_qrels():
    ranked = SimpleNamespace(metric="ndcg@10", answers=["1 > 2"], qrels={"1": 1, "2": 0})
    assert score_response(ranked, "ID1 > ID2") == pytest.approx(1.0)
    needles = SimpleNamespace(metric="ruler_recall", answers=["1234567", "7654321"], qrels=None)
    assert score_response(needles, "1234567") == 0.5


def test_rouge1_recall_counts_each_reference_token_at_most_as_often_as_predicted():
    from focus_interp.metrics.long_context import rouge1_recall

    # reference tokens: the, cat, sat, the, mat (5); prediction has "the" once, "cat", "mat": 3 of 5
    assert rouge1_recall("The cat; a mat.", "the cat sat the mat") == 3 / 5
    assert rouge1_recall("anything", "...") == 0.0


def test_rouge_stems_as_rouge_score_does_with_the_porter_stemmer():
    """Wu et al. and HELMET score with ``rouge_score`` and ``use_stemmer=True``: inflected forms match."""
    from focus_interp.metrics.long_context import rouge1_recall

    # "eating sandwiches" stems to "eat sandwich": 2 of the 4 reference words, against none without the stemmer
    assert rouge1_recall("eating sandwiches", "eat a sandwich today") == pytest.approx(2 / 4)
    assert rouge1_recall("eating sandwiches", "eat a sandwich today", stemmer=False) == 0.0
    assert rouge_f1("the cats sat", ["the cat sat"]) == pytest.approx(1.0)
    assert rouge_f1("the cats sat", ["the cat sat"], stemmer=False) == pytest.approx(2 / 3)


def test_ndcg_at_10_equals_trec_eval_on_random_rankings():
    """HELMET's re-rank score: pytrec_eval's ndcg_cut_10 over the parsed ranking, each id scored len - rank at its
    first place (HELMET's parse_rankings), against the passages' labels."""
    import random

    import pytrec_eval

    rng = random.Random(0)
    for trial in range(200):
        passages = [str(i) for i in range(rng.randint(3, 30))]
        qrels = {passage: rng.choice([0, 0, 1, 2, 3]) for passage in passages}
        ranking = [rng.choice(passages + ["99"]) for _ in range(rng.randint(1, 25))]
        run = {}
        for place, passage in enumerate(ranking):
            run.setdefault(passage, len(ranking) - place)
        evaluator = pytrec_eval.RelevanceEvaluator({"q": qrels}, {"ndcg_cut.10"})
        theirs = evaluator.evaluate({"q": {passage: float(score) for passage, score in run.items()}})["q"]["ndcg_cut_10"]
        assert ndcg_at_10(ranking, qrels) == pytest.approx(theirs, abs=1e-9), (trial, ranking, qrels)
