"""The one I/O module: JSON lines with line-numbered errors, append-only records that survive a cut, CSV tables."""

from __future__ import annotations

import csv
import gzip

import pytest

from focus_interp.errors import FocusInterpError
from focus_interp.files import (
    append_record,
    read_appended_records,
    read_jsonl,
    write_csv,
)


def test_read_jsonl_numbers_lines_skips_blank_ones_and_reads_gzip(tmp_path):
    path = tmp_path / "rows.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        handle.write('{"a": 1}\n\n{"a": 2}\n')
    assert list(read_jsonl(path)) == [(1, {"a": 1}), (3, {"a": 2})]


@pytest.mark.parametrize(
    "text, match",
    [
        ('{"a": 1}\n{"a": \n', r"rows.jsonl, line 2 is not valid JSON \(.*\): pass other rows"),
        ('[1, 2]\n', r"rows.jsonl, line 1 is not a JSON object: pass other rows"),
        ("\n\n", r"rows.jsonl is empty: expected one JSON object per line"),
    ],
)
def test_read_jsonl_errors_name_the_file_and_line(tmp_path, text, match):
    path = tmp_path / "rows.jsonl"
    path.write_text(text)
    with pytest.raises(FocusInterpError, match=match):
        list(read_jsonl(path, hint="pass other rows"))


def test_a_record_cut_short_is_dropped_and_the_next_append_starts_a_line(tmp_path):
    path = tmp_path / "samples.jsonl"
    append_record(path, {"id": 1})
    with open(path, "a") as handle:
        handle.write('{"id": 2, "resp')
    assert read_appended_records(path) == [{"id": 1}]
    append_record(path, {"id": 3})
    assert path.read_text() == '{"id": 1}\n{"id": 3}\n'


def test_a_bad_record_before_the_last_is_an_error(tmp_path):
    path = tmp_path / "samples.jsonl"
    path.write_text('{"id": 1}\nnot json\n{"id": 3}\n')
    with pytest.raises(FocusInterpError, match="samples.jsonl, line 2 is not valid JSON: remove that line"):
        read_appended_records(path)


def test_write_csv_quotes_cells_and_writes_none_as_empty(tmp_path):
    path = tmp_path / "table.csv"
    write_csv(path, ("name", "value"), [("a, b", 1), ('say "hi"', None)])
    assert path.read_text() == 'name,value\n"a, b",1\n"say ""hi""",\n'
    assert list(csv.reader(path.open())) == [["name", "value"], ["a, b", "1"], ['say "hi"', ""]]
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]
