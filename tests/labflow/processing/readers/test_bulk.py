"""The delimited reader's bulk path (the body read by ``polars.read_csv``) gives exactly what the
line-by-line read gives: the same axis, channels, values, metadata and notes, and the same refusals."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from labflow.processing.readers import ReadRefused, bulk, delimited, read_file, table
from labflow.processing.readers.bulk import bulk_table
from labflow.processing.readers.text import decode, lines

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"

BULK = {  # the bulk path reads these (a text retry for markers, infinities and dates)
    "comma": b"time_s,ch_a,ch_b\n0.000,0.5,1.5\n0.001,0.7,-1.25e-3\n0.002,0.6,2\n0.003,0.4,3\n",
    "semicolon_decimal_comma": b"Zeit [s];Spannung [V];Strom [mA]\n0;1,5;-0,25\n1;1,6;-0,5\n2;1,7;-0,75\n3;1,8;-1\n",
    "tab": b"Wavelength (nm)\tAbsorbance\n400\t0.12\n401\t0.13\n402\t0.15\n403\t0.11\n",
    "units_row": b"time,temperature,pressure\ns,degC,mbar\n0,21.5,1013\n10,21.7,1012\n20,21.9,1011\n",
    "preamble": "# exported by LabLogger 3.2\nOperator: Ada\nSample: S-17 µ\n\nTime (s),Signal (mV)\n"
                "0,1\n1,2\n2,3\n".encode("latin-1"),
    "missing_values": b"time,a,b\n0,1.0,\n1,,2.0\n2,3.0,4.0\n3, ,\n",
    "missing_markers": b"time,a,b\n0,1.0,NA\n1,n/a,2.0\n2,3.0,-\n3,nan,4.0\n4,-nan,5\n",
    "crlf": b"time;signal\r\n0;1,5\r\n1;2,5\r\n2;3,5\r\n",
    "cr_line_ends": b"time,a\r0,1\r1,2\r2,3\r",
    "dates_and_labels": b"Date,Temp (degC),Label\n05.03.2024 13:00:00,21,A\n05.03.2024 13:00:10,22,B\n"
                        b"05.03.2024 13:00:20,23,C\n",
    "epoch": b"timestamp,value\n1700000000,1\n1700000010,2\n1700000020,3\n",
    "trailing_delimiter": b"time,a,\n0,1,\n1,2,\n2,3,\n",
    "trailing_blank_lines": b"time,a\n0,1\n1,2\n2,3\n\n\r\n",
    "unsorted_and_repeated": b"time,a\n0,1\n2,3\n1,2\n2,3\n",
    "same_time_other_value": b"time,a\n0,1\n1,2\n1,3\n2,4\n",
    "axis_value_missing": b"time,a\n0,1\n,2\n2,3\n",
    "infinity": b"time,a\n0,1\n1,inf\n2,3\n",
    "text_among_numbers": b"time,a,b\n0,1,1\n1,2,x\n2,3,3\n",
    "empty_column": b"time,a,b\n0,1,\n1,2,\n2,3,\n",
    "headerless": b"0,1\n1,2\n2,3\n",
    "two_rows": b"time,a\n0,1\n1,2\n",
}
LINE_BY_LINE = {  # the bulk path declines; the line-by-line read explains or reads them
    "ragged_row": b"time,a,b\n0,1,2\n1,2,3,4\n2,3,4\n3,4,5\n",
    "short_row": b"time,a,b\n0,1,2\n1,2\n2,3,4\n3,4,5\n",
    "cut_last_line": b"time,a,b\n0,1,2\n1,2,3\n2,3,4\n3,4\n",
    "quoted_fields": b'time,"Signal, raw"\n0,"1"\n1,"2"\n2,"3"\n',
    "blank_line_inside": b"time,a\n0,1\n\n1,2\n2,3\n",
    "comment_inside": b"time,a\n0,1\n# pause\n1,2\n2,3\n",
    "blank_line_of_tabs": b"time\ta\tb\n0\t1\t2\n1\t2\t3\n\t\t\n2\t3\t4\n",
    "aligned_columns": b"time  a\n0  1\n1  2\n2  3\n",
    "cr_line_ends_after_the_head": b"time,a\n0,1\n1,2\n2,3\n3,4\r4,5\r",
    "cr_inside_a_line_after_the_head": b"time,a\n0,1\n1,2\n2,3\n3\r4,5\n",
    "latin1_after_the_head": b"time,label\n0,a\n1,b\n2,c\n3,\xb5\n",
    "mixed_encodings_after_the_head": "time,label (µ)\n0,a\n1,b\n2,c\n".encode() + b"3,\xb5\n",
    "utf16": "time\tsignal\n0\t1\n1\t2\n2\t3\n".encode("utf-16"),
}
OPTIONS = [{}, {"axis_kind": "time", "axis_unit": "s"}, {"axis": "a"}]


def outcome(data: bytes, options: dict) -> object:
    """Everything a read gives (values bit for bit), or the refusal's message."""
    try:
        parsed = read_file(data, "run.csv", {"reader": "delimited", **options})
    except ReadRefused as error:
        return f"refused: {error}"
    blocks = [(b.name, b.main, b.axis.kind, b.axis.name, b.axis.unit, b.axis.start, _values(b.axis.values),
               [(c.name, c.unit, c.role, _values(c.values)) for c in b.channels]) for b in parsed.blocks]
    return parsed.reader, parsed.metadata, parsed.notes, blocks


def _values(values: np.ndarray) -> tuple:
    if values.dtype == object:
        return "text", values.tolist()
    nan = np.isnan(values)
    return str(values.dtype), nan.tolist(), values[~nan].tobytes()


def both(data: bytes, options: dict, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object]:
    """The read with the bulk path, and the read line by line."""
    fast = outcome(data, options)
    with monkeypatch.context() as patch:
        patch.setattr(delimited, "bulk_table", lambda data: None)
        slow = outcome(data, options)
    return fast, slow


def small_head(monkeypatch: pytest.MonkeyPatch, lines: int) -> None:
    """Tell the layout from ``lines`` lines, so that a small fixture has a body after the head."""
    monkeypatch.setattr(table, "SNIFF_LINES", lines)
    monkeypatch.setattr(bulk, "SNIFF_LINES", lines)


def two_rows_in_head(data: bytes) -> int:
    """A head that ends two rows into the table (the rest of the body comes after it)."""
    text = lines(decode(data))
    keep, texts = table.uncommented(text, "#")
    return table.table_layout(text, keep, texts).start + 2


@pytest.mark.parametrize("small", [False, True])
@pytest.mark.parametrize("name", sorted(BULK))
def test_the_bulk_path_reads_as_the_line_by_line_read(name: str, small: bool, monkeypatch) -> None:
    data = BULK[name]
    small_head(monkeypatch, two_rows_in_head(data) if small else 2_000)
    assert bulk_table(data) is not None
    for options in OPTIONS:
        fast, slow = both(data, options, monkeypatch)
        assert fast == slow


@pytest.mark.parametrize("name", sorted(LINE_BY_LINE))
def test_unusual_bodies_are_left_to_the_line_by_line_read(name: str, monkeypatch) -> None:
    small_head(monkeypatch, 3)
    data = LINE_BY_LINE[name]
    assert bulk_table(data) is None
    fast, slow = both(data, {}, monkeypatch)
    assert fast == slow


def test_a_ragged_row_is_refused_with_its_line() -> None:
    with pytest.raises(ReadRefused, match="line 3 has 4 fields but the table has 3"):
        read_file(LINE_BY_LINE["ragged_row"], "run.csv")


def test_cells_are_typed_alike_in_both_paths(monkeypatch) -> None:
    data = BULK["missing_markers"]
    fast, slow = both(data, {}, monkeypatch)
    assert fast == slow
    parsed = read_file(data, "run.csv")
    assert [c.role for c in parsed.channels] == ["text", "signal"]  # '-nan' is no missing marker: text
    assert any("'-nan' is not a number" in note for note in parsed.notes)
    assert np.isnan(parsed.channels[1].values).tolist() == [True, False, True, False, False]
    numbers = bulk_table(BULK["semicolon_decimal_comma"])
    assert numbers.decimal_comma and numbers.column(1).dtype.is_float()
    assert numbers.column(2).to_list() == [-0.25, -0.5, -0.75, -1.0]


def test_a_long_file_keeps_its_line_numbers_after_the_head(monkeypatch) -> None:
    rows = [f"{i},{i % 7}.5,{i * 0.001:.3f}" for i in range(3_000)]
    for line, broken in ((2_501, "2500,,1"), (2_702, "2700,1,2,3")):
        text = "# logger\ntime,a,b\n" + "\n".join(rows[:line - 3] + [broken] + rows[line - 2:]) + "\n"
        data = text.encode()
        fast, slow = both(data, {"axis": "b"}, monkeypatch)
        assert fast == slow and (bulk_table(data) is None) == ("1,2,3" in broken)
    fast, slow = both(("time,a\n" + "\n".join(r.rsplit(",", 1)[0] for r in rows)).encode(), {}, monkeypatch)
    assert fast == slow and len(fast[3][0][6][1]) == 3_000
    with pytest.raises(ReadRefused, match="line 2702 has 4 fields"):
        read_file(data, "run.csv")


@pytest.mark.parametrize("folder", ["parsing/good", "parsing/bad", "readers"])
def test_every_reader_fixture_reads_alike(folder: str, monkeypatch) -> None:
    for path in sorted((FIXTURES / folder).iterdir()):
        fast, slow = both(path.read_bytes(), {}, monkeypatch)
        assert fast == slow, path.name


CELLS = ["0", "1", "-2.5", "3.25e-3", "+4", ".5", "6.", "1,5", "-0,25", "1.234,5", "", " ", " 7 ", "NA", "nan",
         "-nan", "inf", "n/a", "-", "abc", "1e400", "12:00:01", "2024-03-05 13:00:00", '"8"', "#9", "µ"]


def random_file(rng: random.Random) -> bytes:
    """A small table with a random dialect, preamble and, now and then, an odd cell, line or line end."""
    delimiter = rng.choice([",", ";", "\t"])
    width = rng.randint(2, 4)
    rows = rng.sample(["# comment", "Operator: Ada", "", "Instrument; X-7"], rng.randint(0, 3))
    if rng.random() < 0.9:
        rows.append(delimiter.join(["time", "a", "b", ""][:width]))
    if rng.random() < 0.3:
        rows.append(delimiter.join(["s", "mV", "[A]", ""][:width]))
    times = list(range(rng.randint(3, 12)))
    if rng.random() < 0.2:
        rng.shuffle(times)
    for t in times:
        cells = [str(t)] + [str(rng.randint(-9, 9) / 4) for _ in range(width - 1)]
        if rng.random() < 0.2:
            cells[rng.randrange(width)] = rng.choice(CELLS)
        if rng.random() < 0.05:
            cells = cells[:-1] if rng.random() < 0.5 else cells + ["1"]
        rows.append(delimiter.join(cells))
        if rng.random() < 0.03:
            rows.append(rng.choice(["", "# note", "  "]))
    end = rng.choice(["\n"] * 6 + ["\r\n", "\r"])
    tail = rng.choice(["", end, end * 2])
    return (end.join(rows) + tail).encode(rng.choice(["utf-8", "latin-1"]))


def test_random_tables_read_alike(monkeypatch) -> None:
    rng = random.Random(17)
    read_in_bulk = 0
    for _ in range(250):
        data = random_file(rng)
        with monkeypatch.context() as patch:
            small_head(patch, rng.choice([2, 4, 2_000]))
            read_in_bulk += bulk_table(data) is not None
            fast, slow = both(data, {}, patch)
        assert fast == slow, data
    assert read_in_bulk > 80  # the comparison is on the bulk path, not on its fallback
