"""Parse real instrument CSV exports into one canonical polars frame.

Exports come in many dialects: ``,`` ``;`` or tab delimiters, decimal commas, metadata lines before the
table, a units row under the header, UTF-8 / UTF-8 with BOM / UTF-16 / Latin-1, time as ISO-8601
timestamps, as seconds (or ms, min, h) or not at all. The dialect is sniffed from the head of the file;
the body goes to polars once with a fixed Float64 schema. Only when that fast read fails, or leaves empty
cells behind, is the body read again as text to find and explain the first problem (line and column).

Example::

    parsed = parse_instrument_csv(Path("run_003.csv").read_bytes(), name="run_003.csv")
    parsed.frame.columns       # ['time_s', 'Absorbance']
    parsed.units               # {'Time': 'min', 'Absorbance': 'µAU'}
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, replace
from typing import NamedTuple

import polars as pl

DELIMITERS = ("\t", ";", ",")
"""Candidate delimiters, in order of preference when several split the table consistently."""
MISSING_MARKERS = ("", "NaN", "nan", "NA", "N/A", "n/a", "null", "-", "--", "---", "#N/A")
MIN_POINTS = 3
TIME_NAMES = frozenset({"time", "t", "timestamp", "datetime", "date_time", "date", "zeit", "sec", "seconds",
                        "time_s", "elapsed", "elapsed_time"})
TIME_UNITS_IN_SECONDS = {"s": 1.0, "sec": 1.0, "secs": 1.0, "seconds": 1.0, "ms": 1e-3, "msec": 1e-3,
                         "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "min": 60.0, "h": 3600.0, "hr": 3600.0,
                         "d": 86400.0}
UNSORTED_TIME_OPTIONS = ("sort", "reject")

_HEAD_SIZES = (8_192, 131_072, 2_097_152)  # bytes sniffed; larger heads only when the table starts late
_PROFILE_ROWS = 500  # data rows of the head used to tell number, timestamp and text columns apart
_MIN_SAMPLE_ROWS = 20  # fewer table rows in a partial head: sniff again from a larger head
_MISSING = frozenset(marker.lower() for marker in MISSING_MARKERS)
_UTF8_BOM = b"\xef\xbb\xbf"
_CONTROL_BYTES = bytes(set(range(32)) - {9, 10, 12, 13}) + b"\x7f"
_NOT_CONTROL = bytes(set(range(256)) - set(_CONTROL_BYTES))
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")

_NUMBER = re.compile(r"^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?$|^[+-]?inf(?:inity)?$", re.I)
_COMMA_DECIMAL = re.compile(r"^[+-]?\d*,\d+(?:[eE][+-]?\d+)?$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?$")
_UNIT_BASE = (r"(?:s|sec|min|h|hr|d|Hz|V|A|W|J|N|Pa|bar|atm|psig?|Torr|mmHg|g|L|l|m|K|°C|°F|degC|C|mol|M|"
              r"S|Ω|Ohm|AU|au|a\.u\.|counts?|cts|cps|rpm|dB|lx|cd|%|%RH|ppm|ppb|deg|°|rad|T|eV|RFU|RLU|pH|NTU)")
_UNIT_TOKEN = rf"[pnuµμmckMG]?{_UNIT_BASE}(?:\^?-?\d)?"
_UNIT = re.compile(rf"^{_UNIT_TOKEN}(?:\s*[/·*]\s*{_UNIT_TOKEN})*$")
_NAME_WITH_UNIT = re.compile(r"^(?P<name>.*?\S)\s*(?:\[(?P<square>[^\[\]]*)\]|\((?P<round>[^()]*)\))$")
_TIME_NAME_WITH_UNIT = re.compile(r"^(?:time|t|elapsed|elapsed_time|zeit)_(s|ms|us|min|h)$")


class ParseError(ValueError):
    """A file cannot be parsed; the message says what is wrong, where (line/column) and what to do."""

    def __init__(self, message: str, *, line: int | None = None, column: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.file: str | None = None

    def __str__(self) -> str:
        text = self.message
        if self.line is not None and f"line {self.line}" not in text:
            text = f"{text} (line {self.line})"
        return f"{self.file}: {text}" if self.file else text


@dataclass(frozen=True)
class ParsedSeries:
    """A parsed, validated series and what the parser learned and fixed on the way."""

    frame: pl.DataFrame  # time_s (Float64), timestamp (Datetime us UTC, if any), channels (Float64)
    channels: list[str]  # value channels in file order: header names without units, made unique
    time_kind: str  # "timestamp" | "seconds" | "index"
    time_column: str | None  # the time column's header name without its unit; None for index time
    units: dict[str, str]  # channel (and time column) -> unit, from a units row or "name [unit]" headers
    header_metadata: dict[str, str]  # "key: value" lines before the table
    encoding: str  # "utf-8" | "utf-8-sig" | "utf-16" | "latin-1"
    delimiter: str  # "," | ";" | "\t"
    decimal_comma: bool
    header_line: int  # 1-based line of the header row; 0 when the file has no header
    notes: list[str]  # what was fixed, for people
    duplicate_rows_dropped: int
    rows: int


class _Row(NamedTuple):
    line: int
    text: str
    fields: list[str]


@dataclass(frozen=True)
class _Column:
    index: int
    header: str  # as written in the header, stripped ("" without a header)
    name: str  # header without its unit, or ``ch<n>``
    unit: str
    kind: str  # "number" | "timestamp" | "text"

    @property
    def key(self) -> str:
        """The column's name while reading (header names may be anything)."""
        return _key(self.index)


def _key(index: int) -> str:
    return f"__c{index}"


@dataclass(frozen=True)
class _Layout:
    delimiter: str
    width: int  # fields per line, counting the empty field after a trailing delimiter
    trailing: bool
    decimal_comma: bool
    header_line: int  # 0 without a header
    first_data_line: int
    columns: list[_Column]
    metadata: dict[str, str]
    sample_rows: int  # table rows in the sniffed head


@dataclass(frozen=True)
class _TimeAxis:
    kind: str  # "timestamp" | "seconds" | "index"
    column: _Column | None = None
    unit: str = ""
    factor: float = 1.0


# -- public API ----------------------------------------------------------------------------------------
def parse_instrument_csv(data: bytes, *, name: str = "<file>", time_column: str | None = None,
                         channels: list[str] | None = None, unsorted_time: str = "sort") -> ParsedSeries:
    """Parse and validate an instrument CSV export; raise :class:`ParseError` with a clear message.

    ``time_column`` names the time column (default: detected), ``channels`` the value columns to keep
    (default: every numeric column), ``unsorted_time`` is ``"sort"`` (sort and note it) or ``"reject"``.
    """
    if unsorted_time not in UNSORTED_TIME_OPTIONS:
        raise ValueError(f"unsorted_time must be one of {UNSORTED_TIME_OPTIONS}, not {unsorted_time!r}")
    try:
        return _parse(data, time_column=time_column, channels=channels, unsorted_time=unsorted_time)
    except ParseError as error:
        error.file = name
        raise


def read_header_metadata(data: bytes) -> dict[str, str]:
    """The ``key: value`` metadata lines before the table; ``{}`` when the file cannot be read."""
    try:
        utf8, _ = _decode(data)
        return _find_layout(utf8).metadata
    except ParseError:
        return {}


# -- the steps -----------------------------------------------------------------------------------------
def _parse(data: bytes, *, time_column: str | None, channels: list[str] | None,
           unsorted_time: str) -> ParsedSeries:
    utf8, encoding = _decode(data)
    layout = _find_layout(utf8)
    time = _time_axis(layout, time_column)
    kept, notes = _value_columns(layout, time, channels)
    frame = _read_fast(utf8, layout, time, kept)
    if frame is None:
        frame, kept, dropped = _read_tolerant(utf8, layout, time, kept)
        notes += [f"ignored text column '{column.name}'" for column in dropped]
    frame, time_notes = _with_time(frame, time, kept)
    _validate(frame, kept)
    frame, sort_notes = _order_by_time(frame, time, unsorted_time)
    frame, duplicates = _drop_exact_duplicates(frame, time, kept)
    notes += time_notes + sort_notes
    if duplicates:
        notes.append(f"dropped {duplicates} exact duplicate row{_plural(duplicates)}")
    return ParsedSeries(
        frame=_canonical(frame, time, kept), channels=[c.name for c in kept], time_kind=time.kind,
        time_column=time.column.name if time.column else None, units=_units(time, kept),
        header_metadata=layout.metadata, encoding=encoding, delimiter=layout.delimiter,
        decimal_comma=layout.decimal_comma, header_line=layout.header_line, notes=notes,
        duplicate_rows_dropped=duplicates, rows=frame.height,
    )


# -- bytes to UTF-8 ------------------------------------------------------------------------------------
def _decode(data: bytes) -> tuple[bytes, str]:
    """The file as UTF-8 bytes (a UTF-8 BOM is kept; polars skips it) and the encoding it was in."""
    if not data:
        raise ParseError("the file is empty (0 bytes); the export probably failed, export the data again")
    codec = _utf16_codec(data)
    utf8, encoding = (_from_utf16(data, codec), "utf-16") if codec else _from_8bit(data)
    text = utf8.removeprefix(_UTF8_BOM)
    if not text or text.isspace():
        raise ParseError("the file is empty (only blank lines); export the data again")
    if b"\n" not in utf8 and b"\r" in utf8:
        utf8 = utf8.replace(b"\r", b"\n")
    return utf8, encoding


def _utf16_codec(data: bytes) -> str | None:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    head = data[:4096]
    head = head[: len(head) // 2 * 2]
    if len(head) < 4:
        return None
    even_nul = head[0::2].count(0) / (len(head) // 2)
    odd_nul = head[1::2].count(0) / (len(head) // 2)
    if odd_nul > 0.9 and even_nul < 0.1:
        return "utf-16-le"
    if even_nul > 0.9 and odd_nul < 0.1:
        return "utf-16-be"
    return None


def _from_utf16(data: bytes, codec: str) -> bytes:
    try:
        return data.decode(codec).encode()
    except UnicodeDecodeError:
        raise ParseError("this looks like a binary file, not a CSV text export (it starts like UTF-16 text "
                         "but is not valid UTF-16); export the data again as CSV or text") from None


def _from_8bit(data: bytes) -> tuple[bytes, str]:
    head = data[:65_536]
    if b"\x00" in data or len(head.translate(None, _NOT_CONTROL)) > max(8, len(head) // 100):
        raise ParseError("this looks like a binary file, not a CSV text export; export the data from the "
                         "instrument software as CSV or text")
    if data.isascii():
        return data, "utf-8"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        if data.startswith(_UTF8_BOM) or _UTF8_MULTIBYTE.search(data):
            line = data.count(b"\n", 0, error.start) + 1
            raise ParseError(f"mixed encodings: line {line} has bytes that are not UTF-8 while other lines "
                             "are UTF-8; save the file again with one encoding (UTF-8)", line=line) from None
        return data.decode("latin-1").encode(), "latin-1"
    return data, "utf-8-sig" if data.startswith(_UTF8_BOM) else "utf-8"


# -- sniffing the layout from the head -----------------------------------------------------------------
def _find_layout(utf8: bytes) -> _Layout:
    """Delimiter, metadata, header, units row, first data line and column kinds, from the head.

    A larger head is read only when the table starts so late that the head holds few of its rows.
    """
    for size in _HEAD_SIZES:
        last = len(utf8) <= size or size == _HEAD_SIZES[-1]
        try:
            layout = _layout_of(_head_lines(utf8, size))
        except ParseError:
            if last:
                raise
            continue
        if last or layout.sample_rows >= _MIN_SAMPLE_ROWS:
            return layout
    raise AssertionError("unreachable: the last head size always returns or raises")


def _head_lines(utf8: bytes, size: int) -> list[str]:
    text = utf8[:size].decode("utf-8", errors="ignore").lstrip("\ufeff")
    lines = text.split("\n")
    if len(utf8) > size:
        lines = lines[:-1]
    return [line.rstrip("\r") for line in lines]


def _layout_of(lines: list[str]) -> _Layout:
    """The layout read from the head's lines: the table is the run of like rows at the end."""
    texts = [(number, line) for number, line in enumerate(lines, start=1)
             if line.strip() and not line.startswith("#")]
    if not texts:
        raise ParseError("no table of numbers found: the file has only comments or blank lines; "
                         "is this the right file?")
    delimiter, width = _sniff_delimiter([text for _, text in texts])
    rows = [_Row(number, text, _split(text, delimiter)) for number, text in texts]
    start = _data_start(rows, width)
    if start is None:
        raise _no_data_error(rows, delimiter)
    sample = [row for row in rows[start:start + _PROFILE_ROWS] if len(row.fields) == width]
    trailing = width > 1 and all(row.fields[-1] == "" for row in sample)
    header, units = _header_and_units(rows[:start], width, trailing)
    trailing = trailing and (header is None or len(header.fields) < width or header.fields[-1] == "")
    used = width - trailing
    first_line = rows[start].line
    return _Layout(
        delimiter=delimiter, width=width, trailing=trailing,
        decimal_comma=delimiter != "," and _has_comma_decimals(sample),
        header_line=header.line if header else 0, first_data_line=first_line,
        columns=_columns(header, units, sample, used),
        metadata=_metadata(lines[: (header.line if header else first_line) - 1], delimiter),
        sample_rows=len(sample),
    )


def _sniff_delimiter(texts: list[str]) -> tuple[str, int]:
    """The delimiter and field count (>= 2) shared by the most lines at the end of the head (the table).

    Ties go to the earlier of ``DELIMITERS``: with ``;`` or tab, commas are decimal commas.
    """
    best = (0, ",", 1)
    for delimiter in DELIMITERS:
        counts = [_field_count(text, delimiter) for text in texts]
        for width in sorted({count for count in counts[-5:] if count >= 2}, reverse=True):
            score = _table_rows_at_end(counts, width)
            if score > best[0]:
                best = (score, delimiter, width)
    return best[1], best[2]


def _table_rows_at_end(counts: list[int], width: int, patience: int = 3) -> int:
    """Lines with ``width`` fields counted back from the end, until ``patience`` other lines in a row."""
    matched = misses = 0
    for count in reversed(counts):
        if count == width:
            matched, misses = matched + 1, 0
            continue
        misses += 1
        if misses >= patience:
            break
    return matched


def _field_count(text: str, delimiter: str) -> int:
    return text.count(delimiter) + 1 if '"' not in text else len(_split(text, delimiter))


def _split(text: str, delimiter: str) -> list[str]:
    if '"' not in text:
        return [part.strip() for part in text.split(delimiter)]
    return [part.strip() for part in next(csv.reader([text], delimiter=delimiter), [])]


def _data_start(rows: list[_Row], width: int) -> int | None:
    """Index of the first data row: numbers (or timestamps) where the table's last rows have them."""
    fitting = [row for row in rows if len(row.fields) == width]
    value_columns = {j for row in fitting[-50:] for j, cell in enumerate(row.fields) if _is_value(cell)}
    start = next((i for i, row in enumerate(rows) if _is_data_row(row, width, value_columns)), None)
    if start is None:
        return None
    while start > 0 and _has_values(rows[start - 1], width, value_columns):
        start -= 1  # a data row with a bad cell: keep it, so the reader can point at the cell
    return start


def _is_data_row(row: _Row, width: int, value_columns: set[int]) -> bool:
    if len(row.fields) != width or not value_columns:
        return False
    cells = [row.fields[j] for j in value_columns]
    return all(_is_value(c) or _is_missing(c) for c in cells) and any(_is_value(c) for c in cells)


def _has_values(row: _Row, width: int, value_columns: set[int]) -> bool:
    return len(row.fields) == width and any(_is_value(row.fields[j]) for j in value_columns)


def _header_and_units(above: list[_Row], width: int, trailing: bool) -> tuple[_Row | None, _Row | None]:
    """The header row (and a units row under it) directly above the first data row, if any."""
    def fits(row: _Row) -> bool:
        return len(row.fields) == width or (trailing and len(row.fields) == width - 1)

    if len(above) >= 2 and fits(above[-1]) and fits(above[-2]) \
            and _is_units_row(above[-1].fields) and _is_header_row(above[-2].fields):
        return above[-2], above[-1]
    if above and fits(above[-1]) and _is_header_row(above[-1].fields):
        return above[-1], None
    return None, None


def _no_data_error(rows: list[_Row], delimiter: str) -> ParseError:
    """Say why no data row was found: a header (and units row) only, or no table at all (prose)."""
    def only_metadata(before: list[_Row]) -> bool:
        return all(_key_value(row.text, delimiter) for row in before)

    *before, last = rows
    if before and _is_units_row(last.fields) and _is_header_row(before[-1].fields) \
            and only_metadata(before[:-1]):
        return ParseError(f"the file has a header (line {before[-1].line}) and a units row "
                          f"(line {last.line}) but no data rows; the export stopped before the data, "
                          "export it again")
    if _is_header_row(last.fields) and only_metadata(before):
        return ParseError(f"the file has a header (line {last.line}) but no data rows; "
                          "the export stopped before the data, export it again")
    return ParseError("no table of numbers found: no lines of numbers separated by ',', ';' or tab; "
                      "is this the right file?")


def _columns(header: _Row | None, units: _Row | None, sample: list[_Row], used: int) -> list[_Column]:
    headers = _padded(header.fields if header else [], used)
    unit_cells = _padded(units.fields if units else [], used)
    columns = []
    for j in range(used):
        name, header_unit = _name_and_unit(headers[j])
        unit = _strip_brackets(unit_cells[j]) or header_unit
        kind = _column_kind([row.fields[j] for row in sample])
        columns.append(_Column(j, headers[j], name or f"ch{j + 1}", unit, kind))
    return columns


def _padded(fields: list[str], width: int) -> list[str]:
    return (fields + [""] * width)[:width]


def _name_and_unit(header: str) -> tuple[str, str]:
    match = _NAME_WITH_UNIT.match(header)
    if match is None:
        return header, ""
    if match["square"] is not None:
        return match["name"], match["square"].strip()
    unit = match["round"].strip()
    return (match["name"], unit) if _UNIT.match(unit) else (header, "")


def _strip_brackets(cell: str) -> str:
    if _is_missing(cell):
        return ""
    if len(cell) >= 2 and cell[0] + cell[-1] in ("[]", "()"):
        return cell[1:-1].strip()
    return cell


def _column_kind(cells: list[str]) -> str:
    """``number`` if any cell is a number (an all-empty column too), else ``timestamp`` or ``text``."""
    numbers = sum(1 for c in cells if _NUMBER.match(c))
    stamps = sum(1 for c in cells if _TIMESTAMP.match(c))
    texts = sum(1 for c in cells if not _is_missing(c)) - numbers - stamps
    if numbers:
        return "number"
    if stamps > texts:
        return "timestamp"
    return "text" if texts else "number"


def _has_comma_decimals(sample: list[_Row]) -> bool:
    return any(_COMMA_DECIMAL.match(cell) for row in sample for cell in row.fields)


def _is_value(cell: str) -> bool:
    return bool(_NUMBER.match(cell) or _TIMESTAMP.match(cell))


def _is_missing(cell: str) -> bool:
    return cell.lower() in _MISSING


def _is_label(cell: str) -> bool:
    return not _is_value(cell) and len(cell) <= 64 and len(cell.split()) <= 6


def _is_header_row(fields: list[str]) -> bool:
    if not fields or not fields[0] or not all(_is_label(f) for f in fields if f):
        return False
    return len(fields) > 1 or not re.search(r"[:=]\s*\S", fields[0])


def _is_units_row(fields: list[str]) -> bool:
    units = [_strip_brackets(f) for f in fields]
    bracketed = [len(f) >= 2 and f[0] + f[-1] == "[]" for f in fields]
    return any(units) and all(not u or sq or _UNIT.match(u) for u, sq in zip(units, bracketed))


# -- metadata lines before the table -------------------------------------------------------------------
def _metadata(lines: list[str], delimiter: str) -> dict[str, str]:
    pairs = (_comment_pair(line) if line.startswith("#") else _key_value(line, delimiter) for line in lines)
    return dict(pair for pair in pairs if pair)


def _comment_pair(line: str) -> tuple[str, str] | None:
    """``# key: value`` or ``#key = value``: split on the first ``:`` or ``=``."""
    body = line.lstrip("#").strip()
    at = min((i for i in (body.find(":"), body.find("=")) if i > 0), default=-1)
    if at < 0 or not _is_label(body[:at].strip()):
        return None
    return body[:at].strip(), body[at + 1:].strip()


def _key_value(line: str, delimiter: str) -> tuple[str, str] | None:
    """``key: value`` or ``key<delimiter>value`` (first field a short label, not a number)."""
    for separators in ((delimiter, ":", "="), (",", ";", "\t")):
        at = min((i for i in (line.find(s) for s in separators) if i > 0), default=-1)
        if at > 0:
            key = line[:at].strip().strip('"').strip()
            value = line[at + 1:].strip().rstrip(delimiter).strip().strip('"')
            return (key, value) if key and _is_label(key) else None
    return None


# -- time and value columns ----------------------------------------------------------------------------
def _time_axis(layout: _Layout, requested: str | None) -> _TimeAxis:
    column = _time_column(layout, requested)
    if column is None:
        return _TimeAxis("index")
    if column.kind == "timestamp":
        return _TimeAxis("timestamp", column)
    unit = column.unit or _unit_from_name(column.name)
    factor = TIME_UNITS_IN_SECONDS.get(unit)
    if factor is None:
        raise ParseError(f"time column '{column.name}' has unit '{unit}', which cannot be converted to "
                         f"seconds; use one of {', '.join(TIME_UNITS_IN_SECONDS)}", column=column.name)
    return _TimeAxis("seconds", column, unit, factor)


def _time_column(layout: _Layout, requested: str | None) -> _Column | None:
    columns = layout.columns
    if requested is not None:
        column = _find(columns, requested)
        if column is None:
            raise ParseError(f"time column '{requested}' not found; the columns are "
                             f"{_listing(columns)}; fix time_column in the recipe", column=requested)
        if column.kind == "text":
            raise ParseError(f"time column '{column.name}' holds neither numbers nor ISO-8601 timestamps; "
                             "choose another time_column in the recipe", column=column.name)
        return column
    if len(columns) < 2:
        return None
    named = next((c for c in columns if c.kind != "text" and _is_time_name(c.name)), None)
    return named or (columns[0] if columns[0].kind == "timestamp" else None)


def _is_time_name(name: str) -> bool:
    plain = re.sub(r"[\s-]+", "_", name.strip().lower())
    return plain in TIME_NAMES or bool(_TIME_NAME_WITH_UNIT.match(plain))


def _unit_from_name(name: str) -> str:
    match = _TIME_NAME_WITH_UNIT.match(re.sub(r"[\s-]+", "_", name.strip().lower()))
    return match.group(1) if match else "s"


def _value_columns(layout: _Layout, time: _TimeAxis,
                   requested: list[str] | None) -> tuple[list[_Column], list[str]]:
    """The value channels to read (unique names), and notes about the columns left out."""
    others = [c for c in layout.columns if c is not time.column]
    notes = [f"ignored text column '{c.name}'" for c in others if c.kind != "number" and requested is None]
    if layout.trailing:
        notes.append("ignored the trailing delimiter at the end of each line")
    candidates = [c for c in others if c.kind == "number"] if requested is None else \
        _requested(others, requested)
    return _unique_names(candidates, notes), notes


def _requested(columns: list[_Column], requested: list[str]) -> list[_Column]:
    chosen = []
    for wanted in requested:
        column = _find(columns, wanted)
        if column is None:
            raise ParseError(f"channel '{wanted}' not found; available channels: "
                             f"{_listing([c for c in columns if c.kind == 'number'])}; "
                             "fix channels in the recipe", column=wanted)
        if column.kind != "number":
            raise ParseError(f"channel '{wanted}' holds text, not numbers; choose numeric channels in the "
                             "recipe", column=wanted)
        chosen.append(column)
    return sorted(set(chosen), key=lambda c: c.index)


def _find(columns: list[_Column], wanted: str) -> _Column | None:
    exact = [c for c in columns if wanted.strip() in (c.name, c.header)]
    folded = [c for c in columns if wanted.strip().casefold() in (c.name.casefold(), c.header.casefold())]
    return (exact or folded or [None])[0]


def _listing(columns: list[_Column]) -> str:
    return ", ".join(f"'{c.name}'" for c in columns) or "(none)"


def _unique_names(columns: list[_Column], notes: list[str]) -> list[_Column]:
    seen = {"time_s", "timestamp", "__line"}
    unique = []
    for column in columns:
        name, n = column.name, 2
        while name in seen:
            name, n = f"{column.name}_{n}", n + 1
        if name != column.name:
            notes.append(f"renamed column '{column.name}' to '{name}' (names must be unique)")
        seen.add(name)
        unique.append(replace(column, name=name))
    return unique


# -- reading the body ----------------------------------------------------------------------------------
def _read_fast(utf8: bytes, layout: _Layout, time: _TimeAxis, kept: list[_Column]) -> pl.DataFrame | None:
    """One typed polars read of the body; ``None`` when anything is unusual (the tolerant read explains)."""
    wanted = _wanted(time, kept)
    schema = {_key(j): pl.String for j in range(layout.width)}
    schema.update({c.key: pl.Float64 for c in wanted if c.kind == "number"})
    try:
        frame = pl.read_csv(utf8, has_header=False, separator=layout.delimiter,
                            skip_lines=layout.first_data_line - 1, schema=schema, new_columns=list(schema),
                            decimal_comma=layout.decimal_comma, raise_if_empty=False)
    except pl.exceptions.PolarsError:
        return None
    frame = frame.head(max(frame.height - _trailing_blank_lines(utf8), 0))
    if layout.trailing and frame[_key(layout.width - 1)].null_count() < frame.height:
        return None
    frame = frame.select([c.key for c in wanted])
    if frame.height == 0 or any(frame.null_count().row(0)):
        return None
    return frame.with_columns((pl.int_range(pl.len()) + layout.first_data_line).alias("__line"))


def _wanted(time: _TimeAxis, kept: list[_Column]) -> list[_Column]:
    return ([time.column] if time.column else []) + kept


def _trailing_blank_lines(utf8: bytes) -> int:
    tail = utf8[-4096:]
    content = tail.rstrip()
    return max(tail[len(content):].count(b"\n") - 1, 0) if content else 0


def _read_tolerant(utf8: bytes, layout: _Layout, time: _TimeAxis,
                   kept: list[_Column]) -> tuple[pl.DataFrame, list[_Column], list[_Column]]:
    """Read the body as text, check every line, convert cells; raise at the first bad line or cell."""
    lines = _body_lines(utf8, layout)
    _check_field_counts(lines, layout)
    names = [_key(j) for j in range(layout.width)]
    cells = pl.read_csv(utf8, has_header=False, separator=layout.delimiter, comment_prefix="#",
                        skip_lines=layout.first_data_line - 1, schema=dict.fromkeys(names, pl.String),
                        new_columns=names, raise_if_empty=False)
    if cells.height != lines.height:
        raise ParseError("a quoted field spans several lines; labflow reads one record per line, "
                         "export without line breaks inside quotes")
    frame = (pl.concat([lines, cells], how="horizontal")
             .filter(pl.col("text").str.strip_chars() != "")
             .select("__line", *[c.key for c in _wanted(time, kept)]))
    return _cells_to_numbers(frame, layout, time, kept)


def _body_lines(utf8: bytes, layout: _Layout) -> pl.DataFrame:
    """Every non-comment line of the body with its 1-based line number in the file."""
    lines = pl.read_csv(utf8, has_header=False, separator="\x00", quote_char=None,
                        skip_lines=layout.first_data_line - 1, schema={"text": pl.String},
                        new_columns=["text"], raise_if_empty=False)
    return (lines.with_row_index("__line", offset=layout.first_data_line)
            .with_columns(pl.col("__line").cast(pl.Int64), pl.col("text").fill_null(""))
            .filter(~pl.col("text").str.starts_with("#")))


def _check_field_counts(lines: pl.DataFrame, layout: _Layout) -> None:
    text = pl.col("text").str.strip_chars_end()
    if layout.trailing:
        text = text.str.strip_suffix(layout.delimiter)
    expected = layout.width - layout.trailing
    counts = lines.select(
        "__line", blank=pl.col("text").str.strip_chars() == "",
        fields=text.str.replace_all(r'"[^"]*"', "").str.count_matches(layout.delimiter, literal=True) + 1,
    )
    i = _first_row(counts, ~pl.col("blank") & (pl.col("fields") != expected))
    if i is None:
        return
    line, fields = counts["__line"][i], counts["fields"][i]
    where = f"the header (line {layout.header_line})" if layout.header_line else \
        f"the first data row (line {layout.first_data_line})"
    raise ParseError(f"line {line} has {fields} field{_plural(fields)} but {where} has {expected}; "
                     "check that line for a stray delimiter or a missing value", line=line)


def _cells_to_numbers(frame: pl.DataFrame, layout: _Layout, time: _TimeAxis,
                      kept: list[_Column]) -> tuple[pl.DataFrame, list[_Column], list[_Column]]:
    """Cells to Float64; a column without a single number is text (dropped), a bad cell is an error."""
    numeric = [c for c in _wanted(time, kept) if c.kind == "number"]
    cells = frame.with_columns(_cleaned_cell(c.key, layout.decimal_comma) for c in numeric)
    numbers = cells.with_columns(pl.col(c.key).cast(pl.Float64, strict=False) for c in numeric)
    text_only = [c for c in kept if c in numeric and numbers[c.key].null_count() == numbers.height
                 and cells[c.key].null_count() < cells.height]
    _raise_first_bad_cell(cells, numbers, [c for c in numeric if c not in text_only])
    kept = [c for c in kept if c not in text_only]
    return numbers.select("__line", *[c.key for c in _wanted(time, kept)]), kept, text_only


def _cleaned_cell(column: str, decimal_comma: bool) -> pl.Expr:
    cell = pl.col(column).str.strip_chars()
    cell = pl.when(cell.str.to_lowercase().is_in(list(_MISSING))).then(None).otherwise(cell)
    cell = cell.str.replace(",", ".", literal=True) if decimal_comma else cell
    return cell.alias(column)


def _raise_first_bad_cell(cells: pl.DataFrame, numbers: pl.DataFrame, columns: list[_Column]) -> None:
    """Raise for the earliest cell (by line, then column) that is text where a number belongs."""
    bad = [(i, c) for c in columns
           if (i := _first_true(cells[c.key].is_not_null() & numbers[c.key].is_null())) is not None]
    if not bad:
        return
    i, column = min(bad, key=lambda hit: (hit[0], hit[1].index))
    line, value = cells["__line"][i], cells[column.key][i]
    raise ParseError(f"column '{column.name}', line {line}: '{value}' is not a number; fix or delete the "
                     "value (leave a missing value empty or write NaN)", line=line, column=column.name)


# -- time, validation, order ---------------------------------------------------------------------------
def _with_time(frame: pl.DataFrame, time: _TimeAxis, kept: list[_Column]) -> tuple[pl.DataFrame, list[str]]:
    """Rename to channel names and add ``timestamp`` / ``time_s`` from the time column."""
    frame = frame.rename({c.key: c.name for c in kept})
    frame = frame.with_columns(pl.col(c.name).fill_nan(None) for c in kept)
    if time.column is None:
        return frame, []
    source = time.column.key
    if time.kind == "timestamp":
        return _with_timestamps(frame, source, time.column.name).drop(source), []
    _check_time_cells(frame, source, time.column.name)
    frame = frame.with_columns((pl.col(source) * time.factor).alias("time_s")).drop(source)
    notes = [] if time.factor == 1.0 else [f"converted time from {time.unit} to seconds"]
    return frame, notes


def _with_timestamps(frame: pl.DataFrame, source: str, name: str) -> pl.DataFrame:
    """Parse ISO-8601 text (shaped like its first value; naive means UTC) into a UTC ``timestamp``."""
    text = pl.col(source).str.strip_chars()
    first = frame.select(text.drop_nulls().first()).item() or "0000-00-00T"
    date_time = f"%Y-%m-%d{first[10]}%H:%M:%S%.f"
    if re.search(r"[+-]\d{2}:?\d{2}$", first):
        parsed = text.str.strptime(pl.Datetime("us", "UTC"), f"{date_time}%z", strict=False)
    else:
        suffix = "Z" if first.endswith("Z") else ""
        parsed = text.str.strptime(pl.Datetime("us"), date_time + suffix, strict=False)
        parsed = parsed.dt.replace_time_zone("UTC")
    frame = frame.with_columns(parsed.alias("timestamp"))
    i = _first_row(frame, pl.col("timestamp").is_null())
    if i is not None:
        line, value = frame["__line"][i], frame[source][i]
        what = "the time is missing" if value is None or _is_missing(value.strip()) else \
            f"'{value}' is not an ISO-8601 timestamp like {first}"
        raise ParseError(f"time column '{name}', line {line}: {what}; every row needs a time",
                         line=line, column=name)
    return frame


def _check_time_cells(frame: pl.DataFrame, source: str, name: str) -> None:
    i = _first_row(frame, pl.col(source).is_null() | ~pl.col(source).is_finite())
    if i is None:
        return
    line, value = frame["__line"][i], frame[source][i]
    what = "the time is missing" if value is None or value != value else f"'{value}' is not a finite number"
    raise ParseError(f"time column '{name}', line {line}: {what}; every row needs a finite time",
                     line=line, column=name)


def _validate(frame: pl.DataFrame, kept: list[_Column]) -> None:
    """At least three rows with a number, no empty channel, only finite values."""
    if not kept:
        raise ParseError("no numeric value columns found; the file needs at least one column of numbers "
                         "besides time")
    names = [c.name for c in kept]
    points = frame.select(pl.any_horizontal(pl.col(names).is_not_null()).sum()).item()
    if points < MIN_POINTS:
        raise ParseError(f"only {points} data row{_plural(points)}; at least {MIN_POINTS} numeric points are "
                         "needed; check that the export is complete")
    for name in names:
        if frame[name].null_count() == frame.height:
            raise ParseError(f"channel '{name}' has no numeric values (every cell is empty or a missing "
                             "marker); remove the column or choose channels in the recipe", column=name)
    for name in names:
        i = _first_row(frame, pl.col(name).is_infinite())
        if i is not None:
            line = frame["__line"][i]
            raise ParseError(f"column '{name}', line {line}: '{frame[name][i]}' is not a finite number; "
                             "replace it with the measured value or leave the cell empty",
                             line=line, column=name)


def _time_key(time: _TimeAxis) -> str:
    return "timestamp" if time.kind == "timestamp" else "time_s"


def _order_by_time(frame: pl.DataFrame, time: _TimeAxis,
                   unsorted_time: str) -> tuple[pl.DataFrame, list[str]]:
    """Sort by time (with a note) or refuse, as ``unsorted_time`` says."""
    if time.kind == "index":
        return frame, []
    key = pl.col(_time_key(time))
    i = _first_row(frame, key < key.shift(1))
    if i is None:
        return frame, []
    if unsorted_time == "reject":
        line = frame["__line"][i]
        raise ParseError(f"time goes backwards at line {line} ({_time_text(frame, time, i)} after "
                         f"{_time_text(frame, time, i - 1)}); sort the export by time or set "
                         "unsorted_time: sort in the recipe", line=line)
    moved = frame.select((key < key.cum_max().shift(1)).sum()).item()
    note = f"sorted {moved} row{_plural(moved)} into time order"
    return frame.sort(_time_key(time), maintain_order=True), [note]


def _drop_exact_duplicates(frame: pl.DataFrame, time: _TimeAxis,
                           kept: list[_Column]) -> tuple[pl.DataFrame, int]:
    """Drop rows repeating the previous row exactly; refuse a repeated time with other values."""
    if time.kind == "index":
        return frame, 0
    key = pl.col(_time_key(time))
    same_time = key == key.shift(1)
    if _first_row(frame, same_time) is None:
        return frame, 0
    same_values = pl.all_horizontal([pl.col(c.name).eq_missing(pl.col(c.name).shift(1)) for c in kept])
    i = _first_row(frame, same_time & ~same_values)
    if i is not None:
        first, second = sorted((frame["__line"][i - 1], frame["__line"][i]))
        raise ParseError(f"time {_time_text(frame, time, i)} appears on lines {first} and {second} with "
                         "different values; the instrument log is ambiguous, keep one of the rows",
                         line=second)
    duplicate = frame.select(same_time & same_values).to_series()
    return frame.filter(~duplicate), int(duplicate.sum())


def _time_text(frame: pl.DataFrame, time: _TimeAxis, i: int) -> str:
    if time.kind == "timestamp":
        return frame["timestamp"][i].isoformat()
    return f"{frame['time_s'][i] / time.factor:g}"


def _canonical(frame: pl.DataFrame, time: _TimeAxis, kept: list[_Column]) -> pl.DataFrame:
    channels = [pl.col(c.name) for c in kept]
    if time.kind == "index":
        return frame.select(pl.int_range(pl.len()).cast(pl.Float64).alias("time_s"), *channels)
    if time.kind == "timestamp":
        seconds = (pl.col("timestamp") - pl.col("timestamp").first()).dt.total_microseconds() / 1e6
        return frame.select(seconds.cast(pl.Float64).alias("time_s"), "timestamp", *channels)
    return frame.select(pl.col("time_s").cast(pl.Float64), *channels)


def _units(time: _TimeAxis, kept: list[_Column]) -> dict[str, str]:
    columns = _wanted(time, kept)
    return {c.name: c.unit for c in columns if c.unit}


def _first_row(frame: pl.DataFrame, condition: pl.Expr) -> int | None:
    """Index of the first row where ``condition`` holds, or ``None``."""
    return frame.select(condition.arg_true().first()).item()


def _first_true(mask: pl.Series) -> int | None:
    return _first_row(mask.to_frame("mask"), pl.col("mask"))


def _plural(count: int) -> str:
    return "" if count == 1 else "s"
