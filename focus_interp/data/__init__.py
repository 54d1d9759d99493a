"""Datasets, with no model: multi-document QA (``multidoc``), long-context tasks in HELMET's categories
(``long_context``) and needle-in-a-haystack tests (``needles``); generated here or read from a user's files."""

from focus_interp.data.multidoc.loading import (
    default_gold_positions,
    dropped_answers,
    load_multidoc_qa,
)
from focus_interp.data.multidoc.parts import (
    INSTRUCTION,
    document_name,
    gold_parts,
    gold_segment,
    irrelevant_segments,
    long_parts,
    multidoc_parts,
    no_gold_parts,
)
from focus_interp.data.multidoc.synthetic import synthetic_multidoc_qa

__all__ = [
    "INSTRUCTION",
    "default_gold_positions",
    "document_name",
    "dropped_answers",
    "gold_parts",
    "gold_segment",
    "irrelevant_segments",
    "load_multidoc_qa",
    "long_parts",
    "multidoc_parts",
    "no_gold_parts",
    "synthetic_multidoc_qa",
]
