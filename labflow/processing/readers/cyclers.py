"""Battery cycler text exports: Maccor (tab-separated, ``key<TAB>value`` header, decimal commas in some
locales, a ``DPT Time`` date column) and PEC (``Key:,value`` header, ``hh:mm:ss.xxx`` durations, label
columns). The axis is the test's elapsed time; step, cycle and mode columns are status channels, text
columns (instruction names, cell IDs) are kept as text.

>>> data = (b"Name:\\tcell-1\\n\\nRec\\tStep\\tTestTime\\tCurrent [A]\\tMd\\tDPT Time\\n"
...         b"1\\t1\\t0,000\\t0,0\\tR\\t06/05/2021 11:23:46\\n2\\t1\\t1,000\\t0,5\\tC\\t06/05/2021 11:24:46\\n"
...         b"3\\t1\\t2,000\\t0,5\\tC\\t06/05/2021 11:25:46\\n")
>>> parsed = MaccorReader().read(data, "cell.txt", {})
>>> parsed.axis.label, parsed.main_channel.label, [(c.name, c.role) for c in parsed.channels][-2]
('TestTime (min)', 'Current (A)', ('Md', 'text'))
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from labflow.processing.readers.base import ReadRefused
from labflow.processing.readers.table import Column, find_table, table_block
from labflow.processing.readers.text import decode, head_text, lines
from labflow.processing.series import Axis, Block, ParsedFile

_STATUS = re.compile(r"^(?:rec|cycle ?[pc]?|step|md|es|test|cell|rack|shelf|position|reasoncode|cycle)$", re.I)


def _role(column: Column) -> str:
    if _STATUS.match(column.name.strip()):
        return "status"
    if column.kind in ("datetime", "clock", "epoch") or re.search(r"time", column.name, re.I):
        return "axis"
    return "signal"


def _read(reader: str, data: bytes, axis: str, main: str) -> ParsedFile:
    table = find_table(lines(decode(data)), comment="")
    if axis not in [h.split("(")[0].split("[")[0].strip() for h in table.header]:
        raise ReadRefused(f"no '{axis}' column in the header ({', '.join(table.header[:8])}...)", reader=reader)
    block, notes = table_block(table, "data", axis_name=axis, roles=_role)
    names = [c.name for c in block.channels]
    return ParsedFile(reader, [Block(block.name, block.axis, block.channels, main=main if main in names else None)],
                      table.metadata, table.notes + notes)


def _unit_by_clock(parsed: ParsedFile, clock: str) -> ParsedFile:
    """Maccor's TestTime carries no unit; the export's own clock column (DPT Time) tells seconds, minutes or
    hours apart. Without the clock the unit stays unknown, with a note."""
    block = parsed.block
    axis = block.axis
    stamp = next((c for c in block.channels if c.name == clock and not c.is_text), None)
    if stamp is None:
        parsed.notes.append(f"the file does not say the unit of {axis.name} and has no {clock} clock to tell it")
        return parsed
    both = np.isfinite(stamp.values) & np.isfinite(axis.values)
    span, elapsed = np.ptp(stamp.values[both]) if both.any() else 0.0, np.ptp(axis.values[both]) if both.any() else 0.0
    for unit, seconds in (("s", 1.0), ("min", 60.0), ("h", 3600.0)):
        if elapsed > 0 and abs(span / elapsed - seconds) <= 0.02 * seconds:
            parsed.notes[:] = [n for n in parsed.notes if not n.startswith(f"the time column '{axis.name}' names no")]
            parsed.notes.append(f"the unit of {axis.name} ({unit}) was told from the {clock} clock column "
                                f"({span:g} s passed while {axis.name} advanced {elapsed:g})")
            parsed.blocks[0] = Block(block.name, Axis(axis.kind, axis.name, unit, axis.values), block.channels,
                                     main=block.main)
            return parsed
    raise ReadRefused(f"{axis.name} advances {elapsed:g} while the {clock} clock advances {span:g} s: neither seconds, "
                      "minutes nor hours; the unit of the time axis cannot be told", reader="maccor")


class MaccorReader:
    name = "maccor"
    family = "Maccor battery cycler text export"

    def sniff(self, head: bytes, filename: str) -> float:
        text = head_text(head[:8192])
        return 0.95 if re.search(r"^Rec\tCycle P\tCycle C\tStep\tTestTime\tStepTime", text, re.M) else 0.0

    def read(self, data: bytes, filename: str, options: Mapping[str, Any]) -> ParsedFile:
        return _unit_by_clock(_read(self.name, data, "TestTime", "Current"), "DPT Time")


class PecReader:
    name = "pec"
    family = "PEC battery cycler CSV export"

    def sniff(self, head: bytes, filename: str) -> float:
        text = head_text(head[:16_384])
        return 0.95 if re.search(r"^Test,Cell,Rack,Shelf,Position,Cell ID,Step", text, re.M) else 0.0

    def read(self, data: bytes, filename: str, options: Mapping[str, Any]) -> ParsedFile:
        return _read(self.name, data, "Total Time", "Voltage")
