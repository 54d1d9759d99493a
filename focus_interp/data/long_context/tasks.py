"""The task registry: each task's HELMET category and metric, the samples tasks give, the budgets a model's
window takes, which tasks can run, and ``build_long_context_task``, which hands a request to its task's builder."""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from focus_interp.architecture import prompt_room
from focus_interp.data.long_context.filling import GOLD, Context, Part, fill_to_budget
from focus_interp.data.long_context.generated import VALUES_PER_KEY, json_kv, rag_nq, ruler_needles
from focus_interp.data.long_context.helmet import (
    BUDGETS,
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
from focus_interp.prompts import Segment


@dataclass(frozen=True)
class TaskInfo:
    """A task's HELMET category, the name of its metric in ``focus_interp.long_context_metrics``, and whether
    it needs ``source`` (HELMET's data folder)."""

    category: str
    metric: str
    needs_source: bool


@dataclass(frozen=True)
class LongContextSample:
    """One prompt of a task at a budget: ``parts`` for ``build_prompt``, the answers, the metric's name and,
    for re-ranking, the relevance label of each passage id (``qrels``)."""

    id: str
    task: str
    category: str
    budget: int
    parts: list[Part]
    answers: list[str]
    metric: str
    qrels: dict | None = None

    @property
    def gold_segments(self) -> list[str]:
        """Names of the segments that hold the answer: ``gold``, or ``gold_1``, ``gold_2``, ..."""
        return [
            part.name
            for part in self.parts
            if isinstance(part, Segment) and (part.name == GOLD or part.name.startswith(GOLD + "_"))
        ]


TASKS: dict[str, TaskInfo] = {
    "json_kv": TaskInfo("recall", "substring_em", False),
    "ruler_mk_needle": TaskInfo("recall", "ruler_recall", False),
    "ruler_mv_needle": TaskInfo("recall", "ruler_recall", False),
    "rag_nq": TaskInfo("rag", "substring_em", False),
    **{f"helmet_rag_kilt_{name}": TaskInfo("rag", "substring_em", True) for name in KILT},
    "helmet_rerank_msmarco": TaskInfo("rerank", "ndcg@10", True),
    **{f"helmet_icl_{name}": TaskInfo("icl", "classification_accuracy", True) for name in ICL},
    "helmet_longqa_infbench_qa": TaskInfo("longqa", "rouge_l_f1", True),
    "helmet_longqa_infbench_mc": TaskInfo("longqa", "multiple_choice_accuracy", True),
    "helmet_recall_json_kv": TaskInfo("recall", "substring_em", True),
    "helmet_recall_ruler_mk_needle": TaskInfo("recall", "ruler_recall", True),
    "helmet_recall_ruler_mv_needle": TaskInfo("recall", "ruler_recall", True),
}


def budgets_for(context_length: int, max_new_tokens: int) -> tuple[list[int], list[int]]:
    """(kept, skipped) ``BUDGETS`` for a model of ``context_length`` tokens generating ``max_new_tokens``.

    A budget is kept when budget + max_new_tokens + 1 <= context_length. When none is, the largest power of two
    that fits is kept instead (an 8k-window model still runs one length) and every budget is skipped.
    """
    room = prompt_room(context_length, max_new_tokens)
    if room < 1:
        raise FocusInterpError(
            f"a context of {context_length} tokens leaves no room for {max_new_tokens} new tokens: "
            "generate fewer tokens or use a model with a longer context"
        )
    kept = [budget for budget in BUDGETS if budget <= room]
    skipped = [budget for budget in BUDGETS if budget > room]
    return (kept or [1 << (room.bit_length() - 1)]), skipped


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
    request = Request(task, tokenizer, budget, n, seed, None if source is None else Path(source))
    samples = list(islice(_BUILDERS[task](request), n))
    if len(samples) < n:
        raise FocusInterpError(f"{task} has only {len(samples)} usable samples in {source}: ask for n <= {len(samples)}")
    return samples


@dataclass(frozen=True)
class Request:
    """What a task builder is asked for."""

    task: str
    tokenizer: object
    budget: int
    n: int
    seed: int
    source: Path | None

    @property
    def info(self) -> TaskInfo:
        """The task's entry in ``TASKS``."""
        return TASKS[self.task]

    def sample(self, key: str, parts: list[Part], answers: Iterable, qrels: dict | None = None) -> LongContextSample:
        info = self.info
        answers = [str(answer) for answer in answers]
        sample_id = f"{self.task}-{key}-b{self.budget}"
        return LongContextSample(sample_id, self.task, info.category, self.budget, parts, answers, info.metric, qrels)

    def rng(self, key) -> random.Random:
        """A generator of its own for each task, seed and ``key`` (a sample's index or line)."""
        return random.Random(f"{self.task}:{self.seed}:{key}")

    def fill(self, assemble: Callable[[int], list[Part]], pieces: Sequence[str]) -> list[Part]:
        """``assemble(m)`` for the largest m whose prompt fits the budget (``fill_to_budget`` with this request's
        tokenizer)."""
        return fill_to_budget(self.tokenizer, self.budget, self.task, assemble, pieces)

    def fill_context(self, context: Context) -> list[Part]:
        return self.fill(context.parts, [context.separator + filler for filler in context.fillers])


_BUILDERS: dict[str, Callable[[Request], Iterator[LongContextSample]]] = {
    "json_kv": json_kv,
    "ruler_mk_needle": lambda request: ruler_needles(request, 1),
    "ruler_mv_needle": lambda request: ruler_needles(request, VALUES_PER_KEY),
    "rag_nq": rag_nq,
    **{f"helmet_rag_kilt_{name}": helmet_kilt for name in KILT},
    "helmet_rerank_msmarco": helmet_rerank,
    **{f"helmet_icl_{name}": helmet_icl for name in ICL},
    "helmet_longqa_infbench_qa": lambda request: infbench(request, choice=False),
    "helmet_longqa_infbench_mc": lambda request: infbench(request, choice=True),
    "helmet_recall_json_kv": helmet_json_kv,
    "helmet_recall_ruler_mk_needle": lambda request: helmet_ruler(request, multi_value=False),
    "helmet_recall_ruler_mv_needle": lambda request: helmet_ruler(request, multi_value=True),
}
