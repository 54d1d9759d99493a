"""A sample as the methods see it: its prompts and the names of their spans, from a multi-document QA row or from
prompts a user built (``prompt_sample``).

Every method speaks of a sample through ``SamplePrompts``: the long prompt with its relevant segment and the
irrelevant ones, and, when there are such prompts, the relevant context alone (``gold_only``: R_gold, the gold
response that directions train on, the gold-only baseline) and the context without it (``no_gold``: the
distractors-alone baseline).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from focus_interp.data.multidoc.parts import (
    gold_only_segment,
    gold_parts,
    gold_segment,
    irrelevant_segments,
    long_parts,
    no_gold_parts,
)
from focus_interp.data.multidoc.protocols import (
    DEFAULT_PROTOCOL,
    protocol_named,
    protocol_of,
)
from focus_interp.errors import FocusInterpError
from focus_interp.prompts import Prompt, build_prompt


@dataclass(frozen=True)
class SamplePrompts:
    """The prompts of one sample: ``long`` with its ``relevant`` and ``irrelevant`` segments; ``gold_only`` (its
    relevant segment ``gold_relevant``) and ``no_gold`` where the sample has them, else None."""

    id: str
    long: Prompt
    relevant: str
    irrelevant: tuple[str, ...]
    answers: tuple[str, ...]
    gold_only: Prompt | None = None
    gold_relevant: str | None = None
    no_gold: Prompt | None = None

    def needs(self, prompt: str, why: str) -> Prompt:
        """The ``gold_only`` or ``no_gold`` prompt; an error saying how to give it when the sample has none."""
        found = getattr(self, prompt)
        if found is None:
            raise _missing(self.id, prompt, why)
        return found


_ARGUMENTS = {"gold_only": "gold_prompt", "no_gold": "no_gold_prompt"}


def _missing(id, prompt: str, why: str) -> FocusInterpError:
    return FocusInterpError(f"sample {id} has no {prompt} prompt, which {why}: pass {_ARGUMENTS[prompt]}= to prompt_sample")


def check_samples_have(rows, prompt: str, why: str) -> None:
    """An error, before any work, naming the first ``prompt_sample`` of ``rows`` without the ``gold_only`` or
    ``no_gold`` prompt (multi-document QA rows have both)."""
    for row in rows:
        if "prompt" in row and row.get(_ARGUMENTS[prompt]) is None:
            raise _missing(row["id"], prompt, why)


def check_samples_have_answers(rows, why: str) -> None:
    """An error, before any work, naming the first row without answers."""
    for row in rows:
        if not row.get("answers"):
            raise FocusInterpError(f"sample {row['id']} has no answers, which {why}: give each sample its answers")


def prompt_sample(
    id: str,
    prompt: Prompt,
    relevant: str,
    irrelevant: Sequence[str],
    answers: Sequence[str] = (),
    gold_prompt: Prompt | None = None,
    gold_relevant: str | None = None,
    no_gold_prompt: Prompt | None = None,
) -> dict:
    """A sample of your own: ``prompt`` built with ``build_prompt`` (any instruction, template and segments), the name
    of its relevant segment and of the irrelevant ones, the answers for EM (none: EM is None), and optionally the
    prompt with the relevant context alone (``gold_prompt``, its relevant segment ``gold_relevant``, default
    ``relevant``) and the prompt without it (``no_gold_prompt``).

    Scoring takes it as it is (R_gold and sink_gold need the gold prompt); direction training needs the gold
    prompt (it trains on the response to it); a sweep needs answers, and each baseline its prompt."""
    missing = [name for name in (relevant, *irrelevant) if name not in prompt.spans]
    if missing:
        raise FocusInterpError(f"sample {id}: the prompt has no segment {', '.join(missing)}: it has {', '.join(prompt.spans)}")
    if not irrelevant:
        raise FocusInterpError(f"sample {id}: name at least one irrelevant segment (IR and IR_max need one)")
    if gold_prompt is not None and (gold_relevant or relevant) not in gold_prompt.spans:
        raise FocusInterpError(f"sample {id}: the gold prompt has no segment {gold_relevant or relevant}")
    return {
        "id": id, "prompt": prompt, "relevant": relevant, "irrelevant": list(irrelevant), "answers": list(answers),
        "gold_prompt": gold_prompt, "gold_relevant": gold_relevant or relevant, "no_gold_prompt": no_gold_prompt,
    }


def response_length(rows, max_new_tokens: int | None) -> int:
    """``max_new_tokens``, or when None the response length of the rows' protocol (the default protocol's for
    samples of your own): 100 tokens under ``paper``, 32 under ``lost-in-the-middle``."""
    if max_new_tokens is not None:
        return max_new_tokens
    first = next(iter(rows), {})
    return (protocol_of(first) if "prompt" not in first else protocol_named(DEFAULT_PROTOCOL)).max_new_tokens


def sample_prompts(tokenizer, row: dict, sink_tokens: int = 2) -> SamplePrompts:
    """The prompts of ``row``: a ``prompt_sample`` as given, or a multi-document QA row rendered by the Lost in the
    Middle template under the row's protocol (``data.multidoc.protocols``)."""
    if "prompt" in row:
        return SamplePrompts(
            str(row["id"]), row["prompt"], row["relevant"], tuple(row["irrelevant"]), tuple(row["answers"]),
            row.get("gold_prompt"), row.get("gold_relevant"), row.get("no_gold_prompt"),
        )
    special_tokens = protocol_of(row).special_tokens

    def render(parts):
        return build_prompt(tokenizer, parts, sink_tokens=sink_tokens, special_tokens=special_tokens)

    return SamplePrompts(
        str(row["id"]), render(long_parts(row)), gold_segment(row), tuple(irrelevant_segments(row)),
        tuple(row["answers"]), render(gold_parts(row)), gold_only_segment(row), render(no_gold_parts(row)),
    )
