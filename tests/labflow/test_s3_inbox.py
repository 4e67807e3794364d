"""The S3 inbox against a real S3-compatible HTTP endpoint (moto server; boto3 is not patched)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from labflow.store.catalog import Catalog
from labflow.ingest.register import ingest_file
from labflow.store.objects import open_object_store
from labflow.ingest.s3_inbox import PollResult, S3Cursor, S3Inbox, is_data_key, parse_sources
from labflow.s3 import S3Source, S3SourceError
from labflow.settings import Settings
from tests.lab_fixtures import drop, signal_csv
from tests.s3_fixtures import S3Endpoint


class Poller:
    """Polls like the sensor does: the cursor goes through JSON every time, partitions are remembered."""

    def __init__(self, client, settings: Settings, catalog: Catalog, sources: list[S3Source], page_size: int = 1000):
        self.sources = sources
        self.partitions: list[str] = []
        self.cursor_json: str | None = None
        self.inbox = S3Inbox(client, objects=open_object_store(settings), catalog=catalog,
                             is_known_run=lambda key: key in self.partitions, page_size=page_size)

    def poll(self, max_objects: int = 1000) -> PollResult:
        cursor = S3Cursor.from_json(self.cursor_json)
        result = self.inbox.poll(cursor, self.sources, max_objects=max_objects, deadline=time.monotonic() + 30,
                                 now=datetime.now(timezone.utc))
        self.cursor_json = cursor.to_json()
        self.partitions += [k for k in result.new_run_keys if k not in self.partitions]
        return result


@pytest.fixture
def poller(s3: S3Endpoint, bucket: str, lab_settings: Settings, catalog: Catalog) -> Poller:
    return Poller(s3.client(), lab_settings, catalog, [S3Source(bucket, "incoming/")])


def put(s3: S3Endpoint, bucket: str, key: str, data: bytes) -> None:
    s3.client().put_object(Bucket=bucket, Key=key, Body=data)


def test_sources_parse_from_urls():
    assert parse_sources("s3://lab/incoming, s3://other/a/b/ ,s3://top") == [
        S3Source("lab", "incoming/"), S3Source("other", "a/b/"), S3Source("top", "")]
    for bad in ("http://lab/x", "s3://", "lab/incoming", "s3://lab/odd:prefix"):
        with pytest.raises(ValueError, match="s3://bucket/prefix"):
            S3Source.parse(bad)


def test_folder_markers_temporary_names_and_sidecars_are_not_data():
    assert is_data_key("hplc-01/run.csv")
    for key in ("hplc-01/", "run.csv.part", ".hidden.csv", "x/.staging/run.csv", "run.csv.meta.json", "~$run.csv"):
        assert not is_data_key(key), key


def test_new_objects_are_registered_once_with_their_sidecar_and_folder(poller, s3, bucket, catalog):
    put(s3, bucket, "incoming/hplc-01/run1.csv.meta.json", json.dumps({"operator": "alice"}).encode())
    put(s3, bucket, "incoming/hplc-01/run1.csv", signal_csv(1))
    put(s3, bucket, "incoming/hplc-01/", b"")  # a console's folder marker
    put(s3, bucket, "incoming/upload.csv.part", signal_csv(2))
    put(s3, bucket, "elsewhere/run9.csv", signal_csv(9))  # outside the prefix
    result = poller.poll()
    assert [o.kind for o in result.outcomes] == ["new"] and result.stopped is None
    (key,) = poller.partitions
    run = catalog.get_run(key)
    assert run.source == f"s3/{bucket}/incoming:hplc-01/run1.csv" and run.original_name == "run1.csv"
    assert run.sidecar_name == "run1.csv.meta.json" and '"alice"' in run.sidecar_text
    assert Path(run.object_path).read_bytes() == signal_csv(1)
    assert poller.poll().outcomes == []


def test_a_multipart_upload_in_progress_is_not_a_file_until_completed(poller, s3, bucket):
    client = s3.client()
    upload = client.create_multipart_upload(Bucket=bucket, Key="incoming/big.csv")
    part = client.upload_part(Bucket=bucket, Key="incoming/big.csv", UploadId=upload["UploadId"], PartNumber=1,
                              Body=signal_csv(3))
    assert poller.poll().outcomes == []
    client.complete_multipart_upload(Bucket=bucket, Key="incoming/big.csv", UploadId=upload["UploadId"],
                                     MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]})
    assert [o.kind for o in poller.poll().outcomes] == ["new"]


def test_many_objects_are_handled_across_polls_with_a_cap_and_small_pages(s3, bucket, lab_settings, catalog):
    poller = Poller(s3.client(), lab_settings, catalog, [S3Source(bucket, "incoming/")], page_size=10)
    for i in range(35):
        put(s3, bucket, f"incoming/f{i:02d}.csv", signal_csv(200 + i, n=30))
    polls = []
    while not polls or polls[-1].outcomes:
        polls.append(poller.poll(max_objects=8))
        assert len(polls) < 10
    assert [len(p.outcomes) for p in polls] == [8, 8, 8, 8, 3, 0]
    assert all(p.stopped.startswith("enough objects") for p in polls[:4])
    assert len(poller.partitions) == 35
    assert sorted(catalog.get_run(k).original_name for k in poller.partitions) == [f"f{i:02d}.csv" for i in range(35)]


def test_a_key_sorting_before_the_scan_position_is_found_on_the_next_pass(s3, bucket, lab_settings, catalog):
    poller = Poller(s3.client(), lab_settings, catalog, [S3Source(bucket, "incoming/")], page_size=2)
    for i in range(1, 5):
        put(s3, bucket, f"incoming/m{i}.csv", signal_csv(500 + i, n=30))
    assert len(poller.poll(max_objects=2).outcomes) == 2  # scan position now after m2
    put(s3, bucket, "incoming/a-late.csv", signal_csv(777, n=30))
    names = [o.relative_path for o in poller.poll().outcomes + poller.poll().outcomes]
    assert names == ["m3.csv", "m4.csv", "a-late.csv"]
    assert poller.poll().outcomes == []


def test_deleted_keys_leave_the_cursor_after_a_full_pass(poller, s3, bucket):
    for i in range(3):
        put(s3, bucket, f"incoming/d{i}.csv", signal_csv(300 + i, n=30))
    poller.poll()
    s3.client().delete_object(Bucket=bucket, Key="incoming/d1.csv")
    poller.poll()
    handled = json.loads(poller.cursor_json)["sources"][f"s3://{bucket}/incoming/"]["handled"]
    assert sorted(handled) == ["d0.csv", "d2.csv"]


def test_same_key_new_bytes_is_a_new_run_and_same_bytes_elsewhere_a_duplicate(poller, s3, bucket, catalog,
                                                                             lab_settings):
    put(s3, bucket, "incoming/a.csv", signal_csv(10))
    poller.poll()
    put(s3, bucket, "incoming/a.csv", signal_csv(11))  # corrected file, same name
    put(s3, bucket, "incoming/copy/a-again.csv", signal_csv(10))  # same bytes, another key
    kinds = sorted(o.kind for o in poller.poll().outcomes)
    assert kinds == ["duplicate", "new"] and len(poller.partitions) == 2
    first = catalog.find_run_by_sha256(catalog.get_run(poller.partitions[0]).sha256)
    events = catalog.ingest_events(first.run_key)
    assert [e.kind for e in events] == ["new", "duplicate"]
    assert events[1].source == f"s3/{bucket}/incoming:copy/a-again.csv"


def test_bytes_from_the_folder_inbox_and_from_s3_are_one_run(poller, s3, bucket, catalog, lab_settings):
    drop(lab_settings.inbox, "run.csv", signal_csv(12))
    outcome = ingest_file(lab_settings.inbox, "run.csv", objects=open_object_store(lab_settings), catalog=catalog,
                          is_known_run=lambda key: False, now=datetime.now(timezone.utc))
    poller.partitions.append(outcome.run_key)
    put(s3, bucket, "incoming/renamed.csv", signal_csv(12))
    (s3_outcome,) = poller.poll().outcomes
    assert (s3_outcome.kind, s3_outcome.run_key) == ("duplicate", outcome.run_key)
    assert poller.partitions == [outcome.run_key]


def test_sidecars_on_the_next_page_and_stem_sidecars_are_found(s3, bucket, lab_settings, catalog):
    poller = Poller(s3.client(), lab_settings, catalog, [S3Source(bucket, "incoming/")], page_size=1)
    put(s3, bucket, "incoming/a.csv.meta.json", json.dumps({"operator": "ann"}).encode())
    put(s3, bucket, "incoming/a.csv", signal_csv(20))
    put(s3, bucket, "incoming/b.meta.json", json.dumps({"operator": "bob"}).encode())
    put(s3, bucket, "incoming/b.csv", signal_csv(21))
    while poller.poll().outcomes:
        pass
    sidecars = {catalog.get_run(k).original_name: catalog.get_run(k).sidecar_name for k in poller.partitions}
    assert sidecars == {"a.csv": "a.csv.meta.json", "b.csv": "b.meta.json"}


def test_an_endpoint_lost_mid_poll_loses_and_doubles_nothing(s3, bucket, lab_settings, catalog):
    client = s3.client()
    poller = Poller(client, lab_settings, catalog, [S3Source(bucket, "incoming/")])
    for i in range(12):
        put(s3, bucket, f"incoming/e{i:02d}.csv", signal_csv(400 + i, n=30))
    downloads = []

    def stop_at_the_fifth_download(**_: object) -> None:
        downloads.append(1)
        if len(downloads) == 5:
            s3.stop()  # the real server goes away: this request meets a closed port

    client.meta.events.register("before-send.s3.GetObject", stop_at_the_fifth_download)
    first = poller.poll()
    assert "cannot reach endpoint http://127.0.0.1" in first.stopped and "retry" in first.stopped
    assert len(first.outcomes) == 4
    assert "cannot reach endpoint" in poller.poll().stopped  # still down: nothing happens
    s3.start()
    second = poller.poll()
    assert second.stopped is None and len(second.outcomes) == 8
    assert len(poller.partitions) == 12
    assert all([e.kind for e in catalog.ingest_events(k)] == ["new"] for k in poller.partitions)
    assert poller.poll().outcomes == []


def test_a_missing_bucket_is_a_clear_error(s3, lab_settings, catalog):
    poller = Poller(s3.client(), lab_settings, catalog, [S3Source("no-such-bucket-here", "")])
    with pytest.raises(S3SourceError, match=f"bucket 'no-such-bucket-here' not found at endpoint {s3.url}"):
        poller.poll()
