"""The built-in readers, most specific first; the generic delimited reader comes last (the fallback)."""

from __future__ import annotations

from labflow.processing.readers.delimited import DelimitedReader

BUILTIN: list[type] = [DelimitedReader]
