"""HELMET's file-backed tasks (RAG on KILT, MS MARCO re-ranking, many-shot in-context learning, InfiniteBench,
HELMET's json_kv and RULER files): the files of each in HELMET's data folder and HELMET's prompts (the key-value
and RULER ones, shared with the generated tasks, are in ``formats``)."""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections import defaultdict
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Iterator, Sequence

from focus_interp.data.long_context.base import (
    BUDGETS,
    LongContextSample,
    Request,
    TaskUnavailable,
)
from focus_interp.data.long_context.filling import (
    GOLD,
    Context,
    gold_names,
    split_golds,
    split_pieces,
)
from focus_interp.data.long_context.formats import (
    KV_INSTRUCTION,
    RULER_ALL,
    RULER_ONE,
    gold_pair,
    kv_context,
)
from focus_interp.data.long_context.records import (
    checked,
    seeded_records,
    shuffled_order,
)
from focus_interp.errors import FocusInterpError
from focus_interp.files import read_jsonl
from focus_interp.prompts import Segment


@dataclass(frozen=True)
class _HelmetFiles:
    """Paths inside HELMET's data folder: the test file per HELMET input length, the demonstrations file, and
    what to do when they are missing."""

    tests: dict[int, str]
    demos: str | None = None
    how: str = (
        "download HELMET's data (data.tar.gz of the Hugging Face dataset princeton-nlp/HELMET), unpack it "
        "and pass its data folder as source"
    )


@dataclass(frozen=True)
class _IclData:
    """A classification dataset of HELMET's in-context learning: its folder, hub id, label column and the
    split tested (None: HELMET's 90/10 split of train with seed 42)."""

    folder: str
    hub_id: str
    label_field: str
    test_split: str | None


def _per_length(pattern: str, sizes: Sequence[int]) -> dict[int, str]:
    return {length: pattern.format(size) for length, size in zip(BUDGETS, sizes)}


KILT = {
    "nq": ("kilt/nq-dev-multikilt_1000_k{}_dep6.jsonl", "kilt/nq-train-multikilt_1000_k3_dep6.jsonl"),
    "triviaqa": ("kilt/triviaqa-dev-multikilt_1000_k{}_dep6.jsonl", "kilt/triviaqa-train-multikilt_1000_k3_dep6.jsonl"),
    "hotpotqa": ("kilt/hotpotqa-dev-multikilt_1000_k{}_dep3.jsonl", "kilt/hotpotqa-train-multikilt_1000_k3_dep3.jsonl"),
    "popqa": ("kilt/popqa_test_1000_k{}_dep6.jsonl", "kilt/popqa_test_1000_k3_dep6.jsonl"),
}
ICL = {
    "trec_coarse": _IclData("icl/trec", "CogComp/trec", "coarse_label", "test"),
    "trec_fine": _IclData("icl/trec", "CogComp/trec", "fine_label", "test"),
    "banking77": _IclData("icl/banking77", "PolyAI/banking77", "label", "test"),
    "clinic150": _IclData("icl/clinc_oos_plus", "clinc_oos (config plus)", "intent", "validation"),
    "nlu": _IclData("icl/nlu_evaluation_data", "xingkunliuxtracta/nlu_evaluation_data", "label", None),
}
_INFBENCH = {"qa": "infbench/longbook_qa_eng.jsonl", "mc": "infbench/longbook_choice_eng.jsonl"}
_HELMET_FILES = {
    **{
        f"helmet_rag_kilt_{name}": _HelmetFiles(_per_length(test, (50, 105, 220, 440, 1000)), demos)
        for name, (test, demos) in KILT.items()
    },
    "helmet_rerank_msmarco": _HelmetFiles(
        _per_length("msmarco/test_reranking_data_k{}_dep3.jsonl", (50, 130, 285, 600, 1000)),
        "msmarco/test_reranking_data_k10_dep3.jsonl",
    ),
    **{
        f"helmet_icl_{name}": _HelmetFiles(
            {0: data.folder},
            how=f"save the Hugging Face dataset {data.hub_id} there with datasets' load_dataset(...).save_to_disk",
        )
        for name, data in ICL.items()
    },
    **{
        f"helmet_longqa_infbench_{name}": _HelmetFiles(
            {0: path}, how=f"put {Path(path).name} of the Hugging Face dataset xinrongzhang2022/InfiniteBench there"
        )
        for name, path in _INFBENCH.items()
    },
    "helmet_recall_json_kv": _HelmetFiles(_per_length("json_kv/test_k{}_dep6.jsonl", (105, 220, 440, 900, 1800))),
    "helmet_recall_ruler_mk_needle": _HelmetFiles(_per_length("ruler/niah_multikey_2/validation_{}.jsonl", BUDGETS)),
    "helmet_recall_ruler_mv_needle": _HelmetFiles(_per_length("ruler/niah_multivalue/validation_{}.jsonl", BUDGETS)),
}

_KILT_INSTRUCTION = (
    "Use the given documents to write a concise and short answer to the question. "
    "Write your answer in the following format:\nAnswer: [answer]\n\n"
)
_RERANK_INSTRUCTION = (
    "You are provided with a list of documents, each indicated by their ID. Rank each document based on their "
    "relevance to the question in descending order from most relelvant to least relevant texts. Include all "
    "documents in the rankings. Write your answer using the unique IDs, with the following format:\n"
    "Ranking: ID3 > ID1 > ID2\n\n"
)
_ICL_INSTRUCTION = (
    'Use the provided mapping from the text to label to assign a label to the text. Only output "label: {label}" '
    "and nothing else. \n\n"
)
_INFBENCH_QA = (
    "You are given a story and a question. Answer the question as concisely as you can, using a single phrase "
    "if possible.\n\n"
)
_INFBENCH_MC = (
    "You are given a story and a question with multiple choices. Choose the best answer from the options "
    "provided. Only one of the following options is correct, output the answer using one single letter "
    "(A, B, C, or D). Don't say anything else.\n\n"
)
_OMITTED = " ... [the rest of the text is omitted]"
_DEMOS = 2


# Recall: JSON key-value retrieval


def helmet_json_kv(request: Request) -> Iterator[LongContextSample]:
    path = helmet_paths(request.task, request.info.category, request.source, request.budget)[0]
    for line, record in seeded_records(path, request.seed):
        with checked(f"{path}, line {line}", "HELMET json_kv (context, question, answer, demos)"):
            context, question = record["context"], record["question"]
            start, end = context.index("{"), context.rindex("}") + 1
            table = json.loads(context[start:end])
            pairs = [(str(key), str(value)) for key, value in table.items()]
            separator = ", " if json.dumps(table) == context[start:end] else ",\n "
            golds, others = gold_pair(pairs, question.strip().strip('"'))
            demos = "".join(f"Key: {key}\nCorresponding value: {value}\n\n" for key, value in record["demos"][:_DEMOS])
            answers = _as_list(record["answer"])
        after = f"{context[end:]}\n\n{KV_INSTRUCTION}\n\n{demos}Key: {question}\nCorresponding value:"
        yield request.sample(str(line), request.fill_context(kv_context(context[:start], golds, others, after, separator)), answers)


# Recall: RULER needles


def helmet_ruler(request: Request, multi_value: bool) -> Iterator[LongContextSample]:
    path = helmet_paths(request.task, request.info.category, request.source, request.budget)[0]
    for line, record in seeded_records(path, request.seed):
        with checked(f"{path}, line {line}", "HELMET RULER (context, query, type_needle_v, outputs)"):
            query, kind = record["query"], record["type_needle_v"]
            answers = _as_list(record["answer"] if "answer" in record else record["outputs"])
            before, after = (text.format(kind=kind, query=query) for text in (RULER_ALL if multi_value else RULER_ONE))
            pieces = split_pieces(record["context"])
        found = [i for i, piece in enumerate(pieces) if query in piece and any(a in piece for a in answers)]
        named = {i: Segment(name, pieces[i]) for i, name in zip(found, gold_names(len(found)))}
        golds, fillers = split_golds(pieces, named)
        yield request.sample(str(line), request.fill_context(Context([before], golds, fillers, "", [after])), answers)


# RAG: HELMET's KILT files


def _passage(ctx: dict) -> str:
    return f"Document (Title: {ctx['title']}): {ctx['text']}"


def helmet_kilt(request: Request) -> Iterator[LongContextSample]:
    path, demos_path = helmet_paths(request.task, request.info.category, request.source, request.budget)
    popqa = request.task.endswith("popqa")
    with checked(str(demos_path), "HELMET KILT demonstration"):
        demos = [record for _, record in read_jsonl(demos_path) if not popqa or _obscure(record)]
    for line, record in seeded_records(path, request.seed):
        with checked(f"{path}, line {line}", "HELMET KILT (question, answers, ctxs)"):
            if popqa and not _obscure(record):
                continue
            key = "id" if "id" in record else "question"
            pool = [demo for demo in demos if demo[key] != record[key]] if popqa else demos
            shown = _kilt_demo_text(_chosen_demos(pool, str(record[key]), key))
            pieces = [_passage(ctx) for ctx in record["ctxs"]]
            found = [i for i, ctx in enumerate(record["ctxs"]) if ctx.get("has_answer")][:1]
            after = f"\n\nQuestion: {record['question']}\nAnswer:"
            answers = _as_list(record["answers"])
        golds, fillers = split_golds(pieces, {i: Segment(GOLD, pieces[i]) for i in found})
        context = Context([_KILT_INSTRUCTION + shown], golds, fillers, "\n\n", [after])
        yield request.sample(str(line), request.fill_context(context), answers)


def _obscure(record: dict) -> bool:
    """HELMET's PopQA filter: subject popularity (``s_pop``) below 10^3."""
    return math.log10(record["s_pop"]) < 3


def _kilt_demo_text(demos: list[dict]) -> str:
    blocks = [
        "\n\n".join(map(_passage, demo["ctxs"])) + f"\n\nQuestion: {demo['question']}\nAnswer: {demo['answers'][0]}"
        for demo in demos
    ]
    return "".join(block + "\n\n" for block in blocks)


def _chosen_demos(demos: list[dict], sample_key: str, key: str) -> list[dict]:
    """HELMET's choice of demonstrations: the first ``_DEMOS`` of distinct ``key`` in a permutation seeded by the
    SHA-256 of the sample's key (as ``datasets``' shuffle draws it)."""
    chosen, seen = [], set()
    for index in shuffled_order(len(demos), _sha_seed(sample_key)):
        demo = demos[int(index)]
        if demo[key] not in seen:
            seen.add(demo[key])
            chosen.append(demo)
        if len(chosen) == _DEMOS:
            break
    return chosen


# Re-rank: HELMET's MS MARCO files


def _ranked_passage(ctx: dict) -> str:
    title = f" (Title: {ctx['title']})" if "title" in ctx else ""
    return f"[ID: {ctx['id']}] Document{title}: {ctx['text']}"


def _ranking(ctxs: list[dict]) -> str:
    return " > ".join(str(ctx["id"]) for ctx in sorted(ctxs, key=lambda ctx: int(ctx["label"]), reverse=True))


def _rerank_demo_text(demos: list[dict]) -> str:
    return "".join(
        "\n\n".join(map(_ranked_passage, demo["ctxs"]))
        + f"\n\nQuery: {demo['query']}\nRanking: {_ranking(demo['ctxs'])}\n\n"
        for demo in demos
    )


def helmet_rerank(request: Request) -> Iterator[LongContextSample]:
    path, demos_path = helmet_paths(request.task, request.info.category, request.source, request.budget)
    demos = [record for _, record in read_jsonl(demos_path)]
    for line, record in seeded_records(path, request.seed):
        with checked(f"{path}, line {line}", "HELMET MS MARCO re-ranking (qid, query, ctxs with id, text, label)"):
            pool = [demo for demo in demos if demo["qid"] != record["qid"]]
            shown = _rerank_demo_text(_chosen_demos(pool, str(record["qid"]), "qid"))
            ctxs = record["ctxs"]
            qrels = {str(ctx["id"]): int(ctx["label"]) for ctx in ctxs}
            pieces = [_ranked_passage(ctx) for ctx in ctxs]
            after = f"\n\nQuery: {record['query']}\nRanking:"
        relevant = [i for i, ctx in enumerate(ctxs) if int(ctx["label"]) > 0]
        best = max(relevant, key=lambda i: int(ctxs[i]["label"]), default=None)
        golds, fillers = split_golds(pieces, {i: Segment(GOLD, pieces[i]) if i == best else pieces[i] for i in relevant})
        parts = request.fill_context(Context([_RERANK_INSTRUCTION + shown], golds, fillers, "\n\n", [after]))
        yield request.sample(str(line), parts, [_ranking([ctxs[i] for i in relevant])], qrels)


# In-context learning: HELMET's many-shot classification


def helmet_icl(request: Request) -> Iterator[LongContextSample]:
    data = ICL[request.task.removeprefix("helmet_icl_")]
    folder = helmet_paths(request.task, request.info.category, request.source, request.budget)[0]
    train, test = _icl_splits(folder, data)
    with checked(str(folder), f"{data.hub_id} (text, {data.label_field} with class names)"):
        n_labels = train.features[data.label_field].num_classes
        texts, labels = train["text"], train[data.label_field]
        test_texts, test_labels = test["text"], test[data.label_field]
    by_label = defaultdict(list)
    for index, label in enumerate(labels):
        by_label[label].append(index)
    demos = _balanced_demos(by_label, request.budget // 6, random.Random(request.seed))
    for index in shuffled_order(len(test_texts), request.seed):
        mapping = list(range(n_labels))
        random.Random(_sha_seed(test_texts[index], request.seed)).shuffle(mapping)
        fillers = [f"{texts[i]}\nlabel: {mapping[labels[i]]}" for i in demos]
        context = Context([_ICL_INSTRUCTION], [], fillers, "\n\n", [f"\n\n{test_texts[index]}\nlabel:"])
        yield request.sample(str(index), request.fill_context(context), [mapping[test_labels[index]]])


def _icl_splits(folder: Path, data: _IclData) -> tuple:
    """(train, test) of a dataset saved with ``save_to_disk``; with no test split, HELMET's 90/10 split."""
    from datasets import DatasetDict, load_from_disk

    try:
        splits = load_from_disk(str(folder))
    except (OSError, ValueError) as error:
        raise FocusInterpError(
            f"cannot read {folder} as a saved Hugging Face dataset ({error}): save {data.hub_id} there again"
        ) from None
    wanted = ["train"] if data.test_split is None else ["train", data.test_split]
    if not isinstance(splits, DatasetDict) or any(split not in splits for split in wanted):
        raise FocusInterpError(f"{folder} lacks the splits {', '.join(wanted)}: save the whole {data.hub_id} dataset there")
    if data.test_split is None:
        split = splits["train"].train_test_split(test_size=0.1, seed=42)
        return split["train"], split["test"]
    return splits["train"], splits[data.test_split]


def _balanced_demos(by_label: dict[int, list[int]], count: int, rng: random.Random) -> list[int]:
    """``count`` training indices in rounds of one example per label, each round shuffled (HELMET's balanced
    demonstrations, the same for every test sample of a seed); a label with fewer examples than rounds repeats
    its own."""
    rounds = math.ceil(count / len(by_label))
    drawn = {label: _cycled(rng.sample(indices, len(indices)), rounds) for label, indices in by_label.items()}
    order = []
    for round_index in range(rounds):
        batch = [drawn[label][round_index] for label in by_label]
        rng.shuffle(batch)
        order += batch
    return order[:count]


def _cycled(items: list[int], length: int) -> list[int]:
    return (items * math.ceil(length / len(items)))[:length]


# Long-document QA: InfiniteBench


def infbench(request: Request, choice: bool) -> Iterator[LongContextSample]:
    path = helmet_paths(request.task, request.info.category, request.source, request.budget)[0]
    records = list(islice(seeded_records(path, request.seed), request.n + _DEMOS))
    for line, record in records[: request.n]:
        with checked(f"{path}, line {line}", "InfiniteBench (id, context, input, answer, options)"):
            others = [other for _, other in records if other["id"] != record["id"]][:_DEMOS]
            shots = "\n\n".join(
                f"[story text]\n{_infbench_question(other, choice)}\nAnswer: {_infbench_answers(other, choice)[0]}"
                for other in others
            )
            question, answers = _infbench_question(record, choice), _infbench_answers(record, choice)
            pieces = split_pieces(record["context"])
        before = f"{_INFBENCH_MC if choice else _INFBENCH_QA}For example:\n\n{shots}\n\nNow, read the following story:\n\n"
        context = Context([before], [], pieces, "", [f"\n\n{question}\n\nAnswer:"], omitted=_OMITTED)
        yield request.sample(str(line), request.fill_context(context), answers)


def _infbench_question(record: dict, choice: bool) -> str:
    """The question line; for a choice, followed by "Options:" and the options lettered A to D, one a line."""
    question = f"Question: {record['input']}"
    if not choice:
        return question
    options = (f"{letter}. {option}" for letter, option in zip("ABCD", record["options"], strict=True))
    return question + "\nOptions:\n" + "\n".join(options)


def _infbench_answers(record: dict, choice: bool) -> list[str]:
    """The answers; for a choice, [letter, "letter. option"] of the right option."""
    if not choice:
        return _as_list(record["answer"])
    letter = "ABCD"[record["options"].index(record["answer"][0])]
    return [letter, f"{letter}. {record['answer'][0]}"]


# Files


def helmet_paths(task: str, category: str, source: str | Path | None, budget: int) -> tuple[Path, Path | None]:
    """(test file or folder, demonstrations file) of a HELMET task: the file built for the smallest HELMET
    length >= ``budget``, else for the longest below it, whichever exists first; ``TaskUnavailable``, naming the
    task and its ``category``, if none."""
    files = _HELMET_FILES[task]
    if source is None or not Path(source).is_dir():
        given = "no source was given" if source is None else f"{source} is not a folder"
        raise TaskUnavailable(
            f"{task} (HELMET {category} category) is unavailable: it needs HELMET's data folder and {given}; {files.how}"
        )
    lengths = sorted(files.tests)
    preferred = [length for length in lengths if length >= budget]
    preferred += [length for length in reversed(lengths) if length < budget]
    candidates = [Path(source) / files.tests[length] for length in preferred]
    test = next((path for path in candidates if path.exists()), None)
    demos = None if files.demos is None else Path(source) / files.demos
    for path in (test or candidates[0], demos):
        if path is not None and not path.exists():
            raise TaskUnavailable(f"{path} not found: {task} (HELMET {category} category) is unavailable; {files.how}")
    return test, demos


def _sha_seed(text: str, offset: int = 0) -> int:
    """HELMET's seed of a sample: the SHA-256 of its text, plus ``offset``, modulo 2^31."""
    return (int(hashlib.sha256(text.encode("utf-8")).hexdigest(), 16) + offset) % 2**31


def _as_list(answers) -> list[str]:
    return [answers] if isinstance(answers, str) else list(answers)
