"""Alerts: what needs a person's attention, with severity, first/last seen and acknowledgement.

Each alert has a *fingerprint* (what it is about, e.g. ``run_failed:<run id>`` or ``inbox_backlog``):
raising it again updates ``last_seen`` and the count instead of adding a duplicate. Condition
alerts (an inbox not drained, a sensor failing) are resolved when their condition clears; an alert
that fires again after it was acknowledged or resolved opens again. Rules that find alerts are
plain functions over catalog and Dagster facts (:func:`quality_alerts`, :func:`inbox_alerts`, ...);
the sensors in ``sensors/alerts.py`` call them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import JSON, Index, String, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column

from labflow.store.catalog import Base, Catalog, RunRecord, UTCDateTime
from labflow.ingest.inbox import scan_inbox

Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")
ALERT_KINDS = ("run_failed", "check_failed", "quality_low", "sensor_error", "inbox_backlog", "forwarder_stalled")


class AlertThresholds(BaseModel):
    """When rules raise alerts (editable in the Settings view)."""

    model_config = ConfigDict(extra="forbid")

    min_quality: float = Field(0.5, ge=0, le=1, description="A processed run scoring below this is an alert.")
    inbox_max_age_min: float = Field(15, gt=0, description="A file waiting in the inbox longer than this.")
    forwarder_stall_min: float = Field(30, gt=0, description="A forwarder file pending longer than this.")


class AlertRow(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    severity: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    count: Mapped[int] = mapped_column(default=1)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


Index("ix_alerts_open", AlertRow.resolved_at, AlertRow.acknowledged_at)


@dataclass(frozen=True)
class AlertDraft:
    """An alert a rule found (not stored yet)."""

    fingerprint: str
    kind: str
    severity: Severity
    subject: str
    message: str
    details: dict[str, Any]


@dataclass(frozen=True)
class Alert:
    """A stored alert."""

    id: int
    fingerprint: str
    kind: str
    severity: str
    subject: str
    message: str
    details: dict[str, Any]
    first_seen: datetime
    last_seen: datetime
    count: int
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None

    @property
    def open(self) -> bool:
        """Neither acknowledged nor resolved: someone should look."""
        return self.acknowledged_at is None and self.resolved_at is None


class AlertNotFound(LookupError):
    """No alert with this id."""


class AlertStore:
    """Alerts in the catalog database."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        catalog.create_tables()

    def raise_alerts(self, drafts: Iterable[AlertDraft], *, now: datetime | None = None,
                     only_new: bool = False) -> int:
        """Store or refresh each alert; returns how many were new or re-opened.

        With ``only_new``, alerts that exist already are left as they are (for conditions that
        persist per subject, such as a run's low quality, which are not new occurrences).
        """
        now = now or datetime.now(timezone.utc)
        opened = 0
        with self.catalog.begin() as session:
            for draft in drafts:
                row = session.scalars(select(AlertRow).where(AlertRow.fingerprint == draft.fingerprint)).first()
                if row is not None and only_new:
                    continue
                if row is None:
                    session.add(AlertRow(fingerprint=draft.fingerprint, kind=draft.kind, severity=draft.severity,
                                         subject=draft.subject, message=draft.message, details=draft.details,
                                         first_seen=now, last_seen=now, count=1))
                    opened += 1
                    continue
                reopened = row.resolved_at is not None
                row.last_seen, row.count, row.message, row.details = now, row.count + 1, draft.message, draft.details
                if reopened:
                    row.resolved_at, row.acknowledged_by, row.acknowledged_at = None, None, None
                    opened += 1
        return opened

    def resolve_missing(self, kind: str, still_firing: Iterable[str], *, now: datetime | None = None) -> int:
        """Resolve the unresolved alerts of ``kind`` whose fingerprint is no longer firing."""
        firing = set(still_firing)
        now = now or datetime.now(timezone.utc)
        with self.catalog.begin() as session:
            rows = session.scalars(select(AlertRow).where(AlertRow.kind == kind, AlertRow.resolved_at.is_(None)))
            cleared = [row for row in rows if row.fingerprint not in firing]
            for row in cleared:
                row.resolved_at = now
        return len(cleared)

    def acknowledge(self, alert_id: int, who: str, *, now: datetime | None = None) -> Alert:
        """Mark an alert as seen by ``who``."""
        who = who.strip()
        if not who:
            raise ValueError("say who acknowledges the alert")
        statement = (update(AlertRow).where(AlertRow.id == alert_id)
                     .values(acknowledged_by=who[:200], acknowledged_at=now or datetime.now(timezone.utc)))
        with self.catalog.begin() as session:
            if session.execute(statement).rowcount == 0:
                raise AlertNotFound(f"no alert with id {alert_id}")
        return self.get(alert_id)

    def get(self, alert_id: int) -> Alert:
        with self.catalog.session() as session:
            row = session.get(AlertRow, alert_id)
            if row is None:
                raise AlertNotFound(f"no alert with id {alert_id}")
            return _alert(row)

    def list(self, *, state: Literal["open", "acknowledged", "resolved", "all"] = "all",
             severity: str | None = None, kind: str | None = None, limit: int = 200) -> list[Alert]:
        """Alerts, most recently seen first, filtered by state, severity and kind."""
        query = select(AlertRow)
        if state == "open":
            query = query.where(AlertRow.acknowledged_at.is_(None), AlertRow.resolved_at.is_(None))
        elif state == "acknowledged":
            query = query.where(AlertRow.acknowledged_at.is_not(None), AlertRow.resolved_at.is_(None))
        elif state == "resolved":
            query = query.where(AlertRow.resolved_at.is_not(None))
        elif state != "all":
            raise ValueError(f"unknown alert state {state!r}; use open, acknowledged, resolved or all")
        if severity is not None:
            if severity not in SEVERITIES:
                raise ValueError(f"unknown severity {severity!r}; use {', '.join(SEVERITIES)}")
            query = query.where(AlertRow.severity == severity)
        if kind is not None:
            query = query.where(AlertRow.kind == kind)
        with self.catalog.session() as session:
            return [_alert(r) for r in session.scalars(query.order_by(AlertRow.last_seen.desc(),
                                                                      AlertRow.id.desc()).limit(limit))]


# -- rules ---------------------------------------------------------------------------------------
def run_failed_alert(run_id: str, job: str, message: str, run_keys: list[str]) -> AlertDraft:
    """A Dagster run failed."""
    subject = ", ".join(run_keys[:5]) + (f" and {len(run_keys) - 5} more" if len(run_keys) > 5 else "") or job
    return AlertDraft(f"run_failed:{run_id}", "run_failed", "critical", subject,
                      f"run {run_id[:8]} of {job} failed: {message}", {"run_id": run_id, "run_keys": run_keys})


def check_failed_alert(check: str, asset: str, run_key: str | None, description: str) -> AlertDraft:
    """An asset check did not pass for a run."""
    return AlertDraft(f"check_failed:{asset}.{check}:{run_key}", "check_failed", "warning", run_key or asset,
                      f"{asset} check {check} failed: {description}", {"check": check, "asset": asset})


def quality_alerts(runs: Iterable[RunRecord], thresholds: AlertThresholds) -> list[AlertDraft]:
    """Processed runs whose quality score is below the threshold."""
    return [AlertDraft(f"quality_low:{run.run_key}", "quality_low", "warning", run.run_key,
                       f"quality score {run.quality_score:.2f} is below {thresholds.min_quality:.2f}"
                       + (f" ({', '.join(run.quality_flags)})" if run.quality_flags else ""),
                       {"score": run.quality_score, "flags": run.quality_flags})
            for run in runs if run.quality_score is not None and run.quality_score < thresholds.min_quality]


def inbox_alerts(inbox: Path, ingested: dict[str, datetime], thresholds: AlertThresholds,
                 now: datetime) -> list[AlertDraft]:
    """One alert if files sit in the inbox, not ingested, for longer than the threshold.

    ``ingested`` maps an ingest source (``inbox:<relative path>``) to when it was last ingested; a
    file written after that (new content under the same name) is waiting again.
    """
    limit = now - timedelta(minutes=thresholds.inbox_max_age_min)
    stuck = []
    for relative, (_size, mtime_ns) in sorted(scan_inbox(inbox).items()):
        modified = datetime.fromtimestamp(mtime_ns / 1e9, timezone.utc)
        last_ingest = ingested.get(f"inbox:{relative}")
        if modified < limit and (last_ingest is None or last_ingest < modified):
            stuck.append(relative)
    if not stuck:
        return []
    return [AlertDraft("inbox_backlog", "inbox_backlog", "warning", "inbox",
                       f"{len(stuck)} file(s) waiting in the inbox for more than "
                       f"{thresholds.inbox_max_age_min:g} min (is the daemon running?): {', '.join(stuck[:5])}",
                       {"files": stuck[:100], "count": len(stuck)})]


def forwarder_alerts(folder: str, waiting: list[tuple[str, str, float, str | None]], thresholds: AlertThresholds,
                     now: datetime) -> list[AlertDraft]:
    """One alert if a store-and-forward folder has files unsent for longer than the threshold.

    ``waiting`` holds ``(file, state, last change as a Unix time, last error)`` of the unsent files.
    """
    limit = (now - timedelta(minutes=thresholds.forwarder_stall_min)).timestamp()
    stalled = sorted((w for w in waiting if w[2] < limit), key=lambda w: w[2])
    if not stalled:
        return []
    reason = next((w[3] for w in stalled if w[3]), None)
    return [AlertDraft(f"forwarder_stalled:{folder}", "forwarder_stalled", "warning", folder,
                       f"{len(stalled)} file(s) in {folder} not forwarded for more than "
                       f"{thresholds.forwarder_stall_min:g} min" + (f"; last error: {reason}" if reason else ""),
                       {"files": [w[0] for w in stalled[:100]], "count": len(stalled)})]


def sensor_error_alert(sensor: str, error: str) -> AlertDraft:
    """A sensor's latest tick failed."""
    return AlertDraft(f"sensor_error:{sensor}", "sensor_error", "critical", sensor,
                      f"sensor {sensor} failed: {error.strip().splitlines()[-1] if error.strip() else 'unknown error'}",
                      {"error": error[-2000:]})


def _alert(row: AlertRow) -> Alert:
    return Alert(row.id, row.fingerprint, row.kind, row.severity, row.subject, row.message, dict(row.details),
                 row.first_seen, row.last_seen, row.count, row.acknowledged_by, row.acknowledged_at, row.resolved_at)
