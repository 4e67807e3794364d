"""Shimadzu LabSolutions ASCII exports: ``[Section]`` blocks of ``key,value`` lines; every chromatogram
section (``[LC Chromatogram(Detector A-Ch1)]``, ``[GC Chromatogram(...)]``) and every peak table is a block.

A chromatogram declares its sampling interval, point count, start/end time and an intensity multiplier:
the rows must agree with all of them (or the file is refused) and the intensities are scaled by the
multiplier into the declared units.

>>> data = (b"[Header]\\nApplication Name,LabSolutions\\n\\n[LC Chromatogram(Detector A-Ch1)]\\nInterval(msec),500\\n"
...         b"# of Points,3\\nStart Time(min),0.000\\nEnd Time(min),0.01667\\nIntensity Units,mV\\n"
...         b"Intensity Multiplier,0.001\\nR.Time (min),Intensity\\n0.00000,10\\n0.00833,2500\\n0.01667,-0\\n")
>>> parsed = ShimadzuReader().read(data, "run.txt", {})
>>> parsed.block.name, parsed.axis.label, parsed.main_channel.label, parsed.main_channel.values.tolist()
('LC Chromatogram(Detector A-Ch1)', 'R.Time (min)', 'Intensity (mV)', [0.01, 2.5, -0.0])
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from labflow.processing.readers.base import ReadRefused
from labflow.processing.readers.table import fixed_table, table_block
from labflow.processing.readers.text import decode, head_text, lines
from labflow.processing.series import Axis, Block, Channel, ParsedFile

_SECTION = re.compile(r"^\[(.+)\]\s*$")


class ShimadzuReader:
    name = "shimadzu"
    family = "Shimadzu LabSolutions ASCII (chromatograms, peak tables)"

    def sniff(self, head: bytes, filename: str) -> float:
        text = head_text(head[:2048])
        return 0.98 if text.startswith("[Header]") and "LabSolutions" in text else 0.0

    def read(self, data: bytes, filename: str, options: Mapping[str, Any]) -> ParsedFile:
        text = lines(decode(data))
        starts = [(i, m[1]) for i, line in enumerate(text) if (m := _SECTION.match(line))]
        metadata: dict[str, str] = {}
        blocks, notes, applied = [], [], []
        for k, (at, name) in enumerate(starts):
            end = starts[k + 1][0] if k + 1 < len(starts) else len(text)
            body = text[at + 1:end]
            header = next((j for j, line in enumerate(body) if _is_header(line)), None)
            if "Chromatogram" in name and header is not None:
                blocks.append(_chromatogram(name, text, at + 1, at + 1 + header, end, notes, applied))
            elif header is not None and "Peak Table" in name:
                table = fixed_table(text, at + 1 + header, ",", end=end)
                block, block_notes = table_block(table, name, axis_name="R.Time")
                blocks.append(block)
                notes += [f"{name}: {n}" for n in block_notes]
            else:
                for line in body:
                    key, _, value = line.partition(",")
                    if key.strip():
                        metadata[f"{name}: {key.strip()}"] = value.strip()
        if not blocks:
            raise ReadRefused("a LabSolutions export without a chromatogram section", reader=self.name)
        if applied:
            metadata["applied"] = "; ".join(applied)
        return ParsedFile(self.name, blocks, metadata, notes)


def _is_header(line: str) -> bool:
    return line.startswith(("R.Time", "Peak#"))


def _chromatogram(name: str, text: list[str], start: int, header: int, end: int, notes: list[str],
                  applied: list[str]) -> Block:
    keys = {k.strip(): v.strip() for line in text[start:header] for k, _, v in [line.partition(",")]}
    table = fixed_table(text, header, ",", end=end)
    block, block_notes = table_block(table, name, axis_name="R.Time")
    notes += [f"{name}: {n}" for n in block_notes]
    time = block.axis.values
    declared = keys.get("# of Points")
    if declared and int(declared) != len(time):
        raise ReadRefused(f"{name}: '# of Points' is {declared} but {len(time)} rows follow; the export is cut",
                          reader="shimadzu")
    interval = keys.get("Interval(msec)")
    if interval and len(time) > 1:
        step_s = (time[-1] - time[0]) / (len(time) - 1) * 60.0
        if abs(step_s - float(interval) / 1000) > 0.01 * float(interval) / 1000:
            raise ReadRefused(f"{name}: Interval(msec) is {interval} but the retention times step by "
                              f"{step_s * 1000:g} ms", reader="shimadzu")
    for key, value in (("Start Time(min)", time[0]), ("End Time(min)", time[-1])):
        if keys.get(key) and abs(float(keys[key]) - value) > 1e-3:
            raise ReadRefused(f"{name}: {key} is {keys[key]} but the rows give {value:g}", reader="shimadzu")
    multiplier = float(keys.get("Intensity Multiplier", "1") or 1)
    unit = keys.get("Intensity Units", "")
    channels = [Channel(c.name, unit if c.name == "Intensity" else c.unit,
                        c.values * multiplier if c.name == "Intensity" else c.values, c.role) for c in block.channels]
    if multiplier != 1:
        applied.append(f"{name}: intensities multiplied by the declared Intensity Multiplier {multiplier:g}"
                       f"{f' (to {unit})' if unit else ''}")
    return Block(name, Axis("time", block.axis.name, block.axis.unit, time), channels)
