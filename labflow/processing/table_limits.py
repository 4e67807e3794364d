"""Bounds on what an instrument file may look like before any reader parses it.

Readers hold a file in memory several times over (decoded text, split fields, columns); a file that is
not a table of measurements (one 50 MB line, 100,000 columns, gigabytes) would cost gigabytes or hours
before being refused. These checks run on the raw bytes in fixed-size chunks (memory: about 10× the
chunk, never the file) and name the limit that was passed, where, and what to do.
"""

from __future__ import annotations

import numpy as np

MAX_FILE_BYTES = 1 << 30  # 1 GiB
MAX_LINE_BYTES = 1_000_000
MAX_COLUMNS = 10_000
DELIMITERS = {b",": "commas", b";": "semicolons", b"\t": "tabs"}
_CHUNK = 8 << 20


class TableTooLarge(ValueError):
    """A file passes one of the limits; the message names the limit, the line and what to do."""


def check_table_bounds(data: bytes, name: str) -> None:
    """Refuse ``data`` if it is larger than ``MAX_FILE_BYTES``, has a line longer than ``MAX_LINE_BYTES``
    or a line with more than ``MAX_COLUMNS`` fields (fields counted by the commas, semicolons or tabs)."""
    if len(data) > MAX_FILE_BYTES:
        raise TableTooLarge(f"{name} is {len(data):,} bytes; files larger than {MAX_FILE_BYTES:,} bytes "
                            "are not read: split the recording into several files")
    view = np.frombuffer(data, dtype=np.uint8)
    line, line_start = 1, 0  # the first line not yet checked, and its first byte
    for start in range(0, len(view), _CHUNK):
        ends = np.flatnonzero(view[start:start + _CHUNK] == 10) + start  # "\n" (in UTF-16 too, as one of its bytes)
        starts = np.concatenate(([line_start], ends[:-1] + 1))[:len(ends)]
        _check_lines(data, name, line, starts, ends)
        if len(ends):
            line, line_start = line + len(ends), int(ends[-1]) + 1
        if min(start + _CHUNK, len(data)) - line_start > MAX_LINE_BYTES:
            raise _too_long(name, line, min(start + _CHUNK, len(data)) - line_start)
    _check_lines(data, name, line, np.array([line_start]), np.array([len(data)]))


def _check_lines(data: bytes, name: str, first_line: int, starts: np.ndarray, ends: np.ndarray) -> None:
    """Check the lines ``data[starts[i]:ends[i]]`` (line ``first_line + i``) for length and fields."""
    lengths = ends - starts
    if not len(lengths):
        return
    longest = int(np.argmax(lengths))
    if lengths[longest] > MAX_LINE_BYTES:
        raise _too_long(name, first_line + longest, int(lengths[longest]))
    for i in np.flatnonzero(lengths >= MAX_COLUMNS - 1):  # only such a line can hold more fields than the limit
        for delimiter, word in DELIMITERS.items():
            fields = data.count(delimiter, int(starts[i]), int(ends[i])) + 1
            if fields > MAX_COLUMNS:
                raise TableTooLarge(f"{name}: line {first_line + int(i)} has {fields:,} fields separated by {word}; "
                                    f"the limit is {MAX_COLUMNS:,} columns: export only the channels you need, or "
                                    "split the file")


def _too_long(name: str, line: int, size: int) -> TableTooLarge:
    return TableTooLarge(f"{name}: line {line} is longer than the limit of {MAX_LINE_BYTES:,} bytes ({size:,} bytes "
                         "at least); an instrument table has short lines: check that this is a text export with "
                         "one reading per line")
