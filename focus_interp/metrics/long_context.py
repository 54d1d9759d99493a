"""HELMET's answer metrics for the long-context tasks (``focus_interp.data.long_context``), by metric name.

Every function maps a model's response (a string) and the references to a score in [0, 1]. ``score`` picks one
by the name a sample carries in its ``metric`` field (``METRICS``); ``score_response`` scores a sample's response.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Mapping, Sequence

from focus_interp.errors import FocusInterpError
from focus_interp.metrics.exact_match import best_subspan_em, normalize_answer

METRICS = (
    "substring_em",
    "ruler_recall",
    "ndcg@10",
    "classification_accuracy",
    "multiple_choice_accuracy",
    "rouge_l_f1",
)
_RANKING = re.compile(r"(\d+)(?:\s*>\s*(\d+))*")


def substring_exact_match(prediction: str, answers: Sequence[str]) -> float:
    """1.0 if any answer, SQuAD-normalised, is a substring of the normalised prediction, else 0.0."""
    return best_subspan_em(prediction, answers)


def ruler_recall(prediction: str, answers: Sequence[str]) -> float:
    """The fraction of ``answers`` (RULER's expected values) that are substrings of ``prediction``, case ignored.

    HELMET's score for RULER's needles: a response listing 3 of 4 values scores 0.75.
    """
    if not answers:
        raise FocusInterpError("ruler_recall needs at least one expected value: give the sample its answers")
    prediction = prediction.lower()
    return sum(answer.lower() in prediction for answer in answers) / len(answers)


def parse_ranking(text: str) -> list[str]:
    """Passage ids of a ranking such as "[ID: 3] > ID1 > 2", best first, repeats dropped: ["3", "1", "2"].

    As HELMET: brackets, colons and "id" (any case) are removed, then the longest run of numbers joined by ">"
    is the ranking. No such run: an empty list.
    """
    text = re.sub(r"[\[\]:]", "", text).lower().replace("id", "")
    runs = [match.group(0) for match in _RANKING.finditer(text)]
    longest = max(runs, key=len, default="")
    return list(dict.fromkeys(number.strip() for number in longest.split(">") if number.strip().isdigit()))


def ndcg_at_10(ranked_ids: Sequence[str], qrels: Mapping[str, int]) -> float:
    """NDCG@10 of a ranking (passage ids, best first) against relevance labels (passage id -> label >= 0).

    DCG = sum over the first 10 distinct ids of rel / log2(rank + 1), rank 1-based, rel 0 for an id without a
    label; divided by the DCG of the labels sorted best first; 0.0 when that ideal DCG is 0. The gain is linear
    in rel, as in trec_eval's ndcg_cut_10, which HELMET reports (not 2^rel - 1).
    """
    gains = [qrels.get(passage, 0) for passage in list(dict.fromkeys(ranked_ids))[:10]]
    ideal = _dcg(sorted(qrels.values(), reverse=True)[:10])
    return _dcg(gains) / ideal if ideal > 0 else 0.0


def _dcg(labels: Sequence[int]) -> float:
    return sum(label / math.log2(rank + 1) for rank, label in enumerate(labels, start=1))


def parse_answer_line(response: str, prefix: str = "Answer:") -> str:
    """The answer in a response, as HELMET reads it: the rest of the line after the first ``prefix`` (any case),
    else the first line; stripped, with a repeated ``prefix`` at its start removed."""
    found = re.search(f"{re.escape(prefix)}(.*)", response, flags=re.IGNORECASE)
    line = found.group(1) if found else response.split("\n", 1)[0]
    return re.sub(f"^{re.escape(prefix)}", "", line.strip(), flags=re.IGNORECASE).strip()


def classification_accuracy(prediction: str, label: str, prefix: str = "label:") -> float:
    """1.0 if the answer line of ``prediction`` (``parse_answer_line`` with ``prefix``) equals ``label`` after
    SQuAD normalisation, else 0.0 (HELMET's exact match for many-shot in-context learning)."""
    return float(normalize_answer(parse_answer_line(prediction, prefix)) == normalize_answer(label))


def multiple_choice_accuracy(prediction: str, answers: Sequence[str]) -> float:
    """1.0 for a right choice; ``answers`` = [letter, "letter. option text"], e.g. ["B", "B. a red kite"].

    As HELMET for InfiniteBench's choices: right when the prediction or its answer line (after "Answer:")
    equals either answer after SQuAD normalisation, or when the prediction contains the second answer (case
    ignored).
    """
    if len(answers) != 2:
        raise FocusInterpError(f"multiple-choice answers must be [letter, 'letter. option'], got {list(answers)}")
    candidates = {normalize_answer(answer) for answer in answers}
    readings = (prediction, parse_answer_line(prediction))
    exact = any(normalize_answer(reading) in candidates for reading in readings)
    return float(exact or answers[1].lower() in prediction.lower())


def rouge_f1(prediction: str, references: Sequence[str], stemmer: bool = True) -> float:
    """ROUGE-L F1 of ``prediction``, the best over ``references``, by ``rouge_score`` as HELMET scores it (Porter
    stemmer on; ``stemmer=False`` compares words as they are)."""
    scorer = _scorer("rougeL", stemmer)
    return max((scorer.score(reference, prediction)["rougeL"].fmeasure for reference in references), default=0.0)


def rouge1_recall(prediction: str, reference: str, stemmer: bool = True) -> float:
    """ROUGE-1 recall of ``prediction`` against ``reference`` by ``rouge_score``, as Wu et al. score a needle test
    (Porter stemmer on): the share of the reference's words found in the prediction, each counted at most as often
    as it occurs there; 0.0 for a reference without words."""
    return _scorer("rouge1", stemmer).score(reference, prediction)["rouge1"].recall


@lru_cache(maxsize=None)
def _scorer(kind: str, stemmer: bool):
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer([kind], use_stemmer=stemmer)


def score(metric: str, prediction: str, answers: Sequence[str], qrels: Mapping[str, int] | None = None) -> float:
    """The score of ``prediction`` under the metric named ``metric`` (one of ``METRICS``).

    ``answers``: the sample's answers (for classification, the label first). ``qrels``: passage id -> label,
    needed by "ndcg@10", which ranks the ids parsed from the prediction. "rouge_l_f1" takes the better of the
    whole prediction and its answer line, as HELMET's default post-processing does.
    """
    if metric == "substring_em":
        return substring_exact_match(prediction, answers)
    if metric == "ruler_recall":
        return ruler_recall(prediction, answers)
    if metric == "ndcg@10":
        if qrels is None:
            raise FocusInterpError("metric 'ndcg@10' needs qrels: pass the sample's qrels")
        return ndcg_at_10(parse_ranking(prediction), qrels)
    if metric == "classification_accuracy":
        return classification_accuracy(prediction, answers[0])
    if metric == "multiple_choice_accuracy":
        return multiple_choice_accuracy(prediction, answers)
    if metric == "rouge_l_f1":
        return max(rouge_f1(prediction, answers), rouge_f1(parse_answer_line(prediction), answers))
    raise FocusInterpError(f"unknown metric '{metric}': choose one of {', '.join(METRICS)}")


def score_response(sample, response: str) -> float:
    """The score of a model's ``response`` to a long-context sample (anything with ``metric``, ``answers`` and
    ``qrels``, such as ``focus_interp.data.long_context.LongContextSample``)."""
    return score(sample.metric, response, sample.answers, sample.qrels)
