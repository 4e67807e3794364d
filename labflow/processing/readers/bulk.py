"""A plain delimited table's body read at once with ``polars.read_csv``: the delimited reader's fast path.

The layout (delimiter, header and units rows, metadata, first data row, decimal mark) is told from the
file's head by the same functions as :func:`~labflow.processing.readers.table.find_table`; only the body
is parsed by polars instead of line by line, columns of numbers straight to Float64. The result is the
table the line-by-line read gives, or ``None`` wherever polars could read the body otherwise: quotes,
``#``, blank or comment lines inside the table, a line with another field count, and after the head
(the first :data:`~labflow.processing.readers.table.SNIFF_LINES` lines, decoded as before) bytes that are
not ASCII or line ends other than LF / CRLF. A NaN, an infinity or a later cell that is not a number in a
column of numbers makes the body be read again as text, typed as the line-by-line read types it. On
``None`` the caller reads the file line by line, which also explains the unusual line (a ragged row's
refusal, a cut last line's note, a skipped trailer).

>>> table = bulk_table(b"# operator: Ada\\ntime (s);signal (mV)\\n0;1,5\\n1;\\n2;0,5\\n")
>>> table.delimiter, table.decimal_comma, table.metadata, list(table.lines)
(';', True, {'operator': 'Ada'}, [3, 4, 5])
>>> table.column(0).to_list(), table.column(1).to_list()
([0.0, 1.0, 2.0], [1.5, None, 0.5])
>>> bulk_table(b'time,signal\\n0,1\\n1,"2"\\n2,3\\n') is None  # quotes: read line by line
True
"""

from __future__ import annotations

import numpy as np
import polars as pl

from labflow.processing.readers.base import ReadRefused
from labflow.processing.readers.table import (SNIFF_LINES, Layout, Table, has_decimal_comma, split, table_layout,
                                              uncommented)
from labflow.processing.readers.text import decode, is_number, lines, looks_binary

COMMENT = "#"
SAMPLE_ROWS = 500
"""Body rows the decimal mark and the columns of numbers are told from (as :func:`find_table` tells the mark)."""
_ODD_BYTES = (b'"', b"#", b"\x00", b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e")
"""Quotes (split otherwise line by line), ``#`` (comment lines inside the table are skipped line by line),
NUL, and the line breaks of ``str.splitlines`` that polars does not break at."""


def bulk_table(data: bytes) -> Table | None:
    """The table ending ``data``, its body read by polars; None when only the line-by-line read is sure."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or looks_binary(data):
        return None
    head = _head(data)
    if head is None:
        return None
    head_lines, keep, texts, tail = head
    try:
        layout = table_layout(head_lines, keep, texts, comment=COMMENT)
    except ReadRefused:
        return None
    if layout.delimiter == " ":
        return None  # aligned columns
    body = _body(head_lines[layout.first_line:], tail)
    rows = body.count(b"\n") if body is not None else 0
    if not rows or body.count(layout.delimiter.encode()) != rows * (layout.width - 1):
        return None  # polars fills a short line with nulls: every line must have the table's field count
    sample = [split(line, layout.delimiter) for line in lines(body[:_after_newlines(body, SAMPLE_ROWS)].decode())]
    decimal_comma = has_decimal_comma(layout.delimiter, [cell for row in sample for cell in row])
    frame = _frame(body, layout, sample, decimal_comma)
    if frame is None or frame.height != rows:
        return None
    first = layout.first_line + 1
    return Table(layout.delimiter, decimal_comma, layout.header, layout.units, [], range(first, first + rows),
                 layout.metadata, [], header_line=layout.header_line, columns=frame.get_columns())


def _head(data: bytes) -> tuple[list[str], np.ndarray, pl.Series, bytes] | None:
    """The file's first lines as text (at least :data:`SNIFF_LINES` that are not comments, or all), the
    indices and texts of those that are not comments, and the bytes after them; None when the head cannot
    be decoded on its own."""
    wanted = SNIFF_LINES + 1
    while True:
        cut = _after_newlines(data, wanted)
        try:
            head_lines = lines(decode(data[:cut]))
        except ReadRefused:
            return None
        keep, texts = uncommented(head_lines, COMMENT)
        if len(keep) >= SNIFF_LINES or cut == len(data):
            return head_lines, keep, texts, data[cut:]
        wanted *= 2


def _after_newlines(data: bytes, count: int) -> int:
    """The offset just after the ``count``-th LF of ``data`` (its length when it has fewer)."""
    at = -1
    for _ in range(count):
        at = data.find(b"\n", at + 1)
        if at < 0:
            return len(data)
    return at + 1


def _body(head_rows: list[str], tail: bytes) -> bytes | None:
    """The table's lines as UTF-8 with LF ends and no blank lines after the last row; None when polars
    could split them otherwise than ``str.splitlines`` and :func:`split` do. ``tail`` (the bytes after the
    head) decodes the same as UTF-8 or Latin-1 only when it is ASCII: then the whole file's decoding is the
    head's."""
    if not tail.isascii() or (b"\r" in tail and tail.count(b"\r") != tail.count(b"\r\n")):
        return None
    end = _content_end(tail)
    if end:  # one copy of the tail, without the blank lines it ends with
        body = b"".join(["\n".join(head_rows).encode(), b"\n", memoryview(tail)[:end], b"\n"])
    else:  # the table ends in the head
        rows = "\n".join(head_rows).encode()
        body = rows[:_content_end(rows)] + b"\n"
    return None if any(odd in body for odd in _ODD_BYTES) else body


def _content_end(data: bytes) -> int:
    """The length of ``data`` without the line ends (blank lines) it finishes with."""
    end = len(data)
    while end and data[end - 1] in b"\r\n":
        end -= 1
    return end


def _frame(body: bytes, layout: Layout, sample: list[list[str]], decimal_comma: bool) -> pl.DataFrame | None:
    """The body's columns: Float64 for those whose sampled cells are all numbers (or empty) when every
    cell reads as a finite number or is empty, else text; None for a blank line (or a body polars refuses)."""
    numeric = [all(is_number(cell) or not cell for cell in column) for column in zip(*sample)]
    frame = _read(body, layout, numeric, decimal_comma)
    if frame is None or not all(frame[name].is_finite().all() for name in frame.columns
                                if frame[name].dtype == pl.Float64):
        frame = _read(body, layout, [False] * layout.width, decimal_comma)
    return None if frame is None or _has_empty_row(frame) else frame


def _read(body: bytes, layout: Layout, numeric: list[bool], decimal_comma: bool) -> pl.DataFrame | None:
    """The body as columns, Float64 where ``numeric`` says and stripped text elsewhere; None when a cell of
    a Float64 column is not a number (or polars refuses the body)."""
    schema = {f"column {j + 1}": pl.Float64 if number else pl.String for j, number in enumerate(numeric)}
    try:
        frame = pl.read_csv(body, has_header=False, separator=layout.delimiter, quote_char=None, schema=schema,
                            decimal_comma=decimal_comma, empty_string_is_null=False)
    except pl.exceptions.PolarsError:
        return None
    return frame.with_columns(pl.col(pl.String).fill_null("").str.strip_chars())


def _has_empty_row(frame: pl.DataFrame) -> bool:
    """A row whose every cell is empty: a blank line, which the line-by-line read skips."""
    empty = [pl.col(name).is_null() if dtype == pl.Float64 else pl.col(name) == ""
             for name, dtype in frame.schema.items()]
    return bool(frame.select(pl.all_horizontal(empty).any()).item())
