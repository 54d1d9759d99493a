"""The command line's conventions: every option's help shows its default, distinct exit statuses, and the commands
that only look (describe, tasks, --show-prompt)."""

from __future__ import annotations

import argparse

import pytest

from focus_interp.cli import EXIT_BAD_INPUT, EXIT_USAGE, build_parser, main
from tests.test_robustness import command, inputs  # noqa: F401 (inputs is a fixture)


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


@pytest.mark.parametrize("name", sorted(_commands()))
def test_every_option_has_help_and_its_default_is_shown(name, capsys):
    parser = _commands()[name]
    assert all(action.help for action in parser._actions), [a.dest for a in parser._actions if not a.help]
    with pytest.raises(SystemExit) as exit_:
        main([name, "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for action in parser._actions:
        if action.option_strings and action.default not in (None, False, argparse.SUPPRESS) and action.dest != "help":
            assert "(default: " in text
    assert "exit status: 0 done; 2 a usage error" in text


def test_heads_help_shows_the_defaults_and_the_ranking_columns(capsys):
    with pytest.raises(SystemExit):
        main(["compensate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "documents per prompt (default: 20)" in text and "(default: R)" in text
    assert "ranks the heads: R, IR, IR_max, sink, R_gold, sink_gold, R_correct, R_wrong, retrieval" in text


def test_a_usage_error_and_bad_input_exit_differently(inputs, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["heads", "--no-such-option"])
    assert exit_.value.code == EXIT_USAGE
    assert main(command(inputs, tmp_path / "run", "heads", "--n", "0")) == EXIT_BAD_INPUT


def test_describe_prints_the_architecture_and_sites(inputs, capsys):
    assert main(["describe", str(inputs["model"])]) == 0
    out = capsys.readouterr().out
    assert "sites of layer 0:" in out and "q_proj" in out and "attention_call" in out


def test_tasks_lists_every_task_and_says_which_can_run(capsys):
    assert main(["tasks"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["json_kv", "recall"] and lines[0].endswith("available")
    assert any(line.startswith("helmet_rag_kilt_nq") and "unavailable: " in line for line in lines)


def test_show_prompt_prints_the_first_prompt_with_its_spans_and_writes_nothing(inputs, tmp_path, capsys):
    assert main(command(inputs, tmp_path / "run", "heads", "--show-prompt")) == 0
    out = capsys.readouterr().out
    assert out.startswith("0-g1: ") and "Document [1]([[doc_1]]Title:" in out and "[[/doc_3]]" in out
    assert "[[question]]Question:" in out and "[[sink]]" in out
    assert not (tmp_path / "run").exists()
