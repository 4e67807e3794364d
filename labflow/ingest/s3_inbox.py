"""S3 buckets as inboxes: which objects under a bucket/prefix are new, and registering them as runs.

An object is complete once it is listed: S3 (and MinIO, moto, ...) shows an object only after its
upload has finished, multipart uploads included. Temporary and hidden names are ignored as in the
folder inbox, and ``<key>.meta.json`` (or ``.meta.yaml``, or ``<stem>.meta.json``) objects are read
as the sidecar of their data object, never alone.

The scan state is a JSON cursor, per source: the scan position ``after`` (the last key considered
in the current listing pass), the pass number, and ``handled``: every data key seen with its ETag
and the pass that last listed it. A listing is read page by page across ticks (so a bucket of any
size fits the sensor's tick deadline); a pass that reaches the end starts again from the first key,
so an object whose key sorts before the scan position is found on the next pass, and keys that
were not listed during a whole pass (deleted objects) are dropped. The same key with a new ETag is
a new file; the same bytes under another key are a duplicate of the existing run (SHA-256 of the
downloaded bytes, exactly as for the folder inbox).

Listing with ``StartAfter`` needs lexicographic order: general-purpose S3 buckets, MinIO and moto
list that way (S3 Express directory buckets do not, and are not supported).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from labflow.ingest.inbox import is_ignored
from labflow.ingest.metadata import sidecar_candidates
from labflow.ingest.register import IngestOutcome, register_bytes
from labflow.s3 import S3Source, S3Unreachable, classify_error
from labflow.store.catalog import Catalog
from labflow.store.objects import ObjectStore

PAGE_SIZE = 1000


def parse_sources(text: str) -> list[S3Source]:
    """A comma-separated list of ``s3://bucket/prefix`` URLs (``LABFLOW_S3_SOURCES``)."""
    return [S3Source.parse(part) for part in text.split(",") if part.strip()]


@dataclass
class SourceState:
    """Scan state of one source (keys are relative to its prefix)."""

    after: str | None = None
    passes: int = 0
    handled: dict[str, tuple[str, int]] = field(default_factory=dict)


@dataclass
class S3Cursor:
    """Scan state of every source, kept in the sensor cursor."""

    sources: dict[str, SourceState] = field(default_factory=dict)

    @classmethod
    def from_json(cls, text: str | None) -> "S3Cursor":
        """Read a cursor; ``None`` or empty means a fresh start."""
        if not text:
            return cls()
        data = json.loads(text)
        return cls({url: SourceState(state.get("after"), int(state.get("pass", 0)),
                                     {k: (v[0], int(v[1])) for k, v in state.get("handled", {}).items()})
                    for url, state in data.get("sources", {}).items()})

    def to_json(self) -> str:
        sources = {url: {"after": s.after, "pass": s.passes, "handled": s.handled} for url, s in self.sources.items()}
        return json.dumps({"v": 1, "sources": sources}, separators=(",", ":"), sort_keys=True)

    def keep_only(self, sources: list[S3Source]) -> None:
        """Forget the state of sources that are no longer configured."""
        wanted = {s.url for s in sources}
        self.sources = {url: state for url, state in self.sources.items() if url in wanted}


@dataclass
class PollResult:
    """What one poll did: outcomes in order, and why it stopped early (``None`` when it did not)."""

    outcomes: list[IngestOutcome] = field(default_factory=list)
    stopped: str | None = None

    @property
    def new_run_keys(self) -> list[str]:
        keys: list[str] = []
        for outcome in self.outcomes:
            if outcome.kind == "new" and outcome.run_key not in keys:
                keys.append(outcome.run_key)  # type: ignore[arg-type]
        return keys


def is_data_key(relative: str) -> bool:
    """Whether a key (relative to its prefix) is a data object: not a folder marker, temp name or sidecar."""
    if not relative or relative.endswith("/"):
        return False
    return not any(is_ignored(part) for part in relative.split("/"))


class S3Inbox:
    """Polls S3 sources page by page and registers new objects as runs (client passed in)."""

    def __init__(self, client: Any, *, objects: ObjectStore, catalog: Catalog, is_known_run: Callable[[str], bool],
                 page_size: int = PAGE_SIZE):
        self.client = client
        self.objects = objects
        self.catalog = catalog
        self.is_known_run = is_known_run
        self.page_size = page_size
        self._new_run_keys: set[str] = set()

    def poll(self, cursor: S3Cursor, sources: list[S3Source], *, max_objects: int, deadline: float,
             now: datetime) -> PollResult:
        """Ingest up to ``max_objects`` new objects (an equal share per source), stopping at ``deadline``
        (a ``time.monotonic()`` value).

        An unreachable endpoint stops the poll (``stopped`` says why) with the cursor at the last
        object handled; a missing bucket or denied access raises :class:`~labflow.s3.S3SourceError`.
        """
        result = PollResult()
        self._new_run_keys = set()
        cursor.keep_only(sources)
        share = max(1, max_objects // max(1, len(sources)))
        for source in sources:
            state = cursor.sources.setdefault(source.url, SourceState())
            try:
                self._poll_source(source, state, result, share, deadline, now)
            except S3Unreachable as error:
                result.stopped = f"{error}; will retry on the next tick"
            if result.stopped:
                break
        return result

    def _poll_source(self, source: S3Source, state: SourceState, result: PollResult, limit: int,
                     deadline: float, now: datetime) -> None:
        start = state.after
        listed: set[str] = set()
        taken = 0
        while True:
            if time.monotonic() >= deadline:
                result.stopped = "time budget of this tick used up; continuing on the next tick"
                return
            page, truncated = self._list_page(source, state.after)
            listed.update(relative for relative, _ in page)
            last = page[-1][0] if page else None
            for relative, etag in page:
                if not is_data_key(relative):
                    state.after = relative
                    continue
                known = state.handled.get(relative)
                if known is None or known[0] != etag:
                    if taken >= limit or time.monotonic() >= deadline:
                        result.stopped = "enough objects for one tick; continuing on the next tick"
                        return
                    in_view = _in_view(relative, start, last if truncated else None)
                    sidecar = self._sidecar(source, relative, listed if in_view else None)
                    outcome, etag = self._ingest(source, relative, sidecar, now)
                    result.outcomes.append(outcome)
                    taken += 1
                    if outcome.kind == "unreadable":
                        state.after = relative
                        continue
                state.handled[relative] = (etag, state.passes)
                state.after = relative
            if not truncated:
                state.handled = {k: v for k, v in state.handled.items() if v[1] == state.passes}
                state.passes += 1
                state.after = None
                return

    def _call(self, source: S3Source, method: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, method)(Bucket=source.bucket, **kwargs)
        except Exception as error:
            mapped = classify_error(error, self.client, source.bucket)
            if mapped is None:
                raise
            raise mapped from None

    def _list_page(self, source: S3Source, after: str | None) -> tuple[list[tuple[str, str]], bool]:
        kwargs: dict[str, Any] = {"Prefix": source.prefix, "MaxKeys": self.page_size}
        if after is not None:
            kwargs["StartAfter"] = source.key(after)
        page = self._call(source, "list_objects_v2", **kwargs)
        items = [(o["Key"][len(source.prefix):], o["ETag"].strip('"')) for o in page.get("Contents", [])]
        return items, bool(page.get("IsTruncated"))

    def _sidecar(self, source: S3Source, relative: str, listed: set[str] | None) -> str | None:
        """The relative key of the data object's sidecar; ``listed`` is used when it covers the candidates,
        else one listing of ``<folder>/<stem>.`` finds them all."""
        candidates = _sidecar_keys(relative)
        if listed is None:
            path = PurePosixPath(relative)
            page = self._call(source, "list_objects_v2", Prefix=source.key(str(path.with_name(path.stem + "."))),
                              MaxKeys=100)
            listed = {o["Key"][len(source.prefix):] for o in page.get("Contents", [])}
        return next((c for c in candidates if c in listed), None)

    def _ingest(self, source: S3Source, relative: str, sidecar: str | None,
                now: datetime) -> tuple[IngestOutcome, str]:
        catalog_source = f"{source.catalog_prefix}:{relative}"
        try:
            response = self._call(source, "get_object", Key=source.key(relative))
            data = response["Body"].read()
            sidecar_text = None
            if sidecar is not None:
                sidecar_body = self._call(source, "get_object", Key=source.key(sidecar))["Body"].read()
                sidecar_text = sidecar_body.decode("utf-8", errors="replace")
        except S3Unreachable:
            raise
        except Exception as error:  # deleted meanwhile, denied, a server error: tried again on the next pass
            return IngestOutcome(relative, "unreadable", detail=f"{source.key(relative)}: {error}"), ""
        named_sidecar = (PurePosixPath(sidecar).name, sidecar_text or "") if sidecar else None
        outcome = register_bytes(data, relative=relative, source=catalog_source,
                                 sidecar=named_sidecar, objects=self.objects, catalog=self.catalog,
                                 is_known_run=self._is_known_run, now=now)
        if outcome.kind == "new":
            self._new_run_keys.add(outcome.run_key)  # type: ignore[arg-type]
        return outcome, response["ETag"].strip('"')

    def _is_known_run(self, run_key: str) -> bool:
        """Registered earlier in this poll, or already a partition."""
        return run_key in self._new_run_keys or self.is_known_run(run_key)


def _in_view(relative: str, start: str | None, last: str | None) -> bool:
    """Whether every sidecar candidate key of ``relative`` lies in the range listed this tick.

    ``start`` is where listing began (``None``: the first key); ``last`` the last key listed so far
    (``None``: the listing reached the end).
    """
    return all((start is None or k > start) and (last is None or k <= last) for k in _sidecar_keys(relative))


def _sidecar_keys(relative: str) -> list[str]:
    """The keys a sidecar of ``relative`` may have, in order of preference."""
    folder = relative.rpartition("/")[0]
    return [f"{folder}/{n}" if folder else n for n in sidecar_candidates(PurePosixPath(relative).name)]

