"""Store-and-forward: upload the complete files of a local folder to S3, each exactly once.

For labs without a steady connection. ``labflow forward --from DIR --to s3://bucket/prefix``
watches ``DIR`` with the inbox rules (a file is complete when its size and modification time are
unchanged over two scans; temporary names are ignored) and uploads every complete file to
``<prefix>/<path below DIR>``, its sidecar first (so the S3 sensor finds it with the data), each
object carrying its SHA-256 in the metadata and verified after the upload.

A journal (SQLite, ``DIR/.labflow-forward.sqlite``) records every file: ``pending`` → ``uploading``
→ ``sent``, or ``failed`` with the reason, the attempts and the next try (exponential back-off with
jitter, capped). Every state change is committed before the next step, so the agent can be killed at
any moment: on restart, a file whose upload may already have reached the endpoint is first looked up
there (same SHA-256 → sent, without uploading it again), so every file arrives exactly once.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import hashlib
import random
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from labflow.ingest.inbox import InboxCursor, scan_inbox
from labflow.ingest.register import find_sidecar
from labflow.s3 import S3Source, S3SourceError, S3Unreachable, classify_error, endpoint_of, s3_client
from labflow.settings import Settings

JOURNAL_NAME = ".labflow-forward.sqlite"
LOCK_NAME = ".labflow-forward.lock"
STATES = ("pending", "uploading", "sent", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    rel TEXT PRIMARY KEY,          -- path below DIR (posix)
    size INTEGER NOT NULL,         -- stat when found complete
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    state TEXT NOT NULL,           -- pending | uploading | sent | failed
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try_at REAL NOT NULL DEFAULT 0,
    reason TEXT,
    updated_at REAL NOT NULL,
    sent_at REAL
)
"""


class UploadError(RuntimeError):
    """A request the endpoint refused, or an upload that did not verify; retried with back-off."""

    def __init__(self, message: str, code: str = ""):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Entry:
    """One file in the journal."""

    rel: str
    size: int
    mtime_ns: int
    sha256: str
    state: str
    attempts: int
    next_try_at: float
    reason: str | None
    updated_at: float
    sent_at: float | None


@dataclass(frozen=True)
class Backoff:
    """Exponential back-off with jitter: attempt n waits between half and all of ``min(cap, base·2ⁿ⁻¹)``."""

    base_s: float = 1.0
    cap_s: float = 60.0

    def delay(self, attempts: int, rng: random.Random) -> float:
        ceiling = min(self.cap_s, self.base_s * 2 ** max(0, attempts - 1))
        return ceiling * (0.5 + 0.5 * rng.random())


class Journal:
    """The SQLite journal of a forwarded folder; every change is one committed transaction."""

    def __init__(self, path: Path):
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode = WAL")  # readers (--status) never block the agent
        self._db.execute("PRAGMA synchronous = NORMAL")  # committed = survives the process being killed
        self._db.execute(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def get(self, rel: str) -> Entry | None:
        row = self._db.execute("SELECT * FROM files WHERE rel = ?", (rel,)).fetchone()
        return Entry(*row) if row else None

    def entries(self) -> list[Entry]:
        order = "CASE state WHEN 'failed' THEN 0 WHEN 'uploading' THEN 1 WHEN 'pending' THEN 2 ELSE 3 END, rel"
        return [Entry(*row) for row in self._db.execute(f"SELECT * FROM files ORDER BY {order}")]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATES, 0)
        counts.update(self._db.execute("SELECT state, count(*) FROM files GROUP BY state").fetchall())
        return counts

    def due(self, now: float) -> list[Entry]:
        """Files to upload now: pending, interrupted while uploading, or failed and past their next try."""
        rows = self._db.execute("SELECT * FROM files WHERE state != 'sent' AND next_try_at <= ? "
                                "ORDER BY next_try_at, rel", (now,))
        return [Entry(*row) for row in rows]

    def enqueue(self, rel: str, size: int, mtime_ns: int, sha256: str) -> None:
        """Record a complete file as ``pending`` (a changed file starts again; its attempts are kept)."""
        self._db.execute(
            "INSERT INTO files (rel, size, mtime_ns, sha256, state, updated_at) VALUES (?, ?, ?, ?, 'pending', ?) "
            "ON CONFLICT (rel) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, "
            "sha256 = excluded.sha256, state = 'pending', next_try_at = 0, reason = NULL, "
            "updated_at = excluded.updated_at, sent_at = NULL",
            (rel, size, mtime_ns, sha256, time.time()))

    def touch(self, rel: str, size: int, mtime_ns: int) -> None:
        """The file's stat changed but not its bytes: remember the new stat only."""
        self._db.execute("UPDATE files SET size = ?, mtime_ns = ? WHERE rel = ?", (size, mtime_ns, rel))

    def start(self, rel: str, sha256: str) -> int:
        """Mark an attempt as begun (before any byte leaves); returns the attempt number."""
        self._db.execute("UPDATE files SET state = 'uploading', attempts = attempts + 1, sha256 = ?, "
                         "updated_at = ? WHERE rel = ?", (sha256, time.time(), rel))
        return self._db.execute("SELECT attempts FROM files WHERE rel = ?", (rel,)).fetchone()[0]

    def sent(self, rel: str) -> None:
        now = time.time()
        self._db.execute("UPDATE files SET state = 'sent', reason = NULL, updated_at = ?, sent_at = ? "
                         "WHERE rel = ?", (now, now, rel))

    def failed(self, rel: str, reason: str, next_try_at: float) -> None:
        self._db.execute("UPDATE files SET state = 'failed', reason = ?, next_try_at = ?, updated_at = ? "
                         "WHERE rel = ?", (reason, next_try_at, time.time(), rel))

    def forget(self, rel: str) -> None:
        self._db.execute("DELETE FROM files WHERE rel = ?", (rel,))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Forwarder:
    """Scans a folder into the journal and uploads what is due, one file at a time."""

    def __init__(self, folder: Path, target: S3Source, client: Any, journal: Journal, *,
                 backoff: Backoff = Backoff(), rng: random.Random | None = None,
                 say: Callable[[str], None] = print):
        self.folder, self.target, self.client, self.journal = folder, target, client, journal
        self.backoff = backoff
        self.rng = rng or random.Random()
        self.say = say
        self.cursor = InboxCursor()
        self.paused_until = 0.0
        self.stopping = threading.Event()

    def scan(self) -> None:
        """Record files that are complete (unchanged since the previous scan) and new or changed."""
        for rel in self.cursor.advance(scan_inbox(self.folder), limit=sys.maxsize):
            size, mtime_ns = stat = self.cursor.pending[rel]
            entry = self.journal.get(rel)
            if entry is None or (entry.size, entry.mtime_ns) != stat:
                try:
                    sha256 = file_sha256(self.folder / rel)
                except FileNotFoundError:
                    continue
                if entry is not None and entry.sha256 == sha256:
                    self.journal.touch(rel, size, mtime_ns)
                else:
                    self.journal.enqueue(rel, size, mtime_ns, sha256)
            self.cursor.mark_done(rel, stat)

    def upload_due(self, *, ignore_backoff: bool = False) -> None:
        """Upload every due file; an unreachable endpoint pauses the queue until the next try."""
        if time.time() < self.paused_until and not ignore_backoff:
            return
        for entry in self.journal.due(float("inf") if ignore_backoff else time.time()):
            if self.stopping.is_set():
                return
            try:
                self.upload(entry)
            except (S3Unreachable, S3SourceError) as error:
                delay = self.paused_until - time.time()
                self.say(f"{error}; will retry in {delay:.0f} s ({self.summary()})")
                return

    def upload(self, entry: Entry) -> None:
        """One attempt at one file: sidecar, then data; ``sent`` only after both verified."""
        path = self.folder / entry.rel
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            self.journal.forget(entry.rel)
            self.say(f"{entry.rel}: removed from {self.folder} before it was sent; forgotten")
            return
        sha256 = hashlib.sha256(data).hexdigest()
        attempt = self.journal.start(entry.rel, sha256)
        sidecar = find_sidecar(path)
        try:
            if sidecar is not None:
                sidecar_rel = str(PurePosixPath(entry.rel).with_name(sidecar.name))
                self._put_verified(sidecar_rel, sidecar.read_bytes(), may_exist=attempt > 1)
            self._put_verified(entry.rel, data, may_exist=attempt > 1)
        except (S3Unreachable, S3SourceError, UploadError, OSError) as error:
            delay = self.backoff.delay(attempt, self.rng)
            self.journal.failed(entry.rel, str(error), time.time() + delay)
            if isinstance(error, (S3Unreachable, S3SourceError)):  # no file can go: pause the queue
                self.paused_until = time.time() + delay
                raise
            self.say(f"{entry.rel}: failed (attempt {attempt}): {error}; will retry in {delay:.0f} s")
            return
        self.journal.sent(entry.rel)
        extra = " + sidecar" if sidecar is not None else ""
        self.say(f"sent {entry.rel}{extra} ({human_size(len(data))}, sha256 {sha256[:10]}) → "
                 f"{self.target.url}{entry.rel}  [{self.summary()}]")

    def _put_verified(self, rel: str, data: bytes, *, may_exist: bool) -> None:
        """Upload ``data`` to ``<prefix><rel>`` unless it is already there, then check what the endpoint holds."""
        key = self.target.key(rel)
        if may_exist and self._stored(key, data) is None:
            return  # an earlier attempt got through: never upload the same bytes twice
        self._call("put_object", Key=key, Body=data, Metadata={"sha256": hashlib.sha256(data).hexdigest()},
                   ChecksumSHA256=base64.b64encode(hashlib.sha256(data).digest()).decode(),
                   ContentMD5=base64.b64encode(hashlib.md5(data).digest()).decode())
        problem = self._stored(key, data)
        if problem is not None:
            raise UploadError(f"upload of {key} did not verify: {problem}")

    def _stored(self, key: str, data: bytes) -> str | None:
        """``None`` when the object at ``key`` holds these bytes (size, SHA-256, checksum/MD5), else what differs."""
        sha256, size = hashlib.sha256(data).hexdigest(), len(data)
        try:
            head = self._call("head_object", Key=key, ChecksumMode="ENABLED")
        except UploadError as error:
            if error.code in ("404", "NoSuchKey"):
                return "not found"
            raise
        if head.get("Metadata", {}).get("sha256") != sha256:
            return f"its sha256 metadata is {head.get('Metadata', {}).get('sha256')!r}, expected {sha256}"
        if head.get("ContentLength") != size:
            return f"its size is {head.get('ContentLength')} bytes, expected {size}"
        checksum = head.get("ChecksumSHA256")
        if checksum:  # the endpoint computed it over the bytes it stored
            expected = base64.b64encode(bytes.fromhex(sha256)).decode()
            return None if checksum == expected else f"its SHA-256 checksum is {checksum}, expected {expected}"
        etag = head.get("ETag", "").strip('"')
        if len(etag) == 32 and etag != hashlib.md5(data).hexdigest():  # single-part ETag = MD5 of the bytes
            return f"its ETag {etag} is not the MD5 of the file"
        return None

    def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, method)(Bucket=self.target.bucket, **kwargs)
        except Exception as error:
            mapped = classify_error(error, self.client, self.target.bucket)
            if mapped is not None:
                raise mapped from None
            if hasattr(error, "response"):
                code = error.response.get("Error", {}).get("Code", "")  # type: ignore[attr-defined]
                raise UploadError(f"{method} {kwargs.get('Key', '')}: {error}", code) from None
            raise

    def check_target(self) -> None:
        """Fail early on a missing bucket or bad credentials; an unreachable endpoint is only reported."""
        try:
            self._call("list_objects_v2", Prefix=self.target.prefix, MaxKeys=1)
        except S3Unreachable as error:
            self.say(f"{error}; files are kept and sent when it answers")

    def run(self, interval_s: float) -> None:
        """Scan and upload until :attr:`stopping` is set (SIGTERM / Ctrl-C)."""
        while not self.stopping.is_set():
            self.scan()
            self.upload_due()
            self.stopping.wait(interval_s)

    def run_once(self, interval_s: float) -> bool:
        """Two scans ``interval_s`` apart, then try every file not yet sent; True if all are sent."""
        self.scan()
        time.sleep(interval_s)
        self.scan()
        self.upload_due(ignore_backoff=True)
        counts = self.journal.counts()
        return counts["sent"] == sum(counts.values())

    def summary(self) -> str:
        """``3 sent, 2 pending, 1 failed``."""
        counts = self.journal.counts()
        waiting = counts["pending"] + counts["uploading"]
        return f"{counts['sent']} sent, {waiting} pending, {counts['failed']} failed"


@contextmanager
def exclusive(folder: Path) -> Iterator[None]:
    """Hold the folder's agent lock: two agents on one folder would send files twice."""
    with (folder / LOCK_NAME).open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"another labflow forward is already running on {folder}") from None
        yield


def waiting_files(folder: Path) -> list[Entry]:
    """Files of a forwarded folder not sent yet (empty when nothing was ever forwarded from it)."""
    if not (folder / JOURNAL_NAME).exists():
        return []
    journal = Journal(folder / JOURNAL_NAME)
    try:
        return [entry for entry in journal.entries() if entry.state != "sent"]
    finally:
        journal.close()


def human_size(size: int) -> str:
    """``812 B``, ``12.3 kB``, ``4.0 MB``."""
    if size < 1000:
        return f"{size} B"
    return f"{size / 1000:.1f} kB" if size < 1_000_000 else f"{size / 1_000_000:.1f} MB"


def status_table(journal: Journal, now: float | None = None) -> str:
    """The journal as a readable table: state, attempts, size, last change, file, reason or next try."""
    now = time.time() if now is None else now
    lines = [f"{'state':<9} {'tries':>5} {'size':>9}  {'changed':<19}  {'file':<40}  reason / next try"]
    for e in journal.entries():
        changed = datetime.fromtimestamp(e.updated_at).strftime("%Y-%m-%d %H:%M:%S")
        note = ""
        if e.state == "failed":
            note = f"{e.reason}; next try in {max(0, e.next_try_at - now):.0f} s"
        lines.append(f"{e.state:<9} {e.attempts:>5} {human_size(e.size):>9}  {changed:<19}  {e.rel:<40}  {note}")
    counts = journal.counts()
    lines.append(", ".join(f"{counts[s]} {s}" for s in STATES))
    return "\n".join(lines)


def forward_command(args: argparse.Namespace, settings: Settings) -> int:
    """``labflow forward``: run the agent (``--from`` and ``--to``), or show ``--status`` of ``--from``."""
    if not args.source:
        print("error: --from DIR is required", file=sys.stderr)
        return 2
    folder = Path(args.source).expanduser().resolve()
    if not folder.is_dir():
        print(f"error: {folder} is not a folder", file=sys.stderr)
        return 2
    if args.status:
        if not (folder / JOURNAL_NAME).exists():
            print(f"nothing forwarded from {folder} yet (no {JOURNAL_NAME})")
            return 0
        journal = Journal(folder / JOURNAL_NAME)
        print(status_table(journal))
        journal.close()
        return 0
    try:
        target = S3Source.parse(args.target or "")
        with exclusive(folder):
            return _run_agent(args, folder, target)
    except (ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _run_agent(args: argparse.Namespace, folder: Path, target: S3Source) -> int:
    client = s3_client(endpoint_url=args.endpoint_url, max_attempts=1, timeout_s=30.0)
    journal = Journal(folder / JOURNAL_NAME)
    forwarder = Forwarder(folder, target, client, journal, say=lambda line: print(line, flush=True))
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: forwarder.stopping.set())
    print(f"forwarding {folder} → {target.url} at {endpoint_of(client)} (journal {journal.path.name})", flush=True)
    forwarder.check_target()
    if args.once:
        done = forwarder.run_once(args.interval)
        print(forwarder.summary(), flush=True)
        journal.close()
        return 0 if done else 1
    forwarder.run(args.interval)
    print(f"stopped: {forwarder.summary()}", flush=True)
    journal.close()
    return 0
