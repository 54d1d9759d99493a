"""Every long command, interrupted after its first work item, keeps that item and resumes to the outputs of an
uninterrupted run."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from safetensors.torch import load_file

from focus_interp.cli import EXIT_INTERRUPTED, main
from tests.test_robustness import command, inputs  # noqa: F401 (inputs is a fixture)

INTERRUPTED = "focus-interp: interrupted; finished work is kept, rerun the same command to resume"
THREE = ["--n", "3"]

CASES = [
    ("heads", THREE, "focus_interp.scoring.contextual_run.score_prompts", "samples.jsonl", "head_scores.csv"),
    ("compensate", THREE, "focus_interp.evaluation.multidoc._evaluate_row", "samples.jsonl", "results.csv"),
    ("evaluate", THREE, "focus_interp.evaluation.multidoc._evaluate_row", "samples.jsonl", "results.csv"),
    ("train-directions", THREE, "focus_interp.directions.cache.cache_sample", "cache/samples.jsonl", "directions.safetensors"),
    ("retrieval-heads", ["--depths", "0", "0.5", "1", "--min-recall", "0", "--recall-at-least"],
     "focus_interp.scoring.retrieval_run.score_needle_prompt", "samples.jsonl", "head_scores.csv"),
    ("long-context", THREE, "focus_interp.evaluation.long_context.generate_with_span_attention", "samples.jsonl", "results.csv"),
]
"""(command, options giving 3 work items, the function its runner calls once per item, the run's records, its
output). long-context runs without directions: one configuration, so one generation per sample."""


@pytest.mark.parametrize("name, options, per_item, records, output", [pytest.param(*case, id=case[0]) for case in CASES])
def test_an_interrupted_command_keeps_its_finished_item_and_resumes_to_the_uninterrupted_outputs(
    inputs, tmp_path, monkeypatch, capsys, name, options, per_item, records, output  # noqa: F811
):
    module, attribute = per_item.rsplit(".", 1)
    original = getattr(importlib.import_module(module), attribute)

    def counted(interrupt_on: int | None = None) -> list[int]:
        """Patch ``per_item`` to count its calls, raising KeyboardInterrupt on call ``interrupt_on``."""
        calls = []

        def wrapper(*args, **kwargs):
            calls.append(1)
            if len(calls) == interrupt_on:
                raise KeyboardInterrupt
            return original(*args, **kwargs)

        monkeypatch.setattr(per_item, wrapper)
        return calls

    uninterrupted, run = tmp_path / "uninterrupted", tmp_path / "run"
    calls = counted()
    assert main(command(inputs, uninterrupted, name, *options)) == 0
    expected = read_records(uninterrupted / records)
    assert len(calls) == len(expected) == 3

    counted(interrupt_on=2)
    capsys.readouterr()
    assert main(command(inputs, run, name, *options)) == EXIT_INTERRUPTED
    err = capsys.readouterr().err
    assert err.count(INTERRUPTED) == 1 and err.strip().splitlines()[-1] == INTERRUPTED and "Traceback" not in err
    assert read_records(run / records) == expected[:1]

    calls = counted()
    assert main(command(inputs, run, name, *options)) == 0
    assert len(calls) == 2
    assert read_records(run / records) == expected
    assert read_output(run / output) == read_output(uninterrupted / output)


def read_records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def read_output(path: Path) -> str | dict[str, list]:
    """A CSV's text, or a safetensors file's tensors as nested lists (exact values)."""
    if path.suffix == ".safetensors":
        return {key: tensor.tolist() for key, tensor in load_file(path).items()}
    return path.read_text()
