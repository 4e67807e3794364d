"""Event streams: push batches over REST or a WebSocket, list the sources; counters in ``/metrics``.

``POST /api/v1/streams/{source}/events`` takes a JSON list of events (or ``{"events": [...]}``):
``202`` when queued, ``429`` with ``Retry-After`` when the source's queue is full (the whole batch
was refused: send it again later; nothing is dropped silently), ``422`` naming bad events.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Path, Request, WebSocket, WebSocketDisconnect
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from pydantic import BaseModel

from api.auth import accept_websocket, check_key, read_key, write_key
from api.deps import API_PREFIX, Lab
from api.errors import ApiProblem, problems
from labflow.streams.events import EventError
from labflow.streams.service import BatchTooLarge, StreamService
from labflow.streams.sources import SOURCE_NAME, UnknownSource

router = APIRouter(prefix=API_PREFIX, tags=["streams"], responses=problems(400, 401, 403, 404, 422))
SourceName = Annotated[str, Path(description="The source's name (its file sources/<name>.yaml).",
                                 pattern=SOURCE_NAME.pattern)]


class BatchAccepted(BaseModel):
    """A batch queued for the pattern engine."""

    source: str
    accepted: int
    queued: int
    capacity: int


class SourceOut(BaseModel):
    """A configured source, its detectors' thresholds in effect and its counters."""

    name: str
    kind: str
    description: str
    fields: list[str]
    derived: dict[str, str]
    label_field: str | None
    thresholds: dict[str, Any]
    counters: dict[str, Any]


class SourcesOut(BaseModel):
    sources: list[SourceOut]
    errors: dict[str, str]


def get_streams(request: Request) -> StreamService:
    """The app's stream service."""
    return request.app.state.streams


StreamsDep = Annotated[StreamService, Depends(get_streams)]
_EVENT = {"type": "object", "required": ["event_id", "timestamp", "payload"], "properties": {
    "event_id": {"anyOf": [{"type": "string", "minLength": 1}, {"type": "integer"}]},
    "source": {"type": "string", "description": "if given, the source in the path"},
    "type": {"type": "string", "minLength": 1, "default": "measurement"},
    "timestamp": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "number"}],
                  "description": "ISO 8601 (naive: the source's zone) or epoch seconds"},
    "payload": {"type": "object"},
    "meta": {"type": "object", "properties": {"version": {"const": 1}}}}}
_BATCH = {"type": "array", "items": _EVENT}
BATCH_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"anyOf": [_BATCH, {"type": "object", "required": ["events"], "properties": {"events": _BATCH}}]},
    "example": [{"event_id": "42", "timestamp": "2024-05-01T12:00:00Z",
                 "payload": {"temperature_c": 21.3, "pressure_kpa": 101.2}}]}}}}


@router.post("/streams/{source}/events", status_code=202, response_model=BatchAccepted, openapi_extra=BATCH_BODY,
             summary="Push a batch of events", dependencies=[Depends(write_key)],
             responses=problems(413, 429))
async def push_events(source: SourceName, request: Request, streams: StreamsDep) -> Any:
    """Queue a batch for the source's detectors: all of it, or none (``429`` + ``Retry-After``)."""
    try:
        body = json.loads(await request.body())
    except ValueError as error:
        raise ApiProblem(422, f"the body is not valid JSON ({error}); send a JSON list of events") from None
    admission = _submit(streams, source, body)
    if not admission.accepted:
        raise ApiProblem(429, f"source {source!r} has {admission.queued} of {admission.capacity} events queued; "
                              f"this batch was not accepted: send it again in {admission.retry_after_s} s",
                         headers={"Retry-After": str(admission.retry_after_s)})
    return BatchAccepted(source=source, accepted=len(body["events"] if isinstance(body, dict) else body),
                         queued=admission.queued, capacity=admission.capacity)


def _submit(streams: StreamService, source: str, body: Any):
    try:
        return streams.submit(source, body)
    except UnknownSource as error:
        raise ApiProblem(404, str(error)) from None
    except BatchTooLarge as error:
        raise ApiProblem(413, str(error)) from None
    except EventError as error:
        raise ApiProblem(422, str(error)) from None


@router.websocket("/streams/{source}/ws")
async def push_events_ws(websocket: WebSocket, source: str) -> None:
    """Push events over a WebSocket: send a JSON event or list of events per message; each is answered with
    ``{"accepted": n}``, ``{"rejected": n, "retry_after_s": s}`` (queue full: resend) or ``{"error": ...}``."""
    lab: Lab = websocket.app.state.lab
    streams: StreamService = websocket.app.state.streams
    token = await accept_websocket(websocket)
    try:
        await anyio.to_thread.run_sync(check_key, lab, token, "write",
                                     websocket.client.host if websocket.client else None)
    except ApiProblem as refused:
        await websocket.close(code=4000 + refused.status, reason=refused.detail[:120])
        return
    try:
        while True:
            text = await websocket.receive_text()
            try:
                body = json.loads(text)
                body = [body] if isinstance(body, dict) and "events" not in body else body
                admission = _submit(streams, source, body)
            except ValueError as error:
                await websocket.send_json({"error": f"not valid JSON: {error}"})
                continue
            except ApiProblem as problem:
                await websocket.send_json({"error": problem.detail, "status": problem.status})
                continue
            count = len(body["events"] if isinstance(body, dict) else body)
            await websocket.send_json({"accepted": count, "queued": admission.queued} if admission.accepted
                                      else {"rejected": count, "retry_after_s": admission.retry_after_s})
    except WebSocketDisconnect:
        return


@router.get("/sources", response_model=SourcesOut, summary="Configured event sources",
            dependencies=[Depends(read_key)])
def list_sources(streams: StreamsDep) -> SourcesOut:
    """Every source of ``sources/*.yaml`` (re-read when the files change), with thresholds and counters;
    files that cannot be used are listed under ``errors`` with the reason."""
    counters = streams.intake.counters()
    out = []
    for config in streams.registry.all():
        thresholds = streams.engine.thresholds(config.name)
        count = counters.get(config.name)
        out.append(SourceOut(
            name=config.name, kind=config.kind, description=config.description, fields=list(config.fields),
            derived=config.derived, label_field=config.label_field,
            thresholds={"anomaly_quantile": thresholds.anomaly_quantile,
                        "drift_min_change_sd": thresholds.drift_min_change,
                        "cluster_min_shift": thresholds.cluster_min_shift, "strictness": thresholds.strictness},
            counters=vars(count) if count else {"accepted": 0, "rejected": 0, "processed": 0, "failed": 0,
                                                 "queued": 0, "last_error": ""}))
    return SourcesOut(sources=out, errors=streams.registry.errors)


class StreamCollector:
    """Prometheus collector: events accepted, rejected, processed and failed, and queued, by source; pattern
    events found by source and type."""

    def __init__(self, streams: StreamService):
        self.streams = streams

    def collect(self) -> Iterator[Any]:
        counters = self.streams.intake.counters()
        for name in ("accepted", "rejected", "processed", "failed"):
            family = CounterMetricFamily(f"labflow_stream_events_{name}", f"Stream events {name}", labels=["source"])
            for source, count in sorted(counters.items()):
                family.add_metric([source], getattr(count, name))
            yield family
        queued = GaugeMetricFamily("labflow_stream_events_queued", "Stream events waiting", labels=["source"])
        for source, count in sorted(counters.items()):
            queued.add_metric([source], count.queued)
        yield queued
        patterns = CounterMetricFamily("labflow_stream_patterns", "Pattern events found (anomaly, drift, ...)",
                                       labels=["source", "type"])
        for (source, kind), count in sorted(dict(self.streams.patterns).items()):
            patterns.add_metric([source, kind], count)
        yield patterns


def attach(app: Any, lab: Lab) -> StreamService:
    """Create the app's stream service (its threads start on the first batch, or at :func:`start`) and
    publish its counters in ``/metrics``."""
    streams = StreamService(lab.settings)
    app.state.streams = streams
    lab.metrics.registry.register(StreamCollector(streams))
    return streams


def start(app: Any) -> None:
    """Start the worker and the file/poll connectors (at application start-up)."""
    app.state.streams.start()


def detach(app: Any) -> None:
    """Process what is queued, stop the threads and checkpoint the detectors (at shutdown)."""
    app.state.streams.stop()
