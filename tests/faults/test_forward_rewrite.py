"""The forwarder with a file rewritten after it was judged complete: never a partial object."""

from __future__ import annotations

import random

from labflow.ingest.forward import JOURNAL_NAME, Backoff, Forwarder, Journal
from labflow.s3 import S3Source


def test_a_file_rewritten_after_judgement_is_judged_again_and_sent_once_in_full(s3, tmp_path):
    bucket = s3.new_bucket(versioned=True)
    lines: list[str] = []
    forwarder = Forwarder(tmp_path, S3Source(bucket, "lab/"), s3.client(), Journal(tmp_path / JOURNAL_NAME),
                          backoff=Backoff(0.2, 1.0), rng=random.Random(0), say=lines.append)
    path = tmp_path / "run.csv"
    full = b"time_s,v\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(1500))
    path.write_bytes(full)
    forwarder.scan()
    forwarder.scan()  # unchanged across two scans: complete, its hash recorded
    with path.open("r+b") as handle:  # the instrument rewrites it in place: the first 1,845 bytes so far
        handle.truncate(0)
        handle.write(full[:1845])
    forwarder.upload_due()
    client = s3.client()
    assert client.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0  # nothing partial went up
    assert any("changed since it was found complete" in line for line in lines)
    path.write_bytes(full)  # the writer finishes
    for _ in range(3):
        forwarder.scan()
        forwarder.upload_due()
    versions = client.list_object_versions(Bucket=bucket)["Versions"]
    assert [(v["Key"], v["Size"]) for v in versions] == [("lab/run.csv", len(full))]
    assert client.get_object(Bucket=bucket, Key="lab/run.csv")["Body"].read() == full
