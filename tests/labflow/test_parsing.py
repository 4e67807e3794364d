"""The parser corpus: every good fixture parses to known values, every bad one fails with its own message."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from labflow.processing.parsing import ParseError, ParsedSeries, parse_instrument_csv, read_header_metadata

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "parsing"
UTC = timezone.utc


@dataclass(frozen=True)
class Expected:
    """What a good fixture parses to; ``values`` maps (row, column) to a number or timestamp."""

    columns: list[str]
    rows: int
    time_kind: str
    time_column: str | None
    delimiter: str = ","
    encoding: str = "utf-8"
    decimal_comma: bool = False
    header_line: int = 1
    units: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    duplicates: int = 0
    values: dict[tuple[int, str], float | datetime | None] = field(default_factory=dict)


GOOD = {
    "comma_seconds.csv": Expected(
        ["time_s", "signal"], 4, "seconds", "time_s",
        values={(0, "time_s"): 0.0, (3, "time_s"): 1.5, (3, "signal"): 2.5}),
    "semicolon_decimal_comma.csv": Expected(
        ["time_s", "Voltage", "Current"], 4, "seconds", "Time", delimiter=";", decimal_comma=True,
        values={(1, "time_s"): 0.5, (0, "Voltage"): 1.25, (0, "Current"): -0.5, (3, "Current"): 0.25}),
    "tab_delimited.tsv": Expected(
        ["time_s", "ch_a", "ch_b"], 3, "seconds", "time", delimiter="\t",
        values={(2, "time_s"): 2.0, (0, "ch_a"): 10.5, (2, "ch_b"): -3.0}),
    "metadata_hash_lines.csv": Expected(
        ["time_s", "signal"], 4, "seconds", "time", header_line=5,
        metadata={"operator": "Alice", "Instrument": "HPLC-01"},
        values={(3, "time_s"): 0.3, (3, "signal"): 0.8}),
    "metadata_plain_units_row.csv": Expected(
        ["time_s", "Absorbance"], 4, "seconds", "Time", delimiter=";", decimal_comma=True, header_line=6,
        units={"Time": "min", "Absorbance": "mAU"},
        metadata={"Instrument": "HPLC-01", "Operator": "bob", "Sample": "PLA-blend-A",
                  "Date": "2024-03-01 10:15:00"},
        notes=["converted time from min to seconds"],
        values={(1, "time_s"): 0.6, (2, "time_s"): 1.2, (2, "Absorbance"): 2.5}),
    "units_row_brackets.csv": Expected(
        ["time_s", "temperature", "pressure", "flow"], 3, "seconds", "time",
        units={"time": "s", "temperature": "°C", "pressure": "bar"},
        values={(2, "time_s"): 20.0, (1, "temperature"): 22.0, (0, "pressure"): 1.013, (2, "flow"): 0.6}),
    "header_name_unit.csv": Expected(
        ["time_s", "Signal", "Absorbance (254 nm)"], 3, "seconds", "Time", units={"Time": "s", "Signal": "mV"},
        values={(1, "time_s"): 0.2, (2, "Signal"): 6.0, (0, "Absorbance (254 nm)"): 0.11}),
    "utf8_bom_zeit.csv": Expected(
        ["time_s", "Temperatur"], 3, "seconds", "Zeit", delimiter=";", encoding="utf-8-sig",
        decimal_comma=True, units={"Temperatur": "°C"},
        values={(2, "time_s"): 120.0, (0, "Temperatur"): 21.5, (2, "Temperatur"): 22.4}),
    "utf16le_bom_tab.txt": Expected(
        ["time_s", "Intensity"], 4, "seconds", "Time", delimiter="\t", encoding="utf-16",
        units={"Time": "s", "Intensity": "a.u."},
        values={(3, "time_s"): 0.03, (2, "Intensity"): 0.8}),
    "latin1_micro_volts.csv": Expected(
        ["time_s", "signal", "temp"], 3, "seconds", "time", delimiter=";", encoding="latin-1",
        decimal_comma=True, header_line=2, units={"time": "s", "signal": "µV", "temp": "°C"},
        metadata={"Gerät": "Potentiostat µ-3"},
        values={(1, "time_s"): 0.5, (1, "signal"): 13.0, (2, "temp"): 20.2}),
    "iso_timestamps_z.csv": Expected(
        ["time_s", "timestamp", "lead_ii_mV", "resp_V"], 4, "timestamp", "timestamp", header_line=2,
        metadata={"device": "ecg-01"},
        values={(0, "timestamp"): datetime(2024, 3, 1, 10, 0, 0, tzinfo=UTC), (0, "time_s"): 0.0,
                (3, "time_s"): 3.0, (2, "lead_ii_mV"): 1.4, (3, "resp_V"): 0.2}),
    "iso_timestamps_offset.csv": Expected(
        ["time_s", "timestamp", "value"], 3, "timestamp", "datetime",
        values={(0, "timestamp"): datetime(2024, 3, 1, 10, 0, 0, tzinfo=UTC), (2, "time_s"): 60.0,
                (1, "value"): 2.0}),
    "iso_timestamps_space_ms.csv": Expected(
        ["time_s", "timestamp", "pressure_kPa"], 4, "timestamp", "acquired",
        values={(1, "timestamp"): datetime(2024, 3, 1, 10, 0, 0, 250_000, tzinfo=UTC), (3, "time_s"): 0.75,
                (1, "pressure_kPa"): 101.4}),
    "time_ms.csv": Expected(
        ["time_s", "signal"], 4, "seconds", "time", units={"time": "ms"},
        notes=["converted time from ms to seconds"],
        values={(1, "time_s"): 0.25, (3, "time_s"): 0.75, (3, "signal"): 4.0}),
    "no_time_column.csv": Expected(
        ["time_s", "a", "b", "c"], 3, "index", None,
        values={(0, "time_s"): 0.0, (2, "time_s"): 2.0, (1, "b"): 5.0, (2, "c"): 9.0}),
    "headerless.csv": Expected(
        ["time_s", "ch1", "ch2", "ch3"], 3, "index", None, header_line=0,
        values={(1, "time_s"): 1.0, (1, "ch1"): 0.1, (2, "ch3"): 2.2}),
    "several_channels.csv": Expected(
        ["time_s", "ch1", "ch2", "ch3", "ch4", "ch5"], 4, "seconds", "elapsed_time",
        values={(3, "time_s"): 3.0, (0, "ch5"): 5.0, (3, "ch1"): 1.3}),
    "missing_markers.csv": Expected(
        ["time_s", "a", "b"], 8, "seconds", "time",
        values={(0, "a"): 1.0, (0, "b"): None, (1, "a"): None, (1, "b"): 2.0, (2, "a"): None, (2, "b"): None,
                (3, "a"): None, (3, "b"): None, (4, "a"): None, (4, "b"): None, (5, "a"): 6.0, (5, "b"): None,
                (6, "b"): None, (7, "a"): None, (7, "b"): 8.0}),
    "trailing_delimiter.csv": Expected(
        ["time_s", "a", "b"], 3, "seconds", "time", delimiter=";",
        notes=["ignored the trailing delimiter at the end of each line"],
        values={(2, "time_s"): 2.0, (2, "a"): 5.0, (2, "b"): 6.0}),
    "unsorted_time.csv": Expected(
        ["time_s", "signal"], 5, "seconds", "time", notes=["sorted 2 rows into time order"],
        values={(1, "time_s"): 0.1, (1, "signal"): 2.0, (3, "time_s"): 0.3, (3, "signal"): 4.0}),
    "exact_duplicates.csv": Expected(
        ["time_s", "signal"], 4, "seconds", "time", notes=["dropped 2 exact duplicate rows"], duplicates=2,
        values={(1, "time_s"): 0.1, (2, "time_s"): 0.2, (3, "signal"): 4.0}),
    "text_columns_dropped.csv": Expected(
        ["time_s", "value"], 4, "seconds", "time",
        notes=["ignored text column 'sample_id'", "ignored text column 'comment'"],
        values={(1, "value"): 1.6, (3, "time_s"): 3.0}),
    "single_column.csv": Expected(
        ["time_s", "signal"], 4, "index", None,
        values={(3, "time_s"): 3.0, (1, "signal"): 2.5, (3, "signal"): 0.5}),
    "blank_and_comment_lines_in_table.csv": Expected(
        ["time_s", "signal"], 4, "seconds", "time",
        values={(1, "time_s"): 1.0, (1, "signal"): 2.0, (3, "signal"): 4.0}),
    "quoted_header_crlf.csv": Expected(
        ["time_s", "Signal, raw", "Signal, filtered"], 3, "seconds", "Time", units={"Time": "s"},
        values={(2, "Signal, raw"): 3.0, (2, "Signal, filtered"): 2.7}),
    "spaces_after_delimiter.csv": Expected(
        ["time_s", "signal"], 3, "seconds", "time",
        values={(1, "time_s"): 0.5, (1, "signal"): 1.25}),
}


def parse_fixture(kind: str, name: str, **options) -> ParsedSeries:
    return parse_instrument_csv((FIXTURES / kind / name).read_bytes(), name=name, **options)


@pytest.mark.parametrize("name", sorted(GOOD))
def test_good_fixture_parses_to_the_expected_series(name: str) -> None:
    expected = GOOD[name]
    parsed = parse_fixture("good", name)
    assert parsed.frame.columns == expected.columns
    assert parsed.frame.height == parsed.rows == expected.rows
    assert parsed.channels == [c for c in expected.columns if c not in ("time_s", "timestamp")]
    assert (parsed.time_kind, parsed.time_column) == (expected.time_kind, expected.time_column)
    assert (parsed.encoding, parsed.delimiter, parsed.decimal_comma) == \
        (expected.encoding, expected.delimiter, expected.decimal_comma)
    assert parsed.header_line == expected.header_line
    assert parsed.units == expected.units
    assert parsed.header_metadata == expected.metadata
    assert parsed.notes == expected.notes
    assert parsed.duplicate_rows_dropped == expected.duplicates
    for (row, column), value in expected.values.items():
        actual = parsed.frame[column][row]
        assert actual == (pytest.approx(value) if isinstance(value, float) else value), (row, column)


@pytest.mark.parametrize("name", sorted(GOOD))
def test_good_fixture_has_the_canonical_types(name: str) -> None:
    frame = parse_fixture("good", name).frame
    assert frame["time_s"].dtype == pl.Float64
    assert frame["time_s"].is_sorted()
    assert all(frame[c].dtype == pl.Float64 for c in frame.columns if c != "timestamp")
    if "timestamp" in frame.columns:
        assert frame["timestamp"].dtype == pl.Datetime("us", "UTC")
        assert frame["time_s"][0] == 0.0


def test_good_fixtures_cover_at_least_fifteen_files() -> None:
    assert sorted(p.name for p in (FIXTURES / "good").iterdir()) == sorted(GOOD)
    assert len(GOOD) >= 15


BAD = {
    # file: (options, expected message fragment, line or None)
    "empty.csv": ({}, "the file is empty (0 bytes)", None),
    "whitespace_only.csv": ({}, "the file is empty (only blank lines)", None),
    "binary_png.csv": ({}, "this looks like a binary file, not a CSV text export", None),
    "control_bytes.csv": ({}, "this looks like a binary file, not a CSV text export", None),
    "header_only.csv": ({}, "the file has a header (line 1) but no data rows", None),
    "header_and_units_only.csv": ({}, "a header (line 2) and a units row (line 3) but no data rows", None),
    "single_data_row.csv": ({}, "only 1 data row; at least 3 numeric points are needed", None),
    "two_data_rows.csv": ({}, "only 2 data rows; at least 3 numeric points are needed", None),
    "ragged_row.csv": ({}, "line 7 has 4 fields but the header (line 3) has 3", 7),
    "short_row.csv": ({}, "line 4 has 2 fields but the header (line 1) has 3", 4),
    "text_in_value_column.csv": ({}, "column 'voltage', line 17: 'abc' is not a number", 17),
    "inf_value.csv": ({}, "column 'signal', line 4: 'inf' is not a finite number", 4),
    "all_nan_channel.csv": ({}, "channel 'b' has no numeric values", None),
    "duplicate_time_different_values.csv": (
        {}, "time 1.5 appears on lines 4 and 5 with different values; the instrument log is ambiguous", 5),
    "mixed_encodings.csv": ({}, "mixed encodings: line 4 has bytes that are not UTF-8", 4),
    "unsorted_time.csv": ({"unsorted_time": "reject"}, "time goes backwards at line 5 (0.15 after 0.2)", 5),
    "time_column_missing_value.csv": ({}, "time column 'time', line 4: the time is missing", 4),
    "bad_timestamp.csv": ({}, "time column 'timestamp', line 6: 'yesterday noon' is not an ISO-8601 timestamp", 6),
    "unknown_time_column.csv": (
        {"time_column": "Zeitpunkt"}, "time column 'Zeitpunkt' not found; the columns are 'time', 'signal'", None),
    "unknown_channel.csv": (
        {"channels": ["pressure"]}, "channel 'pressure' not found; available channels: 'signal'", None),
    "only_comments.csv": ({}, "no table of numbers found: the file has only comments", None),
    "prose.txt": ({}, "no table of numbers found: no lines of numbers", None),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_fixture_fails_with_its_own_clear_message(name: str) -> None:
    options, fragment, line = BAD[name]
    with pytest.raises(ParseError) as caught:
        parse_fixture("bad", name, **options)
    message = str(caught.value)
    assert fragment in message
    assert message.startswith(f"{name}: ")
    assert caught.value.line == line
    if line is not None:
        assert f"line {line}" in message


def test_bad_fixtures_cover_at_least_fifteen_files_with_distinct_messages() -> None:
    assert sorted(p.name for p in (FIXTURES / "bad").iterdir()) == sorted(BAD)
    fragments = [fragment for _, fragment, _ in BAD.values()]
    assert len(BAD) >= 15
    assert len(set(fragments)) == len(fragments) - 1  # the two binary fixtures share one message


def test_unsorted_time_is_sorted_by_default_with_a_note() -> None:
    parsed = parse_fixture("bad", "unsorted_time.csv")
    assert parsed.frame["time_s"].to_list() == [0.0, 0.1, 0.15, 0.2, 0.3]
    assert parsed.frame["signal"].to_list() == [1.0, 2.0, 4.0, 3.0, 5.0]
    assert parsed.notes == ["sorted 1 row into time order"]


def test_requested_channels_and_time_column_are_used() -> None:
    data = b"t1,a,b,c\n0,5,2,3\n1,6,2,3\n2,7,2,3\n"
    parsed = parse_instrument_csv(data, time_column="t1", channels=["c", "a"])
    assert parsed.frame.columns == ["time_s", "a", "c"]
    assert parsed.time_column == "t1"
    assert parsed.frame["a"].to_list() == [5.0, 6.0, 7.0]


def test_requesting_a_text_column_as_channel_is_refused() -> None:
    with pytest.raises(ParseError, match="channel 'comment' holds text, not numbers"):
        parse_fixture("good", "text_columns_dropped.csv", channels=["comment"])


def test_repeated_channel_names_are_made_unique() -> None:
    parsed = parse_instrument_csv(b"time,a,a,time_s\n0,1,2,3\n1,1,2,3\n2,1,2,3\n")
    assert parsed.channels == ["a", "a_2", "time_s_2"]
    assert parsed.frame["a_2"].to_list() == [2.0, 2.0, 2.0]


def test_utf16_without_bom_is_detected_by_its_nul_pattern() -> None:
    data = "time\tsignal\n0\t1.5\n1\t2.5\n2\t3.5\n".encode("utf-16-le")
    parsed = parse_instrument_csv(data)
    assert parsed.encoding == "utf-16"
    assert parsed.frame["signal"].to_list() == [1.5, 2.5, 3.5]


def test_parse_error_carries_line_and_column() -> None:
    with pytest.raises(ParseError) as caught:
        parse_fixture("bad", "text_in_value_column.csv")
    assert (caught.value.line, caught.value.column) == (17, "voltage")
    assert isinstance(caught.value, ValueError)


def test_unknown_unsorted_time_option_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unsorted_time must be one of"):
        parse_fixture("good", "comma_seconds.csv", unsorted_time="shuffle")


@pytest.mark.parametrize("name", sorted(GOOD))
def test_read_header_metadata_agrees_with_parse(name: str) -> None:
    data = (FIXTURES / "good" / name).read_bytes()
    assert read_header_metadata(data) == parse_instrument_csv(data).header_metadata


@pytest.mark.parametrize("name", ["empty.csv", "binary_png.csv", "prose.txt", "mixed_encodings.csv"])
def test_read_header_metadata_never_raises(name: str) -> None:
    assert read_header_metadata((FIXTURES / "bad" / name).read_bytes()) == {}


def test_a_200k_row_file_parses_with_its_values(tmp_path: Path) -> None:
    n = 200_000
    rng = np.random.default_rng(3)
    t = np.arange(n) * 0.005
    a = np.sin(t) + rng.normal(0, 0.01, n)
    b = rng.normal(5, 1, n)
    path = tmp_path / "large.csv"
    with path.open("w") as out:
        out.write("# operator: alice\n# instrument: daq-7\ntime,ch_a,ch_b\n")
        pl.DataFrame({"time": t, "ch_a": a, "ch_b": b}).write_csv(out, include_header=False, float_precision=6)
    parsed = parse_instrument_csv(path.read_bytes(), name="large.csv")
    assert parsed.frame.shape == (n, 3)
    assert parsed.header_metadata == {"operator": "alice", "instrument": "daq-7"}
    assert parsed.header_line == 3 and parsed.notes == []
    for i in (0, 1, 12_345, n - 1):
        assert parsed.frame["time_s"][i] == pytest.approx(t[i], abs=1e-6)
        assert parsed.frame["ch_a"][i] == pytest.approx(a[i], abs=1e-6)
        assert parsed.frame["ch_b"][i] == pytest.approx(b[i], abs=1e-6)


def test_a_bad_cell_deep_in_a_large_file_is_found_by_line(tmp_path: Path) -> None:
    lines = ["time,signal"] + [f"{i * 0.01:.2f},{i % 7}.5" for i in range(50_000)]
    lines[40_001] = "400.00,oops"
    lines.insert(100, "# operator changed the gain here")
    data = ("\n".join(lines) + "\n").encode()
    with pytest.raises(ParseError, match=r"column 'signal', line 40003: 'oops' is not a number"):
        parse_instrument_csv(data)


def test_a_long_metadata_preamble_is_sniffed_from_a_larger_head() -> None:
    preamble = "".join(f"Setting {i};value {i}\n" for i in range(600))
    rows = "".join(f"{i * 0.1:.1f},{i},{-i}\n" for i in range(100))
    parsed = parse_instrument_csv(f"{preamble}time,a,b\n{rows}".encode())
    assert (parsed.delimiter, parsed.header_line, parsed.rows) == (",", 601, 100)
    assert parsed.header_metadata["Setting 599"] == "value 599"
    assert parsed.frame["b"][99] == -99.0
