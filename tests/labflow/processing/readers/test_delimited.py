"""The generic delimited reader: today's parser's dialects, plus dates, clocks, epochs and label columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labflow.processing.readers import ReadRefused, read_file

OLD_FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "parsing"

# the old parser's good fixtures: rows, axis (kind, name, unit), channel names
GOOD = {
    "comma_seconds.csv": (4, ("time", "time_s", "s"), ["signal"]),
    "semicolon_decimal_comma.csv": (4, ("time", "Time", "s"), ["Voltage", "Current"]),
    "metadata_plain_units_row.csv": (4, ("time", "Time", "min"), ["Absorbance"]),
    "units_row_brackets.csv": (3, ("time", "time", "s"), ["temperature", "pressure", "flow"]),
    "utf16le_bom_tab.txt": (4, ("time", "Time", "s"), ["Intensity"]),
    "latin1_micro_volts.csv": (3, ("time", "time", "s"), ["signal", "temp"]),
    "iso_timestamps_offset.csv": (3, ("time", "datetime", "s"), ["value"]),
    "missing_markers.csv": (8, ("time", "time", "s"), ["a", "b"]),
    "exact_duplicates.csv": (4, ("time", "time", "s"), ["signal"]),
    "unsorted_time.csv": (5, ("time", "time", "s"), ["signal"]),
    "no_time_column.csv": (3, ("index", "row", ""), ["a", "b", "c"]),
    "single_column.csv": (4, ("index", "row", ""), ["signal"]),
    "quoted_header_crlf.csv": (3, ("time", "Time", "s"), ["Signal, raw", "Signal, filtered"]),
    "text_columns_dropped.csv": (4, ("time", "time", "s"), ["sample_id", "value", "comment"]),
    "time_ms.csv": (4, ("time", "time", "ms"), ["signal"]),
}


@pytest.mark.parametrize("name", sorted(GOOD))
def test_the_old_parsers_dialects_still_read(name: str) -> None:
    rows, axis, channels = GOOD[name]
    parsed = read_file((OLD_FIXTURES / "good" / name).read_bytes(), name)
    assert parsed.reader == "delimited" and parsed.rows == rows
    assert (parsed.axis.kind, parsed.axis.name, parsed.axis.unit) == axis
    assert [c.name for c in parsed.channels] == channels


@pytest.mark.parametrize(("name", "message"), [
    ("bad_timestamp.csv", "time column 'timestamp', line 6: 'yesterday noon' is not a date or time"),
    ("duplicate_time_different_values.csv", "time 1.5 appears on lines 4 and 5 with different values"),
    ("inf_value.csv", "column 'signal', line 4: 'inf' is not a finite number"),
    ("mixed_encodings.csv", "mixed encodings: line 4"),
    ("ragged_row.csv", "line 7 has 4 fields but the table has 3"),
    ("time_column_missing_value.csv", "axis column 'time', line 4: the value is missing"),
    ("two_data_rows.csv", "only 2 data row"),
    ("empty.csv", "the file is empty"),
])
def test_the_old_parsers_bad_files_are_refused(name: str, message: str) -> None:
    with pytest.raises(ReadRefused, match=message):
        read_file((OLD_FIXTURES / "bad" / name).read_bytes(), name)


def test_sorting_and_duplicates_are_noted() -> None:
    parsed = read_file((OLD_FIXTURES / "good" / "unsorted_time.csv").read_bytes(), "u.csv")
    assert np.all(np.diff(parsed.axis.values) > 0) and "sorted 2 rows into time order" in parsed.notes
    parsed = read_file((OLD_FIXTURES / "good" / "exact_duplicates.csv").read_bytes(), "d.csv")
    assert "dropped 2 exact duplicate rows" in parsed.notes


def test_epoch_seconds_under_an_empty_first_header_cell_are_the_time_axis() -> None:
    data = b"\tTemp (degC)\tRH (%)\n1700000000\t21.5\t40\n1700000010\t21.6\t41\n1700000020\t21.8\t42\n"
    parsed = read_file(data, "logger.tsv")
    assert parsed.axis.kind == "time" and parsed.axis.values.tolist() == [0.0, 10.0, 20.0]
    assert parsed.axis.start.isoformat() == "2023-11-14T22:13:20+00:00"
    assert [(c.name, c.unit) for c in parsed.channels] == [("Temp", "degC"), ("RH", "%")]
    assert any("Unix epoch seconds" in note for note in parsed.notes)


def test_a_label_column_with_numbers_and_text_is_kept_as_text() -> None:
    data = b"time,label,signal\n0,1,0.5\n1,2,0.7\n2,ABC,0.9\n3,4,1.1\n"
    parsed = read_file(data, "sheet.csv")
    label = parsed.block.channel("label")
    assert label.is_text and label.values.tolist() == ["1", "2", "ABC", "4"]
    assert parsed.main_channel.name == "signal" and parsed.main_channel.values.tolist() == [0.5, 0.7, 0.9, 1.1]
    assert any("'ABC' at line 4" in note for note in parsed.notes)


def test_european_dates_and_twelve_hour_clock() -> None:
    data = b"Datum;Wert\n31.12.2023 23:59:50;1,5\n31.12.2023 23:59:59;1,7\n01.01.2024 00:00:10;1,9\n"
    parsed = read_file(data, "de.csv")
    assert parsed.axis.values.tolist() == [0.0, 9.0, 20.0] and parsed.axis.start.year == 2023
    data = b"Time,Value\n11:59:58 AM,1\n11:59:59 AM,2\n12:00:01 PM,3\n"
    assert read_file(data, "us.csv").axis.values.tolist() == [0.0, 1.0, 3.0]


def test_clock_only_times_pass_midnight() -> None:
    data = b"Clock,Value\n23:59:58,1\n23:59:59,2\n00:00:01,3\n"
    parsed = read_file(data, "clock.csv")
    assert parsed.axis.values.tolist() == [0.0, 1.0, 3.0]
    assert any("passes midnight 1 time, a day was added" in note for note in parsed.notes)


def test_ambiguous_day_month_order_is_noted() -> None:
    data = b"Date,Value\n03/04/2024 10:00:00,1\n03/04/2024 10:00:05,2\n03/04/2024 10:00:09,3\n"
    parsed = read_file(data, "slash.csv")
    assert parsed.axis.start.month == 3
    assert any("month/day order assumed" in note for note in parsed.notes)
    data = b"Date,Value\n13/04/2024 10:00:00,1\n13/04/2024 10:00:05,2\n13/04/2024 10:00:09,3\n"
    assert read_file(data, "dm.csv").axis.start.month == 4


def test_a_headerless_table_is_refused_unless_the_axis_kind_is_given() -> None:
    data = b"400.0\t0.1\n401.0\t0.4\n402.0\t0.2\n403.0\t0.1\n"
    with pytest.raises(ReadRefused, match="no reader is sure"):
        read_file(data, "spectrum.txt")
    with pytest.raises(ReadRefused, match="the table has no header .* set axis_kind"):
        read_file(data, "spectrum.txt", {"reader": "delimited"})
    parsed = read_file(data, "spectrum.txt", {"reader": "delimited", "axis_kind": "wavelength", "axis_unit": "nm"})
    assert (parsed.axis.kind, parsed.axis.unit, parsed.axis.values[0]) == ("wavelength", "nm", 400.0)
    assert any("axis_kind option" in note for note in parsed.notes)


def test_the_axis_option_names_the_axis_column() -> None:
    data = b"Potential (V),Current (mA),Time (s)\n-0.1,1,0\n0.0,2,1\n0.1,3,2\n"
    assert read_file(data, "cv.csv").axis.name == "Time"
    parsed = read_file(data, "cv.csv", {"axis": "Potential"})
    assert (parsed.axis.kind, parsed.axis.name, parsed.axis.unit) == ("potential", "Potential", "V")
