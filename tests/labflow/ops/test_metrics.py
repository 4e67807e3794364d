"""The pure metric collectors on a real catalog (SQLite, then PostgreSQL), real folders and journals."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from labflow.ingest.forward import JOURNAL_NAME, Journal
from labflow.ingest.metadata import RunMetadata
from labflow.ingest.register import register_bytes
from labflow.ingest.s3_inbox import SourceState
from labflow.ops.metrics.backlog import forwarder_state, s3_backlog
from labflow.ops.metrics.etl import EtlLatency, QuarantineCensus
from labflow.ops.metrics.ingest import IngestTally
from labflow.ops.metrics.tail import IdTail, TimestampTail
from labflow.s3 import S3Source
from labflow.store.blobstore import open_blob_store
from labflow.store.catalog import Catalog, IngestEventRow
from labflow.store.objects import ObjectStore, quarantine

T0 = datetime(2026, 3, 1, 8, tzinfo=timezone.utc)


def register(catalog: Catalog, objects: ObjectStore, source: str, data: bytes, at: datetime = T0) -> str:
    outcome = register_bytes(data, relative=source.split(":", 1)[1], source=source, sidecar=None, objects=objects,
                             catalog=catalog, is_known_run=lambda key: True, now=at)
    assert outcome.run_key
    return outcome.run_key


def objects_in(tmp_path: Path) -> ObjectStore:
    return ObjectStore(open_blob_store(tmp_path, None, "objects"))


def test_ingest_events_are_counted_once_by_source_and_kind(database_url: str, tmp_path: Path):
    catalog = Catalog(database_url)
    objects = objects_in(tmp_path)
    tally = IngestTally(catalog, batch=2)
    register(catalog, objects, "inbox:hplc-01/a.csv", b"a")
    register(catalog, objects, "inbox:hplc-01/b.csv", b"b")
    register(catalog, objects, "s3/lab/incoming:x/a.csv", b"a")  # the same bytes again, from S3
    assert tally.refresh() == 2 and tally.refresh() == 1 and tally.refresh() == 0  # batches of 2, then nothing
    assert tally.by_source("new") == {"inbox": 2}
    assert tally.by_source("duplicate") == {"s3/lab/incoming": 1}
    assert tally.by_source() == {"inbox": 2, "s3/lab/incoming": 1}
    catalog.dispose()


def test_counting_starts_when_the_tally_is_made(tmp_path: Path):
    """As Prometheus counters start at a process start: what the catalog held before is not counted again."""
    catalog = Catalog(f"sqlite:///{tmp_path / 'c.db'}")
    objects = objects_in(tmp_path)
    register(catalog, objects, "inbox:a.csv", b"a")
    tally = IngestTally(catalog)
    register(catalog, objects, "inbox:b.csv", b"b")
    assert tally.refresh() == 1 and tally.by_source() == {"inbox": 1}
    catalog.dispose()


def test_a_gap_in_the_ids_holds_the_watermark_until_it_is_old(tmp_path: Path):
    """Ids 1, 2 and 4 committed, 3 not (yet): 4 is read only after the wait, so a late 3 is not lost."""
    catalog = Catalog(f"sqlite:///{tmp_path / 'c.db'}")
    run_key = register(catalog, objects_in(tmp_path), "inbox:a.csv", b"a")
    now = [0.0]
    tail = IdTail(catalog, IngestEventRow.id, (IngestEventRow.kind,), gap_wait_s=10, clock=lambda: now[0])
    with catalog.begin() as session:
        for row_id in (2, 4):
            session.add(IngestEventRow(id=row_id, run_key=run_key, source="inbox:a.csv", kind="duplicate",
                                       detected_at=T0))
    assert len(tail.read()) == 2 and tail.after == 2  # 1 and 2; 4 waits behind the gap
    now[0] = 5.0
    with catalog.begin() as session:  # the slow transaction commits
        session.add(IngestEventRow(id=3, run_key=run_key, source="inbox:a.csv", kind="duplicate", detected_at=T0))
    assert len(tail.read()) == 2 and tail.after == 4
    with catalog.begin() as session:
        session.add(IngestEventRow(id=6, run_key=run_key, source="inbox:a.csv", kind="duplicate", detected_at=T0))
    now[0] = 6.0
    assert tail.read() == []  # 5 never commits (rolled back) ...
    now[0] = 16.5
    assert len(tail.read()) == 1 and tail.after == 6  # ... and is passed once the gap is 10 s old
    catalog.dispose()


def test_timestamp_tail_reads_again_over_the_overlap_and_counts_each_record_once():
    tail = TimestampTail(overlap_s=5)
    assert tail.since is None
    assert tail.take([("a", 100.0), ("b", 101.0)]) == [0, 1]
    assert tail.since == 96.0
    assert tail.take([("b", 101.0), ("c", 99.0), ("d", 102.0)]) == [1, 2]  # c was written late
    assert tail.take([("e", 103.0), ("f", 103.0)], full=True) == [0, 1]
    assert tail.since == 103.0  # a full batch: read on, not over the overlap again


def test_arrival_to_peaks_by_source_and_instrument_each_run_once(tmp_path: Path):
    catalog = Catalog(f"sqlite:///{tmp_path / 'c.db'}")
    objects = objects_in(tmp_path)
    hplc = register(catalog, objects, "inbox:hplc-01/a.csv", b"a")
    ecg = register(catalog, objects, "s3/lab/in:b.csv", b"b", at=T0 + timedelta(seconds=30))
    catalog.set_metadata(hplc, RunMetadata(instrument="hplc-01"))
    latency = EtlLatency(catalog)
    assert latency.observe([(hplc, T0 + timedelta(seconds=7)), (ecg, T0 + timedelta(seconds=150)),
                            ("other-lab-0000000000", T0)]) == 3
    assert latency.observe([(hplc, T0 + timedelta(hours=2))]) == 0  # re-materialized: not a new arrival
    states = latency.histogram.snapshot()
    assert set(states) == {("inbox", "hplc-01"), ("s3/lab/in", "unknown")}
    assert (states[("inbox", "hplc-01")].total, states[("inbox", "hplc-01")].count) == (7.0, 1)
    bounds = latency.histogram.bounds
    assert states[("s3/lab/in", "unknown")].buckets == [int(b >= 120) for b in bounds]
    catalog.dispose()


def test_quarantine_is_counted_from_its_notes_and_follows_the_folder(tmp_path: Path):
    catalog = Catalog(f"sqlite:///{tmp_path / 'c.db'}")
    objects = objects_in(tmp_path)
    folder = tmp_path / "quarantine"
    census = QuarantineCensus(folder, catalog)
    assert census.counts() == {}  # no folder yet
    keys = [register(catalog, objects, f"inbox:hplc-01/{n}.csv", n.encode()) for n in ("a", "b")]
    catalog.set_metadata(keys[0], RunMetadata(instrument="hplc-01"))
    for key in keys:
        quarantine(folder, run_key=key, original_name="x.csv", data=b"bad", error="line 3: 'abc'",
                   source=f"inbox:hplc-01/{key}.csv")
    assert census.counts() == {("inbox", "hplc-01"): 1, ("inbox", "unknown"): 1}
    (folder / f"{keys[0]}.csv.error.txt").unlink()  # an operator dealt with it
    assert census.counts() == {("inbox", "unknown"): 1}
    catalog.dispose()


def test_forwarder_state_from_its_journal(tmp_path: Path):
    assert forwarder_state(tmp_path).files == {"pending": 0, "uploading": 0, "sent": 0, "failed": 0}
    journal = Journal(tmp_path / JOURNAL_NAME)
    for name in ("a", "b", "c"):
        journal.enqueue(name, 1, 1, "0" * 64)
    journal.sent("a")
    journal.failed("b", "endpoint unreachable", next_try_at=0)
    journal.close()
    state = forwarder_state(tmp_path)
    assert state.files == {"pending": 1, "uploading": 0, "sent": 1, "failed": 1}
    assert state.oldest_unsent_at is not None and state.folder == str(tmp_path)


def test_the_docstring_examples_hold():
    import doctest

    from labflow.ops.metrics import backlog, ingest, tally

    for module in (backlog, ingest, tally):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__


def test_s3_backlog_counts_the_objects_the_sensor_has_not_handled(s3_endpoint):
    client = s3_endpoint.client()
    bucket = s3_endpoint.new_bucket()
    for key in ("incoming/a.csv", "incoming/a.csv.meta.json", "incoming/b.csv", "incoming/c.csv.part",
                "incoming/sub/d.csv", "elsewhere/e.csv"):
        client.put_object(Bucket=bucket, Key=key, Body=key.encode())
    source = S3Source.parse(f"s3://{bucket}/incoming")
    state = SourceState()
    first = s3_backlog(client, source, state)
    assert (first.files, first.complete, first.source) == (3, True, source.url)  # a, b, sub/d: no sidecar, no .part
    assert first.oldest_at is not None and abs(first.oldest_at - time.time()) < 300
    etag = client.head_object(Bucket=bucket, Key="incoming/a.csv")["ETag"].strip('"')
    state.handled = {"a.csv": (etag, 0), "b.csv": ("an-older-etag", 0)}  # b changed since the sensor took it
    assert s3_backlog(client, source, state).files == 2
    partial = s3_backlog(client, source, SourceState(), max_pages=1, page_size=2)
    assert not partial.complete and partial.files >= 1  # a lower bound after one short page
