"""Pattern events found in the streams: list (filters, paging), one with the events around it, feedback."""

from __future__ import annotations

import math
from datetime import datetime
from itertools import islice
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from api import cursors
from api.auth import read_key, write_key
from api.errors import ApiProblem, problems
from api.models import Strict, UtcDateTime
from api.deps import API_PREFIX
from api.routers.streams import StreamsDep
from labflow.streams.sources import SOURCE_NAME
from labflow.streams.store import PatternNotFound

router = APIRouter(prefix=API_PREFIX, tags=["patterns"], responses=problems(400, 401, 403, 404, 422))
PatternId = Annotated[str, Path(description="The pattern's id (16 hex digits).", pattern=r"^[0-9a-f]{6,32}$")]


class PatternPage(BaseModel):
    """One page of pattern events, newest first."""

    total: int | None = Field(description="Patterns matching the filters, counted on the first page (no cursor) "
                                          "only; null on the pages after it.")
    limit: int
    items: list[dict[str, Any]]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class PatternWithEvents(BaseModel):
    """A pattern event and the source's events around it (oldest first)."""

    pattern: dict[str, Any]
    events: list[dict[str, Any]]
    feedback: list[dict[str, Any]]


class FeedbackIn(Strict):
    """Was the pattern real?"""

    verdict: Literal["true_positive", "false_positive"]
    note: str = Field("", max_length=2000)
    author: str = Field("", max_length=200)


class FeedbackOut(BaseModel):
    """The stored feedback and the source's thresholds now in effect."""

    record: dict[str, Any]
    thresholds: dict[str, Any]


@router.get("/patterns", response_model=PatternPage, summary="Pattern events", dependencies=[Depends(read_key)])
def list_patterns(streams: StreamsDep,
                  source: str | None = Query(None, pattern=SOURCE_NAME.pattern, description="Only this source."),
                  type: Literal["drift", "anomaly", "cluster_change"] | None = None,
                  since: UtcDateTime | None = Query(None, description="Only at or after this time (ISO 8601)."),
                  until: UtcDateTime | None = Query(None, description="Only at or before this time (ISO 8601)."),
                  min_confidence: float = Query(0.0, ge=0, le=1),
                  limit: int = Query(50, ge=1, le=1000),
                  cursor: str | None = Query(None, max_length=500, description="`next_cursor` of the previous page.")
                  ) -> PatternPage:
    """Drift, anomaly and cluster-change events, newest first, filtered by source, type, time and confidence.

    Only the spool hours from ``until`` (or the cursor) back are read, as far as the page needs; the
    total is counted on the first page only.
    """
    owner = cursors.fingerprint({"source": source, "type": type, "since": since, "until": until,
                                 "min_confidence": min_confidence})
    after = _after(cursor, owner)
    latest = min((t for t in (until, after[0] if after else None) if t is not None), default=None)
    newest = streams.engine.store.newest_patterns(source, since=since, until=latest)
    matching = (row for row in newest if (after is None or row[:2] < after)
                and (type is None or row[2]["type"] == type) and row[2]["details"]["confidence"] >= min_confidence)
    page = list(islice(matching, limit + 1))
    total = None if after else len(page) + sum(1 for _ in matching)
    next_cursor = cursors.encode([page[limit - 1][0].isoformat(), page[limit - 1][1]], owner) \
        if len(page) > limit else None
    return PatternPage(total=total, limit=limit, items=[row[2] for row in page[:limit]], next_cursor=next_cursor)


def _after(cursor: str | None, owner: str) -> tuple[datetime, str] | None:
    if cursor is None:
        return None
    moment, pattern_id = cursors.decode(cursor, owner, 2)
    try:
        return datetime.fromisoformat(moment), str(pattern_id)
    except (TypeError, ValueError):
        raise ApiProblem(422, "cursor is not valid; pass the next_cursor of the previous page unchanged") from None


@router.get("/patterns/{pattern_id}", response_model=PatternWithEvents, summary="A pattern event with context",
            dependencies=[Depends(read_key)])
def get_pattern(pattern_id: PatternId, streams: StreamsDep,
                minutes: float = Query(30.0, gt=0, le=24 * 60, description="Events this close to the pattern."),
                limit: int = Query(500, ge=1, le=10_000)) -> PatternWithEvents:
    """The pattern event, the source's events within ``minutes`` of it and any feedback on it."""
    pattern = _find(streams, pattern_id)
    frame = streams.engine.store.events_around(pattern, minutes=minutes, limit=limit)
    events = [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
              for row in frame.with_columns(frame["timestamp"].dt.to_string("%Y-%m-%dT%H:%M:%S%.6f+00:00")
                                            ).to_dicts()] if frame.height else []
    feedback = [r for r in streams.engine.feedback.records(pattern["source"]) if r["pattern_id"] == pattern_id]
    return PatternWithEvents(pattern=pattern, events=events, feedback=feedback)


@router.post("/patterns/{pattern_id}/feedback", response_model=FeedbackOut, status_code=201,
             summary="Say whether a pattern was real", dependencies=[Depends(write_key)])
def post_feedback(pattern_id: PatternId, body: FeedbackIn, streams: StreamsDep) -> FeedbackOut:
    """Store a true/false-positive verdict (with a note); the source's thresholds for that pattern type move
    at once (a false positive makes the detector stricter, a true positive more sensitive)."""
    pattern = _find(streams, pattern_id)
    record = streams.engine.record_feedback(pattern_id, body.verdict, body.note, body.author)
    thresholds = streams.engine.thresholds(pattern["source"])
    return FeedbackOut(record=record, thresholds={
        "anomaly_quantile": thresholds.anomaly_quantile, "drift_min_change_sd": thresholds.drift_min_change,
        "cluster_min_shift": thresholds.cluster_min_shift, "strictness": thresholds.strictness})


def _find(streams: Any, pattern_id: str) -> dict[str, Any]:
    try:
        return streams.engine.store.find_pattern(pattern_id)
    except PatternNotFound as error:
        raise ApiProblem(404, str(error)) from None

