"""Store-and-forward against a real S3-compatible HTTP endpoint (moto server; boto3 is not patched).

The crash tests run ``labflow forward`` as a real subprocess and SIGKILL it; "exactly once" is
checked on a versioned bucket, where every upload of a key leaves a version.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labflow.ingest.forward import JOURNAL_NAME, Backoff, Forwarder, Journal, exclusive, status_table
from labflow.s3 import S3Source, S3SourceError
from labflow.settings import PROJECT_ROOT
from tests.s3_fixtures import S3Endpoint


@pytest.fixture
def versioned(s3: S3Endpoint) -> str:
    return s3.new_bucket(versioned=True)


def make_forwarder(s3: S3Endpoint, bucket: str, folder: Path, lines: list[str] | None = None,
                   backoff: Backoff = Backoff(0.2, 1.0)) -> Forwarder:
    journal = Journal(folder / JOURNAL_NAME)
    say = lines.append if lines is not None else (lambda line: None)
    return Forwarder(folder, S3Source(bucket, "lab-a/"), s3.client(), journal, backoff=backoff,
                     rng=random.Random(0), say=say)


def versions(s3: S3Endpoint, bucket: str) -> dict[str, int]:
    """How many times each key was written."""
    counts: dict[str, int] = {}
    for page in s3.client().get_paginator("list_object_versions").paginate(Bucket=bucket):
        for version in page.get("Versions", []):
            counts[version["Key"]] = counts.get(version["Key"], 0) + 1
        assert not page.get("DeleteMarkers")
    return counts


def assert_arrived_exactly_once(s3: S3Endpoint, bucket: str, folder: Path, prefix: str = "lab-a/") -> None:
    """Every file below ``folder`` (and its sidecar) is one version in the bucket, with matching bytes."""
    local = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
             if p.is_file() and not p.name.startswith(".")}
    assert versions(s3, bucket) == {prefix + rel: 1 for rel in local}
    client = s3.client()
    for rel, data in local.items():
        stored = client.get_object(Bucket=bucket, Key=prefix + rel)
        sha256 = hashlib.sha256(data).hexdigest()
        assert hashlib.sha256(stored["Body"].read()).hexdigest() == sha256, rel
        assert stored["Metadata"]["sha256"] == sha256, rel


def write_files(folder: Path, count: int, seed: int, size: int = 20_000) -> None:
    rng = random.Random(seed)
    for i in range(count):
        path = folder / f"run-{i:03d}.csv"
        if i % 4 == 0:
            (folder / f"{path.name}.meta.json").write_text(f'{{"operator": "op{i}"}}')
        path.write_bytes(rng.randbytes(size))


def test_backoff_grows_exponentially_with_jitter_up_to_a_cap():
    rng, backoff = random.Random(1), Backoff(base_s=1.0, cap_s=30.0)
    for attempts, ceiling in ((1, 1), (2, 2), (3, 4), (5, 16), (6, 30), (40, 30)):
        delays = [backoff.delay(attempts, rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays) and len(set(delays)) > 1


def test_complete_files_are_sent_once_with_the_sidecar_first(s3, versioned, tmp_path):
    (tmp_path / "hplc").mkdir()
    (tmp_path / "hplc" / "a.csv.meta.json").write_text('{"operator": "alice"}')
    (tmp_path / "hplc" / "a.csv").write_bytes(b"time_s,signal\n0,1\n")
    (tmp_path / "b.csv.part").write_bytes(b"still being written")
    forwarder = make_forwarder(s3, versioned, tmp_path)
    order = []
    forwarder.client.meta.events.register("before-send.s3.PutObject", lambda request, **_: order.append(request.url))
    forwarder.scan()
    forwarder.upload_due()
    assert order == []  # seen once: not yet known to be complete
    forwarder.scan()
    forwarder.upload_due()
    assert [url.rsplit("/", 1)[1] for url in order] == ["a.csv.meta.json", "a.csv"]
    (tmp_path / "b.csv.part").unlink()
    for _ in range(3):  # nothing is sent twice
        forwarder.scan()
        forwarder.upload_due()
    assert_arrived_exactly_once(s3, versioned, tmp_path)
    assert forwarder.journal.counts()["sent"] == 1


def test_a_touched_file_is_not_resent_and_a_changed_one_is(s3, versioned, tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"1,2\n")
    forwarder = make_forwarder(s3, versioned, tmp_path)
    for _ in range(2):
        forwarder.scan()
    forwarder.upload_due()
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10_000_000))
    for _ in range(2):
        forwarder.scan()
    forwarder.upload_due()
    assert versions(s3, versioned) == {"lab-a/a.csv": 1}
    path.write_bytes(b"1,3\n")
    for _ in range(2):
        forwarder.scan()
    forwarder.upload_due()
    assert versions(s3, versioned) == {"lab-a/a.csv": 2}
    assert s3.client().get_object(Bucket=versioned, Key="lab-a/a.csv")["Body"].read() == b"1,3\n"


def test_an_upload_that_landed_before_a_crash_is_not_sent_again(s3, versioned, tmp_path):
    (tmp_path / "a.csv").write_bytes(b"1,2\n")
    first = make_forwarder(s3, versioned, tmp_path)
    first.scan(), first.scan()
    # The state a crash leaves between the upload and "sent": attempt begun, object stored.
    first.journal.start("a.csv", hashlib.sha256(b"1,2\n").hexdigest())
    first._put_verified("a.csv", b"1,2\n", may_exist=False)
    first.journal.close()
    restarted = make_forwarder(s3, versioned, tmp_path)
    assert [e.state for e in restarted.journal.due(time.time())] == ["uploading"]
    restarted.upload_due()
    assert restarted.journal.counts()["sent"] == 1
    assert_arrived_exactly_once(s3, versioned, tmp_path)


def test_a_foreign_object_at_the_key_is_replaced_after_a_crash(s3, versioned, tmp_path):
    (tmp_path / "a.csv").write_bytes(b"ours\n")
    s3.client().put_object(Bucket=versioned, Key="lab-a/a.csv", Body=b"someone else's\n")
    forwarder = make_forwarder(s3, versioned, tmp_path)
    forwarder.scan(), forwarder.scan()
    forwarder.journal.start("a.csv", hashlib.sha256(b"ours\n").hexdigest())  # crashed before the upload
    forwarder.upload_due()
    stored = s3.client().get_object(Bucket=versioned, Key="lab-a/a.csv")
    assert stored["Body"].read() == b"ours\n" and versions(s3, versioned) == {"lab-a/a.csv": 2}


def test_an_unreachable_endpoint_pauses_the_queue_and_shows_in_the_status(s3, versioned, tmp_path):
    for name in ("a.csv", "b.csv", "c.csv"):
        (tmp_path / name).write_bytes(name.encode())
    lines: list[str] = []
    forwarder = make_forwarder(s3, versioned, tmp_path, lines, backoff=Backoff(2.0, 4.0))
    forwarder.scan(), forwarder.scan()
    s3.stop()
    forwarder.upload_due()
    assert lines[-1].startswith(f"cannot reach endpoint {s3.url}") and "will retry in" in lines[-1]
    assert forwarder.journal.counts() == {"pending": 2, "uploading": 0, "sent": 0, "failed": 1}
    table = status_table(forwarder.journal)
    assert "failed" in table.splitlines()[1] and "cannot reach endpoint" in table and "next try in" in table
    s3.start()
    forwarder.upload_due()  # still paused: the back-off decides, not the caller
    assert forwarder.journal.counts()["sent"] == 0
    time.sleep(max(0.0, forwarder.paused_until - time.time()))
    forwarder.upload_due()
    assert forwarder.journal.counts()["sent"] == 3
    assert_arrived_exactly_once(s3, versioned, tmp_path)


def test_a_missing_bucket_is_a_clear_error(s3, tmp_path):
    forwarder = make_forwarder(s3, "no-such-bucket-here", tmp_path)
    with pytest.raises(S3SourceError, match=f"bucket 'no-such-bucket-here' not found at endpoint {s3.url}"):
        forwarder.check_target()
    result = run_cli(s3, tmp_path, "s3://no-such-bucket-here/x", "--once")
    assert result.returncode == 2 and "bucket 'no-such-bucket-here' not found at endpoint" in result.stderr


def test_status_and_once_from_the_command_line(s3, versioned, tmp_path):
    write_files(tmp_path, 3, seed=5)
    assert "nothing forwarded" in run_cli(s3, tmp_path, None, "--status").stdout
    once = run_cli(s3, tmp_path, f"s3://{versioned}/lab-a", "--once")
    assert once.returncode == 0 and "sent run-000.csv + sidecar" in once.stdout
    status = run_cli(s3, tmp_path, None, "--status").stdout
    assert "0 pending, 0 uploading, 3 sent, 0 failed" in status and "run-002.csv" in status
    assert_arrived_exactly_once(s3, versioned, tmp_path)


def test_a_second_agent_on_the_same_folder_is_refused(s3, versioned, tmp_path):
    with exclusive(tmp_path):
        result = run_cli(s3, tmp_path, f"s3://{versioned}/lab-a", "--once")
    assert result.returncode == 2 and "another labflow forward is already running" in result.stderr


def forward_command(s3: S3Endpoint, folder: Path, target: str | None, *extra: str) -> list[str]:
    command = [sys.executable, "-m", "labflow.cli", "forward", "--from", str(folder), "--endpoint-url", s3.url,
               "--interval", "0.2", *extra]
    return command + (["--to", target] if target else [])


def run_cli(s3: S3Endpoint, folder: Path, target: str | None, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(forward_command(s3, folder, target, *extra), capture_output=True, text=True,
                          cwd=PROJECT_ROOT, timeout=60)


def start_agent(s3: S3Endpoint, folder: Path, target: str, log: Path) -> subprocess.Popen:
    with log.open("wb") as handle:
        return subprocess.Popen(forward_command(s3, folder, target), stdout=handle, stderr=subprocess.STDOUT,
                                cwd=PROJECT_ROOT)


def wait_for_objects(s3: S3Endpoint, bucket: str, count: int, timeout: float = 60) -> None:
    client = s3.client()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.list_objects_v2(Bucket=bucket).get("KeyCount", 0) >= count:
            return
        time.sleep(0.01)
    raise AssertionError(f"fewer than {count} objects arrived within {timeout:.0f} s")


def wait_until_sent(folder: Path, count: int, log: Path, timeout: float = 60) -> None:
    """Wait until the agent logging to ``log`` runs and the journal says ``count`` files are sent."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.read_text().startswith("forwarding "):
            journal = Journal(folder / JOURNAL_NAME)
            sent = journal.counts()["sent"]
            journal.close()
            if sent == count:
                return
        time.sleep(0.05)
    raise AssertionError(f"the agent did not send {count} files within {timeout:.0f} s:\n{log.read_text()}")


def stop_agent(agent: subprocess.Popen) -> None:
    agent.send_signal(signal.SIGTERM)
    assert agent.wait(timeout=30) == 0


def test_killed_at_random_points_every_file_arrives_exactly_once(s3, tmp_path):
    interrupted_uploads = 0
    for seed in (1, 2, 3):
        bucket = s3.new_bucket(versioned=True)
        folder = tmp_path / f"outbox-{seed}"
        folder.mkdir()
        write_files(folder, 24, seed=seed, size=200_000)
        total = sum(1 for p in folder.iterdir() if not p.name.startswith("."))
        rng = random.Random(seed)
        for run, target in enumerate(sorted(rng.sample(range(1, total), 3))):  # kill once this many arrived
            agent = start_agent(s3, folder, f"s3://{bucket}/lab-a", tmp_path / f"agent-{seed}-{run}.log")
            wait_for_objects(s3, bucket, target)
            time.sleep(rng.uniform(0, 0.03))
            agent.send_signal(signal.SIGKILL)
            agent.wait(timeout=10)
            journal = Journal(folder / JOURNAL_NAME)
            interrupted_uploads += journal.counts()["uploading"]
            journal.close()
        log = tmp_path / f"agent-{seed}-final.log"
        agent = start_agent(s3, folder, f"s3://{bucket}/lab-a", log)
        wait_until_sent(folder, 24, log)
        stop_agent(agent)
        assert_arrived_exactly_once(s3, bucket, folder)
    assert interrupted_uploads > 0  # some of the nine kills landed in the middle of an upload


def test_the_endpoint_stopped_mid_stream_loses_and_doubles_nothing(s3, tmp_path):
    bucket = s3.new_bucket(versioned=True)
    folder = tmp_path / "outbox"
    folder.mkdir()
    write_files(folder, 20, seed=9, size=100_000)
    log = tmp_path / "agent.log"
    agent = start_agent(s3, folder, f"s3://{bucket}/lab-a", log)
    try:
        wait_for_objects(s3, bucket, 6)
        s3.stop()
        deadline = time.monotonic() + 30
        while "cannot reach endpoint" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        status = run_cli(s3, folder, None, "--status").stdout
        assert "cannot reach endpoint" in status and " failed" in status
        time.sleep(2)  # down for a while: the agent backs off
        s3.start()
        wait_until_sent(folder, 20, log)
    finally:
        if not s3.running:
            s3.start()
        stop_agent(agent)
    assert_arrived_exactly_once(s3, bucket, folder)
    assert "will retry in" in log.read_text()
