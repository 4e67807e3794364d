"""Scribner ZPlot / ZView ``.z`` ASCII files: ``ZPLOT2 ASCII``, indented ``Key: value`` settings, the
column-name row, ``End Comments``, then tab-separated rows. The sweep's planned ``Data Points`` is compared
with the rows found; fewer rows (a sweep stopped early) are read with a note.

>>> data = (b"ZPLOT2 ASCII\\n  Data Points:   3\\n  Freq(Hz)\\tAmpl\\tZ'(a)\\tZ''(b)\\nEnd Comments\\n"
...         b"1.0E+03\\t0.01\\t563.3\\t-191.7\\n5.0E+02\\t0.01\\t590.3\\t-166.9\\n")
>>> parsed = ZplotReader().read(data, "eis.z", {})
>>> parsed.axis.label, parsed.rows, parsed.notes
('Freq (Hz)', 2, ['the header plans 3 data points but 2 rows follow (down to 500 Hz): the sweep stopped early or the file is cut'])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from labflow.processing.readers.base import ReadRefused
from labflow.processing.readers.table import fixed_table, key_value, table_block
from labflow.processing.readers.text import decode, head_text, lines
from labflow.processing.series import ParsedFile


class ZplotReader:
    name = "zplot"
    family = "Scribner ZPlot / ZView .z ASCII"

    def sniff(self, head: bytes, filename: str) -> float:
        return 0.99 if head_text(head[:64]).startswith("ZPLOT2 ASCII") else 0.0

    def read(self, data: bytes, filename: str, options: Mapping[str, Any]) -> ParsedFile:
        text = lines(decode(data))
        end = next((i for i, line in enumerate(text) if line.strip() == "End Comments"), None)
        if end is None or "\t" not in text[end - 1]:
            raise ReadRefused("a ZPlot file without the column row and 'End Comments' line", reader=self.name)
        metadata = dict(pair for line in text[1:end - 1] if (pair := key_value(line, ":")))
        table = fixed_table(text, end - 1, "\t", first_data=end + 1, metadata=metadata)
        block, notes = table_block(table, "data", axis_name="Freq" if "Freq(Hz)" in table.header else None,
                                   main="Z'(a)" if "Z'(a)" in table.header else None)
        planned = metadata.get("Data Points", "")
        if planned.isdigit() and int(planned) != block.rows:
            if int(planned) < block.rows:
                raise ReadRefused(f"the header declares {planned} data points but {block.rows} rows follow",
                                  reader=self.name)
            notes.insert(0, f"the header plans {planned} data points but {block.rows} rows follow (down to "
                            f"{block.axis.values[-1]:g} {block.axis.unit}): the sweep stopped early or the "
                            "file is cut")
        return ParsedFile(self.name, [block], metadata, table.notes + notes)
