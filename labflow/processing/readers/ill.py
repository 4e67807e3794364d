"""ILL powder diffractometer ``.dat`` (D1A, D2B style): three title lines, a line starting with the point
count, a ``start step end`` 2θ line, then the counts and (when twice as many numbers follow) their standard
deviations, ten per line. The declared count, range and step must agree, or the file is refused.

>>> data = b"D1A Title: test\\n Ident: 1\\n title 2theta\\n 3 -1.0 100.0 1 100000.0 0.0\\n 10.0 0.5 11.0\\n" \\
...        b" 5.0 7.0 6.0 0.5 0.6 0.5\\n"
>>> parsed = IllReader().read(data, "d1a.dat", {})
>>> parsed.axis.values.tolist(), [c.name for c in parsed.channels]
([10.0, 10.5, 11.0], ['counts', 'esd'])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from labflow.processing.readers.base import ReadRefused
from labflow.processing.readers.text import decode, head_text, lines
from labflow.processing.series import Axis, Block, Channel, ParsedFile


class IllReader:
    name = "ill_d1a"
    family = "ILL powder diffraction .dat (D1A / D2B)"

    def sniff(self, head: bytes, filename: str) -> float:
        text = lines(head_text(head[:4096]))
        try:
            int(text[3].split()[0])
            [float(v) for v in text[4].split()[:3]]
            [float(v) for v in text[5].split()]
        except (IndexError, ValueError):
            return 0.0
        return 0.9 if len(text[4].split()) == 3 and len(text[5].split()) == 10 or "D1A" in text[0] else 0.0

    def read(self, data: bytes, filename: str, options: Mapping[str, Any]) -> ParsedFile:
        text = lines(decode(data))
        count, start, step = _range(text)
        try:
            numbers = np.array([float(v) for line in text[5:] for v in line.split()])
        except ValueError as error:
            raise ReadRefused(f"a value after the range line is not a number ({error})", reader=self.name) from None
        angle = start + step * np.arange(count)
        channels = [Channel("counts", "counts", numbers[:count])]
        if len(numbers) == 2 * count:
            channels.append(Channel("esd", "counts", numbers[count:]))
        elif len(numbers) != count:
            raise ReadRefused(f"the file declares {count} points but holds {len(numbers)} values (neither {count} "
                              f"counts nor {count} counts and {count} errors)", reader=self.name)
        block = Block("pattern", Axis("two_theta", "2theta", "deg", angle), channels)
        return ParsedFile(self.name, [block], {"title": text[0].strip(), "ident": text[1].strip()}, [])


def _range(text: list[str]) -> tuple[int, float, float]:
    count = int(text[3].split()[0])
    start, step, end = (float(v) for v in text[4].split()[:3])
    if count < 2 or step == 0 or abs(start + step * (count - 1) - end) > abs(step) * 0.01:
        raise ReadRefused(f"the range line says {start:g} to {end:g} in steps of {step:g}, which is not "
                          f"{count} points", reader="ill_d1a")
    return count, start, step
