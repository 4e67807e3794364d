"""BioLogic EC-Lab ``.mpt`` ASCII exports (any technique: PEIS, CV, CA, GCPL, ...; any locale).

The file says how many header lines it has (``Nb header lines : N``); line N is the column row
(``name/unit`` cells, tab-separated), the data follow. Decimal commas (French / German Windows) are read.
Impedance files get the frequency axis, the others time; ``mode``, ``ox/red``, ``cycle number``, ``I Range``
and the like are status channels, never the default signal.

>>> data = (b"EC-Lab ASCII FILE\\nNb header lines : 4\\n\\nmode\\ttime/s\\tEwe/V\\t<I>/mA\\t\\n"
...         b"2\\t0,5\\t0,10\\t1,5\\t\\n2\\t1,0\\t0,20\\t1,7\\t\\n2\\t1,5\\t0,30\\t1,9\\t\\n")
>>> parsed = BiologicReader().read(data, "cv.mpt", {})
>>> parsed.axis.kind, parsed.axis.label, [(c.name, c.unit, c.role) for c in parsed.channels]
('time', 'time (s)', [('mode', '', 'status'), ('Ewe', 'V', 'signal'), ('<I>', 'mA', 'signal')])
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from labflow.processing.readers.base import ReadRefused
from labflow.processing.readers.table import fixed_table, key_value, table_block
from labflow.processing.readers.text import decode, head_text, is_number, lines
from labflow.processing.series import ParsedFile

_HEADER_LINES = re.compile(r"Nb header lines\s*:\s*(\d+)")


class BiologicReader:
    name = "biologic"
    family = "BioLogic EC-Lab .mpt ASCII export"

    def sniff(self, head: bytes, filename: str) -> float:
        text = head_text(head[:4096])
        if text.startswith("EC-Lab ASCII FILE") and _HEADER_LINES.search(text):
            return 0.99
        return 0.0

    def read(self, data: bytes, filename: str, options: Mapping[str, Any]) -> ParsedFile:
        text = lines(decode(data))
        match = _HEADER_LINES.search("\n".join(text[:5]))
        if match is None:
            raise ReadRefused("an EC-Lab file without 'Nb header lines : N' in its first lines; export it "
                              "again from EC-Lab (Export as text)", reader=self.name)
        at = int(match[1]) - 1
        if at >= len(text) or is_number(text[at].split("\t")[0] or "x") or "\t" not in text[at]:
            raise ReadRefused(f"the file says it has {at + 1} header lines but line {at + 1} is not the column "
                              "row; the export is damaged, export it again", reader=self.name, line=at + 1)
        metadata = dict(pair for line in text[1:at] if (pair := key_value(line, "\t")))
        table = fixed_table(text, at, "\t", metadata=metadata)
        names = [cell.split("/")[0].strip() for cell in table.header]
        axis = "freq/Hz" if "freq" in names else ("time/s" if "time" in names else None)
        block, notes = table_block(table, "data", axis_name=axis.split("/")[0] if axis else None,
                                   main=_main(names))
        return ParsedFile(self.name, [block], metadata, table.notes + notes)


def _main(names: list[str]) -> str | None:
    for wanted in ("Re(Z)", "<I>", "I", "Ewe"):
        if wanted in names:
            return wanted
    return None


