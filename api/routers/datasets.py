"""The confirmed dataset for optimisers, with an ETag so polling costs almost nothing."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any

import polars as pl
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import TypeAdapter

from api.auth import read_key
from api.deps import API_PREFIX, LabDep
from api.encoding import Rendered, cached_response, gzip_etag
from api.errors import ApiProblem, problems
from api.materialized import file_version
from api.models import ExperimentPoint, Identifier, Strict, UtcDateTime
from api.tables import TABLE_CONTENT, TableFormat, table_bytes
from labflow.review.confirmed import DATASET_ASSET, DATASET_SCHEMA, experiment_points

router = APIRouter(prefix=API_PREFIX, tags=["datasets"], dependencies=[Depends(read_key)],
                   responses=problems(400, 401, 403, 422))
_POINTS = TypeAdapter(list[ExperimentPoint])
_ETAG = {"ETag": {"description": "Version of this answer; send it back as If-None-Match.",
                  "schema": {"type": "string"}}}


class DatasetQuery(Strict):
    campaign: Identifier | None = None
    since: UtcDateTime | None = Query(None, description="Confirmed at or after (a time without zone is UTC).")
    until: UtcDateTime | None = Query(None, description="Confirmed before (a time without zone is UTC).")
    format: TableFormat = Query("json", description="json: one point per experiment; csv/parquet: one row per run.")


@router.get("/datasets/confirmed", response_model=list[ExperimentPoint], summary="Confirmed dataset",
            responses={200: {**TABLE_CONTENT[200], "headers": _ETAG},
                       304: {"description": "Not modified since the ETag sent in If-None-Match", "headers": _ETAG}})
async def confirmed_dataset(request: Request, lab: LabDep, query: Annotated[DatasetQuery, Query()],
                            if_none_match: Annotated[str | None, Header(max_length=1000)] = None) -> Response:
    """Confirmed experiments ``{experiment_id, inputs, objective, run_ids, confirmed_at, provenance}``.

    Read from the latest ``confirmed_dataset`` materialization; empty until something is confirmed.
    Served on the event loop while the materialization and the answer are cached (pollers are cheap).
    """
    since, until = query.since, query.until
    if since and until and since >= until:
        raise ApiProblem(422, "since must be before until")
    latest = await lab.reader.latest_async(DATASET_ASSET)
    path = lab.reader.path_of(latest, DATASET_ASSET) if latest else None
    version = str(latest.metadata.get("digest") or file_version(path)) if latest and path else "empty"
    etag = '"' + hashlib.sha256(repr((version, query.model_dump(mode="json"))).encode()).hexdigest()[:24] + '"'
    if if_none_match and _matches(if_none_match, etag):
        return Response(status_code=304, headers={"ETag": etag})
    response = await cached_response(request, lab.reader.responses, ("dataset", etag), etag=etag,
                               render=lambda: _render(lab.reader.frame(path) if path else None, query, since, until))
    response.headers["Cache-Control"] = "no-cache"
    return response


def _matches(if_none_match: str, etag: str) -> bool:
    """Whether ``If-None-Match`` names this version (in either content coding), or is ``*``."""
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or bool(tags & {etag, gzip_etag(etag)})


def _render(frame: pl.DataFrame | None, query: DatasetQuery, since: datetime | None,
            until: datetime | None) -> Rendered:
    frame = pl.DataFrame(schema=DATASET_SCHEMA) if frame is None else frame
    if query.campaign is not None:
        frame = frame.filter(pl.col("campaign") == query.campaign)
    if since is not None:
        frame = frame.filter(pl.col("confirmed_at") >= since)
    if until is not None:
        frame = frame.filter(pl.col("confirmed_at") < until)
    if query.format != "json":
        return table_bytes(frame, query.format, "confirmed_dataset")
    points: Any = experiment_points(frame)
    return _POINTS.dump_json(_POINTS.validate_python(points)), "application/json", {}

