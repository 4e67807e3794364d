"""The generic delimited-text reader: the fallback for any table of numbers with a header.

Reads CSV / TSV / semicolon / aligned-column exports with metadata lines above the table, a units row under
the header, decimal commas, dates in several locales' forms, 12-hour and clock-only times, Unix-epoch
logger columns (also under an empty header cell) and text label columns (kept as text). The axis is a time
column, or a column named like an x axis (frequency, wavelength, Raman shift, 2θ, ...), or — with a note —
the row number. A file without a header is read only when its first column is the axis the ``axis_kind``
option names; otherwise it is refused (nothing says what the columns are). A plain table's body is read at
once by polars (:mod:`~labflow.processing.readers.bulk`); anything unusual, line by line, with the same result.

>>> reader = DelimitedReader()
>>> data = b"Date,Temp (degC),Label\\n05.03.2024 13:00:00,21,A\\n05.03.2024 13:00:10,22,B\\n05.03.2024 13:00:20,23,C\\n"
>>> parsed = reader.read(data, "log.csv", {})
>>> parsed.axis.kind, parsed.axis.values.tolist(), parsed.axis.start.isoformat()
('time', [0.0, 10.0, 20.0], '2024-03-05T13:00:00+00:00')
>>> [(c.name, c.unit, c.role) for c in parsed.channels]
[('Temp', 'degC', 'signal'), ('Label', '', 'text')]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from labflow.processing.readers.base import ReadRefused
from labflow.processing.readers.bulk import bulk_table
from labflow.processing.readers.table import Table, find_table, table_block
from labflow.processing.readers.text import decode, head_text, is_missing, is_number, lines
from labflow.processing.series import AXIS_KINDS, Axis, Block, ParsedFile


MIN_ROWS = 3
"""Fewer data rows than this is an export that stopped early, not a series."""


class DelimitedReader:
    """Any delimited table of numbers with a header row (the fallback reader)."""

    name = "delimited"
    family = "delimited text table (CSV, TSV, ';', aligned columns)"

    def sniff(self, head: bytes, filename: str) -> float:
        text = lines(head_text(head))
        text = text[:-1] if len(head) >= 65_536 else text  # the head's last line may be cut
        try:
            table = find_table(text, strict=False)
        except ReadRefused:
            return 0.5 if _single_column(text) else 0.0
        named = sum(1 for cell in table.header if cell.strip())
        if named and named >= len(table.header) - 1:
            return 0.55  # a header names the columns (too few rows are refused by read, with the reason)
        return 0.3 if table.height >= MIN_ROWS else 0.1  # no header: nothing says what the columns are

    def read(self, data: bytes, filename: str, options: Mapping[str, Any]) -> ParsedFile:
        table = bulk_table(data)
        if table is None:
            table = _line_by_line(data)
        if table.height < MIN_ROWS:
            raise ReadRefused(f"only {table.height} data row(s) under the header (line {table.header_line}); at "
                              f"least {MIN_ROWS} are needed; check that the export is complete")
        if not any(cell.strip() for cell in table.header):
            return _headerless(table, filename, options)
        block, notes = table_block(table, "data", axis_name=options.get("axis"))
        return ParsedFile(self.name, [block], table.metadata, table.notes + notes)


def _line_by_line(data: bytes) -> Table:
    """The table read line by line (which explains an unusual line), else one named column of numbers."""
    text = lines(decode(data))
    try:
        return find_table(text)
    except ReadRefused:
        table = _single_column(text)
        if table is None:
            raise
        return table


def _single_column(text: list[str]) -> Table | None:
    """One named column of numbers (``signal`` then values): read against the row number."""
    body = [(i, t.strip()) for i, t in enumerate(text) if t.strip() and not t.lstrip().startswith("#")]
    numbers = [(i, t) for i, t in body if is_number(t) or is_missing(t)]
    if len(body) < 2 or len(numbers) != len(body) - 1 or is_number(body[0][1]):
        return None
    (at, name), rows = body[0], numbers
    if any(i < at for i, _ in rows):
        return None
    return Table("", False, [name.strip('"')], [""], [[t] for _, t in rows], [i + 1 for i, _ in rows],
                 header_line=at + 1)


def _headerless(table: Table, filename: str, options: Mapping[str, Any]) -> ParsedFile:
    """A header-less table: the first column is the axis only when the ``axis_kind`` option says so."""
    kind = options.get("axis_kind")
    if kind not in AXIS_KINDS:
        raise ReadRefused(f"the table has no header ({len(table.header)} columns of numbers from line "
                          f"{table.lines[0]}), so nothing says what its columns are; set axis_kind (one of "
                          f"{', '.join(AXIS_KINDS)}) in the sidecar to read the first column as the x axis, or "
                          "force a reader that knows the format (reader: raman for a Raman shift / intensity "
                          "pair)")
    header = [options.get("axis_name", "x")] + [f"column {j + 1}" for j in range(1, len(table.header))]
    table.header = header
    block, notes = table_block(table, "data", axis_name=header[0])
    axis = Axis(kind, block.axis.name, options.get("axis_unit", ""), block.axis.values)
    block = Block(block.name, axis, block.channels)
    return ParsedFile("delimited", [block], table.metadata,
                      table.notes + notes + [f"no header: the first column read as the {kind} axis "
                                                     "because the axis_kind option says so"])



