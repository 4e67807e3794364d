"""CH Instruments (CHI6xx/7xx/...) text exports: a dated header, ``Key = value`` settings, then a
``name/unit, name/unit`` column row and comma-separated data (impedance, CV, i-t, ...).

>>> data = (b"Feb. 20, 2020   15:55:08\\nA.C. Impedance\\nInstrument Model:  CHI660E\\nAmplitude (V) = 0.025\\n\\n"
...         b"Freq/Hz, Z'/ohm, Z\\"/ohm\\n\\n1e+4, 98.9, -2.7\\n1e+3, 99.1, 1.6\\n")
>>> parsed = ChiReader().read(data, "eis.txt", {})
>>> parsed.axis.label, [c.label for c in parsed.channels], parsed.metadata["Amplitude (V)"]
('Freq (Hz)', ["Z' (ohm)", 'Z" (ohm)'], '0.025')
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from labflow.processing.readers.base import ReadRefused
from labflow.processing.readers.table import fixed_table, key_value, table_block
from labflow.processing.readers.text import decode, head_text, lines
from labflow.processing.series import ParsedFile

_MODEL = re.compile(r"^Instrument Model:\s*CHI\s*\d+", re.M)


class ChiReader:
    name = "chi"
    family = "CH Instruments text export"

    def sniff(self, head: bytes, filename: str) -> float:
        return 0.95 if _MODEL.search(head_text(head[:4096])) else 0.0

    def read(self, data: bytes, filename: str, options: Mapping[str, Any]) -> ParsedFile:
        text = lines(decode(data))
        at = next((i for i, line in enumerate(text) if re.match(r"^[^,=:]+/[^,]*,\s*\S", line)), None)
        if at is None:
            raise ReadRefused("a CH Instruments file without a 'name/unit, name/unit' column row; export the "
                              "data again with 'Save as text'", reader=self.name)
        metadata = {"technique": text[1].strip()} if len(text) > 1 else {}
        metadata |= dict(pair for line in text[2:at] if (pair := key_value(line, "=")))
        table = fixed_table(text, at, ",", metadata=metadata)
        names = [cell.split("/")[0] for cell in table.header]
        axis = next((n for n in ("Freq", "Time", "Potential") if n in names), None)
        block, notes = table_block(table, "data", axis_name=axis)
        return ParsedFile(self.name, [block], metadata, table.notes + notes)
