"""Needle-in-a-haystack prompts (Wu et al., 2024): a needle sentence placed at a depth of a haystack of real or
generated text, cut to a token budget, followed by a question that the needle answers.

Haystack: the gold passages of an NQ-Open oracle file (``nq-open-oracle.jsonl.gz``) in file order, or, with no
file, the seeded generator's fictional-town documents. Needles: a JSONL file of ``needle``, ``question`` and
``real_needle`` (the answer; the format of Wu et al.'s needles), or seeded generated ones.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Sequence

from focus_interp.data.multidoc.lost_in_the_middle import read_oracle
from focus_interp.data.multidoc.synthetic import synthetic_multidoc_qa
from focus_interp.errors import FocusInterpError
from focus_interp.files import read_jsonl
from focus_interp.prompts import Prompt, Segment, build_prompt

NEEDLE = "needle"
STORY_OPENING = "This is a very long story book: <book>"
_GENERATED_PEOPLE = ["Mira Solvang", "Tobias Reinholt", "Ada Quennell", "Jonas Perrault", "Lena Varga", "Emil Duarte"]
_GENERATED_PLACES = ["the lighthouse at Kettlewick", "the old mill of Brandora", "the harbour of Sevenmarsh"]
_GENERATED_THINGS = ["a blue umbrella and a jar of plum jam", "seven brass keys and a map of the river", "a violin case full of seeds"]


def read_needles(path: str | Path) -> list[dict]:
    """Needles from a JSONL file: dicts with ``needle``, ``question`` and ``answer`` (the file's ``real_needle``)."""
    path = Path(path)
    if not path.is_file():
        raise FocusInterpError(f"needles file not found: {path} (pass a JSONL file or 'generated')")
    needles = []
    for number, record in read_jsonl(path, hint="fix that line or pass 'generated'"):
        missing = {"needle", "question"} - set(record)
        if missing:
            raise FocusInterpError(f"{path}, line {number} lacks {', '.join(sorted(missing))}: each line needs needle and question")
        if not all(isinstance(record.get(key, ""), str) for key in ("needle", "question", "real_needle")):
            raise FocusInterpError(f"{path}, line {number}: needle, question and real_needle must be strings")
        needles.append(
            {"needle": record["needle"].strip(), "question": record["question"].strip(), "answer": record.get("real_needle", record["needle"]).strip()}
        )
    return needles


def generated_needles(n: int = 3, seed: int = 0) -> list[dict]:
    """``n`` seeded needles about distinct invented people: each a sentence, a question it answers, and the answer."""
    if not 1 <= n <= len(_GENERATED_PEOPLE):
        raise FocusInterpError(f"between 1 and {len(_GENERATED_PEOPLE)} needles can be generated, got {n}")
    rng = random.Random(seed)
    needles = []
    for person in rng.sample(_GENERATED_PEOPLE, n):
        place, thing = rng.choice(_GENERATED_PLACES), rng.choice(_GENERATED_THINGS)
        needles.append(
            {
                "needle": f"The thing {person} hid in {place} is {thing}.",
                "question": f"What did {person} hide in {place}?",
                "answer": thing,
            }
        )
    return needles


def load_needles(source: str | Path = "generated", n: int | None = None, seed: int = 0) -> list[dict]:
    """Needles from ``source`` (a JSONL file, or "generated"), the first ``n`` of them (all, or 3 generated, when None)."""
    if n is not None and n < 1:
        raise FocusInterpError(f"the number of needles must be at least 1, got {n}")
    needles = generated_needles(n or 3, seed) if str(source) == "generated" else read_needles(source)
    return needles[:n] if n else needles


def haystack_text(source: str | Path = "synthetic", min_characters: int = 200_000, seed: int = 0) -> str:
    """Filler text of at least ``min_characters`` (fewer if the file is shorter): passages joined by spaces."""
    if str(source) == "synthetic":
        passages, batch = [], 0
        while sum(map(len, passages)) < min_characters:
            rows = synthetic_multidoc_qa(50, n_documents=20, seed=seed + batch)
            passages += [document["text"] for row in rows for document in row["documents"]]
            batch += 1
    else:
        path = Path(source)
        if not path.is_file():
            raise FocusInterpError(f"haystack file not found: {path} (pass nq-open-oracle.jsonl.gz or 'synthetic')")
        passages, length = [], 0
        for record in read_oracle(path):
            passages.append(record.documents[0]["text"])
            length += len(passages[-1])
            if length >= min_characters:
                break
    return " ".join(passages)


def needle_tests(needles: Sequence[dict], lengths: Sequence[int], depths: Sequence[float]) -> list[dict]:
    """One row per (needle, context length, depth): ``id``, ``question``, ``needle``, ``answer``, ``length``, ``depth``."""
    bad_depths = [depth for depth in depths if not 0.0 <= depth <= 1.0]
    if bad_depths:
        raise FocusInterpError(f"depths must lie in [0, 1], got {bad_depths}")
    bad_lengths = [length for length in lengths if length < 1]
    if bad_lengths or not lengths or not depths or not needles:
        raise FocusInterpError("needle tests need at least one needle, one positive length and one depth")
    return [
        {**needle, "id": f"needle{index}-L{length}-d{depth:g}", "length": int(length), "depth": float(depth)}
        for index, needle in enumerate(needles)
        for length in lengths
        for depth in depths
    ]


def needle_prompt(tokenizer, haystack: str, test: dict, sink_tokens: int = 2, story: bool = False) -> Prompt:
    """The prompt of ``test``: about ``test["length"]`` tokens, the needle (span ``needle``) after the sentence
    that ends nearest before ``depth`` of the haystack part; an error when the length leaves no room for text.

    Wu et al.'s chat prompt: ``<book>{context}</book>\nBased on the content of the book, Question: {question}\nAnswer:``;
    ``story`` opens with ``This is a very long story book: <book>`` and closes with `` </book>.`` instead."""
    question = f"\nBased on the content of the book, Question: {test['question']}\nAnswer:"
    opening, closing = (STORY_OPENING, " </book>." + question) if story else ("<book>", "</book>" + question)

    def parts(before: str, after: str) -> list:
        return [opening, before, Segment(NEEDLE, " " + test["needle"]), after, closing]

    overhead = len(build_prompt(tokenizer, parts("", ""), sink_tokens=sink_tokens))
    budget = test["length"] - overhead
    if budget < 1:
        raise FocusInterpError(
            f"context length {test['length']} is shorter than the question and needle ({overhead} tokens): ask for a longer one"
        )
    offsets = tokenizer(haystack, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    if len(offsets) < budget:
        raise FocusInterpError(f"the haystack has {len(offsets)} tokens, fewer than the {budget} asked for: give a longer haystack")
    text = haystack[: offsets[budget - 1][1]]
    cut = _sentence_end_before(text, int(test["depth"] * len(text)))
    before, after = text[:cut], text[cut:]
    before = " " + before if before and story else before
    after = " " + after if after and not after.startswith(" ") else after
    return build_prompt(tokenizer, parts(before, after), sink_tokens=sink_tokens)


def answer_span(prompt: Prompt, tokenizer, answer: str) -> tuple[int, int]:
    """The tokens of ``answer`` inside the needle: where its token ids occur exactly, else where Wu et al. find it
    (the first window of its token count whose distinct ids hold more than 90% of its distinct ids), else the
    whole needle."""
    start, end = prompt.spans[NEEDLE]
    candidates = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in (" " + answer, answer)]
    windows = [(first, ids) for ids in candidates for first in range(start, end - len(ids) + 1)]
    for first, ids in windows:
        if list(prompt.input_ids[first : first + len(ids)]) == ids:
            return first, first + len(ids)
    for first, ids in windows:
        if len(set(ids) & set(prompt.input_ids[first : first + len(ids)])) > 0.9 * len(set(ids)):
            return first, first + len(ids)
    return start, end


def _sentence_end_before(text: str, position: int) -> int:
    """The index just after the last ". " that ends at or before ``position`` (0 if none; len(text) at the end)."""
    if position >= len(text):
        return len(text)
    found = text.rfind(". ", 0, position + 1)
    return 0 if found < 0 else found + 1
