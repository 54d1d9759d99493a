"""Generated tasks, which need no files: JSON key-value retrieval (or Lost in the Middle's pairs, with its file),
RULER's multi-key and multi-value needles in fictional-town text, and NQ-Open questions among distractors."""

from __future__ import annotations

import math
import random
import uuid
from functools import partial
from itertools import islice
from typing import Iterator, Sequence

from focus_interp.data.long_context.base import LongContextSample, Request
from focus_interp.data.long_context.filling import (
    GOLD,
    Context,
    Part,
    align_segments,
    gold_names,
    split_pieces,
)
from focus_interp.data.long_context.formats import (
    KV_INSTRUCTION,
    RULER_ALL,
    RULER_ONE,
    gold_pair,
    kv,
    kv_context,
)
from focus_interp.data.long_context.records import checked, seeded_records
from focus_interp.data.multidoc.distractors import DistractorPool
from focus_interp.data.multidoc.lost_in_the_middle import read_oracle
from focus_interp.data.multidoc.parts import document_name, multidoc_parts
from focus_interp.data.multidoc.synthetic import synthetic_multidoc_qa
from focus_interp.data.needles import haystack_text
from focus_interp.prompts import Segment

_NEEDLE = "One of the special magic numbers for {key} is: {value}."
_NEEDLE_SPACING = 10
_FIRST_SENTENCES = 1000
VALUES_PER_KEY = 4
_ADJECTIVES = (
    "amber bitter brave calm clever cosmic crimson dusty eager faint fierce gentle golden hollow humble icy "
    "jolly lively lucky mellow misty noble quiet rapid rustic shiny silent sleepy tidy vivid wild young"
).split()
_NOUNS = (
    "anchor badger basket beacon candle canyon cedar comet falcon feather garden harbor helmet island kettle "
    "lantern meadow mirror orchard otter pebble pillow quarry ribbon saddle spindle thimble tunnel valley "
    "walnut willow zephyr"
).split()


# Recall: JSON key-value retrieval


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _litm_kv_context(key: str, golds: list[tuple[float, Part]], pairs: list[str]) -> Context:
    after = f'\n\nKey: "{key}"\nCorresponding value:'
    return kv_context(f"{KV_INSTRUCTION}\n\nJSON data:\n", golds, pairs, after)


def json_kv(request: Request) -> Iterator[LongContextSample]:
    supply = request.budget // 20 + 1
    if request.source is None:
        for index in range(request.n):
            rng = request.rng(index)
            key, value, depth = _uuid(rng), _uuid(rng), rng.random()
            pairs = [kv(_uuid(rng), _uuid(rng)) for _ in range(supply)]
            context = _litm_kv_context(key, [(depth, Segment(GOLD, kv(key, value)))], pairs)
            yield request.sample(f"s{request.seed}-{index}", request.fill_context(context), [value])
        return
    for line, record in seeded_records(request.source, request.seed):
        with checked(f"{request.source}, line {line}", "key-value retrieval (ordered_kv_records, key, value)"):
            pairs = [(str(key), str(value)) for key, value in record["ordered_kv_records"]]
            golds, others = gold_pair(pairs, record["key"])
            answers = [record["value"]]
        rng = request.rng(line)
        others += [kv(_uuid(rng), _uuid(rng)) for _ in range(supply - len(others))]
        yield request.sample(str(line), request.fill_context(_litm_kv_context(record["key"], golds, others)), answers)


# Recall: RULER needles


def _filler_sentences(request: Request) -> list[str]:
    """Sentences of the generated fictional-town text, enough for any start below ``_FIRST_SENTENCES``."""
    text = haystack_text("synthetic", min_characters=8 * request.budget + 100 * _FIRST_SENTENCES, seed=request.seed)
    return [piece.strip() for piece in split_pieces(text)]


def _with_needles(sentences: list[str], keys: list[str], values: list[int]) -> list[str]:
    """``sentences`` with a needle of the next key and value after every ``_NEEDLE_SPACING`` sentences."""
    needles = iter(_NEEDLE.format(key=key, value=value) for key, value in zip(keys, values))
    stream = []
    for index, sentence in enumerate(sentences, start=1):
        stream.append(sentence)
        if index % _NEEDLE_SPACING == 0:
            stream.extend(islice(needles, 1))
    return stream


def ruler_needles(request: Request, values_per_key: int) -> Iterator[LongContextSample]:
    """One key's ``values_per_key`` needles at seeded depths in filler text; with one value, among needles of
    the other keys (multi-key), else alone (multi-value). Sample i is drawn the same way at every budget."""
    sentences = _filler_sentences(request)
    keys = [f"{adjective}-{noun}" for adjective in _ADJECTIVES for noun in _NOUNS]
    template = RULER_ONE if values_per_key == 1 else RULER_ALL
    kind = "number" if values_per_key == 1 else "numbers"
    for index in range(request.n):
        rng = request.rng(index)
        query, *others = rng.sample(keys, len(keys))
        values = rng.sample(range(10**6, 10**7), len(keys))
        depths = sorted(rng.random() for _ in range(values_per_key))
        fillers = sentences[rng.randrange(_FIRST_SENTENCES) :]
        if values_per_key == 1:
            fillers = _with_needles(fillers, others, values[1:])
        needles = [_NEEDLE.format(key=query, value=value) for value in values[:values_per_key]]
        golds = [(depth, Segment(name, needle)) for depth, name, needle in zip(depths, gold_names(values_per_key), needles)]
        before, after = (text.format(kind=kind, query=query) for text in template)
        parts = request.fill_context(Context([before], golds, fillers, " ", [after]))
        yield request.sample(f"s{request.seed}-{index}", parts, values[:values_per_key])


# RAG: NQ-Open (Lost in the Middle's prompt)


def rag_nq(request: Request) -> Iterator[LongContextSample]:
    questions, answers, golds = _rag_questions(request)
    pool = DistractorPool(questions, answers, golds)
    wanted = min(len(pool.passages) - 1, _passages_for(request, golds))
    order = list(range(len(questions)))
    if request.source is not None:
        random.Random(request.seed).shuffle(order)
    for index in order:
        distractors = pool.hard(index, wanted)
        if distractors is None:
            continue
        gold = {**golds[index], "is_gold": True}
        assemble = partial(_rag_parts, questions[index], gold, distractors, request.rng(index).random())
        pieces = [f"\nDocument [{i}](Title: {d['title']}) {d['text']}" for i, d in enumerate(distractors, start=2)]
        yield request.sample(f"s{request.seed}-q{index}", request.fill(assemble, pieces), answers[index])


def _rag_parts(question: str, gold: dict, distractors: list[dict], depth: float, m: int) -> list[Part]:
    """Lost in the Middle's prompt over the first ``m`` distractors with ``gold`` at ``depth``, the gold
    document as segment ``gold`` and the other documents as text."""
    position = round(depth * m)
    documents = [*distractors[:position], gold, *distractors[position:m]]
    gold_name = document_name(position + 1)
    renamed = [
        (Segment(GOLD, part.text) if part.name == gold_name else part.text)
        if isinstance(part, Segment) and part.name.startswith("doc_")
        else part
        for part in multidoc_parts(question, documents)
    ]
    return align_segments(renamed)


def _rag_questions(request: Request) -> tuple[list[str], list[list[str]], list[dict]]:
    """Questions, answers and gold passages: of the oracle file (asked in a seeded order), else of generated
    towns with distinct names, twice as many as the budget may need as distractors (asked in the generator's
    order, so that a seed asks the same questions at every budget)."""
    if request.source is not None:
        records = read_oracle(request.source)
        return [r.question for r in records], [r.answers for r in records], [r.documents[0] for r in records]
    probe = [row["documents"][0] for row in synthetic_multidoc_qa(32, n_documents=1, seed=request.seed)]
    rows = synthetic_multidoc_qa(request.n + 2 * _passages_for(request, probe), n_documents=1, seed=request.seed)
    by_town: dict[str, dict] = {}
    for row in rows:
        by_town.setdefault(row["documents"][0]["title"], row)
    rows = list(by_town.values())
    return [r["question"] for r in rows], [r["answers"] for r in rows], [r["documents"][0] for r in rows]


def _passages_for(request: Request, passages: Sequence[dict]) -> int:
    """A generous count of passages like ``passages`` that the budget can hold."""
    texts = [f"\nDocument [10](Title: {p['title']}) {p['text']}" for p in passages[:32]]
    per_passage = sum(map(len, request.tokenizer(texts, add_special_tokens=False)["input_ids"])) / len(texts)
    return math.ceil(1.25 * request.budget / per_passage) + 8
