"""Table limits on raw bytes: file size, line length, fields per line; lines split across chunks."""

from __future__ import annotations

import pytest

from labflow.processing import table_limits
from labflow.processing.table_limits import MAX_COLUMNS, MAX_LINE_BYTES, TableTooLarge, check_table_bounds


@pytest.mark.parametrize("data", [b"", b"t,v\n1,2\n", b"t,v\r\n1,2", b"h\n" + b";".join([b"1"] * MAX_COLUMNS) + b"\n",
                                  b"h\n" + b"1" * MAX_LINE_BYTES + b"\n"])
def test_tables_within_the_limits_pass(data):
    check_table_bounds(data, "a.csv")


@pytest.mark.parametrize("data, message", [
    (b"t,v\n" + b"1" * (MAX_LINE_BYTES + 1) + b"\n1,2\n", "a.csv: line 2 is longer than the limit of 1,000,000 bytes"),
    (b"t,v\n1,2\n" + b"1" * (MAX_LINE_BYTES + 1), "a.csv: line 3 is longer than the limit"),
    (b"h\n" + b"\t".join([b"1"] * (MAX_COLUMNS + 1)), "a.csv: line 2 has 10,001 fields separated by tabs"),
])
def test_tables_over_a_limit_are_refused_naming_it_and_the_line(data, message):
    with pytest.raises(TableTooLarge, match=message):
        check_table_bounds(data, "a.csv")


def test_lines_across_chunk_boundaries_are_counted_whole(monkeypatch):
    monkeypatch.setattr(table_limits, "_CHUNK", 7)
    monkeypatch.setattr(table_limits, "MAX_LINE_BYTES", 10)
    monkeypatch.setattr(table_limits, "MAX_COLUMNS", 3)
    check_table_bounds(b"a,b,c\n1234567890\n1,2,3\n", "a.csv")
    with pytest.raises(TableTooLarge, match="line 2 is longer than the limit of 10 bytes"):
        check_table_bounds(b"a,b,c\n12345678901\n1,2,3\n", "a.csv")
    with pytest.raises(TableTooLarge, match="line 3 has 4 fields separated by commas"):
        check_table_bounds(b"a,b,c\n1,2,3\n4,5,6,7", "a.csv")


def test_files_over_the_size_limit_are_refused(monkeypatch):
    monkeypatch.setattr(table_limits, "MAX_FILE_BYTES", 10)
    with pytest.raises(TableTooLarge, match="a.csv is 11 bytes; files larger than 10 bytes"):
        check_table_bounds(b"t,v\n1,2\n3,4", "a.csv")
