"""``labflow inspect`` and ``labflow readers``: what a reader made of a file, for people and scripts.

The JSON form is stable (scripts rely on it)::

    {"file": "run.mpt", "reader": "biologic",
     "axis": {"kind": "time", "name": "time", "unit": "s"},
     "channels": [{"name": "Ewe", "unit": "V", "role": "signal"}, ...],
     "rows": 1170,
     "blocks": [{"name": "data", "rows": 1170, "axis": {...}, "channels": [...]}, ...],
     "metadata": {...}, "notes": ["..."]}

or, when no reader is sure or the reader refuses, ``{"file": ..., "refused": "<message>"}``. ``axis``,
``channels`` and ``rows`` describe the main (first) block. ``--export OUT.csv`` writes exactly what was
read: the axis first, then every channel, names with units; one file per block (``OUT-<block>.csv``) for
multi-block files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from labflow.ingest.metadata import SIDECAR_SUFFIXES, parse_sidecar_raw
from labflow.processing.readers.base import ReadRefused
from labflow.processing.readers.registry import all_readers, plugin_readers, read_file, reader_options
from labflow.processing.series import Axis, Block, Channel, ParsedFile


def sidecar_options(path: Path) -> dict[str, Any]:
    """Reading options (``reader:``, ``axis:``, ...) from ``FILE.meta.json`` / ``.meta.yaml`` beside the file."""
    for suffix in SIDECAR_SUFFIXES:
        sidecar = path.with_name(path.name + suffix)
        if sidecar.exists():
            return reader_options(parse_sidecar_raw(sidecar.name, sidecar.read_text(encoding="utf-8")))
    return {}


def _axis(axis: Axis) -> dict[str, Any]:
    described: dict[str, Any] = {"kind": axis.kind, "name": axis.name, "unit": axis.unit}
    if axis.start is not None:
        described["start"] = axis.start.isoformat()
    return described


def _channel(channel: Channel) -> dict[str, str]:
    return {"name": channel.name, "unit": channel.unit, "role": channel.role}


def _block(block: Block) -> dict[str, Any]:
    return {"name": block.name, "rows": block.rows, "axis": _axis(block.axis),
            "channels": [_channel(c) for c in block.channels],
            "main": block.main_channel.name if block.main_channel else None}


def report(parsed: ParsedFile, file: str) -> dict[str, Any]:
    """The JSON-able description of a parsed file."""
    return {"file": file, "reader": parsed.reader, "axis": _axis(parsed.axis),
            "channels": [_channel(c) for c in parsed.channels], "rows": parsed.rows,
            "blocks": [_block(b) for b in parsed.blocks], "metadata": parsed.metadata, "notes": parsed.notes}


def inspect_path(path: Path, options: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], ParsedFile | None]:
    """Read ``path`` (sidecar options, then ``options``, win) and describe it; refusals are described too."""
    merged = sidecar_options(path) | dict(options or {})
    try:
        parsed = read_file(path.read_bytes(), path.name, merged)
    except ReadRefused as error:
        return {"file": path.name, "refused": str(error)}, None
    return report(parsed, path.name), parsed


def as_text(described: Mapping[str, Any]) -> str:
    """The report for people: reader, axis, channels with units, blocks, metadata, every note."""
    if "refused" in described:
        return f"{described['file']}: REFUSED\n  {described['refused']}"
    axis = described["axis"]
    unit = f" ({axis['unit']})" if axis["unit"] else ""
    start = f", starting {axis['start']}" if axis.get("start") else ""
    out = [f"{described['file']}: read by '{described['reader']}'",
           f"  axis: {axis['name']}{unit} — {axis['kind']}{start}",
           f"  rows: {described['rows']}"]
    for block in described["blocks"]:
        if len(described["blocks"]) > 1:
            out.append(f"  block '{block['name']}': {block['rows']} rows, axis {block['axis']['name']} "
                       f"({block['axis']['kind']})")
        for channel in block["channels"]:
            unit = f" ({channel['unit']})" if channel["unit"] else ""
            mark = "  <- main" if channel["name"] == block["main"] else ""
            role = "" if channel["role"] == "signal" else f" [{channel['role']}]"
            out.append(f"    {channel['name']}{unit}{role}{mark}")
    if described["metadata"]:
        out.append(f"  metadata: {len(described['metadata'])} fields")
        out += [f"    {k}: {v}"[:120] for k, v in list(described["metadata"].items())[:20]]
    out.append("  notes:" if described["notes"] else "  notes: none")
    out += [f"    - {note}" for note in described["notes"]]
    return "\n".join(out)


def export(parsed: ParsedFile, out: Path) -> list[Path]:
    """Write every block as CSV (axis first, then channels, names with units); one file per block."""
    if len(parsed.blocks) == 1:
        targets = [(parsed.block, out)]
    else:
        targets = [(b, out.with_name(f"{out.stem}-{_safe(b.name)}{out.suffix or '.csv'}")) for b in parsed.blocks]
    for block, target in targets:
        block.to_frame().write_csv(target)
    return [target for _, target in targets]


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name).strip("_") or "block"


def readers_listing() -> str:
    """Every reader: name and family; plugin readers and broken entry points included."""
    readers = all_readers()
    width = max(len(r.name) for r in readers)
    lines = [f"{r.name.ljust(width)}  {r.family}" for r in readers]
    problems = plugin_readers()[1]
    return "\n".join(lines + [f"! {p}" for p in problems])


def inspect_command(file: str, as_json: bool, export_to: str | None, reader: str | None, *,
                    peaks: bool = False, recipe: str | None = None, recipes_dir: Path | None = None) -> int:
    """``labflow inspect``: 0 when read, 2 when refused (the message says why).

    ``peaks``: also run the recipe (``recipe``, else the one chosen for the axis kind from ``recipes_dir``)
    and list the peaks and the quality verdict (:mod:`labflow.processing.peak_report`).
    """
    path = Path(file)
    if not path.is_file():
        print(f"error: {file} is not a file")
        return 2
    described, parsed = inspect_path(path, {"reader": reader} if reader else None)
    if peaks and parsed is not None:
        from labflow.processing.peak_report import peak_report
        from labflow.processing.recipes import RecipeBook, RecipeError

        try:
            chosen = RecipeBook.from_dir(recipes_dir or Path("recipes")).for_run(
                instrument=None, requested=recipe, axis_kind=parsed.axis.kind)
        except RecipeError as error:
            print(f"error: {error}")
            return 2
        described["peaks"] = peak_report(parsed, chosen)
    print(json.dumps(described, indent=2, ensure_ascii=False, default=str) if as_json else as_text(described))
    if peaks and parsed is not None and not as_json:
        from labflow.processing.peak_report import peaks_as_text

        print(peaks_as_text(described["peaks"]))
    if parsed is None:
        return 2
    if export_to:
        written = export(parsed, Path(export_to))
        if not as_json:
            print("exported: " + ", ".join(str(p) for p in written))
    return 0
