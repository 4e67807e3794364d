"""AMETEK / Princeton Applied Research VersaStudio ``.par`` files: XML-like ``<Section>`` blocks of
``key=value`` lines; every ``<SegmentN>`` holds a ``Definition=`` line naming the columns and comma-separated
rows — each segment is a block (frequency axis for impedance, else elapsed time).

>>> data = (b"<Application>\\nName=VersaStudio\\n</Application>\\n<Segment1>\\n"
...         b"Definition=Point #, E(V), Elapsed Time(s), Frequency(Hz), Z Real, 0\\n"
...         b"0,0.1,1.8,100000,55.3\\n1,0.1,2.1,77426,56.9\\n</Segment1>\\n")
>>> parsed = VersaStudioReader().read(data, "eis.par", {})
>>> parsed.axis.label, [c.name for c in parsed.channels]
('Frequency (Hz)', ['Point #', 'E', 'Elapsed Time', 'Z Real'])
>>> print(parsed.notes[0])
Segment1: the Definition line names 6 columns but the rows have 5; dropped the trailing name(s) ['0'] without data
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from labflow.processing.readers.base import ReadRefused
from labflow.processing.readers.table import Table, table_block
from labflow.processing.readers.text import decode, head_text, is_number, lines
from labflow.processing.series import Block, ParsedFile

_SEGMENT = re.compile(r"^<(Segment\d+)>\s*$")


class VersaStudioReader:
    name = "versastudio"
    family = "VersaStudio .par (AMETEK / PAR VersaSTAT, PARSTAT)"

    def sniff(self, head: bytes, filename: str) -> float:
        text = head_text(head[:4096])
        return 0.97 if text.startswith("<Application>") and "VersaStudio" in text else 0.0

    def read(self, data: bytes, filename: str, options: Mapping[str, Any]) -> ParsedFile:
        text = lines(decode(data))
        metadata = {k: v for line in text if "=" in line and not line.startswith("Definition=")
                    for k, v in [line.split("=", 1)] if not re.match(r"^[-\d.,eE ]+$", line)}
        blocks, notes = [], []
        for i, line in enumerate(text):
            match = _SEGMENT.match(line)
            if match:
                blocks.append(self._segment(match[1], text, i + 1, notes))
        if not blocks:
            raise ReadRefused("a VersaStudio file without a <Segment> of data", reader=self.name)
        return ParsedFile(self.name, blocks, metadata, notes)

    def _segment(self, name: str, text: list[str], start: int, notes: list[str]) -> Block:
        end = next(i for i in range(start, len(text) + 1) if i == len(text) or text[i].startswith(f"</{name}"))
        at = next((i for i in range(start, end) if text[i].startswith("Definition=")), None)
        if at is None:
            raise ReadRefused(f"{name} has no Definition= line naming its columns", reader=self.name)
        names = [n.strip() for n in text[at].split("=", 1)[1].split(",")]
        rows = [[c.strip() for c in text[i].split(",")] for i in range(at + 1, end) if text[i].strip()]
        widths = {len(r) for r in rows}
        if len(widths) != 1:
            raise ReadRefused(f"{name}: rows have {sorted(widths)} fields; the segment is damaged",
                              reader=self.name)
        width = widths.pop()
        extra = names[width:]
        if extra and all(is_number(n) for n in extra):
            notes.append(f"{name}: the Definition line names {len(names)} columns but the rows have {width}; "
                         f"dropped the trailing name(s) {extra} without data")
            names = names[:width]
        elif len(names) != width:
            raise ReadRefused(f"{name}: the Definition line names {len(names)} columns but the rows have "
                              f"{width}; which column is which cannot be told", reader=self.name)
        table = Table(",", False, names, [""] * width, rows, list(range(at + 2, at + 2 + len(rows))))
        axis = "Frequency" if "Frequency(Hz)" in names and _any_nonzero(rows, names.index("Frequency(Hz)")) \
            else "Elapsed Time"
        block, block_notes = table_block(table, name, axis_name=axis, main="Z Real" if axis == "Frequency" else None)
        notes += [f"{name}: {n}" for n in block_notes]
        return block


def _any_nonzero(rows: list[list[str]], j: int) -> bool:
    return any(float(row[j] or 0) != 0 for row in rows)
