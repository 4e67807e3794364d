"""Metrohm Autolab FRA ASCII exports (``Z60W Data File``): a declared point count, then one quoted
header cell holding the space-aligned column names, then comma-separated data. The data must have as
many rows as declared, or the file is refused.

>>> data = (b'"Z60W Data File: Version 1.1"\\n""\\n0,2,0,1,0.1,10000\\n2\\n'
...         b'"  Freq (Hz)    Ampl     Z\\'(a)    Z\\'\\'(b)"\\n10000,0,0.013,0.007\\n1000,0,0.015,0.004\\n')
>>> parsed = AutolabReader().read(data, "fra.txt", {})
>>> parsed.axis.label, [c.name for c in parsed.channels], parsed.rows
('Freq (Hz)', ['Ampl', "Z'(a)", "Z''(b)"], 2)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from labflow.processing.readers.base import ReadRefused
from labflow.processing.readers.table import Table, table_block
from labflow.processing.readers.text import decode, head_text, lines
from labflow.processing.series import ParsedFile

_NAME = re.compile(r"\S+(?: \(\S+\))?")


class AutolabReader:
    name = "autolab"
    family = "Metrohm Autolab FRA ASCII (Z60W)"

    def sniff(self, head: bytes, filename: str) -> float:
        return 0.99 if head_text(head[:200]).lstrip('"').startswith("Z60W Data File") else 0.0

    def read(self, data: bytes, filename: str, options: Mapping[str, Any]) -> ParsedFile:
        text = lines(decode(data))
        at = next((i for i, line in enumerate(text) if line.startswith('"') and line.strip('" ')
                   and not line.startswith('"Z60W')), None)
        if at is None or not text[at - 1].strip().isdigit():
            raise ReadRefused("an Autolab Z60W file without the point count and column row; export it again",
                              reader=self.name)
        declared = int(text[at - 1])
        names = _NAME.findall(text[at].strip('"'))
        rows = [[c.strip() for c in line.split(",")] for line in text[at + 1:] if line.strip()]
        bad = next((k for k, row in enumerate(rows) if len(row) != len(names)), None)
        if bad is not None:
            raise ReadRefused(f"line {at + 2 + bad} has {len(rows[bad])} fields but the header names "
                              f"{len(names)} columns", reader=self.name, line=at + 2 + bad)
        if len(rows) != declared:
            raise ReadRefused(f"the file declares {declared} points but holds {len(rows)} rows; it is cut or "
                              "damaged, export it again", reader=self.name)
        table = Table(",", False, names, [""] * len(names), rows, list(range(at + 2, at + 2 + len(rows))),
                      {"version": text[0].strip('"\ufeff'), "points": str(declared)})
        block, notes = table_block(table, "data", axis_name="Freq" if "Freq (Hz)" in names else None)
        return ParsedFile(self.name, [block], table.metadata, notes)
