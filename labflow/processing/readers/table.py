"""Delimited tables inside text exports: find the table, its header and units row, and turn its columns
into an axis and channels. The generic delimited reader and most vendor readers share this.

>>> text = "Operator: Ada\\nTime [s];Signal [mV];Sample\\n0;1,5;A\\n1;2,5;B\\n2;0,5;C\\n"
>>> table = find_table(text.splitlines())
>>> table.delimiter, table.decimal_comma, table.metadata
(';', True, {'Operator': 'Ada'})
>>> block, notes = table_block(table, "data")
>>> block.axis.kind, block.axis.unit, [(c.name, c.role) for c in block.channels]
('time', 's', [('Signal', 'signal'), ('Sample', 'text')])
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl

from labflow.processing.readers.base import ReadRefused
from labflow.processing.readers.text import (COMMA_DECIMAL, axis_kind_of, bad_cells, floats, is_missing,
                                             is_number, kind_of_unit, missing_mask, monotonic, name_and_unit,
                                             plural, unique_names)
from labflow.processing.series import Axis, Block, Channel

DELIMITERS = ("\t", ";", ",", " ")
"""Candidate delimiters in order of preference; ``" "`` means runs of spaces (aligned columns)."""
TIME_UNITS_IN_SECONDS = {"s": 1.0, "sec": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "min": 60.0, "h": 3600.0,
                         "hr": 3600.0, "d": 86400.0}
SNIFF_LINES = 2_000
"""Lines the layout (delimiter, header, first data row) is told from; the whole body is then read."""
EPOCH_RANGE = (9.0e8, 2.5e9)  # Unix seconds from 1998 to 2049: a logger's clock, not a measured value
STATUS_NAMES = re.compile(r"^(?:mode|ox/red|error|control changes|counter inc\.?|cycle(?: number| [pc])?|"
                          r"ns|i range|rec|step|md|es|status|ier?ange|pt|point ?#?|segment ?#?|range|"
                          r"reasoncode|current range|e2 status|actionid|cell|rack|shelf|position|test|"
                          r"experiment_number|technique_number|ns changes|half cycle)$", re.I)

_TIME_WITH_UNIT = re.compile(r"^(?:time|t|elapsed|elapsed_time|zeit)_(s|ms|us|min|h)$", re.I)
_CLOCK = re.compile(r"^(\d{1,3}):(\d{2}):(\d{2}(?:\.\d+)?)$")
_CLOCK_12 = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?\s*([AaPp][Mm])$")
_DATE_TIME = re.compile(r"^(?P<date>\d{1,4}[./-]\d{1,2}[./-]\d{1,4})(?:[T ]+(?P<time>\d{1,2}:\d{2}(?::\d{2}"
                        r"(?:\.\d+)?)?(?:\s*[AaPp][Mm])?)(?P<tz>Z|[+-]\d{2}:?\d{2})?)?$")


@dataclass
class Table:
    """A table found in a text: header cells, units, the data rows' cells and what stood above it."""

    delimiter: str
    decimal_comma: bool
    header: list[str]
    units: list[str]
    rows: list[list[str]]
    lines: Sequence[int]  # 1-based line number of each row
    metadata: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    header_line: int = 0
    columns: list[pl.Series] | None = None  # the cells column by column, when the body was split at once: text,
    # or Float64 for a column read as numbers at once (finite numbers and empty cells only, see ``bulk``)

    def column(self, j: int) -> pl.Series:
        """The cells of column ``j``: text, or Float64 numbers when the body was read as numbers at once."""
        if self.columns is not None:
            return self.columns[j]
        return pl.Series([row[j] for row in self.rows], dtype=pl.String)

    @property
    def height(self) -> int:
        return len(self.lines)


def split(line: str, delimiter: str) -> list[str]:
    """A line's cells (stripped; quotes removed); ``" "`` splits on runs of whitespace."""
    if delimiter == " ":
        return line.split()
    if '"' in line:
        import csv

        return [cell.strip() for cell in next(csv.reader([line], delimiter=delimiter), [])]
    return [cell.strip() for cell in line.split(delimiter)]


def is_data_row(cells: Sequence[str]) -> bool:
    """Most filled cells are numbers, dates or clock times (labels and missing markers may sit among them)."""
    filled = [c for c in cells if not is_missing(c)]
    numeric = sum(is_number(c) or bool(_CLOCK.match(c)) or bool(_DATE_TIME.match(c)) for c in filled)
    return len(filled) >= 1 and numeric / len(filled) >= 0.5


def sniff_delimiter(lines: Sequence[str], delimiters: Sequence[str] = DELIMITERS) -> tuple[str, int, int]:
    """Delimiter, field count and start index of the longest run of like data rows ending the text.

    Returns ``("", 0, len(lines))`` when there is no table of at least two columns.
    """
    best = ("", 0, len(lines), 0)
    for delimiter in delimiters:
        widths = [len(split(line, delimiter)) if line.strip() else -1 for line in lines]
        start, width, count = _table_run(lines, widths, delimiter)
        if width >= 2 and count > best[3]:
            best = (delimiter, width, start, count)
    return best[0], best[1], best[2]


def _table_run(lines: Sequence[str], widths: list[int], delimiter: str,
               patience: int = 3) -> tuple[int, int, int]:
    """The run of data rows (one width) ending the text. Blank lines, a cut last line and up to
    ``patience`` data rows of another width in a row (stray delimiters, which the read then refuses with
    their line) may sit inside it; a non-data row (the header) ends it."""
    data = [i for i, line in enumerate(lines) if widths[i] >= 2 and is_data_row(split(line, delimiter))]
    if not data:
        return len(lines), 0, 0
    tail = data[-5:]
    width = max(set(widths[i] for i in tail), key=lambda w: (sum(widths[i] == w for i in tail), w))
    start, count, misses, known = len(lines), 0, 0, set(data)
    for i in range(data[-1], -1, -1):
        if widths[i] == -1:
            continue
        is_data = i in known if widths[i] >= 2 else is_data_row(split(lines[i], delimiter))
        if widths[i] == width and is_data:
            start, count, misses = i, count + 1, 0
        elif is_data and misses < patience and widths[i] >= 2:
            misses += 1
        elif i != data[-1]:
            break
    return start, width, count


@dataclass
class Layout:
    """Where a table sits in a text, told from its head: delimiter, field count, header and units rows,
    the metadata above them and the first data row."""

    delimiter: str
    width: int
    header: list[str]
    units: list[str]
    metadata: dict[str, str]
    header_line: int  # 1-based line of the header row; 0 without one
    first_line: int  # 0-based index, among all lines, of the first data row
    start: int  # the same row's index among the lines that are not comments


def uncommented(lines: Sequence[str], comment: str) -> tuple[np.ndarray, pl.Series]:
    """The indices and texts of the lines that are not comments (``comment`` after leading blanks)."""
    every = pl.Series(list(lines), dtype=pl.String)
    commented = every.str.strip_chars_start().str.starts_with(comment).to_numpy() if comment else \
        np.zeros(len(every), dtype=bool)
    return np.flatnonzero(~commented), every.filter(pl.Series(~commented))


def table_layout(lines: Sequence[str], keep: np.ndarray, texts: pl.Series, *,
                 delimiters: Sequence[str] = DELIMITERS, comment: str = "#") -> Layout:
    """The layout of the table ending the text, from the first :data:`SNIFF_LINES` of the lines that are
    not comments (``keep`` and ``texts``, from :func:`uncommented`); ``lines`` may stop anywhere after
    those (only the lines above the table are read for metadata)."""
    head = texts.head(SNIFF_LINES).to_list()
    delimiter, width, start = sniff_delimiter(head, delimiters)
    if not delimiter:
        raise ReadRefused("no table of numbers found (no lines of two or more numbers separated by tabs, "
                          "';', ',' or spaces); is this the right file?")
    above = [j for j in range(start) if head[j].strip()]
    header_at, units_at = _header_rows(head, above, delimiter, width)
    header = _fit(split(head[header_at], delimiter), width) if header_at is not None else [""] * width
    units = _fit(split(head[units_at], delimiter), width) if units_at is not None else [""] * width
    first_meta = header_at if header_at is not None else start
    first_line = int(keep[start]) if start < len(keep) else len(lines)
    metadata = _metadata([head[j] for j in above if j < first_meta] +
                         [line.lstrip(comment).strip() for line in lines[:first_line]
                          if comment and line.lstrip().startswith(comment)], delimiter)
    return Layout(delimiter, width, header, units, metadata,
                  int(keep[header_at]) + 1 if header_at is not None else 0, first_line, start)


def has_decimal_comma(delimiter: str, sample: Sequence[str]) -> bool:
    """Numbers written with a decimal comma among the sampled cells (never in a comma-separated table)."""
    return delimiter != "," and any(COMMA_DECIMAL.match(c) for c in sample)


def find_table(lines: Sequence[str], *, delimiters: Sequence[str] = DELIMITERS,
               comment: str = "#", strict: bool = True) -> Table:
    """The table that ends the text: rows, header and units rows above it, metadata above those.

    ``strict=False`` (for sniffing a head) skips rows of another width instead of refusing them.
    The layout is told from the first :data:`SNIFF_LINES` lines; the body is split at once (polars)
    unless a line is unusual, which the line-by-line read then explains."""
    keep, texts_series = uncommented(lines, comment)
    layout = table_layout(lines, keep, texts_series, delimiters=delimiters, comment=comment)
    start, width, delimiter = layout.start, layout.width, layout.delimiter
    body = texts_series.slice(start)
    filled = (body.str.strip_chars() != "").to_numpy()
    numbers = (keep[start:][filled] + 1).tolist()
    columns = _split_all(body.filter(pl.Series(filled)), width, delimiter)
    if columns is not None:
        rows, notes = [], []
        sample = [c for column in columns for c in column.head(500).to_list() if c]
    else:
        texts = texts_series.to_list()
        rows, numbers, notes = _rows(texts, list(zip(keep.tolist(), texts)), start, width, delimiter, strict)
        sample = [c for row in rows[:500] for c in row]
    return Table(delimiter, has_decimal_comma(delimiter, sample), layout.header, layout.units, rows, numbers,
                 layout.metadata, notes, header_line=layout.header_line, columns=columns)


def _fit(cells: list[str], width: int) -> list[str]:
    return (cells + [""] * width)[:width]


def _header_rows(texts: Sequence[str], above: list[int], delimiter: str,
                 width: int) -> tuple[int | None, int | None]:
    def fits(j: int) -> bool:
        cells = split(texts[j], delimiter)
        return width - 1 <= len(cells) <= width + 1 and not is_data_row(cells)

    if len(above) >= 2 and fits(above[-1]) and fits(above[-2]) and _looks_like_units(
            split(texts[above[-1]], delimiter)):
        return above[-2], above[-1]
    if above and fits(above[-1]):
        return above[-1], None
    return None, None


def _looks_like_units(cells: list[str]) -> bool:
    filled = [c.strip("[]()") for c in cells if c.strip()]
    return bool(filled) and all(len(c) <= 8 and not is_number(c) for c in filled)


def _metadata(lines: list[str], delimiter: str) -> dict[str, str]:
    metadata: dict[str, str] = {}
    for line in lines:
        pair = key_value(line, delimiter)
        if pair:
            metadata.setdefault(*pair)
    return metadata


def key_value(line: str, delimiter: str = ",") -> tuple[str, str] | None:
    """``key: value``, ``key = value`` or ``key<delimiter>value``; None when the line is not a pair."""
    text = line.strip().strip("#$").strip()
    seps = [s for s in (":", "=", delimiter, "\t", ",") if s and s != " "]
    at = min((i for i in (text.find(s) for s in seps) if i > 0), default=-1)
    if at <= 0:
        return None
    key = text[:at].strip().strip('"').strip()
    value = text[at + 1:].strip().strip(delimiter if delimiter != " " else "").strip().strip('"').strip()
    return (key, value) if key and len(key) <= 80 else None


def _split_all(texts: pl.Series, width: int, delimiter: str) -> list[pl.Series] | None:
    """Every line split at once (polars), column by column; None when a line is unusual (quotes, another
    field count) and the line-by-line read must explain it."""
    if delimiter == " " or texts.is_empty() or texts.str.contains('"', literal=True).any():
        return None
    parts = texts.str.split(delimiter)
    if (parts.list.len() != width).any():
        return None
    return [parts.list.get(j).str.strip_chars() for j in range(width)]


def _rows(texts: Sequence[str], kept: list[tuple[int, str]], start: int, width: int,
          delimiter: str, strict: bool = True) -> tuple[list[list[str]], list[int], list[str]]:
    rows, numbers, notes = [], [], []
    body = [(kept[j][0] + 1, texts[j]) for j in range(start, len(texts)) if texts[j].strip()]
    for k, (number, text) in enumerate(body):
        cells = split(text, delimiter)
        if len(cells) == width + 1 and cells[-1] == "":
            cells = cells[:-1]  # a trailing delimiter on this row only
        if len(cells) != width and not strict:
            continue
        if len(cells) != width:
            last = k == len(body) - 1
            if last and len(cells) < width:
                notes.append(f"the last line ({number}) is cut short ({len(cells)} of {width} fields): its "
                             "last field and the missing ones are left empty")
                cells = cells[:-1] + [""] * (width - len(cells) + 1)
            elif last and not is_data_row(cells):
                notes.append(f"skipped the line after the table (line {number}: {text.strip()[:40]!r})")
                continue
            else:
                raise ReadRefused(f"line {number} has {len(cells)} fields but the table has {width}; check "
                                  "that line for a stray delimiter or a missing value", line=number)
        rows.append(cells)
        numbers.append(number)
    return rows, numbers, notes


# -- columns to axis and channels ----------------------------------------------------------------------
@dataclass
class Column:
    """One column of a table, read: float values (seconds for times), kind and what it says about itself."""

    name: str
    unit: str
    values: np.ndarray  # float64; object array of str for text
    kind: str  # "number" | "text" | "datetime" | "clock" | "epoch" | "empty"
    start: datetime | None = None
    note: str = ""


def read_columns(table: Table) -> tuple[list[Column], list[str]]:
    """Every column of the table, typed; notes say what was converted or dropped."""
    notes: list[str] = []
    headers = [h.strip().strip('"') for h in table.header]
    used = len(headers)
    if used > 1 and not headers[-1] and _blank(table.column(used - 1)):
        used -= 1  # a trailing delimiter on every line
    names_units = [name_and_unit(h) for h in headers[:used]]
    names, renames = unique_names([n or "" for n, _ in names_units])
    notes += renames
    columns = []
    for j in range(used):
        cells = table.column(j)
        unit = table.units[j].strip("[]() ") if j < len(table.units) and table.units[j] else names_units[j][1]
        column = _typed(names[j], unit, cells, table)
        if column is None:
            notes.append(f"dropped column {j + 1}: no name and every cell is empty")
            continue
        if column.note:
            notes.append(column.note)
        columns.append(column)
    empty = [c.name for c in columns if c.kind == "empty"]
    if empty:
        notes.append(f"{plural(len(empty), 'column')} empty in every row: {', '.join(empty)}")
    return columns, notes


def _blank(cells: pl.Series) -> bool:
    """Every cell of the column is empty."""
    if cells.dtype == pl.Float64:
        return cells.null_count() == len(cells)
    return cells.fill_null("").str.len_chars().max() in (0, None)


def _typed(name: str, unit: str, series: pl.Series, table: Table) -> Column | None:
    if series.dtype == pl.Float64:
        return _numbers(name, unit, series)
    values = floats(series, table.decimal_comma)
    missing = missing_mask(series) if np.isnan(values).any() else np.zeros(len(values), dtype=bool)
    if missing.all():
        return Column(name, unit, np.full(len(series), np.nan), "empty") if name else None
    bad = bad_cells(series, values)
    label = name or "unnamed column"
    infinite = np.flatnonzero(np.isinf(values))
    if len(infinite):
        i = infinite[0]
        raise ReadRefused(f"column '{label}', line {table.lines[i]}: '{series[int(i)]}' is not a finite number; replace "
                          "it with the measured value or leave the cell empty", line=table.lines[i])
    if not bad:
        return _epoch_or_number(name, unit, values)
    cells = series.to_list()
    filled = [cells[i] for i in np.flatnonzero(~missing)]
    _refuse_broken_times(label, cells, bad, table)
    if len(bad) == len(filled):
        return _times(name, unit, cells) or Column(name, unit, _text(cells), "text")
    first = bad[0]
    return Column(name, unit, _text(cells), "text",
                  note=f"column '{label}', line {table.lines[first]}: {cells[first]!r} is not a number "
                       f"({plural(len(bad), 'text cell')} among its numbers): kept as text, not used as numbers")


def _numbers(name: str, unit: str, series: pl.Series) -> Column | None:
    """A column read as numbers at once: finite values, and NaN (null) only for empty cells."""
    values = series.to_numpy().astype(np.float64)
    if np.isnan(values).all():
        return Column(name, unit, np.full(len(series), np.nan), "empty") if name else None
    return _epoch_or_number(name, unit, values)


def _refuse_broken_times(label: str, cells: list[str], bad: list[int], table: Table) -> None:
    """A column of dates or clock times with a cell that is neither is refused: time must be complete."""
    times = [i for i in bad if _DATE_TIME.match(cells[i].strip()) or _CLOCK.match(cells[i].strip())
             or _CLOCK_12.match(cells[i].strip())]
    odd = [i for i in bad if i not in times]
    if times and odd and len(times) >= len(odd):
        i = odd[0]
        raise ReadRefused(f"time column '{label}', line {table.lines[i]}: '{cells[i]}' is not a date or time like "
                          f"'{cells[times[0]].strip()}'; every row needs a time", line=table.lines[i])


def _text(cells: list[str]) -> np.ndarray:
    return np.array([None if is_missing(c) else c for c in cells], dtype=object)


def _epoch_or_number(name: str, unit: str, values: np.ndarray) -> Column:
    finite = values[np.isfinite(values)]
    epoch_name = name == "" or re.search(r"epoch|unix|timestamp|^time$", name, re.I)
    if epoch_name and len(finite) and EPOCH_RANGE[0] <= finite.min() and finite.max() <= EPOCH_RANGE[1] \
            and unit in ("", "s") and not np.isnan(values).any():
        start = datetime.fromtimestamp(float(values[0]), tz=timezone.utc)
        return Column(name or "time", "s", values - values[0], "epoch", start,
                      note=f"column '{name or '(no name)'}' holds Unix epoch seconds: read as the time axis "
                           f"from {start.isoformat()}")
    return Column(name, unit, values, "number")


def _times(name: str, unit: str, cells: list[str]) -> Column | None:
    """Dates with times (several locales), 12-hour or clock-only times, or hh:mm:ss durations; missing
    cells stay NaN."""
    present = [i for i, c in enumerate(cells) if not is_missing(c)]
    filled = [cells[i].strip() for i in present]
    column = None
    if all(_DATE_TIME.match(c) for c in filled):
        column = _date_times(name, filled)
    elif all(_CLOCK_12.match(c) for c in filled):
        column = _clock(name, np.array([_twelve_hour(c) for c in filled]), "12-hour clock times")
    elif all(_CLOCK.match(c) for c in filled):
        seconds = np.array([_hms(c) for c in filled])
        if "hh:mm" in unit or re.search(r"duration|elapsed|total|step", name, re.I) or seconds.max() >= 86400:
            column = Column(name, "s", seconds, "number")
        else:
            column = _clock(name, seconds, "clock times without a date")
    if column is None or len(present) == len(cells):
        return column
    values = np.full(len(cells), np.nan)
    values[present] = column.values
    column.values = values
    return column


def _hms(cell: str) -> float:
    h, m, s = _CLOCK.match(cell).groups()
    return int(h) * 3600 + int(m) * 60 + float(s)


def _twelve_hour(cell: str) -> float:
    h, m, s, half = _CLOCK_12.match(cell).groups()
    hour = int(h) % 12 + (12 if half.lower() == "pm" else 0)
    return hour * 3600 + int(m) * 60 + float(s or 0)


def _clock(name: str, seconds: np.ndarray, what: str) -> Column:
    days = np.concatenate([[0], np.cumsum(np.diff(seconds) < -43_200)])  # the clock went past midnight
    elapsed = seconds + days * 86_400.0
    note = f"column '{name}' holds {what}: the clock passes midnight {plural(int(days[-1]), 'time')}, a day " \
        "was added each time" if days[-1] else ""
    return Column(name or "time", "s", elapsed - elapsed[0], "clock", note=note)


def _date_times(name: str, cells: list[str]) -> Column | None:
    """Dates in ISO (Y-M-D), European (D.M.Y) or slashed (M/D/Y or D/M/Y) order, with times."""
    order, note = _date_order([_DATE_TIME.match(c)["date"] for c in cells])
    if order is None:
        return None
    stamps = [_stamp(_DATE_TIME.match(c), order) for c in cells]
    if any(s is None for s in stamps):
        return None
    start = stamps[0]
    seconds = np.array([(s - start).total_seconds() for s in stamps])
    text = f"column '{name or '(no name)'}' holds dates read as {order} from {start.isoformat()}: {note}" if note else ""
    return Column(name or "time", "s", seconds, "datetime", start, note=text)


def _date_order(dates: list[str]) -> tuple[str | None, str]:
    parts = [re.split(r"[./-]", d) for d in dates]
    if all(len(p[0]) == 4 for p in parts):
        return "Y-M-D", ""
    if not all(len(p[2]) in (2, 4) for p in parts):
        return None, ""
    if "." in dates[0]:
        return "D.M.Y", ""
    first = max(int(p[0]) for p in parts)
    second = max(int(p[1]) for p in parts)
    if first > 12 >= second:
        return "D/M/Y", ""
    if second > 12 >= first:
        return "M/D/Y", ""
    return "M/D/Y", ("day and month cannot be told apart (no day above 12): month/day order assumed; if the "
                     "instrument writes day/month, the dates are wrong (times within a day are not)")


def _stamp(match: re.Match, order: str) -> datetime | None:
    p = [int(x) for x in re.split(r"[./-]", match["date"])]
    year, month, day = {"Y-M-D": (p[0], p[1], p[2]), "D.M.Y": (p[2], p[1], p[0]),
                        "D/M/Y": (p[2], p[1], p[0]), "M/D/Y": (p[2], p[0], p[1])}[order]
    year += 2000 if year < 100 else 0
    time = match["time"] or "0:00"
    seconds = _twelve_hour(time) if _CLOCK_12.match(time) else _hms(time if time.count(":") == 2 else time + ":00")
    try:
        stamp = datetime(year, month, day, tzinfo=timezone.utc) + timedelta(seconds=seconds)
    except ValueError:
        return None
    if match["tz"] and match["tz"] != "Z":
        sign = 1 if match["tz"][0] == "+" else -1
        hours, minutes = int(match["tz"][1:3]), int(match["tz"][-2:])
        stamp -= sign * timedelta(hours=hours, minutes=minutes)
    return stamp


def _axis_from(column: Column, kind: str) -> Axis:
    return Axis(kind, column.name, column.unit, column.values, start=column.start)


AxisRule = Callable[[list[Column]], tuple[int, str] | None]


def default_axis(columns: list[Column]) -> tuple[int, str] | None:
    """A time column first (named time, or dates / clock / epoch), else a column named like an x axis."""
    for j, column in enumerate(columns):
        if column.kind in ("datetime", "clock", "epoch") and not np.isnan(column.values).any():
            return j, "time"
    for j, column in enumerate(columns):
        suffix = _TIME_WITH_UNIT.match(column.name)
        if column.kind == "number" and suffix and not column.unit:
            column.name, column.unit = column.name, suffix[1]
            return j, "time"
        if column.kind == "number" and axis_kind_of(column.name) == "time" and \
                (column.unit or "s").lower() in TIME_UNITS_IN_SECONDS:
            return j, "time"
    for j, column in enumerate(columns):
        kind = axis_kind_of(column.name) or (kind_of_unit(column.unit) if column.unit else None)
        if column.kind == "number" and kind and kind != "time" and monotonic(column.values):
            return j, kind
    return None


def table_block(table: Table, name: str, *, axis_rule: AxisRule = default_axis, axis_name: str | None = None,
                roles: Callable[[Column], str] | None = None, main: str | None = None) -> tuple[Block, list[str]]:
    """The table as a block: the axis chosen by ``axis_name`` (a column) or ``axis_rule``, the rest channels.

    Without an axis column the axis is the row index, with a note.
    """
    columns, notes = read_columns(table)
    if not columns:
        raise ReadRefused("the table has no columns with values")
    picked = _named_axis(columns, axis_name) if axis_name else axis_rule(columns)
    if picked is None:
        axis = Axis("index", "row", "", np.arange(table.height, dtype=np.float64))
        notes.append("no column says it is the x axis (time, frequency, wavelength, ...): the axis is the "
                     "row number; name the axis column with the axis: option")
        rest = columns
    else:
        j, kind = picked
        axis = _axis_from(columns[j], kind)
        rest = columns[:j] + columns[j + 1:]
        missing = np.flatnonzero(~np.isfinite(axis.values))
        if len(missing):
            line = table.lines[missing[0]]
            raise ReadRefused(f"axis column '{axis.name}', line {line}: the value is missing; every row needs "
                              f"its {axis.kind.replace('_', ' ')}", line=line)
        if kind == "time":
            if not axis.unit:
                axis = Axis("time", axis.name, "s", axis.values, axis.start)
                notes.append(f"the time column '{axis.name}' names no unit: seconds assumed")
            axis, rest, order_notes = _time_order(axis, rest, table.lines)
            notes += order_notes
    role_of = roles or default_role
    channels = [Channel(c.name or f"column {k + 1}", c.unit, c.values,
                        role="text" if c.kind == "text" else role_of(c)) for k, c in enumerate(rest)]
    fixed, renames = unique_names([c.name for c in channels], {axis.name})
    channels = [Channel(n, c.unit, c.values, c.role) for n, c in zip(fixed, channels)]
    block = Block(name, axis, channels, main=main if main in fixed else None)
    if not block.signals:
        notes.append("no measured channel: every column is the axis, a status code or text")
    return block, notes + renames


def _time_order(axis: Axis, columns: list[Column], numbers: list[int]) -> tuple[Axis, list[Column], list[str]]:
    """Time in order: rows out of order are sorted (noted); a row repeating the one before is dropped
    (noted); the same time twice with other values is refused (the log is ambiguous)."""
    notes: list[str] = []
    t = axis.values
    if len(t) > 1 and (np.diff(t) < 0).any():
        order = np.argsort(t, kind="stable")
        moved = int((t < np.maximum.accumulate(t)).sum())
        notes.append(f"sorted {plural(moved, 'row')} into time order")
        t, numbers = t[order], [numbers[i] for i in order]
        columns = [_take(c, order) for c in columns]
    same = np.flatnonzero(np.diff(t) == 0) + 1
    if len(same):
        repeats = [i for i in same if all(_same(c.values[i], c.values[i - 1]) for c in columns)]
        other = [i for i in same if i not in repeats]
        if other:
            i = other[0]
            first, second = sorted((numbers[i - 1], numbers[i]))
            raise ReadRefused(f"time {t[i]:g} appears on lines {first} and {second} with different values; the log "
                              "is ambiguous, keep one of the rows", line=second)
        keep = np.setdiff1d(np.arange(len(t)), repeats)
        notes.append(f"dropped {plural(len(repeats), 'exact duplicate row')}")
        t = t[keep]
        columns = [_take(c, keep) for c in columns]
    return Axis(axis.kind, axis.name, axis.unit, t, axis.start), columns, notes


def _take(column: Column, index: np.ndarray) -> Column:
    return Column(column.name, column.unit, column.values[index], column.kind, column.start, column.note)


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    return a == b


def _named_axis(columns: list[Column], wanted: str) -> tuple[int, str]:
    for j, column in enumerate(columns):
        if wanted.casefold() in (column.name.casefold(), f"{column.name} ({column.unit})".casefold()):
            if column.kind == "text":
                raise ReadRefused(f"the axis column '{wanted}' holds text, not numbers")
            kind = "time" if column.kind in ("datetime", "clock", "epoch") else \
                axis_kind_of(column.name) or kind_of_unit(column.unit) or "index"
            return j, kind
    raise ReadRefused(f"axis column '{wanted}' not found; columns: {', '.join(c.name for c in columns)}")


def default_role(column: Column) -> str:
    """``status`` for mode / cycle / range / step codes, ``axis`` for another x axis, else ``signal``."""
    if STATUS_NAMES.match(column.name.strip()):
        return "status"
    if column.kind in ("datetime", "clock", "epoch"):
        return "axis"
    return "signal"


def fixed_table(lines: Sequence[str], header_at: int | None, delimiter: str, *, first_data: int | None = None,
                end: int | None = None, units_at: int | None = None, width: int | None = None,
                metadata: dict[str, str] | None = None) -> Table:
    """A table whose place the format declares: header row index (0-based), data from ``first_data``
    (default: the line after the header / units row) up to ``end`` (exclusive). Blank lines are skipped;
    a row with another field count is refused with its line number."""
    header = split(lines[header_at], delimiter) if header_at is not None else []
    width = width or len(header)
    if header and header[-1] == "" and width == len(header):
        width -= 1
        header = header[:-1]
    start = first_data if first_data is not None else max(i for i in (header_at, units_at) if i is not None) + 1
    stop = len(lines) if end is None else end
    kept = [(i, lines[i]) for i in range(start, stop)]
    rows, numbers, notes = _rows([t for _, t in kept], kept, 0, width, delimiter) if kept else ([], [], [])
    sample = [c for row in rows[:500] for c in row]
    units = _fit(split(lines[units_at], delimiter), width) if units_at is not None else [""] * width
    return Table(delimiter, has_decimal_comma(delimiter, sample),
                 _fit(header, width), units, rows, numbers, dict(metadata or {}), notes,
                 header_line=header_at + 1 if header_at is not None else 0)
