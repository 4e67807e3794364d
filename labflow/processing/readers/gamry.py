"""Gamry Framework ``.DTA`` files (EIS, CV, OCV, ...): every ``TABLE`` becomes a block.

The header is ``EXPLAIN`` / ``TAG`` and typed ``KEY<TAB>TYPE<TAB>value`` lines; each table starts with
``NAME<TAB>TABLE[<TAB>count]``, then a column-name row and a units row; data rows start with a tab. A
declared row count must match the rows found, or the file is refused. The impedance table (``ZCURVE``)
comes first, with the frequency axis; other tables use their time column.

>>> data = (b"EXPLAIN\\nTAG\\tEISPOT\\nZCURVE\\tTABLE\\n\\tPt\\tTime\\tFreq\\tZreal\\tZimag\\n\\t#\\ts\\tHz\\tohm\\tohm\\n"
...         b"\\t0\\t1\\t1000\\t10.5\\t-1.0\\n\\t1\\t2\\t100\\t12.5\\t-3.0\\n")
>>> parsed = GamryReader().read(data, "eis.DTA", {})
>>> parsed.block.name, parsed.axis.label, parsed.main_channel.name
('ZCURVE', 'Freq (Hz)', 'Zreal')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from labflow.processing.readers.base import ReadRefused
from labflow.processing.readers.table import fixed_table, table_block
from labflow.processing.readers.text import decode, head_text, lines
from labflow.processing.series import Block, ParsedFile


class GamryReader:
    name = "gamry"
    family = "Gamry Framework .DTA"

    def sniff(self, head: bytes, filename: str) -> float:
        text = head_text(head[:2048])
        return 0.99 if text.startswith("EXPLAIN") and "\nTAG\t" in text else 0.0

    def read(self, data: bytes, filename: str, options: Mapping[str, Any]) -> ParsedFile:
        text = lines(decode(data))
        starts = [i for i, line in enumerate(text) if line.split("\t")[1:2] == ["TABLE"]]
        if not starts:
            raise ReadRefused("a Gamry file without any TABLE; nothing to read", reader=self.name)
        metadata = _metadata(text[: starts[0]])
        blocks, notes = [], []
        for k, at in enumerate(starts):
            end = _table_end(text, at + 3, starts[k + 1] if k + 1 < len(starts) else len(text))
            blocks.append(self._block(text, at, end, notes))
        blocks.sort(key=lambda b: b.name != "ZCURVE")
        return ParsedFile(self.name, blocks, metadata, notes)

    def _block(self, text: list[str], at: int, end: int, notes: list[str]) -> Block:
        fields = text[at].split("\t")
        name = fields[0]
        table = fixed_table(text, at + 1, "\t", units_at=at + 2, end=end)
        table.header, table.units = table.header[1:], table.units[1:]
        table.rows = [row[1:] for row in table.rows]
        declared = fields[2].strip() if len(fields) > 2 else ""
        if declared.isdigit() and int(declared) != len(table.rows):
            raise ReadRefused(f"table {name} declares {declared} rows but {len(table.rows)} follow (line "
                              f"{at + 1}); the file is cut or damaged, export it again", reader=self.name)
        axis = "Freq" if "Freq" in table.header else ("T" if "T" in table.header else None)
        block, block_notes = table_block(table, name, axis_name=axis,
                                         main="Zreal" if "Zreal" in table.header else None)
        notes += [f"{name}: {note}" for note in table.notes + block_notes]
        return block


def _table_end(text: list[str], start: int, limit: int) -> int:
    """Data rows start with a tab; the table ends at the first line that does not."""
    for i in range(start, limit):
        if text[i].strip() and not text[i].startswith("\t"):
            return i
    return limit


def _metadata(header: list[str]) -> dict[str, str]:
    pairs = (line.split("\t") for line in header)
    return {f[0]: f[2] for f in pairs if len(f) >= 3 and f[0] and f[1] in
            ("LABEL", "QUANT", "IQUANT", "POTEN", "PSTAT", "SELECTOR", "TOGGLE")}
