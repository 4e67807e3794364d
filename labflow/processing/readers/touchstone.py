"""Touchstone ``.sNp`` network parameters (VNA exports, v1 and the v2 keywords): frequency axis, units
and format from the option line (``# GHz S RI R 50``; defaults ``GHz S MA R 50``), one channel per
parameter part (``Re S11``/``Im S11``, ``S11 mag``/``S11 ang``, ``S11 dB``/``S11 ang``). Two-port noise
parameters after the network data (the frequency starts again) are a second block. The port count comes
from the extension (or ``[Number of Ports]``); every point must have 1 + 2·N² numbers, or the file is refused.

>>> data = b"! VNA\\n# MHz S MA R 50\\n100 0.9 -10\\n200 0.8 -20\\n300 0.7 -30\\n"
>>> parsed = TouchstoneReader().read(data, "dut.s1p", {})
>>> parsed.axis.label, [c.label for c in parsed.channels], parsed.metadata["reference"]
('frequency (MHz)', ['S11 mag', 'S11 ang (deg)'], '50')
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from labflow.processing.readers.base import ReadRefused
from labflow.processing.readers.text import decode, head_text, lines
from labflow.processing.series import Axis, Block, Channel, ParsedFile

_EXTENSION = re.compile(r"\.s(\d+)p$", re.I)
_UNITS = {"HZ": "Hz", "KHZ": "kHz", "MHZ": "MHz", "GHZ": "GHz"}
_PARTS = {"RI": (("Re {}", ""), ("Im {}", "")), "MA": (("{} mag", ""), ("{} ang", "deg")),
          "DB": (("{} dB", "dB"), ("{} ang", "deg"))}
_NOISE = (("NFmin", "dB"), ("Gamma opt mag", ""), ("Gamma opt ang", "deg"), ("Rn", "normalised"))


class TouchstoneReader:
    name = "touchstone"
    family = "Touchstone .sNp (S/Y/Z parameters, noise parameters)"

    def sniff(self, head: bytes, filename: str) -> float:
        text = head_text(head[:8192])
        option = re.search(r"^\s*#\s*(?:[kMG]?Hz)?\s*[SYZHG]?\s*(?:RI|MA|DB)?\s*(?:R\s+[\d.]+)?\s*$", text,
                           re.M | re.I)
        if option and (_EXTENSION.search(filename) or "[Number of Ports]" in text):
            return 0.98
        return 0.4 if _EXTENSION.search(filename) else 0.0

    def read(self, data: bytes, filename: str, options: Mapping[str, Any]) -> ParsedFile:
        text = lines(decode(data))
        ports = _ports(text, filename)
        unit, parameter, form, reference = _option_line(text)
        rows = _numbers(text)
        per_point = 1 + 2 * ports * ports
        network, noise = _split_noise(rows, per_point, ports)
        names = _parameter_names(parameter, ports)
        points = _points(network, per_point)
        if not points:
            raise ReadRefused("no network data after the option line", reader=self.name)
        values = np.array(points)
        declared = _keyword(text, "Number of Frequencies")
        if declared and int(declared) != len(values):
            raise ReadRefused(f"[Number of Frequencies] {declared} but {len(values)} points follow", reader=self.name)
        channels = []
        for k, name in enumerate(names):
            for part, (label, part_unit) in enumerate(_PARTS[form]):
                channels.append(Channel(label.format(name), part_unit, values[:, 1 + 2 * k + part]))
        blocks = [Block("network", Axis("frequency", "frequency", unit, values[:, 0]), channels)]
        if noise:
            noise_values = np.array(_points(noise, 5))
            blocks.append(Block("noise", Axis("frequency", "frequency", unit, noise_values[:, 0]),
                                [Channel(n, u, noise_values[:, 1 + k]) for k, (n, u) in enumerate(_NOISE)]))
        metadata = {"parameter": parameter, "format": form, "reference": reference, "ports": str(ports)}
        return ParsedFile(self.name, blocks, metadata, [])


def _ports(text: list[str], filename: str) -> int:
    declared = _keyword(text, "Number of Ports")
    if declared:
        return int(declared)
    match = _EXTENSION.search(filename)
    if match is None:
        raise ReadRefused("a Touchstone file needs its .sNp extension (or [Number of Ports]) to say how many "
                          "ports it has; rename it, e.g. to .s2p", reader="touchstone")
    return int(match[1])


def _keyword(text: list[str], keyword: str) -> str | None:
    for line in text:
        if line.strip().lower().startswith(f"[{keyword.lower()}]"):
            return line.split("]", 1)[1].strip()
    return None


def _option_line(text: list[str]) -> tuple[str, str, str, str]:
    line = next((t.split("!")[0] for t in text if t.strip().startswith("#")), None)
    if line is None:
        raise ReadRefused("no option line ('# GHz S RI R 50'): units and format are unknown", reader="touchstone")
    tokens = line.strip()[1:].split()
    unit, parameter, form, reference = "GHz", "S", "MA", "50"
    i = 0
    while i < len(tokens):
        token = tokens[i].upper()
        if token in _UNITS:
            unit = _UNITS[token]
        elif token in ("S", "Y", "Z", "H", "G"):
            parameter = token
        elif token in _PARTS:
            form = token
        elif token == "R" and i + 1 < len(tokens):
            reference, i = tokens[i + 1], i + 1
        else:
            raise ReadRefused(f"option line: {tokens[i]!r} is not a Touchstone option", reader="touchstone")
        i += 1
    return unit, parameter, form, reference


def _numbers(text: list[str]) -> list[list[float]]:
    rows = []
    for number, line in enumerate(text, start=1):
        body = line.split("!")[0].strip()
        if not body or body.startswith(("#", "[")):
            continue
        try:
            rows.append([float(v) for v in body.split()])
        except ValueError:
            raise ReadRefused(f"line {number} holds text where numbers belong: {body[:40]!r}",
                              reader="touchstone", line=number) from None
    return rows


def _split_noise(rows: list[list[float]], per_point: int, ports: int) -> tuple[list[list[float]], list[list[float]]]:
    """Network rows, and the noise rows after them (2-port only: the frequency starts again)."""
    if ports != 2:
        return rows, []
    last = None
    for k, row in enumerate(rows):
        if len(row) == per_point:
            if last is not None and row[0] <= last:
                break
            last = row[0]
        elif len(row) == 5 and last is not None and row[0] <= last:
            return rows[:k], rows[k:]
    return rows, []


def _points(rows: list[list[float]], per_point: int) -> list[list[float]]:
    flat = [v for row in rows for v in row]
    if len(flat) % per_point:
        raise ReadRefused(f"{len(flat)} numbers do not split into points of {per_point} (frequency and "
                          f"{per_point - 1} values); a value is missing or the port count is wrong",
                          reader="touchstone")
    return [flat[i:i + per_point] for i in range(0, len(flat), per_point)]


def _parameter_names(parameter: str, ports: int) -> list[str]:
    if ports == 2:  # Touchstone v1 orders two-port data 11, 21, 12, 22
        return [f"{parameter}{a}{b}" for a, b in ((1, 1), (2, 1), (1, 2), (2, 2))]
    return [f"{parameter}{a}{b}" for a in range(1, ports + 1) for b in range(1, ports + 1)]
