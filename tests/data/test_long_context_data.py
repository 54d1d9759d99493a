"""Long-context tasks: budgets filled, answers once in the gold segments, seeds, HELMET's files, clear errors."""

from __future__ import annotations

import gzip
import json

import pytest
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from focus_interp import FocusInterpError
from focus_interp.data.long_context import (
    BUDGETS,
    TASKS,
    TaskSettings,
    TaskUnavailable,
    available_tasks,
    budgets_for,
    build_long_context_task,
)
from focus_interp.metrics.exact_match import best_subspan_em
from focus_interp.metrics.long_context import METRICS
from focus_interp.prompts import build_prompt
from tests.conftest import CHAT_TEMPLATE, SHARED_DATA, tiny_tokenizer

TOKENIZER = tiny_tokenizer()
GENERATED = ["json_kv", "ruler_mk_needle", "ruler_mv_needle", "rag_nq"]
KV_FILE = SHARED_DATA / "kv-retrieval-75_keys.jsonl.gz"
ORACLE_FILE = SHARED_DATA / "nq-open-oracle.jsonl.gz"
MK_VALUES = ["1234567"]
MV_VALUES = ["1234567", "2345678", "3456789", "4567890"]
# Llama 3's pre-tokenizer pattern: punctuation runs take the newlines after them (".\n" is one piece).
LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def _check_filled(tokenizer, sample, budget: int) -> str:
    """The sample's prompt text, after checking it fits in ``budget`` and fills at least 95% of it, and that each
    answer appears once in the prompt and in one gold segment."""
    prompt = sample.prompt(tokenizer)
    assert 0.95 * budget <= len(prompt) <= budget
    golds = [tokenizer.decode(prompt.tokens(name)) for name in sample.gold_segments]
    for answer in sample.answers:
        assert prompt.text.count(answer) == 1
        assert sum(answer in gold for gold in golds) == 1
    return prompt.text


@pytest.mark.parametrize("task", GENERATED)
def test_generated_tasks_fill_the_budget_with_each_answer_once_in_a_gold_segment(task):
    for sample in build_long_context_task(task, TOKENIZER, 1600, n=2):
        _check_filled(TOKENIZER, sample, 1600)
        assert len(sample.gold_segments) == len(sample.answers)
        assert sample.metric == TASKS[task].metric and sample.category == TASKS[task].category


def test_multi_value_needles_are_four_gold_segments_in_prompt_order():
    sample = build_long_context_task("ruler_mv_needle", TOKENIZER, 1600, n=1)[0]
    prompt = sample.prompt(TOKENIZER)
    assert sample.gold_segments == ["gold_1", "gold_2", "gold_3", "gold_4"]
    starts = [prompt.spans[name][0] for name in sample.gold_segments]
    assert starts == sorted(starts)
    assert [prompt.text.index(value) for value in sample.answers] == sorted(prompt.text.index(v) for v in sample.answers)
    assert sample.metric == "ruler_recall"


@pytest.mark.parametrize("task", GENERATED)
def test_generated_tasks_are_seeded(task):
    first = build_long_context_task(task, TOKENIZER, 1200, n=2, seed=3)
    assert build_long_context_task(task, TOKENIZER, 1200, n=2, seed=3) == first
    other = build_long_context_task(task, TOKENIZER, 1200, n=2, seed=4)
    assert [s.answers for s in other] != [s.answers for s in first]


@pytest.mark.parametrize("task", GENERATED)
def test_a_seed_asks_the_same_questions_at_every_budget(task):
    short = build_long_context_task(task, TOKENIZER, 1000, n=2)
    long = build_long_context_task(task, TOKENIZER, 2000, n=2)
    assert [s.answers for s in short] == [s.answers for s in long]


def _llama3_style_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level BPE with Llama 3's pre-tokenizer, trained in-process on text like the prompts."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    special = ["<s>", "</s>", "<|turn|>", "<|end|>"]
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=special, initial_alphabet=alphabet)
    corpus = [sample.parts for sample in build_long_context_task("rag_nq", TOKENIZER, 1200, n=3)]
    texts = [build_prompt(TOKENIZER, parts).text for parts in corpus] + ['"a": "b",\n "c": "d"}\n\nKey: "a"'] * 20
    tokenizer.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>")
    fast.chat_template = CHAT_TEMPLATE
    return fast


def test_gold_segments_sit_on_llama3_style_token_boundaries():
    tokenizer = _llama3_style_tokenizer()
    assert "." + "\u010a" in tokenizer.tokenize("the sea.\nDocument")  # it merges a full stop with the newline
    for task in GENERATED:
        for sample in build_long_context_task(task, tokenizer, 1600, n=2):
            _check_filled(tokenizer, sample, 1600)


def test_the_default_models_tokenizer_fills_a_budget(default_model):
    tokenizer = default_model.tokenizer
    for task in GENERATED:
        for sample in build_long_context_task(task, tokenizer, 2000, n=1):
            _check_filled(tokenizer, sample, 2000)


@pytest.mark.skipif(not KV_FILE.is_file(), reason="the shared data folder is not on this machine")
def test_json_kv_from_the_lost_in_the_middle_file_is_cut_or_extended_to_the_budget():
    records = [json.loads(line) for line in gzip.open(KV_FILE, "rt")]
    by_value = {record["value"]: record for record in records}
    for budget in (2000, 9000):  # the file's 75 pairs are about 6000 tokens of the tiny tokenizer
        for sample in build_long_context_task("json_kv", TOKENIZER, budget, n=2, source=KV_FILE):
            text = _check_filled(TOKENIZER, sample, budget)
            record = by_value[sample.answers[0]]
            assert f'Key: "{record["key"]}"' in text
            others = [key for key, _ in record["ordered_kv_records"] if key != record["key"]]
            kept = [key for key in others if key in text]
            assert kept == others[: len(kept)]
            assert (len(kept) < len(others)) == (budget == 2000)


@pytest.mark.skipif(not ORACLE_FILE.is_file(), reason="the shared data folder is not on this machine")
def test_rag_nq_from_the_oracle_file_puts_the_gold_passage_among_distractors_without_the_answer():
    for sample in build_long_context_task("rag_nq", TOKENIZER, 1600, n=2, source=ORACLE_FILE):
        prompt = sample.prompt(TOKENIZER)
        assert 1600 - 500 < len(prompt) <= 1600  # an NQ passage is up to about 500 tokens of the tiny tokenizer
        gold = TOKENIZER.decode(prompt.tokens("gold"))
        documents = [text.split("\n\nQuestion:")[0].strip() for text in prompt.text.split("\nDocument [")[1:]]
        assert len(documents) >= 2 and sum(document in gold for document in documents) == 1
        assert all(document in gold for document in documents if best_subspan_em(document, sample.answers))


def _write_jsonl(path, records) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(record) + "\n" for record in records))


def _kilt_record(index: int, n_passages: int) -> dict:
    ctxs = [
        {"title": f"Town {i}", "text": f"Town {i} lies by a river and trades in wool and salt.", "has_answer": False}
        for i in range(n_passages)
    ]
    gold = f"The founder of town {index} was Tarin Oskell{index}."
    ctxs[n_passages * 2 // 3] = {"title": "Velmora", "text": gold, "has_answer": True}
    return {"id": f"q{index}", "question": f"Who founded town {index}?", "answers": [f"Tarin Oskell{index}"], "ctxs": ctxs}


def _rerank_record(qid: str, n_passages: int) -> dict:
    ctxs = [{"id": str(i), "text": f"Passage {i} is about the weather in spring.", "label": 0} for i in range(n_passages)]
    ctxs[7 % n_passages]["label"], ctxs[-3]["label"] = 3, 1
    return {"qid": qid, "query": "why do leaves fall", "ctxs": ctxs}


def _needle_context(query: str, values: list[str]) -> str:
    sentences = [f"Sentence {i} describes a quiet morning by the lake." for i in range(60)]
    for depth, value in zip((5, 20, 35, 50), values):
        sentences[depth] = f"One of the special magic numbers for {query} is: {value}."
    sentences[10] = "One of the special magic numbers for other-key is: 5550000."
    return " ".join(sentences)


def _helmet_folder(root):
    """A HELMET data folder of tiny files in HELMET's formats, for the 8k length."""
    _write_jsonl(root / "kilt/nq-dev-multikilt_1000_k50_dep6.jsonl", [_kilt_record(i, 40) for i in range(3)])
    _write_jsonl(root / "kilt/nq-train-multikilt_1000_k3_dep6.jsonl", [_kilt_record(10 + i, 3) for i in range(3)])
    _write_jsonl(root / "msmarco/test_reranking_data_k50_dep3.jsonl", [_rerank_record("q1", 40), _rerank_record("q2", 40)])
    _write_jsonl(root / "msmarco/test_reranking_data_k10_dep3.jsonl", [_rerank_record(q, 3) for q in ("q1", "q8", "q9")])
    pairs = {f"key-{i:03d}-aaaa": f"value-{i:03d}-bbbb" for i in range(60)}
    kv = {"context": "JSON data:\n" + json.dumps(pairs), "question": "key-040-aaaa", "answer": "value-040-bbbb"}
    kv["demos"], kv["num_kvs"] = [["key-x", "value-x"], ["key-y", "value-y"]], 60
    _write_jsonl(root / "json_kv/test_k105_dep6.jsonl", [kv])
    for folder, values in (("niah_multikey_2", MK_VALUES), ("niah_multivalue", MV_VALUES)):
        context = _needle_context("amber-anchor", values)
        record = {"context": context, "query": "amber-anchor", "type_needle_v": "numbers", "outputs": values}
        _write_jsonl(root / f"ruler/{folder}/validation_8192.jsonl", [record])
    story = " ".join(f"Chapter line {i} tells of the long road north." for i in range(80))
    options = ["south", "north", "east", "west"]
    choice = [
        {"id": i, "context": story, "input": f"Where does road {i} go?", "answer": ["north"], "options": options}
        for i in range(3)
    ]
    _write_jsonl(root / "infbench/longbook_choice_eng.jsonl", choice)
    return root


def test_helmet_kilt_rag_keeps_the_gold_passage_and_helmets_prompt(tmp_path):
    samples = build_long_context_task("helmet_rag_kilt_nq", TOKENIZER, 1500, n=2, source=_helmet_folder(tmp_path))
    for sample in samples:
        text = _check_filled(TOKENIZER, sample, 1500)
        assert text.count("Use the given documents to write a concise and short answer to the question.") == 1
        assert text.count("\n\nQuestion: Who founded town 1") == 2  # two demonstrations, from the train file
        assert text.endswith("\n\nQuestion: Who founded town 2?\nAnswer:") or text.endswith("?\nAnswer:")
        assert "<|turn|>" not in text and sample.metric == "substring_em"  # RAG runs without the chat template


def test_helmet_rerank_keeps_every_relevant_passage_and_its_qrels(tmp_path):
    sample = build_long_context_task("helmet_rerank_msmarco", TOKENIZER, 1200, n=1, source=_helmet_folder(tmp_path))[0]
    prompt = sample.prompt(TOKENIZER)
    assert len(prompt) <= 1200 and "[ID: 30]" not in prompt.text  # cut to the budget
    assert "[ID: 7]" in TOKENIZER.decode(prompt.tokens("gold")) and "[ID: 37] " in prompt.text
    assert sample.qrels["7"] == 3 and sample.qrels["37"] == 1 and sample.qrels["0"] == 0
    assert sample.answers == ["7 > 37"] and sample.metric == "ndcg@10"


@pytest.mark.parametrize(
    "task, answers",
    [
        ("helmet_recall_json_kv", ["value-040-bbbb"]),
        ("helmet_recall_ruler_mk_needle", MK_VALUES),
        ("helmet_recall_ruler_mv_needle", MV_VALUES),
    ],
)
@pytest.mark.parametrize("tokenizer_of", ["tiny", "default model"])
def test_helmet_recall_files_keep_their_needles_in_gold_segments(tmp_path, task, answers, tokenizer_of, request):
    """Also with the default model's real tokenizer: HELMET's needles are sentences joined by spaces, and each
    needle's segment must end on a token boundary."""
    tokenizer = TOKENIZER if tokenizer_of == "tiny" else request.getfixturevalue("default_model").tokenizer
    sample = build_long_context_task(task, tokenizer, 700, n=1, source=_helmet_folder(tmp_path))[0]
    prompt = sample.prompt(tokenizer)
    assert len(prompt) <= 700 and sample.answers == answers
    golds = [tokenizer.decode(prompt.tokens(name)) for name in sample.gold_segments]
    assert [sum(answer in gold for gold in golds) for answer in answers] == [1] * len(answers)
    assert "Sentence 0 describes" in prompt.text or '"key-000-aaaa"' in prompt.text  # the record's first filler


def test_helmet_multiple_choice_reads_infinitebench_and_marks_the_cut(tmp_path):
    sample = build_long_context_task("helmet_longqa_infbench_mc", TOKENIZER, 1200, n=1, source=_helmet_folder(tmp_path))[0]
    text = sample.prompt(TOKENIZER).text
    assert sample.answers == ["B", "B. north"] and sample.metric == "multiple_choice_accuracy"
    assert "... [the rest of the text is omitted]" in text and "Options:\nA. south\nB. north" in text
    assert text.count("[story text]") == 2


def test_helmet_icl_reads_a_saved_dataset_and_maps_labels_to_numbers(tmp_path):
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    features = Features({"text": Value("string"), "coarse_label": ClassLabel(names=["loc", "hum", "num"])})
    topics = ("places", "people", "counts")
    texts = [f"question number {i} about {topics[i % 3]}?" for i in range(30)]
    rows = {"text": texts, "coarse_label": [i % 3 for i in range(30)]}
    split = Dataset.from_dict(rows, features=features)
    DatasetDict({"train": split, "test": split}).save_to_disk(str(tmp_path / "icl/trec"))
    for sample in build_long_context_task("helmet_icl_trec_coarse", TOKENIZER, 900, n=2, source=tmp_path):
        prompt = sample.prompt(TOKENIZER)
        assert 0.9 * 900 <= len(prompt) <= 900 and sample.metric == "classification_accuracy"
        *demos, question = prompt.text.split("\n\n")[1:]
        label_of_topic = {}
        for demo in demos:
            text, label = demo.split("\nlabel: ")
            label_of_topic.setdefault(text.split(" about ")[1], set()).add(label)
        assert sorted(map(len, label_of_topic.values())) == [1, 1, 1]  # one number per class, all classes shown
        assert label_of_topic[question.split(" about ")[1].split("\nlabel:")[0]] == {sample.answers[0]}


def test_missing_helmet_files_make_their_tasks_unavailable_with_the_file_named(tmp_path):
    folder = _helmet_folder(tmp_path)
    (folder / "msmarco/test_reranking_data_k10_dep3.jsonl").unlink()
    reasons = available_tasks(folder)
    assert reasons["helmet_rag_kilt_nq"] is None and reasons["json_kv"] is None
    assert "test_reranking_data_k10_dep3.jsonl not found" in reasons["helmet_rerank_msmarco"]
    assert "icl/banking77" in reasons["helmet_icl_banking77"] and "PolyAI/banking77" in reasons["helmet_icl_banking77"]
    unavailable = r"test_reranking_data_k10_dep3\.jsonl not found: .*rerank category\) is unavailable"
    with pytest.raises(TaskUnavailable, match=unavailable):
        build_long_context_task("helmet_rerank_msmarco", TOKENIZER, 1200, n=1, source=folder)
    with pytest.raises(TaskUnavailable, match="needs HELMET's data folder and no source was given"):
        build_long_context_task("helmet_rag_kilt_popqa", TOKENIZER, 1200, n=1)
    assert all(reason is not None for task, reason in available_tasks().items() if TASKS[task].needs_source)


def test_unknown_tasks_small_budgets_and_bad_files_are_clear_errors(tmp_path):
    with pytest.raises(FocusInterpError, match="unknown task 'json-kv': choose one of json_kv"):
        build_long_context_task("json-kv", TOKENIZER, 1000, n=1)
    with pytest.raises(FocusInterpError, match="budget of 60 tokens is too small for json_kv"):
        build_long_context_task("json_kv", TOKENIZER, 60, n=1)
    broken = tmp_path / "kv.jsonl"
    broken.write_text('{"key": "a"\n')
    with pytest.raises(FocusInterpError, match="line 1 is not valid JSON"):
        build_long_context_task("json_kv", TOKENIZER, 1000, n=1, source=broken)
    broken.write_text('{"key": "a", "value": "b", "ordered_kv_records": [["c", "d"]]}\n')
    with pytest.raises(FocusInterpError, match="line 1 is not a key-value retrieval"):
        build_long_context_task("json_kv", TOKENIZER, 1000, n=1, source=broken)
    with pytest.raises(FocusInterpError, match="has only 1 usable samples"):
        build_long_context_task("helmet_recall_json_kv", TOKENIZER, 1000, n=2, source=_helmet_folder(tmp_path))


def test_budgets_for_keeps_what_fits_and_one_power_of_two_for_short_windows():
    assert budgets_for(8192, 50) == ([4096], list(BUDGETS))
    assert budgets_for(32768 + 51, 50) == ([8192, 16384, 32768], [65536, 131072])
    assert budgets_for(200_000, 100) == (list(BUDGETS), [])
    with pytest.raises(FocusInterpError, match="no room"):
        budgets_for(40, 50)


def test_every_task_names_a_metric_and_a_helmet_category():
    assert {info.metric for info in TASKS.values()} <= set(METRICS)
    assert {info.category for info in TASKS.values()} == {"recall", "rag", "rerank", "icl", "longqa"}


def test_ruler_needle_tasks_are_scored_by_ruler_recall():
    needles = ("ruler_mk_needle", "ruler_mv_needle", "helmet_recall_ruler_mk_needle", "helmet_recall_ruler_mv_needle")
    assert {TASKS[task].metric for task in needles} == {"ruler_recall"}


@pytest.mark.parametrize(
    "task, chat_template, stop_at_newline, max_new_tokens",
    [  # HELMET's scripts/generate_configs.py: use_chat_template, stop_new_line, generation_max_length
        ("helmet_recall_ruler_mk_needle", False, False, 50), ("helmet_recall_ruler_mv_needle", False, False, 50),
        ("helmet_recall_json_kv", False, False, 100), ("helmet_rag_kilt_nq", False, True, 20),
        ("helmet_rerank_msmarco", False, True, 200), ("helmet_icl_trec_coarse", False, True, 20),
        ("helmet_longqa_infbench_qa", True, False, 10), ("helmet_longqa_infbench_mc", True, False, 10),
        ("json_kv", False, False, 100), ("ruler_mv_needle", False, False, 50), ("rag_nq", False, True, 20),
    ],
)
def test_each_task_runs_with_helmets_settings(task, chat_template, stop_at_newline, max_new_tokens):
    assert TASKS[task].settings == TaskSettings(chat_template, stop_at_newline, max_new_tokens)


def test_a_task_without_the_chat_template_renders_plain_text_within_its_budget():
    sample = build_long_context_task("ruler_mv_needle", TOKENIZER, 400, n=1)[0]
    prompt = sample.prompt(TOKENIZER)
    assert len(prompt) <= 400 and "<|turn|>" not in prompt.text and sample.settings.max_new_tokens == 50
    assert len(build_prompt(TOKENIZER, sample.parts)) > len(prompt)  # the template would add its tokens


def test_helmet_json_kv_renders_byte_equal_to_helmets_prompt(tmp_path):
    """HELMET's load_json_kv: user_template + "\\n" + system_template, demos "Key: {key}\\nCorresponding value:
    {value}" joined by blank lines; without the chat template (recall) that text is the whole prompt."""
    folder = _helmet_folder(tmp_path)
    kv = json.loads((folder / "json_kv/test_k105_dep6.jsonl").read_text().splitlines()[0])
    user_template = "{context}\n\nExtract the value corresponding to the specified key in the JSON object below.\n\n{demos}Key: {question}"
    prompt_template = user_template + "\n" + "Corresponding value:"
    demo_template = "Key: {key}\nCorresponding value:{value}"
    demos = "\n\n".join(demo_template.format(key=key, value=" " + value) for key, value in kv["demos"][:2]) + "\n\n"
    expected = prompt_template.format(context=kv["context"], demos=demos, question=kv["question"])
    sample = build_long_context_task("helmet_recall_json_kv", TOKENIZER, 8192, n=1, source=folder)[0]
    assert sample.prompt(TOKENIZER).text == expected
