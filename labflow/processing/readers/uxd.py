"""Bruker DIFFRAC ``.uxd`` text: ``_KEY=value`` lines and ``;`` comments, one or more ranges, data after
``_2THETACOUNTS`` (2θ and counts pairs) or ``_COUNTS`` (counts only; 2θ from ``_START`` + ``_STEPSIZE``·i).
Each range is a block; the declared ``_STEPSIZE`` and ``_STEPS`` must agree with the data.

>>> data = b"_WL1=1.5406\\n; (Data for Range number 1)\\n_STEPSIZE=0.02\\n_START=10.0\\n_2THETACOUNTS\\n" \\
...        b"10.00\\t120\\n10.02\\t135\\n10.04\\t180\\n"
>>> parsed = UxdReader().read(data, "scan.uxd", {})
>>> parsed.axis.kind, parsed.axis.label, parsed.main_channel.values.tolist()
('two_theta', '2theta (deg)', [120.0, 135.0, 180.0])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from labflow.processing.readers.base import ReadRefused
from labflow.processing.readers.text import decode, head_text, lines
from labflow.processing.series import Axis, Block, Channel, ParsedFile


class UxdReader:
    name = "uxd"
    family = "Bruker DIFFRAC .uxd (XRD)"

    def sniff(self, head: bytes, filename: str) -> float:
        text = head_text(head[:65_536])
        if "\n_2THETACOUNTS" in text or "\n_COUNTS" in text or "\n_2THETACPS" in text:
            return 0.97
        return 0.6 if filename.lower().endswith(".uxd") else 0.0

    def read(self, data: bytes, filename: str, options: Mapping[str, Any]) -> ParsedFile:
        metadata: dict[str, str] = {}
        ranges: list[tuple[dict[str, str], str, list[str]]] = []
        keys: dict[str, str] = {}
        for line in lines(decode(data)):
            text = line.strip()
            if not text or text.startswith(";"):
                continue
            if text.startswith("_") and "=" in text:
                key, value = text[1:].split("=", 1)
                keys[key.strip()] = value.strip().strip("'")
                if not ranges:
                    metadata[key.strip()] = value.strip().strip("'")
            elif text in ("_2THETACOUNTS", "_COUNTS", "_2THETACPS", "_CPS"):
                ranges.append((dict(keys), text[1:], []))
            elif ranges:
                ranges[-1][2].append(text)
            else:
                raise ReadRefused(f"a line before any data marker: {text[:40]!r}", reader=self.name)
        if not ranges:
            raise ReadRefused("no _2THETACOUNTS or _COUNTS data in this .uxd file", reader=self.name)
        blocks = [_block(f"range {k + 1}", *r) for k, r in enumerate(ranges)]
        return ParsedFile(self.name, blocks, metadata, [])


def _block(name: str, keys: dict[str, str], kind: str, rows: list[str]) -> Block:
    unit = "cps" if kind.endswith("CPS") else "counts"
    if kind.startswith("2THETA"):
        table = np.array([list(map(float, row.split())) for row in rows])
        if table.ndim != 2 or table.shape[1] != 2:
            raise ReadRefused(f"{name}: _{kind} rows must hold 2θ and a count each")
        angle, counts = table[:, 0], table[:, 1]
        step = keys.get("STEPSIZE")
        mean_step = (angle[-1] - angle[0]) / max(len(angle) - 1, 1)
        if step and len(angle) > 1 and abs(mean_step - float(step)) > 0.005 * float(step):
            raise ReadRefused(f"{name}: _STEPSIZE={step} but the 2θ values step by {mean_step:g} on average")
    else:
        counts = np.array([float(v) for row in rows for v in row.split()])
        if "START" not in keys or "STEPSIZE" not in keys:
            raise ReadRefused(f"{name}: _COUNTS data need _START and _STEPSIZE to place them on 2θ")
        angle = float(keys["START"]) + float(keys["STEPSIZE"]) * np.arange(len(counts))
    declared = keys.get("STEPS")
    if declared and int(float(declared)) != len(counts):
        raise ReadRefused(f"{name}: _STEPS={declared} but {len(counts)} points follow")
    return Block(name, Axis("two_theta", "2theta", "deg", angle), [Channel("counts", unit, counts)])
