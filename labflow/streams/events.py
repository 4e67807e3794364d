"""The standard event: ``{event_id, source, type, timestamp, payload, meta: {version}}``, validated."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

EVENT_VERSION = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class EventError(ValueError):
    """An event (or a batch) that cannot be accepted; the message says which event and what to fix."""


@dataclass(slots=True)
class Event:
    """One event of a source; ``timestamp`` is timezone-aware UTC."""

    event_id: str
    source: str
    type: str
    timestamp: datetime
    payload: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=lambda: {"version": EVENT_VERSION})

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (timestamp as ISO 8601 with ``+00:00``)."""
        return {"event_id": self.event_id, "source": self.source, "type": self.type,
                "timestamp": self.timestamp.isoformat(), "payload": self.payload, "meta": self.meta}


def parse_timestamp(value: Any, *, assume_tz: timezone = timezone.utc, where: str = "timestamp") -> datetime:
    """A UTC datetime from ISO 8601 text or epoch seconds; naive times are read in ``assume_tz``."""
    if isinstance(value, bool):
        raise EventError(f"{where}: expected ISO 8601 text or epoch seconds, got {value!r}")
    if isinstance(value, (int, float)):
        try:
            return _EPOCH + timedelta(seconds=float(value))
        except (OverflowError, ValueError):
            raise EventError(f"{where}: {value!r} epoch seconds is outside the calendar") from None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            raise EventError(f"{where}: {value!r} is not an ISO 8601 time (e.g. 2024-05-01T12:00:00Z) "
                             "nor epoch seconds") from None
    else:
        raise EventError(f"{where}: missing; send ISO 8601 text (e.g. 2024-05-01T12:00:00Z) or epoch seconds")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=assume_tz)
    return moment.astimezone(timezone.utc)


def parse_event(raw: Any, source: str, *, index: int = 0, assume_tz: timezone = timezone.utc) -> Event:
    """Validate one event sent to ``source``; ``source`` in the body, if given, must match."""
    where = f"event {index}"
    if not isinstance(raw, dict):
        raise EventError(f"{where}: expected a JSON object, got {type(raw).__name__}")
    event_id = raw.get("event_id")
    if not isinstance(event_id, (str, int)) or isinstance(event_id, bool) or str(event_id) == "":
        raise EventError(f"{where}: 'event_id' is missing; give every event a unique id (text or number)")
    named = raw.get("source", source)
    if named != source:
        raise EventError(f"{where}: 'source' is {named!r} but it was sent to source {source!r}")
    payload = raw.get("payload")
    if not isinstance(payload, dict):
        raise EventError(f"{where} ({event_id}): 'payload' must be an object of named values, "
                         f"got {type(payload).__name__}")
    meta = raw.get("meta") or {"version": EVENT_VERSION}
    if not isinstance(meta, dict):
        raise EventError(f"{where} ({event_id}): 'meta' must be an object like {{\"version\": 1}}")
    version = meta.get("version", EVENT_VERSION)
    if version != EVENT_VERSION:
        raise EventError(f"{where} ({event_id}): meta.version {version!r} is not supported; this server reads "
                         f"version {EVENT_VERSION}")
    kind = raw.get("type", "measurement")
    if not isinstance(kind, str) or not kind:
        raise EventError(f"{where} ({event_id}): 'type' must be non-empty text, e.g. \"measurement\"")
    timestamp = parse_timestamp(raw.get("timestamp"), assume_tz=assume_tz, where=f"{where} ({event_id}) timestamp")
    return Event(str(event_id), source, kind, timestamp, payload, {**meta, "version": EVENT_VERSION})


def parse_batch(raws: Any, source: str, *, assume_tz: timezone = timezone.utc) -> list[Event]:
    """Validate a batch (a list of events, or ``{"events": [...]}``); all are accepted or none.

    Raises :class:`EventError` listing up to five bad events.
    """
    if isinstance(raws, dict) and "events" in raws:
        raws = raws["events"]
    if not isinstance(raws, list):
        raise EventError("the body must be a JSON list of events, or {\"events\": [...]}")
    events, problems = [], []
    for index, raw in enumerate(raws):
        try:
            events.append(parse_event(raw, source, index=index, assume_tz=assume_tz))
        except EventError as error:
            problems.append(str(error))
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise EventError(f"{len(problems)} of {len(raws)} events are not valid, none was accepted: "
                         + "; ".join(problems[:5]) + more)
    return events
