"""ORTEC ``.Spe`` / ``.spe`` ASCII gamma spectra (GammaVision, Maestro): ``$SECTION:`` blocks, counts in
``$DATA:`` after a ``first last`` channel range line.

The energy calibration (``$MCA_CAL``: a + b·ch + c·ch², else ``$ENER_FIT``: a + b·ch) gives an energy axis
in keV with the channel number kept beside it. A missing, all-zero or non-increasing calibration is never
used: the axis is then the channel number, with a note. The channel range must match the counts, or the
file is refused.

>>> data = (b"$SPEC_ID:\\nbackground\\n$DATA:\\n0 3\\n5\\n7\\n30\\n6\\n$MCA_CAL:\\n3\\n0.0 0.5 0.0 keV\\n")
>>> parsed = OrtecReader().read(data, "bg.Spe", {})
>>> parsed.axis.label, parsed.axis.values.tolist(), [c.name for c in parsed.channels]
('Energy (keV)', [0.0, 0.5, 1.0, 1.5], ['channel', 'counts'])
>>> bad = OrtecReader().read(data.replace(b"0.0 0.5 0.0", b"0.0 0.0 0.0"), "bg.Spe", {})
>>> bad.axis.kind, bad.notes
('channel', ['the energy calibration ($MCA_CAL) is invalid (all zero): the axis is the channel number'])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from labflow.processing.readers.base import ReadRefused
from labflow.processing.readers.text import decode, head_text, lines
from labflow.processing.series import Axis, Block, Channel, ParsedFile


class OrtecReader:
    name = "ortec"
    family = "ORTEC .Spe gamma spectrum (GammaVision, Maestro)"

    def sniff(self, head: bytes, filename: str) -> float:
        text = head_text(head[:65_536])
        if text.startswith("$SPEC_ID:") and "\n$DATA:" in text.replace("\r", ""):
            return 0.99
        return 0.0

    def read(self, data: bytes, filename: str, options: Mapping[str, Any]) -> ParsedFile:
        sections = _sections(lines(decode(data)))
        if "DATA" not in sections or not sections["DATA"]:
            raise ReadRefused("an ORTEC spectrum without a $DATA: section", reader=self.name)
        counts = _counts(sections["DATA"])
        channel = np.arange(len(counts), dtype=np.float64) + float(sections["DATA"][0].split()[0])
        metadata = {k: " | ".join(v) for k, v in sections.items() if k != "DATA" and len(v) <= 20}
        notes: list[str] = []
        energy = _energy(sections, channel, notes)
        if energy is None:
            block = Block("spectrum", Axis("channel", "channel", "", channel),
                          [Channel("counts", "counts", counts)])
        else:
            block = Block("spectrum", Axis("energy", "Energy", "keV", energy),
                          [Channel("channel", "", channel, role="axis"), Channel("counts", "counts", counts)])
        return ParsedFile(self.name, [block], metadata, notes)


def _sections(text: list[str]) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = None
    for line in text:
        if line.startswith("$") and line.rstrip().endswith(":"):
            current = line.strip()[1:-1]
            sections[current] = []
        elif current is not None and line.strip():
            sections[current].append(line.strip())
    return sections


def _counts(data: list[str]) -> np.ndarray:
    span = data[0].split()
    if len(span) != 2 or not all(s.isdigit() for s in span):
        raise ReadRefused(f"$DATA: starts with {data[0]!r}, not the 'first last' channel range")
    first, last = int(span[0]), int(span[1])
    values = [v for line in data[1:] for v in line.split()]
    if len(values) != last - first + 1:
        raise ReadRefused(f"$DATA: declares channels {first}..{last} ({last - first + 1}) but holds {len(values)} "
                          "counts; the file is cut or damaged")
    try:
        return np.array([float(v) for v in values])
    except ValueError as error:
        raise ReadRefused(f"$DATA: a count is not a number ({error})") from None


def _energy(sections: dict[str, list[str]], channel: np.ndarray, notes: list[str]) -> np.ndarray | None:
    for key in ("MCA_CAL", "ENER_FIT"):
        lines_ = sections.get(key)
        if not lines_:
            continue
        raw = lines_[-1].split()
        coefficients = []
        for value in raw:
            try:
                coefficients.append(float(value))
            except ValueError:
                break  # the unit after the numbers
        if key == "MCA_CAL" and len(lines_) > 1 and lines_[0].strip().isdigit() \
                and int(lines_[0]) != len(coefficients):
            notes.append(f"${key} declares {lines_[0]} coefficients but lists {len(coefficients)}: not used")
            continue
        if not any(coefficients):
            notes.append(f"the energy calibration (${key}) is invalid (all zero): the axis is the channel number")
            return None
        energy = np.polynomial.polynomial.polyval(channel, coefficients)
        if not np.all(np.diff(energy) > 0):
            notes.append(f"the energy calibration (${key}) does not rise with the channel number: not used, the "
                         "axis is the channel number")
            return None
        return energy
    notes.append("no energy calibration in the file: the axis is the channel number")
    return None
