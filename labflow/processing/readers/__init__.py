"""Instrument readers: one module per family, chosen by :func:`read_file` (see ``registry``)."""

from labflow.processing.readers.base import SURE, Reader, ReadRefused
from labflow.processing.readers.registry import all_readers, read_file

__all__ = ["SURE", "ReadRefused", "Reader", "all_readers", "read_file"]
