"""Which reader reads a file: the built-in readers and third-party ones, chosen by how sure they are.

Every reader sniffs the file's first bytes and name; the most sure one (score >= ``SURE``) reads it. A
sidecar's or recipe's ``reader:`` option forces one by name. When no reader is sure, the file is refused
with what was recognised and which reader to force — it is never parsed by guess. Gzip-compressed files
(``.gz``, or gzip bytes under any name) are decompressed once here, for every reader.

A package adds readers through the entry-point group ``labflow.readers`` (each entry point loads a reader
class or instance), e.g. in its ``pyproject.toml``::

    [project.entry-points."labflow.readers"]
    my_instrument = "my_package.reader:MyInstrumentReader"
"""

from __future__ import annotations

import gzip
import io
import logging
import zlib
from collections.abc import Mapping, Sequence
from importlib.metadata import entry_points
from typing import Any

from labflow.processing.readers.base import SURE, Reader, ReadRefused
from labflow.processing.readers.text import looks_binary
from labflow.processing.series import ParsedFile
from labflow.processing.table_limits import MAX_FILE_BYTES

ENTRY_POINT_GROUP = "labflow.readers"
READER_OPTIONS = ("reader", "axis", "axis_kind", "axis_name", "axis_unit", "block")
"""Sidecar / recipe fields that steer reading: force a reader, name the axis column, or say what a
header-less file's first column is."""
HEAD_BYTES = 65_536
"""Bytes of the (decompressed) file a reader sniffs."""

log = logging.getLogger(__name__)


def builtin_readers() -> list[Reader]:
    """The readers that ship with labflow, most specific first (ties go to the earlier one)."""
    from labflow.processing.readers.families import BUILTIN  # each reader module imports the base, not this

    return [cls() for cls in BUILTIN]


def plugin_readers() -> tuple[list[Reader], list[str]]:
    """Readers from the ``labflow.readers`` entry points, and a message for each that failed to load."""
    readers, problems = [], []
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = point.load()
            reader = loaded() if isinstance(loaded, type) else loaded
        except Exception as error:  # a broken plugin must not stop labflow from reading other files
            problems.append(f"entry point {point.name!r} ({point.value}) failed to load: {error}")
            continue
        if not isinstance(reader, Reader):
            problems.append(f"entry point {point.name!r} ({point.value}) is not a reader: it needs name, "
                            "family, sniff(head, filename) and read(data, filename, options)")
            continue
        readers.append(reader)
    for problem in problems:
        log.warning(problem)
    return readers, problems


def all_readers() -> list[Reader]:
    """Built-in readers, then plugins (a plugin may not reuse a built-in name)."""
    readers = builtin_readers()
    names = {r.name for r in readers}
    for reader in plugin_readers()[0]:
        if reader.name in names:
            log.warning("entry point reader %r ignored: a reader with that name is already registered",
                        reader.name)
            continue
        readers.append(reader)
        names.add(reader.name)
    return readers


def reader_options(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The reading options among a sidecar's (or recipe's) fields."""
    return {key: fields[key] for key in READER_OPTIONS if fields.get(key) not in (None, "")}


def decompressed(data: bytes, filename: str, limit: int = MAX_FILE_BYTES) -> tuple[bytes, str, list[str]]:
    """Gunzip gzip bytes (the name loses ``.gz``); other bytes unchanged. Returns data, name and
    ``["gzip"]`` when it decompressed. At most ``limit`` bytes come out: a larger result (a gzip bomb,
    or simply too large a file) is refused before it is held in memory.

    >>> import gzip
    >>> decompressed(gzip.compress(b"x,y\\n1,2\\n"), "run.csv.gz")
    (b'x,y\\n1,2\\n', 'run.csv', ['gzip'])
    """
    if not data.startswith(b"\x1f\x8b"):
        return data, filename, []
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            data = stream.read(limit + 1)
    except (OSError, EOFError, zlib.error) as error:
        raise ReadRefused(f"the file is gzip-compressed but cannot be decompressed ({error}); the copy is "
                          "probably truncated, copy it again") from None
    if len(data) > limit:
        raise ReadRefused(f"the file decompresses to more than {limit:,} bytes, the limit for one file; split "
                          "the recording into several files")
    inner = filename[:-3] if filename.lower().endswith(".gz") else filename
    return data, inner, ["gzip"]


def utf16_as_utf8(data: bytes) -> tuple[bytes, list[str]]:
    """UTF-16 text (with a BOM, or told by its NUL bytes) as UTF-8, once for every reader; other bytes
    unchanged. Returns the data and ``[codec]`` when it decoded."""
    codec = None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        codec = "utf-16"
    else:
        head = data[:4096][: len(data[:4096]) // 2 * 2]
        if len(head) >= 4:
            even, odd = head[0::2].count(0) / (len(head) // 2), head[1::2].count(0) / (len(head) // 2)
            codec = "utf-16-le" if odd > 0.9 and even < 0.1 else "utf-16-be" if even > 0.9 and odd < 0.1 else None
    if codec is None:
        return data, []
    try:
        return data.decode(codec).lstrip("\ufeff").encode(), [codec]
    except UnicodeDecodeError:
        raise ReadRefused("the file starts like UTF-16 text but is not valid UTF-16; export it again") from None


def sniff_all(head: bytes, filename: str, readers: Sequence[Reader]) -> list[tuple[float, Reader]]:
    """Every reader's score for the file, best first (stable: ties keep the registry order)."""
    scores = []
    for reader in readers:
        try:
            score = float(reader.sniff(head, filename))
        except Exception as error:  # a sniff that crashes is a reader bug; it must not hide the others
            log.warning("reader %r failed to sniff %s: %s", reader.name, filename, error)
            score = 0.0
        scores.append((min(max(score, 0.0), 1.0), reader))
    return sorted(scores, key=lambda pair: -pair[0])


def read_file(data: bytes, filename: str, options: Mapping[str, Any] | None = None,
              readers: Sequence[Reader] | None = None) -> ParsedFile:
    """Read a file with the reader that is surest about it (or the one ``options['reader']`` names).

    Raises :class:`ReadRefused` (with ``.file`` set) when no reader is sure or the chosen reader refuses.
    """
    options = dict(options or {})
    readers = list(readers) if readers is not None else all_readers()
    try:
        data, inner, compressed = decompressed(data, filename)
        data, decoded = utf16_as_utf8(data)
        reader = choose_reader(data, inner, options, readers)
        parsed = reader.read(data, inner, options)
    except ReadRefused as error:
        error.file = filename
        raise
    parsed.metadata.update({"compression": c for c in compressed} | {"encoding": c for c in decoded})
    return parsed


def choose_reader(data: bytes, filename: str, options: Mapping[str, Any] | None = None,
                  readers: Sequence[Reader] | None = None) -> Reader:
    """The reader ``options['reader']`` names, else the surest by sniffing; :class:`ReadRefused` when none is sure."""
    options = options or {}
    readers = list(readers) if readers is not None else all_readers()
    forced = options.get("reader")
    if forced:
        for reader in readers:
            if reader.name == forced:
                return reader
        raise ReadRefused(f"reader {forced!r} (from the reader: option) does not exist; readers: "
                          f"{', '.join(r.name for r in readers)}")
    if not data.strip():
        raise ReadRefused("the file is empty; the export probably failed, export the data again")
    if looks_binary(data):
        raise ReadRefused("this is a binary file, not a text export; export the data from the instrument software "
                          "as text (ASCII / CSV), or force a reader that reads this binary format")
    ranked = sniff_all(data[:HEAD_BYTES], filename, readers)
    best_score, best = ranked[0] if ranked else (0.0, None)
    if best is not None and best_score >= SURE:
        return best
    raise ReadRefused(_nobody_sure(ranked))


def _nobody_sure(ranked: list[tuple[float, Reader]]) -> str:
    candidates = [f"{r.name} ({r.family}, {score:.2f})" for score, r in ranked if score > 0][:3]
    recognised = ("the closest were " + "; ".join(candidates)) if candidates else \
        "no reader recognised anything in it"
    return (f"no reader is sure what this file is ({recognised}); if you know the instrument, force its "
            "reader with the sidecar's reader: field (e.g. reader: "
            f"{ranked[0][1].name if candidates else 'delimited'}); `labflow readers` lists them")
