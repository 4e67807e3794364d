"""Spectro Inlets Zilien ``.tsv`` EC-MS files: a declared number of ``key<TAB>description<TAB>series<TAB>
type<TAB>value`` header lines, a series-name row and a column row, then ragged columns: every series (a
pressure gauge, a mass channel, the potentiostat's EC-lab table) has its own time column and length.

Every series is a block with its own time axis; the longest series comes first (the main block). The
declared ``data_start`` and each ``<series>_count`` must agree with the file, or it is refused.

>>> data = (b"num_header_lines\\tNumber of header lines\\t\\tint\\t3\\nnum_data_header_lines\\tx\\t\\tint\\t2\\n"
...         b"C0M2_count\\tNumber of points\\tC0M2\\tint\\t2\\n"
...         b"C0M2\\t\\tpot\\t\\t\\nTime [s]\\tM2-H2 [A]\\tTime [s]\\tVoltage [V]\\tCurrent [mA]\\n"
...         b"0.5\\t1e-12\\t0.1\\t0.30\\t0.06\\n1.5\\t2e-12\\t0.2\\t0.40\\t0.08\\n\\t\\t0.3\\t0.50\\t0.10\\n")
>>> parsed = ZilienReader().read(data, "ecms.tsv", {})
>>> [(b.name, b.rows, [c.label for c in b.channels]) for b in parsed.blocks]
[('pot', 3, ['Voltage (V)', 'Current (mA)']), ('C0M2', 2, ['M2-H2 (A)'])]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from labflow.processing.readers.base import ReadRefused
from labflow.processing.readers.table import Table, table_block
from labflow.processing.readers.text import decode, head_text, is_missing, lines, name_and_unit
from labflow.processing.series import Block, ParsedFile


class ZilienReader:
    name = "zilien"
    family = "Spectro Inlets Zilien EC-MS .tsv"

    def sniff(self, head: bytes, filename: str) -> float:
        text = head_text(head[:512])
        return 0.98 if text.startswith("num_header_lines\tNumber of header lines") else 0.0

    def read(self, data: bytes, filename: str, options: Mapping[str, Any]) -> ParsedFile:
        text = lines(decode(data))
        header = {f[0]: f for line in text[:200] if len(f := line.split("\t")) == 5}
        try:
            count = int(header["num_header_lines"][4])
            data_rows = int(header.get("num_data_header_lines", ["", "", "", "", "2"])[4])
        except (KeyError, ValueError):
            raise ReadRefused("the Zilien header does not say how many header lines it has", reader=self.name) from None
        start = header.get("data_start")
        if start and int(start[4]) != count + data_rows:
            raise ReadRefused(f"data_start is {start[4]} but {count} header lines and {data_rows} column rows end at "
                              f"{count + data_rows}", reader=self.name)
        metadata = {f"{f[2]}: {f[0]}" if f[2] else f[0]: f[4] for line in text[:count]
                    if len(f := line.split("\t")) == 5}
        names, columns = text[count].split("\t"), text[count + 1].split("\t")
        rows = [line.split("\t") for line in text[count + data_rows:] if line.strip()]
        spans = [j for j, n in enumerate(names) if n.strip()] + [len(columns)]
        blocks, notes = [], []
        for k in range(len(spans) - 1):
            blocks.append(self._series(names[spans[k]].strip(), columns, rows, spans[k], spans[k + 1], metadata, notes))
        blocks.sort(key=lambda b: -b.rows)
        return ParsedFile(self.name, blocks, metadata, notes)

    def _series(self, name: str, columns: list[str], rows: list[list[str]], first: int, end: int,
                metadata: dict[str, str], notes: list[str]) -> Block:
        end = max(j + 1 for j in range(first, end) if j < len(columns) and columns[j].strip()) if \
            any(columns[j].strip() for j in range(first, min(end, len(columns)))) else first + 1
        if not columns[first].lower().startswith("time"):
            raise ReadRefused(f"series {name!r} does not start with its time column ({columns[first]!r})",
                              reader=self.name)
        cells = [[(row + [""] * end)[j] for j in range(first, end)] for row in rows]
        length = next((i for i, r in enumerate(cells) if is_missing(r[0])), len(cells))
        if any(not is_missing(r[0]) for r in cells[length:]):
            raise ReadRefused(f"series {name!r} has a gap in its time column at data row {length + 1}",
                              reader=self.name)
        declared = metadata.get(f"{name}: {name}_count")
        if declared is not None and int(declared) != length:
            raise ReadRefused(f"series {name!r} declares {declared} points but has {length}", reader=self.name)
        table = Table("\t", False, columns[first:end], [""] * (end - first), cells[:length],
                      list(range(1, length + 1)))
        block, block_notes = table_block(table, name, axis_name=name_and_unit(columns[first])[0])
        notes += [f"{name}: {n}" for n in block_notes]
        return block
