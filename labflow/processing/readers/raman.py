"""Raman spectra in vendor text: tables with a Raman-shift column under metadata lines (B&W Tek,
Neegala, ...: pixel, wavelength and wavenumber columns become other axes, the shift is the axis), RRUFF-style
``##KEY=value`` headers over ``shift, intensity`` pairs, WiRE's ``#Wave  #Intensity`` and — only when the
file name says Raman — header-less two-column shift/intensity files (with a note: nothing in the file
says what the columns are).

>>> data = b"device,EZI860\\nwl,532nm\\nPixels,Wavelength,Raman_Shift,Raw_Data,Processed_Data\\n" \\
...        b"0,502.2,-1118.3,24458,-3210\\n1,502.4,-1111.7,24458,-3210\\n2,502.6,-1105.1,753,7\\n"
>>> parsed = RamanReader().read(data, "pst.txt", {})
>>> parsed.axis.label, [(c.name, c.role) for c in parsed.channels][:2], parsed.main_channel.name
('Raman_Shift (cm-1)', [('Pixels', 'axis'), ('Wavelength', 'axis')], 'Processed_Data')
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from labflow.processing.readers.base import ReadRefused
from labflow.processing.readers.table import Column, Table, find_table, table_block
from labflow.processing.readers.text import axis_kind_of, decode, head_text, lines, monotonic
from labflow.processing.series import Axis, Block, Channel, ParsedFile

_SHIFT = re.compile(r"raman[\s_-]*shift", re.I)
_OTHER_AXES = re.compile(r"^(?:pixels?|wavelength|wavenumbers?|wave|x|y)$", re.I)
_MAIN = ("processed", "dark subtracted", "baseline", "corrected", "intensity", "counts")


class RamanReader:
    name = "raman"
    family = "Raman spectra in vendor text (B&W Tek-style, RRUFF ##KEY=, WiRE #Wave, two columns)"

    def sniff(self, head: bytes, filename: str) -> float:
        text = head_text(head[:16_384])
        first = text.lstrip()[:2000]
        if re.search(r"^##JCAMP", text, re.M):
            return 0.0
        if _SHIFT.search(first) or re.match(r"#Wave\s+#Intensity", first):
            return 0.9
        if first.startswith("##") and re.search(r"^\s*-?\d+(?:\.\d+)?\s*,\s*-?\d", text, re.M):
            return 0.85
        if "raman" in filename.lower() and _two_numbers(text):
            return 0.6
        return 0.0

    def read(self, data: bytes, filename: str, options: Mapping[str, Any]) -> ParsedFile:
        text = lines(decode(data))
        start = text[0].lstrip() if text else ""
        if start.startswith("##"):
            return self._rruff(text)
        if re.match(r"#Wave\s+#Intensity", start):
            return self._pairs(text[1:], {}, ["the file's #Wave column read as the Raman shift in cm-1"])
        table = find_table(text, comment="")
        names = [h for h in table.header if h]
        if any(_SHIFT.search(h) for h in names):
            return self._table(table)
        if not names and len(table.header) == 2:
            return self._pairs(text, table.metadata,
                               ["the file has no header: the first column read as the Raman shift in cm-1 and the "
                                "second as intensity because the file name says Raman"])
        raise ReadRefused("a Raman reader was chosen but the file has no Raman-shift column and is not a "
                          "two-column shift/intensity table", reader=self.name)

    def _table(self, table: Table) -> ParsedFile:
        shift = next(h for h in table.header if _SHIFT.search(h))

        def role(column: Column) -> str:
            return "axis" if _OTHER_AXES.match(column.name) or axis_kind_of(column.name) else "signal"

        block, notes = table_block(table, "spectrum", axis_name=shift, roles=role)
        block = Block(block.name, Axis("raman_shift", block.axis.name, block.axis.unit or "cm-1", block.axis.values),
                      block.channels, main=_main(block.channels))
        return ParsedFile(self.name, [block], table.metadata, table.notes + notes)

    def _rruff(self, text: list[str]) -> ParsedFile:
        metadata, body, notes = {}, [], []
        for number, line in enumerate(text, start=1):
            if line.startswith("##"):
                key, _, value = line[2:].partition("=")
                if key.strip() == "END":
                    rest = [t for t in text[number:] if t.strip()]
                    if rest:
                        notes.append(f"skipped {len(rest)} non-blank lines after ##END=")
                    break
                metadata[key.strip()] = value.strip()
            elif line.strip():
                body.append(line)
        return self._pairs(body, metadata, notes)

    def _pairs(self, body: list[str], metadata: dict[str, str], notes: list[str]) -> ParsedFile:
        rows = [re.split(r"[\s,;]+", line.strip()) for line in body if line.strip()]
        bad = next((k for k, row in enumerate(rows) if len(row) != 2), None)
        if bad is not None:
            raise ReadRefused(f"a data line holds {len(rows[bad])} values, not a shift and an intensity: "
                              f"{body[bad].strip()[:40]!r}", reader=self.name)
        try:
            values = np.array(rows, dtype=np.float64)
        except ValueError:
            raise ReadRefused("a data line holds text where a shift / intensity pair belongs", reader=self.name) from None
        if not monotonic(values[:, 0]):
            raise ReadRefused("the first column does not rise or fall steadily, so it is not a Raman-shift axis",
                              reader=self.name)
        block = Block("spectrum", Axis("raman_shift", "Raman shift", "cm-1", values[:, 0]),
                      [Channel("Intensity", "", values[:, 1])])
        return ParsedFile(self.name, [block], metadata, notes)


def _two_numbers(text: str) -> bool:
    rows = [re.split(r"[\s,;]+", t.strip()) for t in text.splitlines()[:50] if t.strip()]
    return len(rows) >= 10 and all(len(r) == 2 and all(re.match(r"^-?\d", c) for c in r) for r in rows[:-1])


def _main(channels: list[Channel]) -> str | None:
    for wanted in _MAIN:
        for channel in channels:
            if channel.role == "signal" and wanted in channel.name.lower().replace("_", " "):
                return channel.name
    return None
