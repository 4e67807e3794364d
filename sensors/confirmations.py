"""The confirmations sensor: newly confirmed annotations (the review store's outbox) → ``annotations`` runs.

The labelling app only writes the catalog database. Each confirmed version has an increasing id;
the cursor remembers which ids were handled. Ids can commit out of order on Postgres (two
confirmations at once), so the cursor keeps a floor below which everything is settled plus the ids
seen above it; a gap older than :data:`GAP_GRACE` is a rolled-back transaction and is passed over.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import dagster as dg

from lab_assets.review import annotations
from labflow.ops.run_kinds import REVIEW
from labflow.review.store import AnnotationVersion, ReviewStore
from labflow.settings import Settings
from resources import CatalogResource

GAP_GRACE = timedelta(minutes=5)
MAX_VERSIONS_PER_TICK = 500


@dataclass
class OutboxCursor:
    """Handled outbox ids: all ids up to ``floor``, plus ``seen`` above it."""

    floor: int = 0
    seen: set[int] = field(default_factory=set)

    @classmethod
    def from_json(cls, text: str | None) -> "OutboxCursor":
        if not text:
            return cls()
        data = json.loads(text)
        return cls(int(data["floor"]), set(data.get("seen", [])))

    def to_json(self) -> str:
        return json.dumps({"floor": self.floor, "seen": sorted(self.seen)})

    def unseen(self, versions: list[AnnotationVersion]) -> list[AnnotationVersion]:
        return [v for v in versions if v.id > self.floor and v.id not in self.seen]

    def advance(self, versions: list[AnnotationVersion], now: datetime) -> None:
        """Mark ``versions`` handled and raise the floor over contiguous or long-settled ids."""
        self.seen.update(v.id for v in versions)
        settled = [v.id for v in versions if now - v.created_at > GAP_GRACE]
        if settled:
            self.floor = max(self.floor, max(settled))
        while self.floor + 1 in self.seen:
            self.floor += 1
        self.seen = {i for i in self.seen if i > self.floor}


def annotation_requests(versions: list[AnnotationVersion]) -> list[dg.RunRequest]:
    """One run per annotated run, for its newest version among ``versions``."""
    newest: dict[str, AnnotationVersion] = {}
    for version in versions:
        if version.run_key not in newest or version.version > newest[version.run_key].version:
            newest[version.run_key] = version
    return [
        dg.RunRequest(run_key=f"annotation-{v.run_key}-v{v.version}", partition_key=v.run_key,
                      asset_selection=[annotations.key],
                      tags={**REVIEW, "labflow/annotation_version": str(v.version),
                            "labflow/author": v.author[:60]})
        for v in newest.values()
    ]


def build_confirmations_sensor(settings: Settings) -> dg.SensorDefinition:
    """The confirmations sensor, ticking every ``LABFLOW_SENSOR_INTERVAL`` seconds, on by default."""

    @dg.sensor(
        name="confirmations_sensor",
        target=[annotations],
        minimum_interval_seconds=settings.sensor_interval,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Materializes annotations[run] for every annotation confirmed (or rejected) in the "
        "labelling app since the last tick; confirmed_dataset follows by automation.",
    )
    def confirmations_sensor(context: dg.SensorEvaluationContext, catalog: CatalogResource):
        cursor = OutboxCursor.from_json(context.cursor)
        fetched = ReviewStore(catalog.get_catalog()).versions_after(cursor.floor, limit=MAX_VERSIONS_PER_TICK)
        new = cursor.unseen(fetched)
        cursor.advance(fetched, datetime.now(timezone.utc))
        if new:
            context.log.info(f"{len(new)} new confirmation(s): {', '.join(f'{v.run_key} v{v.version}' for v in new)}")
        return dg.SensorResult(run_requests=annotation_requests(new), cursor=cursor.to_json())

    return confirmations_sensor


def build_review_automation_sensor(settings: Settings) -> dg.AutomationConditionSensorDefinition:
    """Evaluates the review assets' automation conditions (on by default; Dagster's is off)."""
    return dg.AutomationConditionSensorDefinition(
        "review_automation_sensor",
        target=dg.AssetSelection.groups("review"),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=settings.sensor_interval,
        description="Rebuilds confirmed_dataset after annotations change.",
    )
