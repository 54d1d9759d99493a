"""The task registry, one table: each task's HELMET category, metric, whether it needs files, and its builder;
which tasks can run, and ``build_long_context_task``, which hands a request to its task's builder."""

from __future__ import annotations

from functools import partial
from itertools import islice
from pathlib import Path

from focus_interp.data.long_context.base import (
    LongContextSample,
    Request,
    TaskInfo,
    TaskSettings,
)
from focus_interp.data.long_context.generated import (
    VALUES_PER_KEY,
    json_kv,
    rag_nq,
    ruler_needles,
)
from focus_interp.data.long_context.helmet import (
    ICL,
    KILT,
    helmet_icl,
    helmet_json_kv,
    helmet_kilt,
    helmet_paths,
    helmet_rerank,
    helmet_ruler,
    infbench,
)
from focus_interp.errors import FocusInterpError

RECALL = TaskSettings(chat_template=False, stop_at_newline=False, max_new_tokens=50)
JSON_KV = TaskSettings(chat_template=False, stop_at_newline=False, max_new_tokens=100)
RAG = TaskSettings(chat_template=False, stop_at_newline=True, max_new_tokens=20)
RERANK = TaskSettings(chat_template=False, stop_at_newline=True, max_new_tokens=200)
ICL_SETTINGS = TaskSettings(chat_template=False, stop_at_newline=True, max_new_tokens=20)
LONGQA = TaskSettings(chat_template=True, stop_at_newline=False, max_new_tokens=10)
"""HELMET's settings per category (its ``generate_configs.py``): recall (RULER needles 50 tokens, JSON KV 100), RAG
(20, stop at the newline), re-rank (200, stop), ICL (20, stop) without the chat template; long QA through it (the
InfiniteBench QA and choice tasks: 10 tokens)."""

TASKS: dict[str, TaskInfo] = {
    "json_kv": TaskInfo("recall", "substring_em", False, json_kv, JSON_KV),
    "ruler_mk_needle": TaskInfo("recall", "ruler_recall", False, partial(ruler_needles, values_per_key=1), RECALL),
    "ruler_mv_needle": TaskInfo("recall", "ruler_recall", False, partial(ruler_needles, values_per_key=VALUES_PER_KEY), RECALL),
    "rag_nq": TaskInfo("rag", "substring_em", False, rag_nq, RAG),
    **{f"helmet_rag_kilt_{name}": TaskInfo("rag", "substring_em", True, helmet_kilt, RAG) for name in KILT},
    "helmet_rerank_msmarco": TaskInfo("rerank", "ndcg@10", True, helmet_rerank, RERANK),
    **{f"helmet_icl_{name}": TaskInfo("icl", "classification_accuracy", True, helmet_icl, ICL_SETTINGS) for name in ICL},
    "helmet_longqa_infbench_qa": TaskInfo("longqa", "rouge_l_f1", True, partial(infbench, choice=False), LONGQA),
    "helmet_longqa_infbench_mc": TaskInfo("longqa", "multiple_choice_accuracy", True, partial(infbench, choice=True), LONGQA),
    "helmet_recall_json_kv": TaskInfo("recall", "substring_em", True, helmet_json_kv, JSON_KV),
    "helmet_recall_ruler_mk_needle": TaskInfo("recall", "ruler_recall", True, partial(helmet_ruler, multi_value=False), RECALL),
    "helmet_recall_ruler_mv_needle": TaskInfo("recall", "ruler_recall", True, partial(helmet_ruler, multi_value=True), RECALL),
}


def available_tasks(source: str | Path | None = None) -> dict[str, str | None]:
    """Every task name mapped to None when it can run with ``source``, else the reason it cannot."""
    return {task: _unavailable_reason(task, source) for task in TASKS}


def _unavailable_reason(task: str, source: str | Path | None) -> str | None:
    if not TASKS[task].needs_source:
        return None
    try:
        helmet_paths(task, TASKS[task].category, source, budget=0)
    except FocusInterpError as error:
        return str(error)
    return None


def build_long_context_task(
    task: str, tokenizer, budget: int, n: int, seed: int = 0, source: str | Path | None = None
) -> list[LongContextSample]:
    """``n`` samples of ``task`` whose prompts fill ``budget`` tokens of ``tokenizer`` (see the docstring of
    ``focus_interp.data.long_context``).

    The same seed gives the same samples. ``source``: for ``json_kv`` a ``kv-retrieval-*_keys.jsonl.gz`` file,
    for ``rag_nq`` the NQ-Open oracle file, for ``helmet_*`` tasks HELMET's data folder (``TaskUnavailable``
    when a file they need is missing).
    """
    if task not in TASKS:
        raise FocusInterpError(f"unknown task '{task}': choose one of {', '.join(TASKS)}")
    if budget < 1 or n < 1:
        raise FocusInterpError(f"budget ({budget}) and n ({n}) must be positive: ask for at least one token and sample")
    request = Request(task, TASKS[task], tokenizer, budget, n, seed, None if source is None else Path(source))
    samples = list(islice(TASKS[task].build(request), n))
    if len(samples) < n:
        raise FocusInterpError(f"{task} has only {len(samples)} usable samples in {source}: ask for n <= {len(samples)}")
    return samples
