"""The reader protocol every instrument family implements, and the refusal a reader raises.

A reader says how sure it is that it can read a file from its first bytes and its name (``sniff``, 0–1),
and reads the whole file into a :class:`~labflow.processing.series.ParsedFile` (``read``). When the file
does not agree with itself (a declared point count, channel count, multiplier or calibration that the data
contradict) or the reader cannot tell what something is, it raises :class:`ReadRefused` with a message a
scientist can act on — never a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from labflow.processing.series import ParsedFile

SURE = 0.5
"""A sniff score from which a reader is trusted to read a file without being forced."""


class ReadRefused(ValueError):
    """A file is refused: the message says what was recognised, what is wrong, and what to do."""

    def __init__(self, message: str, *, reader: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reader = reader
        self.line = line
        self.file: str | None = None

    def __str__(self) -> str:
        text = self.message
        if self.line is not None and f"line {self.line}" not in text:
            text = f"{text} (line {self.line})"
        return f"{self.file}: {text}" if self.file else text


@runtime_checkable
class Reader(Protocol):
    """One instrument family's reader.

    ``name`` is what a sidecar's ``reader:`` field names; ``family`` a short description for people.
    """

    name: str
    family: str

    def sniff(self, head: bytes, filename: str) -> float:
        """How sure (0–1) this reader is that it reads the file whose first bytes are ``head``."""
        ...

    def read(self, data: bytes, filename: str, options: Mapping[str, Any]) -> ParsedFile:
        """Read the whole file; raise :class:`ReadRefused` when it cannot be read without guessing."""
        ...
