"""What every long-context task shares: the budgets, a task's registry entry (``TaskInfo``), the request a task
builder is given, the samples it yields, and the budgets a model's window takes."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from focus_interp.data.long_context.filling import GOLD, Context, Part, fill_to_budget
from focus_interp.errors import FocusInterpError
from focus_interp.prompts import Prompt, Segment, build_prompt, prompt_room

BUDGETS = (8192, 16384, 32768, 65536, 131072)
"""Context budgets in tokens: HELMET's input lengths."""


class TaskUnavailable(FocusInterpError):
    """A task whose data files are not there: the message names the missing file and what to do."""


@dataclass(frozen=True)
class TaskSettings:
    """How HELMET's configs run a task (``scripts/generate_configs.py``): the chat template on or off, generation
    stopped at the first newline or not, and the most new tokens."""

    chat_template: bool
    stop_at_newline: bool
    max_new_tokens: int


@dataclass(frozen=True)
class TaskInfo:
    """A task's HELMET category, the name of its metric in ``focus_interp.metrics.long_context``, whether it
    needs ``source`` (HELMET's data folder), the builder that yields its samples for a ``Request``, and its
    generation settings."""

    category: str
    metric: str
    needs_source: bool
    build: Callable[[Request], Iterator[LongContextSample]] = field(repr=False, compare=False)
    settings: TaskSettings = field(default=TaskSettings(False, False, 50))


@dataclass(frozen=True)
class LongContextSample:
    """One prompt of a task at a budget: ``parts`` for ``build_prompt`` (``prompt`` renders them with the task's
    chat-template setting), the answers, the metric's name, for re-ranking the relevance label of each passage
    id (``qrels``), and the task's generation settings."""

    id: str
    task: str
    category: str
    budget: int
    parts: list[Part]
    answers: list[str]
    metric: str
    qrels: dict | None = None
    settings: TaskSettings = TaskSettings(False, False, 50)

    def prompt(self, tokenizer, sink_tokens: int = 2) -> Prompt:
        """The prompt, at most ``budget`` tokens: through the chat template when the task's settings say so (and
        the tokenizer has one), else plain text with the tokenizer's special tokens."""
        use = "auto" if self.settings.chat_template else False
        return build_prompt(tokenizer, self.parts, chat_template=use, sink_tokens=sink_tokens)

    @property
    def gold_segments(self) -> list[str]:
        """Names of the segments that hold the answer: ``gold``, or ``gold_1``, ``gold_2``, ..."""
        return [
            part.name
            for part in self.parts
            if isinstance(part, Segment) and (part.name == GOLD or part.name.startswith(GOLD + "_"))
        ]


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


@dataclass(frozen=True)
class Request:
    """What a task builder is asked for."""

    task: str
    info: TaskInfo
    tokenizer: object
    budget: int
    n: int
    seed: int
    source: Path | None

    def sample(self, key: str, parts: list[Part], answers: Iterable, qrels: dict | None = None) -> LongContextSample:
        info = self.info
        answers = [str(answer) for answer in answers]
        sample_id = f"{self.task}-{key}-b{self.budget}"
        return LongContextSample(sample_id, self.task, info.category, self.budget, parts, answers, info.metric, qrels, info.settings)

    def rng(self, key) -> random.Random:
        """A generator of its own for each task, seed and ``key`` (a sample's index or line)."""
        return random.Random(f"{self.task}:{self.seed}:{key}")

    def fill(self, assemble: Callable[[int], list[Part]], pieces: Sequence[str]) -> list[Part]:
        """``assemble(m)`` for the largest m whose prompt fits the budget (``fill_to_budget`` with this request's
        tokenizer)."""
        return fill_to_budget(self.tokenizer, self.budget, self.task, assemble, pieces, self.info.settings.chat_template)

    def fill_context(self, context: Context) -> list[Part]:
        return self.fill(context.parts, [context.separator + filler for filler in context.fillers])
