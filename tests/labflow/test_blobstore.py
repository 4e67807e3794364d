"""Raw copies and outputs on local disk or S3 — the S3 side against moto's server over real HTTP."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from labflow.store.blobstore import BlobMissing, BlobStoreUnreachable, LocalBlobStore, S3BlobStore, open_blob_store
from labflow.store.objects import ObjectIntegrityError, ObjectStore, object_key
from labflow.settings import Settings
from labflow.store.outputs import MissingOutputError, OutputStore
from tests.s3_fixtures import S3Endpoint


@pytest.fixture(params=["local", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> LocalBlobStore | S3BlobStore:
    if request.param == "local":
        return LocalBlobStore(tmp_path / "store")
    s3: S3Endpoint = request.getfixturevalue("s3")
    return S3BlobStore(s3.client(), s3.new_bucket(), "lab/storage", tmp_path / "cache")


def test_put_get_exists_and_keys(blobs: LocalBlobStore | S3BlobStore) -> None:
    location = blobs.put("peaks/run-1.parquet", b"one")
    blobs.put("peaks/run-2.parquet", b"two")
    blobs.put("clean_series/run-1.parquet", b"three")
    assert blobs.get("peaks/run-1.parquet") == b"one"
    assert blobs.read_location(location) == b"one"
    assert blobs.exists("peaks/run-2.parquet") and not blobs.exists("peaks/run-3.parquet")
    assert blobs.keys("peaks/") == ["peaks/run-1.parquet", "peaks/run-2.parquet"]
    assert blobs.keys("nothing/") == []
    with pytest.raises(BlobMissing):
        blobs.get("peaks/run-3.parquet")


def test_local_copy_follows_a_rewritten_blob(blobs: LocalBlobStore | S3BlobStore) -> None:
    blobs.put("a/b.json", b"first")
    assert blobs.local_copy("a/b.json").read_bytes() == b"first"
    blobs.put("a/b.json", b"second version")
    assert blobs.local_copy("a/b.json").read_bytes() == b"second version"
    with pytest.raises(BlobMissing):
        blobs.local_copy("a/missing.json")


def test_s3_locations_are_urls_in_the_bucket(s3: S3Endpoint, tmp_path: Path) -> None:
    bucket = s3.new_bucket()
    blobs = S3BlobStore(s3.client(), bucket, "lab/objects", tmp_path / "cache")
    assert blobs.put("ab/x.csv", b"x") == f"s3://{bucket}/lab/objects/ab/x.csv"
    assert s3.client().get_object(Bucket=bucket, Key="lab/objects/ab/x.csv")["Body"].read() == b"x"


def test_object_store_keeps_one_copy_and_detects_tampering(blobs: LocalBlobStore | S3BlobStore) -> None:
    objects = ObjectStore(blobs)
    sha, location = objects.store(b"time_s,y\n0,1\n", "Run 1.CSV")
    assert objects.store(b"time_s,y\n0,1\n", "other-name.csv") == (sha, location)
    assert blobs.keys(f"{sha[:2]}/") == [object_key(sha, "x.csv")]
    assert objects.read_verified(location, sha) == b"time_s,y\n0,1\n"
    blobs.put(object_key(sha, "x.csv"), b"changed")
    with pytest.raises(ObjectIntegrityError, match="does not match its hash"):
        objects.read_verified(location, sha)
    with pytest.raises(ObjectIntegrityError, match="missing"):
        objects.read_verified(location.replace(sha, "0" * 64), "0" * 64)


def test_output_store_round_trips_on_either_backend(blobs: LocalBlobStore | S3BlobStore) -> None:
    outputs = OutputStore(blobs)
    frame = pl.DataFrame({"time_s": [0.0, 0.1], "signal": [1.0, 2.0]})
    outputs.write_frame("clean_series", "run-1", frame)
    outputs.write_json("quality_report", "run-1", {"score": 0.9})
    outputs.write_bytes("peaks_plot", "run-1", "png", b"\x89PNG")
    assert outputs.read_frame("clean_series", "run-1").equals(frame)
    assert outputs.read_json("quality_report", "run-1") == {"score": 0.9}
    assert outputs.read_bytes("peaks_plot", "run-1", "png") == b"\x89PNG"
    assert pl.read_parquet(outputs.local_path("clean_series", "run-1")).equals(frame)
    assert outputs.run_keys("clean_series") == ["run-1"] and outputs.run_keys("quality_report", "json") == ["run-1"]
    with pytest.raises(MissingOutputError, match="peaks of run run-2 is not materialized yet"):
        outputs.read_frame("peaks", "run-2")


def test_an_unreachable_endpoint_is_reported_not_hidden(s3: S3Endpoint, tmp_path: Path) -> None:
    blobs = S3BlobStore(s3.client(timeout_s=1.0), s3.new_bucket(), "lab", tmp_path / "cache")
    blobs.put("k", b"v")
    s3.stop()
    with pytest.raises(BlobStoreUnreachable, match="did not answer"):
        blobs.get("k")


def test_one_setting_switches_both_areas(s3: S3Endpoint, tmp_path: Path) -> None:
    bucket = s3.new_bucket()
    settings = Settings.from_env({"LABFLOW_HOME": str(tmp_path), "LABFLOW_OBJECT_STORE": f"s3://{bucket}/site-a/",
                                  "LABFLOW_S3_ENDPOINT_URL": s3.url})
    assert settings.object_store == f"s3://{bucket}/site-a"
    objects = open_blob_store(settings.home, settings.object_store, "objects", endpoint_url=s3.url)
    storage = open_blob_store(settings.home, settings.object_store, "storage", endpoint_url=s3.url)
    assert objects.location("k") == f"s3://{bucket}/site-a/objects/k"
    assert storage.location("k") == f"s3://{bucket}/site-a/storage/k"
    local = Settings.from_env({"LABFLOW_HOME": str(tmp_path)})
    assert local.object_store is None
    assert open_blob_store(local.home, None, "storage").location("k") == str(tmp_path / "storage" / "k")


@pytest.mark.parametrize("value", ["s3://", "s3:///prefix", "/mnt/share", "gs://bucket"])
def test_a_malformed_object_store_setting_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="LABFLOW_OBJECT_STORE must be empty"):
        Settings.from_env({"LABFLOW_OBJECT_STORE": value})
