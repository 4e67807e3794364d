"""Sources from configuration: one ``sources/<name>.yaml`` per stream, reloaded when a file changes.

A source names its numeric ``fields``, how its timestamps are read, optional ``derived`` fields
(SQL expressions over the fields, e.g. ``ratio: bytes_in / packets``), a ``label_field`` when events
carry ground truth, and its detectors' settings. ``kind`` says how events arrive: ``rest`` or
``websocket`` (pushed), ``file`` (tail a growing CSV/JSONL file) or ``poll`` (GET a URL every N s).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field, fields, replace
from datetime import timezone, timedelta
from pathlib import Path
from typing import Any

import yaml

KINDS = ("rest", "websocket", "file", "poll")
SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class SourceConfigError(ValueError):
    """A source file that cannot be used; the message names the file and the setting."""


class UnknownSource(LookupError):
    """No ``sources/<name>.yaml`` for this source."""


@dataclass(frozen=True)
class AnomalySettings:
    """Per field, a deviation from the running level and a nearest-neighbour context score, each through an
    anomaly-likelihood layer, plus a range break (see :mod:`labflow.streams.ensemble`). An alarm when the
    likelihood reaches ``quantile``, not in the first ``warmup`` events (NAB's probationary period, counted
    because a stream's length is unknown), then quiet for ``cooldown`` events. The defaults were tuned on the
    NAB corpus as a whole (``benchmarks/streams_tune.py --tune-on all --rounds 1``), except ``quantile``,
    ``knn_k`` and ``range_min_sd`` (5: no alarm on clean stationary noise), chosen beforehand."""

    enabled: bool = True
    quantile: float = 0.99999
    warmup: int = 150
    cooldown: int = 25
    history: int = 500
    short: int = 5
    alpha: float = 0.002
    knn_dim: int = 10
    knn_size: int = 600
    knn_k: int = 5
    range_margin: float = 0.05
    range_min_sd: float = 5.0
    range_score: float = 0.7
    seed: int = 42


@dataclass(frozen=True)
class DriftSettings:
    """ADWIN on each field's values; DDM on the error stream when the source has a ``label_field``."""

    enabled: bool = True
    delta: float = 0.002
    min_change: float = 0.5
    cooldown: int = 100


@dataclass(frozen=True)
class ClusterSettings:
    """Online k-means in warm-up units, learned every ``every`` events; centroid shift checked each ``check``."""

    enabled: bool = True
    n_clusters: int = 3
    halflife: float = 0.05
    every: int = 4
    check: int = 200
    min_shift: float = 1.0
    warmup: int = 400


@dataclass(frozen=True)
class SourceConfig:
    """One source: how events arrive, what they carry and which detectors look at them."""

    name: str
    fields: tuple[str, ...]
    kind: str = "rest"
    description: str = ""
    timestamp_field: str = "timestamp"
    timestamp_format: str | None = None
    timezone_offset_hours: float = 0.0
    id_field: str | None = None
    label_field: str | None = None
    derived: dict[str, str] = field(default_factory=dict)
    path: str | None = None
    url: str | None = None
    interval_s: float = 5.0
    queue_size: int = 50_000
    anomaly: AnomalySettings = AnomalySettings()
    drift: DriftSettings = DriftSettings()
    clusters: ClusterSettings = ClusterSettings()

    @property
    def tz(self) -> timezone:
        """The zone naive timestamps are read in (the timestamp rule)."""
        return timezone(timedelta(hours=self.timezone_offset_hours))

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Fields and derived fields, the detectors' inputs."""
        return (*self.fields, *self.derived)


def _section(cls: type, raw: Any, where: str) -> Any:
    if raw is None:
        return cls()
    if not isinstance(raw, dict):
        raise SourceConfigError(f"{where}: expected a mapping of settings")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise SourceConfigError(f"{where}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(known)}")
    base = cls()
    values = {}
    for key, value in raw.items():
        expected = type(getattr(base, key))
        try:
            values[key] = expected(value)
        except (TypeError, ValueError):
            raise SourceConfigError(f"{where}.{key}: expected {expected.__name__}, got {value!r}") from None
    return replace(base, **values)


def source_from_mapping(data: Any, where: str) -> SourceConfig:
    """Build a :class:`SourceConfig` from a parsed YAML mapping; ``where`` names it in errors."""
    if not isinstance(data, dict):
        raise SourceConfigError(f"{where}: expected a mapping with at least 'name' and 'fields'")
    name = str(data.get("name", ""))
    if not SOURCE_NAME.match(name):
        raise SourceConfigError(f"{where}: name {name!r} must be lower-case letters, digits, '-' or '_'")
    raw_fields = data.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields or not all(isinstance(f, str) for f in raw_fields):
        raise SourceConfigError(f"{where}: 'fields' must list the numeric payload fields, e.g. [value]")
    kind = str(data.get("kind", "rest"))
    if kind not in KINDS:
        raise SourceConfigError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    if kind == "file" and not data.get("path"):
        raise SourceConfigError(f"{where}: a 'file' source needs 'path' (the CSV or JSONL file to tail)")
    if kind == "poll" and not data.get("url"):
        raise SourceConfigError(f"{where}: a 'poll' source needs 'url'")
    stamp = data.get("timestamp") or {}
    if not isinstance(stamp, dict):
        raise SourceConfigError(f"{where}: 'timestamp' must be a mapping (field, format, utc_offset_hours)")
    derived = data.get("derived") or {}
    if not isinstance(derived, dict) or not all(isinstance(v, str) for v in derived.values()):
        raise SourceConfigError(f"{where}: 'derived' maps names to expressions, e.g. ratio: a / b")
    detectors = data.get("detectors") or {}
    return SourceConfig(
        name=name, fields=tuple(raw_fields), kind=kind, description=str(data.get("description", "")),
        timestamp_field=str(stamp.get("field", "timestamp")), timestamp_format=stamp.get("format"),
        timezone_offset_hours=float(stamp.get("utc_offset_hours", 0.0)), id_field=data.get("id_field"),
        label_field=data.get("label_field"), derived={str(k): v for k, v in derived.items()},
        path=data.get("path"), url=data.get("url"), interval_s=float(data.get("interval_s", 5.0)),
        queue_size=int(data.get("queue_size", 50_000)),
        anomaly=_section(AnomalySettings, detectors.get("anomaly"), f"{where}: detectors.anomaly"),
        drift=_section(DriftSettings, detectors.get("drift"), f"{where}: detectors.drift"),
        clusters=_section(ClusterSettings, detectors.get("clusters"), f"{where}: detectors.clusters"),
    )


def load_source(path: Path) -> SourceConfig:
    """Read one source file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise SourceConfigError(f"{path}: cannot be read as YAML: {error}") from None
    return source_from_mapping(data, str(path))


class SourceRegistry:
    """The sources of a folder, re-read when a file is added, changed or removed (checked at most every second).

    A broken file is reported in :attr:`errors` and skipped; the other sources keep working.
    """

    def __init__(self, folder: Path, *, check_every_s: float = 1.0):
        self.folder = folder
        self.check_every_s = check_every_s
        self.errors: dict[str, str] = {}
        self._sources: dict[str, SourceConfig] = {}
        self._stamp: tuple = ()
        self._checked = 0.0
        self._loaded = False
        self._lock = threading.Lock()

    def _scan(self) -> tuple:
        if not self.folder.is_dir():
            return ()
        files = sorted([*self.folder.glob("*.yaml"), *self.folder.glob("*.yml")])
        return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)

    def refresh(self, *, force: bool = False) -> None:
        """Re-read the folder if anything in it changed."""
        if not force and self._loaded and time.monotonic() - self._checked < self.check_every_s:
            return
        with self._lock:  # other threads wait here for the first load, then read the last complete one
            if not force and self._loaded and time.monotonic() - self._checked < self.check_every_s:
                return
            self._checked = time.monotonic()
            stamp = self._scan()
            if stamp == self._stamp and self._loaded and not force:
                return
            sources, errors = {}, {}
            for name, _, _ in stamp:
                path = self.folder / name
                try:
                    config = load_source(path)
                except SourceConfigError as error:
                    errors[name] = str(error)
                    continue
                if config.name in sources:
                    errors[name] = f"{path}: source {config.name!r} is already defined by another file"
                    continue
                sources[config.name] = config
            self._sources, self.errors, self._stamp, self._loaded = sources, errors, stamp, True

    def all(self) -> list[SourceConfig]:
        """Every valid source, by name."""
        self.refresh()
        return [self._sources[k] for k in sorted(self._sources)]

    def get(self, name: str) -> SourceConfig:
        """The source called ``name``, or :class:`UnknownSource` saying which exist."""
        self.refresh()
        try:
            return self._sources[name]
        except KeyError:
            known = ", ".join(sorted(self._sources)) or "none"
            raise UnknownSource(f"there is no source {name!r} (known: {known}); add {self.folder}/{name}.yaml") \
                from None
