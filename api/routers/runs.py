"""Runs: filtered, cursor-paged listing; one run's detail; the state of a requested Dagster run."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import datetime, time, timedelta, timezone
from typing import Annotated, Any, Literal

import polars as pl
from fastapi import APIRouter, Depends, Path, Query

from api.auth import read_key
from api.deps import API_PREFIX, LabDep, RunDep
from api.errors import ApiProblem, problems
from api.models import (AnnotationVersionOut, AssetState, IsoDate, JobId, JobOut, QualityOut, ReviewStatus,
                        RunDetail, RunPage, RunStatus, RunSummary, Strict, UtcDateTime)
from api.tables import TABLE_CONTENT, TableFormat, table_response
from labflow.store.catalog import RunRecord
from labflow.processing.pipeline import STEPS
from labflow.review.store import AnnotationVersion

router = APIRouter(prefix=API_PREFIX, tags=["runs"], dependencies=[Depends(read_key)],
                   responses=problems(400, 401, 403, 422))


class RunQuery(Strict):
    """Filters (combined with AND), order and paging of the run list."""

    instrument: str | None = None
    operator: str | None = None
    material: str | None = None
    experiment_id: str | None = None
    status: RunStatus | None = None
    review_status: ReviewStatus | None = None
    min_quality: float | None = Query(None, ge=0, le=1)
    max_quality: float | None = Query(None, ge=0, le=1)
    date: IsoDate | None = Query(None, description="Runs of this UTC day (start time, else arrival time).")
    since: UtcDateTime | None = Query(None, description="Inclusive; a time without zone is UTC.")
    until: UtcDateTime | None = Query(None, description="Exclusive; a time without zone is UTC.")
    sort: Literal["time", "quality", "instrument", "run_key"] = "time"
    descending: bool = True
    limit: int = Query(50, ge=1, le=1000)
    cursor: str | None = Query(None, max_length=500, description="`next_cursor` of the previous page.")
    format: TableFormat = "json"


@router.get("/runs", response_model=RunPage, responses=TABLE_CONTENT, summary="List runs")
def list_runs(lab: LabDep, query: Annotated[RunQuery, Query()]) -> Any:
    """Runs matching every given filter, newest first by default, one page at a time."""
    filters = _filters(query)
    offset = _offset(query.cursor, _fingerprint(query))
    runs = lab.catalog.find_runs(limit=query.limit, offset=offset, sort=query.sort, descending=query.descending,
                                 **filters)
    total = lab.catalog.count_runs(**filters)
    more = offset + len(runs) < total
    next_cursor = _cursor(offset + len(runs), _fingerprint(query)) if more else None
    items = [summary(run) for run in runs]
    if query.format != "json":
        headers = {"X-Total-Count": str(total), **({"X-Next-Cursor": next_cursor} if next_cursor else {})}
        return table_response(_runs_frame(items), query.format, "runs", headers)
    return RunPage(items=items, total=total, next_cursor=next_cursor)


@router.get("/runs/{run_key}", response_model=RunDetail, responses=problems(404), summary="One run")
def get_run(run: RunDep, lab: LabDep) -> RunDetail:
    """A run's metadata, the state of each of its assets, its quality and its latest confirmed annotation."""
    assets = []
    for asset in (*STEPS, "annotations"):
        latest = lab.reader.latest(asset, run.run_key)
        assets.append(AssetState(asset=asset, materialized=latest is not None,
                                 dagster_run_id=latest.run_id if latest else None,
                                 materialized_at=latest.timestamp if latest else None))
    quality = None
    quality_materialization = lab.reader.latest("quality_report", run.run_key)
    if quality_materialization is not None:
        report = lab.reader.document(lab.reader.path_of(quality_materialization, "quality_report", "json"))
        quality = QualityOut(run_key=run.run_key, **report)
    head = lab.reviews.latest_version(run.run_key)
    return RunDetail(**summary(run).model_dump(), sha256=run.sha256, size_bytes=run.size_bytes, source=run.source,
                     sidecar_name=run.sidecar_name, params=run.params, recipe_hash=run.recipe_hash,
                     updated_at=run.updated_at, assets=assets, quality=quality,
                     latest_annotation=annotation_version(head) if head else None)


@router.get("/jobs/{job_id}", response_model=JobOut, responses=problems(404), tags=["jobs"],
            summary="A requested materialization")
def get_job(job_id: Annotated[JobId, Path(description="`job_id` from a 202 answer.")], lab: LabDep) -> JobOut:
    """Where a Dagster run requested by the API (or producing requested data) stands."""
    state = lab.gateway.run_state(job_id)
    if state is None:
        raise ApiProblem(404, f"Dagster knows no run {job_id!r}")
    return JobOut.model_validate({"job_id": state.run_id, "state": state.state,
                                  "dagster_status": state.dagster_status})


def summary(run: RunRecord) -> RunSummary:
    """The list form of a run."""
    return RunSummary.model_validate(run, from_attributes=True)


def annotation_version(version: AnnotationVersion) -> AnnotationVersionOut:
    return AnnotationVersionOut(version=version.version, base_version=version.base_version, author=version.author,
                                created_at=version.created_at, annotation=version.annotation,
                                changes=version.changes)


def _filters(query: RunQuery) -> dict[str, Any]:
    since, until = query.since, query.until
    if query.date is not None:
        if since or until:
            raise ApiProblem(422, "give either date or since/until, not both")
        since = datetime.combine(query.date, time(), timezone.utc)
        until = since + timedelta(days=1)
    if since and until and since >= until:
        raise ApiProblem(422, f"since ({since.isoformat()}) must be before until ({until.isoformat()})")
    if query.min_quality is not None and query.max_quality is not None and query.min_quality > query.max_quality:
        raise ApiProblem(422, "min_quality must not be above max_quality")
    exact = ("instrument", "operator", "material", "experiment_id", "status", "review_status", "min_quality",
             "max_quality")
    values = {name: getattr(query, name) for name in exact} | {"since": since, "until": until}
    return {name: value for name, value in values.items() if value is not None}


def _fingerprint(query: RunQuery) -> str:
    fields = query.model_dump(mode="json", exclude={"cursor", "limit", "format"})
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]


def _cursor(offset: int, fingerprint: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset, "q": fingerprint}).encode()).decode().rstrip("=")


def _offset(cursor: str | None, fingerprint: str) -> int:
    if cursor is None:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset, owner = int(data["o"]), data["q"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ApiProblem(422, "cursor is not valid; pass the next_cursor of the previous page unchanged") from None
    if owner != fingerprint or offset < 0:
        raise ApiProblem(422, "cursor belongs to a listing with other filters or order; start again without cursor")
    return offset


def _runs_frame(items: list[RunSummary]) -> pl.DataFrame:
    return pl.DataFrame([item.model_dump() for item in items], schema=_RUNS_SCHEMA, orient="row")


_TIME = pl.Datetime("us", "UTC")
_RUNS_SCHEMA = {
    "run_key": pl.String, "original_name": pl.String, "instrument": pl.String, "operator": pl.String,
    "material": pl.String, "experiment_id": pl.String, "started_at": _TIME, "detected_at": _TIME,
    "status": pl.String, "review_status": pl.String, "annotation_version": pl.Int64, "quality_score": pl.Float64,
    "quality_flags": pl.List(pl.String), "recipe_id": pl.String, "error": pl.String,
}
