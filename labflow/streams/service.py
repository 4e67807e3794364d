"""The stream service of one process: sources, bounded intake, the engine's worker and the pull connectors.

The API creates one and starts it; pushed batches go through :meth:`StreamService.submit`, a worker
thread feeds the engine, and a connector thread tails files and polls URLs of ``file``/``poll`` sources.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from labflow.settings import Settings
from labflow.streams.connectors import FileTail, poll_url
from labflow.streams.engine import StreamEngine
from labflow.streams.events import EventError, parse_batch
from labflow.streams.intake import Admission, Intake
from labflow.streams.sources import SourceRegistry

log = logging.getLogger("labflow.streams")


class BatchTooLarge(EventError):
    """A batch bigger than the source's whole queue: it could never be accepted; send smaller batches."""


@dataclass
class _Puller:
    due: float
    tail: FileTail | None = None


class StreamService:
    """Sources + intake + engine, with a worker thread and a connector thread (started on first use)."""

    def __init__(self, settings: Settings, *, registry: SourceRegistry | None = None):
        self.settings = settings
        self.registry = registry or SourceRegistry(settings.sources_dir)
        self.engine = StreamEngine(settings.streams, self.registry)
        self.intake = Intake()
        self.patterns: dict[tuple[str, str], int] = {}  # (source, pattern type) -> pattern events found
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pullers: dict[str, _Puller] = {}
        self._start_lock = threading.Lock()

    def start(self) -> None:
        """Start the worker and connector threads (once)."""
        with self._start_lock:
            if self._threads:
                return
            self._stop.clear()
            for target, name in ((self._work, "streams-worker"), (self._pull, "streams-connectors")):
                thread = threading.Thread(target=target, name=name, daemon=True)
                thread.start()
                self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Process what is queued, stop the threads and checkpoint the detectors."""
        self.intake.wait_idle(timeout)
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
        self.engine.checkpoint()

    def submit(self, source: str, body: Any) -> Admission:
        """Validate a pushed batch for ``source`` and queue it (or reject it when the queue is full)."""
        config = self.registry.get(source)
        events = parse_batch(body, source, assume_tz=config.tz)
        if len(events) > config.queue_size:
            raise BatchTooLarge(f"a batch of {len(events)} events is larger than source {source!r}'s queue "
                                f"({config.queue_size}); send batches of at most {config.queue_size}")
        self.start()
        return self.intake.offer(source, events, config.queue_size)

    def _work(self) -> None:
        while not self._stop.is_set():
            item = self.intake.take(timeout=0.2)
            if item is None:  # idle: make sure what was learned is on disk
                self.engine.checkpoint_if_due()
                continue
            source, events = item
            start = time.perf_counter()
            try:
                result = self.engine.process(source, events)
            except Exception as error:  # keep serving other sources; the failure is counted and logged
                log.exception("stream %s: a batch of %d events failed", source, len(events))
                self.intake.done(source, len(events), time.perf_counter() - start, error=str(error))
                continue
            self.intake.done(source, len(events), time.perf_counter() - start)
            for pattern in result.patterns:
                key = (source, pattern.type)
                self.patterns[key] = self.patterns.get(key, 0) + 1
        self.engine.checkpoint()

    def _pull(self) -> None:
        client = None
        while not self._stop.wait(0.5):
            for config in self.registry.all():
                if config.kind not in ("file", "poll"):
                    continue
                puller = self._pullers.setdefault(config.name, _Puller(due=0.0))
                if time.monotonic() < puller.due:
                    continue
                puller.due = time.monotonic() + config.interval_s
                try:
                    if config.kind == "file":
                        puller.tail = puller.tail or FileTail(config, self.settings.streams / "connectors")
                        self._pull_file(config.name, puller.tail, config.queue_size)
                    else:
                        if client is None:
                            import httpx

                            client = httpx.Client()
                        events = poll_url(config, client)
                        if events:
                            self.intake.offer(config.name, events, config.queue_size)
                except Exception as error:  # a missing file or an unreachable URL: try again next time
                    log.warning("stream %s: cannot read (%s); retrying in %.0f s", config.name, error,
                                config.interval_s)

    def _pull_file(self, source: str, tail: FileTail, capacity: int) -> None:
        offset, line, header = tail.offset, tail.line, tail.header
        events = tail.poll()
        if not events:
            return
        if self.intake.offer(source, events, capacity).accepted:
            tail.commit()
        else:  # queue full: read the same rows again on the next turn
            tail.offset, tail.line, tail.header = offset, line, header
