"""Metadata capture: who measured what, on which instrument, for which experiment.

Three layers are merged, later ones winning field by field:

1. the folder convention ``inbox/<instrument>/...``;
2. ``key: value`` header lines in the CSV (read by the parser);
3. a sidecar ``<file>.meta.json`` / ``.meta.yaml`` written by the instrument's control program.

Known field names (and common aliases) map to the canonical fields; everything else goes to ``params``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import PurePosixPath
from typing import Any

import yaml

CANONICAL_FIELDS = ("experiment_id", "operator", "material", "instrument", "started_at")
SIDECAR_SUFFIXES = (".meta.json", ".meta.yaml", ".meta.yml")

_ALIASES = {
    "experiment_id": {"experiment_id", "experiment", "experiment_no", "exp", "exp_id", "run_id", "study"},
    "operator": {"operator", "user", "analyst", "operator_name", "technician", "scientist"},
    "material": {"material", "sample", "sample_name", "sample_id", "substance", "specimen"},
    "instrument": {"instrument", "device", "instrument_id", "instrument_name", "machine", "equipment"},
    "started_at": {"started_at", "start", "start_time", "started", "date", "acquired", "acquisition_time",
                   "measurement_start", "datetime", "timestamp"},
}
_ALIAS_TO_FIELD = {alias: name for name, aliases in _ALIASES.items() for alias in aliases}


class MetadataError(ValueError):
    """Metadata that cannot be read (e.g. a sidecar with bad JSON)."""


@dataclass(frozen=True)
class RunMetadata:
    """What we know about how and where a run was measured."""

    instrument: str | None = None
    operator: str | None = None
    material: str | None = None
    experiment_id: str | None = None
    started_at: datetime | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CapturedMetadata(RunMetadata):
    """The merged metadata of one run, and where each canonical field came from."""

    sources: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``started_at`` as ISO-8601)."""
        return {
            "instrument": self.instrument,
            "operator": self.operator,
            "material": self.material,
            "experiment_id": self.experiment_id,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "params": self.params,
            "sources": self.sources,
        }


def _normalise_key(key: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", key.strip().lower()).strip("_")


def parse_started_at(value: Any) -> datetime:
    """An ISO-8601 date/time (naive = UTC) or a datetime, as an aware UTC datetime."""
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value).strip().replace("Z", "+00:00")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise MetadataError(
                f"started_at {value!r} is not an ISO-8601 date/time (e.g. 2024-03-01T10:15:00Z)"
            ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def field_for_key(key: str) -> str | None:
    """The canonical field a metadata key stands for (``"Start Time"`` → ``started_at``), or None."""
    return _ALIAS_TO_FIELD.get(_normalise_key(key))


def normalise_fields(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Map aliases to canonical field names; unknown keys (and a ``params`` mapping) go to ``params``."""
    fields: dict[str, Any] = {}
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "params" and isinstance(value, Mapping):
            params.update(value)
            continue
        canonical = field_for_key(str(key))
        if canonical is None:
            params[str(key).strip()] = value
        elif value is not None and str(value).strip() != "":
            fields[canonical] = value if canonical == "started_at" else str(value).strip()
    if "started_at" in fields:
        fields["started_at"] = parse_started_at(fields["started_at"])
    if params:
        fields["params"] = params
    return fields


def normalise_header_fields(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Like :func:`normalise_fields` for CSV header lines, which are free text: a date that does not
    parse is kept as a parameter instead of failing the file."""
    try:
        return normalise_fields(raw)
    except MetadataError:
        dates = {k: v for k, v in raw.items() if field_for_key(str(k)) == "started_at"}
        fields = normalise_fields({k: v for k, v in raw.items() if k not in dates})
        fields.setdefault("params", {}).update(dates)
        return fields


def metadata_from_path(relative_path: str) -> dict[str, Any]:
    """Folder convention: ``<instrument>/<anything>/<file>`` names the instrument."""
    parts = PurePosixPath(relative_path).parts
    return {"instrument": parts[0]} if len(parts) > 1 else {}


def parse_sidecar(name: str, text: str) -> dict[str, Any]:
    """Read a sidecar (JSON or YAML by suffix) into normalised fields; clear errors for bad files."""
    if not text.strip():
        raise MetadataError(f"sidecar {name} is empty; write the metadata as a JSON object or delete the sidecar")
    try:
        data = json.loads(text) if name.lower().endswith(".json") else yaml.safe_load(text)
    except json.JSONDecodeError as error:
        raise MetadataError(
            f"sidecar {name} is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}"
        ) from None
    except yaml.YAMLError as error:
        raise MetadataError(f"sidecar {name} is not valid YAML: {error}") from None
    if not isinstance(data, Mapping):
        raise MetadataError(f"sidecar {name} must hold an object of fields, not {type(data).__name__}")
    return normalise_fields(data)


def merge_metadata(layers: list[tuple[str, Mapping[str, Any]]]) -> CapturedMetadata:
    """Merge ``(source name, fields)`` layers in order; later layers win, ``params`` are merged."""
    merged: dict[str, Any] = {}
    params: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for source, fields in layers:
        for name in CANONICAL_FIELDS:
            if fields.get(name) is not None:
                merged[name] = fields[name]
                sources[name] = source
        params.update(fields.get("params") or {})
    return CapturedMetadata(**merged, params=params, sources=sources)


def sidecar_candidates(file_name: str) -> list[str]:
    """Sidecar names that belong to ``file_name``: ``x.csv.meta.json`` first, then ``x.meta.json``."""
    stem = PurePosixPath(file_name).stem
    return [file_name + s for s in SIDECAR_SUFFIXES] + [stem + s for s in SIDECAR_SUFFIXES]


def is_sidecar(file_name: str) -> bool:
    """Whether a file is a metadata sidecar rather than a data file."""
    return file_name.lower().endswith(SIDECAR_SUFFIXES)
