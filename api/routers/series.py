"""A run's data: raw and cleaned series (optionally downsampled for plotting), peaks, quality, annotations."""

from __future__ import annotations

from pathlib import Path as PathType
from typing import Annotated, Any, Literal

import anyio
import polars as pl
from fastapi import APIRouter, Depends, Path, Query, Request, Response

from api.auth import read_key
from api.deps import API_PREFIX, RUN_KEY_HELP, Lab, LabDep, RunDep
from api.encoding import Rendered, cached_response
from api.errors import ApiProblem, problems
from api.materialized import file_version
from api.models import (Accepted, AnnotationVersionOut, ChannelSeries, FiniteFloat, Peak, PeaksOut, QualityOut,
                        RunKey, SeriesOut, Strict)
from api.routers.runs import annotation_version
from api.tables import TABLE_CONTENT, TableFormat, table_bytes, table_response
from labflow.store.catalog import RunNotFound
from labflow.processing.downsample import downsample_frame
from labflow.processing.pipeline import TIME_COLUMNS

ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"model": Accepted, "description": "Not materialized yet: a materialization was requested; poll "
                                            "`status_url` (also in the Location header), then ask again."}}
router = APIRouter(prefix=API_PREFIX, tags=["series"], dependencies=[Depends(read_key)],
                   responses=problems(400, 401, 403, 404, 422))
_SERIES_ASSETS = {"raw": "raw_series", "clean": "clean_series"}


class SeriesQuery(Strict):
    """Which channels, which time window, and how many points to draw."""

    channels: list[str] | None = Query(None, description="Channels to return (repeat the parameter); default all.")
    points: int | None = Query(None, ge=3, le=100_000,
                               description="Downsample each channel to about this many points; omit for all.")
    method: Literal["minmax", "lttb"] = Query("minmax", description="min/max buckets keep spikes, LTTB the shape.")
    start: FiniteFloat | None = Query(None, description="Window start, seconds (inclusive).")
    end: FiniteFloat | None = Query(None, description="Window end, seconds (inclusive).")
    format: TableFormat = "json"


@router.get("/runs/{run_key}/series/{kind}", response_model=SeriesOut, summary="Raw or cleaned series",
            responses={**TABLE_CONTENT, **ACCEPTED, **problems(409)})
async def get_series(request: Request, lab: LabDep, run_key: Annotated[RunKey, Path(description=RUN_KEY_HELP)],
                     kind: Annotated[Literal["raw", "clean"], Path()],
                     query: Annotated[SeriesQuery, Query()]) -> Response:
    """The run's raw (parsed) or cleaned series; with ``points``, downsampled on the server for plotting.

    A view asked for before is served from the event loop; the instance, the catalog and the Parquet
    file are read in a worker thread when needed.
    """
    if query.start is not None and query.end is not None and query.start > query.end:
        raise ApiProblem(422, f"start ({query.start}) must not be after end ({query.end})")
    asset = _SERIES_ASSETS[kind]
    recent = lab.reader.recent(asset, run_key)
    path = lab.reader.path_of(recent, asset) if recent else await anyio.to_thread.run_sync(
        _locate, lab, run_key, asset)
    key = ("series", *file_version(path), kind, tuple(query.channels or ()), query.points, query.method,
           query.start, query.end, query.format)
    return await cached_response(request, lab.reader.responses, key,
                                 lambda: _render_series(lab.reader.frame(path), run_key, kind, query))


@router.get("/runs/{run_key}/peaks", response_model=PeaksOut, summary="Detected peaks",
            responses={**TABLE_CONTENT, **ACCEPTED, **problems(409)})
def get_peaks(run: RunDep, lab: LabDep, format: TableFormat = "json") -> Any:
    """Time, height, prominence, width and area of every detected peak."""
    frame = lab.reader.frame(lab.reader.locate(run, "peaks"))
    if format != "json":
        return table_response(frame, format, f"{run.run_key}-peaks")
    return PeaksOut(run_key=run.run_key, peaks=[Peak(**row) for row in frame.to_dicts()])


@router.get("/runs/{run_key}/quality", response_model=QualityOut, summary="Quality report",
            responses={**ACCEPTED, **problems(409)})
def get_quality(run: RunDep, lab: LabDep) -> QualityOut:
    """Missing data, noise, clipping, flat lines, gaps, duplicates: flags, metrics and a 0–1 score."""
    report = lab.reader.document(lab.reader.locate(run, "quality_report", "json"))
    return QualityOut(run_key=run.run_key, **report)


@router.get("/runs/{run_key}/annotations", response_model=list[AnnotationVersionOut],
            summary="Annotation history")
def get_annotations(run: RunDep, lab: LabDep) -> list[AnnotationVersionOut]:
    """Every confirmed annotation version of the run, oldest first."""
    return [annotation_version(v) for v in lab.reviews.history(run.run_key)]


def _locate(lab: Lab, run_key: str, asset: str) -> PathType:
    run = lab.catalog.get_run(run_key)
    if run is None:
        raise RunNotFound(run_key)
    return lab.reader.locate(run, asset)


def _render_series(frame: pl.DataFrame, run_key: str, kind: str, query: SeriesQuery) -> Rendered:
    available = [c for c in frame.columns if c not in TIME_COLUMNS]
    channels = query.channels or available
    unknown = [c for c in channels if c not in available]
    if unknown:
        raise ApiProblem(422, f"no channel {', '.join(map(repr, unknown))} in this series; it has "
                              f"{', '.join(available)}")
    window = frame
    if query.start is not None:
        window = window.filter(pl.col("time_s") >= query.start)
    if query.end is not None:
        window = window.filter(pl.col("time_s") <= query.end)
    if query.points is None:
        long = window.unpivot(index="time_s", on=channels, variable_name="channel", value_name="value")
    else:
        long = downsample_frame(window, channels, query.points, method=query.method)
    long = long.with_columns(pl.col("value").fill_nan(None))
    if query.format != "json":
        return table_bytes(long, query.format, f"{run_key}-{kind}")
    parts = long.partition_by("channel", as_dict=True, maintain_order=True)
    series = [ChannelSeries(name=c, time_s=parts[(c,)]["time_s"].to_list(), value=parts[(c,)]["value"].to_list())
              for c in channels if (c,) in parts]
    body = SeriesOut.model_validate({"run_key": run_key, "kind": kind, "source_points": window.height,
                                     "method": query.method if query.points else None, "channels": series})
    return body.model_dump_json().encode(), "application/json", {}
