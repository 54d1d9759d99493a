"""Retrieval-head scoring into a run folder: every needle test's response, recall and per-head scores in
``samples.jsonl``; ``head_scores.csv`` (layer, head, retrieval) over the tests whose answer counts."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Sequence

from focus_interp.data.needles import answer_span, haystack_text, needle_prompt
from focus_interp.errors import FocusInterpError
from focus_interp.metrics.intervals import mean_interval, question_clusters
from focus_interp.metrics.long_context import rouge1_recall
from focus_interp.model.loading import LoadedModel
from focus_interp.runs.run_folder import RunFolder, process_rows, sample_settings
from focus_interp.scoring.head_scores import HeadScores
from focus_interp.scoring.retrieval import NeedleRules, score_needle_prompt

HAYSTACK_CHARACTERS_PER_TOKEN = 6


def score_retrieval_heads(
    loaded: LoadedModel,
    tests: Sequence[dict],
    out: str | Path | None = None,
    haystack: str | Path = "synthetic",
    data: dict | None = None,
    max_new_tokens: int = 50,
    min_recall: float = 0.5,
    progress: bool = True,
    rules: NeedleRules = NeedleRules(),
) -> HeadScores:
    """Score every test (rows of ``needle_tests``) not yet in ``out``; rewrite ``head_scores.csv`` and
    ``meta.json``; returns the scores (``kind`` retrieval; ``out`` None keeps them in memory). A test whose prompt
    does not fit the window is skipped and listed. ``rules``: Wu et al.'s decoding and counting by default. The
    run pins the needles' text, ``min_recall`` and the rules as well as the tests."""
    if not 0.0 <= min_recall <= 1.0:
        raise FocusInterpError(f"min_recall must lie in [0, 1], got {min_recall}")
    needles = sorted({(test["needle"], test["answer"]) for test in tests})
    settings = {
        **sample_settings(loaded, tests, {"haystack": str(haystack), **(data or {})}, max_new_tokens),
        "needles": [list(needle) for needle in needles],
        "min_recall": min_recall,
        "rules": asdict(rules),
    }
    text = haystack_text(haystack, HAYSTACK_CHARACTERS_PER_TOKEN * max(test["length"] for test in tests))
    with RunFolder(out, settings) as folder:
        records, skipped = folder.records(), []

        def score(test: dict) -> dict:
            prompt = needle_prompt(loaded.tokenizer, text, test, story=rules.story)
            span = answer_span(prompt, loaded.tokenizer, test["answer"])
            response, scores = score_needle_prompt(loaded, prompt, span, max_new_tokens, rules.until_newline)
            answer = loaded.tokenizer.decode(response, skip_special_tokens=rules.until_newline)
            answer = answer.strip() if rules.until_newline else answer
            recall = rouge1_recall(answer, test["answer"], rules.stemmer)
            return {
                "id": test["id"],
                "question": test["question"],
                "length": test["length"],
                "depth": test["depth"],
                "prompt_tokens": len(prompt),
                "answer_span": list(span),
                "response": answer,
                "recall": recall,
                "counted": rules.counts(recall, min_recall),
                "scores": {"retrieval": [[round(float(x), 8) for x in layer] for layer in scores]},
            }

        try:
            process_rows(folder, tests, score, records, skipped, "retrieval tests", progress)
        finally:
            architecture = loaded.architecture
            scores = HeadScores(records, architecture.n_layers, architecture.n_heads, "retrieval")
            scores.record_in(folder, {
                "model": loaded.name,
                "n_scored": len(records),
                "n_counted": sum(record["counted"] for record in records),
                "n_skipped": len(skipped),
                "skipped": skipped,
                "n_questions": len(set(question_clusters(records))),
                **_recall_with_interval(records),
            })
        return scores


def _recall_with_interval(records: list[dict]) -> dict:
    """The mean ROUGE recall of the responses and its 95% interval by needle question; None without tests."""
    if not records:
        return {"recall": None, "recall_interval": None}
    interval = mean_interval([r["recall"] for r in records], question_clusters(records))
    return {"recall": interval.estimate, "recall_interval": [interval.low, interval.high]}
