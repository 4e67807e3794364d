"""SPECS SpecsLab2 / Prodigy ``.xy`` exports (XPS, XAS, UPS): ``#`` comment metadata, then per region (and
per cycle / curve when scans are kept apart) ``# ColumnLabels:`` and whitespace-separated rows. Every curve
is a block; each must hold the declared ``Values/Curve`` rows, or the file is refused.

>>> data = (b"# Created by:        SpecsLab2, Version 2.77\\n# Region:            C1s\\n# Values/Curve:      3\\n"
...         b"# Excitation Energy: 1486.6\\n# ColumnLabels: energy counts/s\\n280.0  15.5\\n280.1  16.0\\n280.2  30.1\\n")
>>> parsed = SpecsReader().read(data, "c1s.xy", {})
>>> parsed.block.name, parsed.axis.label, [c.name for c in parsed.channels]
('C1s', 'energy (eV)', ['counts/s'])
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from labflow.processing.readers.base import ReadRefused
from labflow.processing.readers.text import decode, head_text, lines
from labflow.processing.series import Axis, Block, Channel, ParsedFile

_PAIR = re.compile(r"^#\s*([^:]+?):\s*(.*)$")


class SpecsReader:
    name = "specs"
    family = "SPECS SpecsLab2 / Prodigy .xy (XPS, XAS)"

    def sniff(self, head: bytes, filename: str) -> float:
        text = head_text(head[:512])
        return 0.98 if re.match(r"#\s*Created by:\s*SpecsLab", text) or "SpecsLab" in text[:200] else 0.0

    def read(self, data: bytes, filename: str, options: Mapping[str, Any]) -> ParsedFile:
        curves: list[dict[str, Any]] = []
        metadata: dict[str, str] = {}
        region: dict[str, str] = {}
        for number, line in enumerate(lines(decode(data)), start=1):
            text = line.strip()
            if not text:
                continue
            if text.startswith("#"):
                match = _PAIR.match(text)
                if not match:
                    continue
                key, value = match[1].strip(), match[2].strip()
                if key == "Region":
                    region = {}
                if key == "ColumnLabels":
                    curves.append({"region": dict(region), "labels": value.split(), "rows": [], "line": number})
                else:
                    region[key] = value
                    metadata.setdefault(key, value)
                continue
            if not curves:
                raise ReadRefused(f"line {number}: data before any '# ColumnLabels:' line", reader=self.name,
                                  line=number)
            curves[-1]["rows"].append(text.split())
        if not curves:
            raise ReadRefused("no '# ColumnLabels:' line: the export has no curves", reader=self.name)
        return ParsedFile(self.name, _blocks(curves), metadata, [])


def _blocks(curves: list[dict[str, Any]]) -> list[Block]:
    blocks, seen = [], set()
    for curve in curves:
        labels, rows, region = curve["labels"], curve["rows"], curve["region"]
        if any(len(row) != len(labels) for row in rows):
            raise ReadRefused(f"the curve at line {curve['line']} has rows that do not hold {len(labels)} values "
                              f"({' '.join(labels)})", reader="specs")
        declared = region.get("Values/Curve", "")
        if declared.isdigit() and int(declared) != len(rows):
            raise ReadRefused(f"region {region.get('Region', '?')} declares {declared} values per curve but "
                              f"{len(rows)} rows follow line {curve['line']}", reader="specs")
        table = np.array(rows, dtype=np.float64)
        name = region.get("Region", f"curve {len(blocks) + 1}")
        if name in seen:
            name = f"{name} ({len(blocks) + 1})"
        seen.add(name)
        axis = Axis("energy", labels[0], "eV", table[:, 0])
        blocks.append(Block(name, axis, [Channel(label, "", table[:, k + 1]) for k, label in enumerate(labels[1:])]))
    return blocks
