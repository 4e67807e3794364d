"""The run status stream: a WebSocket pushing each run's status changes as they happen.

Messages are :class:`api.models.RunStatusEvent` JSON objects, ``{"run_key", "status", "at"}`` (plus
``error`` for a failed run), with ``status`` one of ``queued``, ``running``, ``failed``, ``done`` and
``confirmed``. The server looks at the catalog every half second; ``?run_key=K`` (repeatable)
follows only those runs. With auth on, send the key as ``Authorization: Bearer`` or ``?token=``;
a refused key closes the socket with code 4401 or 4403 and the reason.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import anyio
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy import or_, select

from api.auth import check_key
from api.deps import API_PREFIX, Lab
from api.errors import ApiProblem
from api.models import RunStatusEvent
from labflow.store.catalog import Catalog, RunReviewRow, RunRow

POLL_S = 0.5
_OVERLAP = timedelta(seconds=5)  # re-read recent changes, in case another process's clock is a little behind
_STATUS = {"queued": "queued", "processing": "running", "parsed": "running", "processed": "done", "failed": "failed"}

router = APIRouter(prefix=API_PREFIX, tags=["status"])


@router.websocket("/ws/runs")
async def run_status_stream(websocket: WebSocket) -> None:
    """Push ``{run_key, status, at}`` whenever a run is queued, starts, fails, is done or is confirmed."""
    lab: Lab = websocket.app.state.lab
    await websocket.accept()
    try:
        await anyio.to_thread.run_sync(check_key, lab, _token(websocket), "read")
    except ApiProblem as refused:
        await websocket.close(code=4000 + refused.status, reason=refused.detail[:120])
        return
    watcher = StatusWatcher(lab.catalog, lazy=lab.settings.etl_mode == "lazy",
                            follow=set(websocket.query_params.getlist("run_key")))
    await anyio.to_thread.run_sync(watcher.start)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(_push, websocket, watcher)
        try:
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass
        finally:
            tasks.cancel_scope.cancel()


async def _push(websocket: WebSocket, watcher: "StatusWatcher") -> None:
    try:
        while True:
            for event in await anyio.to_thread.run_sync(watcher.changes):
                await websocket.send_text(event.model_dump_json(exclude_none=True))
            await anyio.sleep(POLL_S)
    except (WebSocketDisconnect, RuntimeError):
        return  # the client went away


class StatusWatcher:
    """Remembers each run's stream status and reports the runs whose status changed since the last look."""

    def __init__(self, catalog: Catalog, *, lazy: bool, follow: set[str]):
        self.catalog = catalog
        self.lazy = lazy
        self.follow = follow
        self.known: dict[str, str] = {}
        self.since: datetime | None = None

    def start(self) -> None:
        """Take the current statuses as known (they are not reported)."""
        self.changes()

    def changes(self) -> list[RunStatusEvent]:
        """Runs whose status changed since the last call, oldest change first."""
        now = datetime.now(timezone.utc)
        query = (select(RunRow.run_key, RunRow.status, RunRow.error, RunReviewRow.review_status,
                        RunRow.updated_at, RunReviewRow.updated_at)
                 .outerjoin(RunReviewRow, RunReviewRow.run_key == RunRow.run_key))
        if self.since is not None:
            recent = self.since - _OVERLAP
            query = query.where(or_(RunRow.updated_at >= recent, RunReviewRow.updated_at >= recent))
        if self.follow:
            query = query.where(RunRow.run_key.in_(self.follow))
        events = []
        with self.catalog.session() as session:
            for run_key, status, error, review, updated, reviewed in session.execute(query):
                stream_status = self._status(status, review)
                if self.known.get(run_key) == stream_status:
                    continue
                self.known[run_key] = stream_status
                at = max(updated, reviewed or updated)
                events.append(RunStatusEvent(run_key=run_key, status=stream_status, at=at,  # type: ignore[arg-type]
                                             error=error if stream_status == "failed" else None))
        self.since = now
        return sorted(events, key=lambda e: e.at)

    def _status(self, status: str, review: str | None) -> str:
        if review == "confirmed":
            return "confirmed"
        if status == "parsed" and self.lazy:
            return "done"  # lazy mode stops after parsing until someone asks for more
        return _STATUS[status]


def _token(websocket: WebSocket) -> str | None:
    header = websocket.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return websocket.query_params.get("token")
