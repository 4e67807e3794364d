"""EZChrom / OpenLab EZChrom ASCII exports (``.asc``): a tab-separated header with one value per detector
channel, then every channel's points one after another in a single column.

The header's channel count (columns of ``Total Data Points``), points per channel, ``Sampling Rate`` and
``Y Axis Multiplier`` decide the split: the values must number exactly the declared points, else the file is
refused. Each channel is scaled by its multiplier and gets a time axis from its sampling rate (seconds).

>>> data = (b"Sample ID:\\tS1\\nSampling Rate:\\t2.0\\t2.0\\tHz\\nTotal Data Points:\\t3\\t3\\tPts.\\n"
...         b"X Axis Title:\\tMinutes\\tMinutes\\nY Axis Title:\\tmV\\tuV\\nX Axis Multiplier:\\t0.0166667\\t0.0166667\\n"
...         b"Y Axis Multiplier:\\t0.5\\t2\\n10\\n12\\n14\\n1\\n2\\n3\\n")
>>> parsed = EzchromReader().read(data, "gc.asc", {})
>>> parsed.axis.label, parsed.axis.values.tolist(), [(c.label, c.values.tolist()) for c in parsed.channels]
('time (s)', [0.0, 0.5, 1.0], [('channel 1 (mV)', [5.0, 6.0, 7.0]), ('channel 2 (uV)', [2.0, 4.0, 6.0])])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from labflow.processing.readers.base import ReadRefused
from labflow.processing.readers.text import decode, head_text, is_number, lines
from labflow.processing.series import Axis, Block, Channel, ParsedFile

_REQUIRED = ("Sampling Rate", "Total Data Points", "Y Axis Multiplier")


class EzchromReader:
    name = "ezchrom"
    family = "EZChrom ASCII (.asc; channels stored one after another)"

    def sniff(self, head: bytes, filename: str) -> float:
        text = head_text(head[:8192])
        return 0.97 if "Total Data Points:" in text and "Y Axis Multiplier:" in text else 0.0

    def read(self, data: bytes, filename: str, options: Mapping[str, Any]) -> ParsedFile:
        text = lines(decode(data))
        header: dict[str, list[str]] = {}
        values: list[str] = []
        for number, line in enumerate(text, start=1):
            cells = [c.strip() for c in line.split("\t")]
            if cells[0].endswith(":"):
                header[cells[0][:-1]] = cells[1:]
            elif line.strip():
                if not is_number(line.strip().replace(",", ".")):
                    raise ReadRefused(f"line {number}: {line.strip()[:40]!r} is neither a header line nor a value",
                                      reader=self.name, line=number)
                values.append(line.strip().replace(",", "."))
        missing = [k for k in _REQUIRED if k not in header]
        if missing:
            raise ReadRefused(f"the header lacks {', '.join(missing)}: the channels cannot be split and scaled",
                              reader=self.name)
        points = [int(float(v)) for v in header["Total Data Points"] if is_number(v)]
        rates = [float(v) for v in header["Sampling Rate"] if is_number(v)]
        factors = [float(v) for v in header["Y Axis Multiplier"] if is_number(v)]
        if not points or not len(points) == len(rates) == len(factors):
            raise ReadRefused(f"the header gives {len(points)} point counts, {len(rates)} sampling rates and "
                              f"{len(factors)} Y multipliers; they must name the same channels", reader=self.name)
        if sum(points) != len(values):
            raise ReadRefused(f"the header declares {len(points)} channel(s) of {points} points ({sum(points)} "
                              f"values) but the file holds {len(values)} values", reader=self.name)
        if any(r <= 0 for r in rates):
            raise ReadRefused(f"a sampling rate is not positive ({rates}); no time axis can be made",
                              reader=self.name)
        numbers = np.array(values, dtype=np.float64)
        units = (header.get("Y Axis Title", []) + [""] * len(points))[:len(points)]
        metadata = {k: "\t".join(v) for k, v in header.items()}
        metadata["applied"] = (f"{len(points)} channel(s) stored one after another, split by the declared point "
                               f"counts {points}, scaled by the Y multipliers {factors}, time from the sampling "
                               f"rates {rates} Hz")
        return ParsedFile(self.name, _blocks(numbers, points, rates, factors, units), metadata, [])


def _blocks(numbers: np.ndarray, points: list[int], rates: list[float], factors: list[float],
            units: list[str]) -> list[Block]:
    starts = np.concatenate([[0], np.cumsum(points)])
    channels = [Channel(f"channel {k + 1}", units[k], numbers[starts[k]:starts[k + 1]] * factors[k])
                for k in range(len(points))]
    if len(set(points)) == 1 and len(set(rates)) == 1:
        axis = Axis("time", "time", "s", np.arange(points[0]) / rates[0])
        return [Block("chromatogram", axis, channels)]
    return [Block(c.name, Axis("time", "time", "s", np.arange(points[k]) / rates[k]), [c])
            for k, c in enumerate(channels)]
