"""Long-context tasks in HELMET's categories (recall, rag, rerank, icl, longqa), generated or read from HELMET's
files, each prompt filled to a token budget with the answer's piece as a named segment.

``build_long_context_task(task, tokenizer, budget, n)`` gives ``n`` samples whose rendered prompt
(``sample.prompt(tokenizer)``: through the chat template or not, as HELMET's configs run the task's category; the
sample's ``settings`` also give its response length and whether it stops at a newline) has at most ``budget`` tokens: context items (key-value pairs, filler
sentences, passages, demonstrations) are added until the next one would overflow. The piece that holds the
answer, where there is one, is the segment ``gold`` (``gold_1``, ``gold_2``, ... when there are several), so
attention on it can be measured; everything else is plain text.

Generated tasks (no files needed):

- ``json_kv``: JSON key-value retrieval of Lost in the Middle, pairs of seeded uuids; or, with ``source``, the
  records of its ``kv-retrieval-*_keys.jsonl.gz`` file, cut or extended with seeded uuid pairs to the budget.
- ``ruler_mk_needle``: RULER's multi-key needles ("One of the special magic numbers for {key} is: {value}."),
  one after every 10 filler sentences, each with its own key; the question asks for one key's number.
- ``ruler_mv_needle``: RULER's multi-value needles, 4 numbers for one key, all asked for.
- ``rag_nq``: NQ-Open questions of the oracle file (``source``) with their gold passage among BM25-ranked
  distractors (other questions' gold passages without the answer), or, with no ``source``, the seeded
  generator's fictional towns; the prompt of Lost in the Middle; the gold at a seeded depth.

Filler text is the seeded generator's fictional-town text. HELMET's tasks read ``source``: HELMET's data
folder (``data.tar.gz`` of the Hugging Face dataset princeton-nlp/HELMET, unpacked), from the file HELMET built
for the smallest of its input lengths (8k to 128k) at or above the budget (else the longest there is), cut to
the budget with the gold pieces kept at their depth, in HELMET's prompts (with its 2 demonstrations where it
gives them). Records are taken in the order of ``datasets``' shuffle with the seed, as HELMET takes its
json_kv, RULER, in-context learning and InfiniteBench samples. The in-context learning and InfiniteBench data,
which HELMET loads from the Hugging Face hub, are read from folders added to that data folder:

- ``icl/trec`` (CogComp/trec), ``icl/banking77`` (PolyAI/banking77), ``icl/clinc_oos_plus`` (clinc_oos,
  config "plus"), ``icl/nlu_evaluation_data`` (xingkunliuxtracta/nlu_evaluation_data), each written by
  ``datasets.load_dataset(...).save_to_disk(folder)``;
- ``infbench/longbook_qa_eng.jsonl`` and ``infbench/longbook_choice_eng.jsonl`` of the dataset
  xinrongzhang2022/InfiniteBench.

A file-backed prompt holds at most what its record holds: it falls short of the budget when the record is
shorter than that in this tokenizer.

The package's modules: ``base`` (budgets, task entries, requests and samples), ``registry`` (the one table of
tasks and ``build_long_context_task``), ``filling`` (prompts filled to a budget, segment edges aligned),
``formats`` (the key-value and RULER prompts both kinds of task use), ``records`` (reading a task file's records
in seeded order), ``generated`` (the generated tasks) and ``helmet`` (HELMET's file-backed tasks).
"""

from focus_interp.data.long_context.base import (
    BUDGETS,
    LongContextSample,
    TaskInfo,
    TaskSettings,
    TaskUnavailable,
    budgets_for,
)
from focus_interp.data.long_context.filling import GOLD, Part
from focus_interp.data.long_context.registry import (
    TASKS,
    available_tasks,
    build_long_context_task,
)

__all__ = [
    "BUDGETS",
    "GOLD",
    "TASKS",
    "LongContextSample",
    "Part",
    "TaskInfo",
    "TaskSettings",
    "TaskUnavailable",
    "available_tasks",
    "budgets_for",
    "build_long_context_task",
]
