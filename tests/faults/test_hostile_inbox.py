"""Hostile files in the inbox: each is quarantined (or skipped) with its reason, the rest of the batch lands.

Real inbox sensor, real Dagster instance, the real ``run_etl`` over the whole batch as one run.
"""

from __future__ import annotations

import json

import dagster as dg

from lab_assets.etl import run_etl
from lab_assets.partitions import RUNS_PARTITION
from tests.lab_fixtures import drop, signal_csv

LONG_NAME = "n" * 246 + ".csv"  # 250 bytes: a legal name, but <name>.meta.json is not
ALIAS_BOMB = "".join(f"{a}: &{a} [{', '.join([f'*{p}'] * 9 if p else ['x'] * 9)}]\n"
                     for p, a in zip(["", "a", "b", "c", "d", "e", "f"], "abcdefg"))


def materialized(instance: dg.DagsterInstance, asset: str) -> set[str]:
    return instance.get_materialized_partitions(dg.AssetKey(asset))


def hostile_inbox(inbox) -> dict[str, str]:
    """Drop good and hostile files; return ``file name -> what the quarantine note must say``."""
    for i in range(3):
        drop(inbox, f"good{i}.csv", signal_csv(i))
    drop(inbox, LONG_NAME, signal_csv(7))
    drop(inbox, "nested.csv", signal_csv(8))
    (inbox / "nested.csv.meta.json").write_text("[" * 100_000)
    drop(inbox, "bomb.csv", signal_csv(9))
    (inbox / "bomb.csv.meta.yaml").write_text(ALIAS_BOMB)
    drop(inbox, "huge-sidecar.csv", signal_csv(10))
    (inbox / "huge-sidecar.csv.meta.json").write_text(json.dumps({"notes": "x" * 1_100_000}))
    # values at the edge of float64: the peaks picture fails inside matplotlib, which nobody foresaw
    drop(inbox, "extreme.csv", b"time_s,v\n0,1e308\n1,-1e308\n2,1e308\n3,-1e308\n4,1e308\n")
    (inbox / "passwd.csv").symlink_to("/etc/passwd")  # never read, copied or quarantined
    drop(inbox, "linked-sidecar.csv", signal_csv(12))
    (inbox / "linked-sidecar.csv.meta.json").symlink_to("/etc/passwd")  # not read: the file has no sidecar
    drop(inbox, "wide.csv", b"".join(b",".join(b"%d" % (r * c) for c in range(100_000)) + b"\n" for r in range(5)))
    drop(inbox, "one-line.csv", b"time_s,v\n" + b"1" * 2_000_000 + b"\n")
    return {"wide.csv": "line 1 has 100,000 fields separated by commas; the limit is 10,000 columns",
            "one-line.csv": "line 2 is longer than the limit of 1,000,000 bytes",
            "nested.csv": "nested deeper than the limit of 20 levels",
            "bomb.csv": "more than the limit of 10,000 values",
            "huge-sidecar.csv": "larger than the limit of 1,000,000 bytes",
            "extreme.csv": "unexpected ValueError"}


def test_hostile_files_are_quarantined_with_their_reason_and_the_batch_lands(
        inbox_daemon, lab_settings, lab_resources, catalog, instance):
    reasons = hostile_inbox(lab_settings.inbox)
    inbox_daemon.tick()
    result = inbox_daemon.tick()  # second sight: complete; must not raise on the long name
    keys = instance.get_dynamic_partitions(RUNS_PARTITION)
    assert len(keys) == 11 and len(result.run_requests) == 1
    outcome = dg.materialize([run_etl], instance=instance, resources=lab_resources, raise_on_error=False,
                             tags=result.run_requests[0].tags)
    assert not outcome.success  # the run names its failed files
    runs = {run.original_name: run for run in catalog.find_runs()}
    good = {runs[name].run_key for name in ("good0.csv", "good1.csv", "good2.csv", LONG_NAME, "linked-sidecar.csv")}
    assert "passwd.csv" not in runs and runs["linked-sidecar.csv"].sidecar_name is None
    assert materialized(instance, "quality_report") == good
    for name, reason in reasons.items():
        run = runs[name]
        assert run.status == "failed" and reason in run.error, (name, run.error)
        note = (lab_settings.quarantine / f"{run.run_key}.csv.error.txt").read_text()
        assert reason in note and (lab_settings.quarantine / f"{run.run_key}.csv").exists()
    assert len(json.dumps(catalog.get_run(runs["bomb.csv"].run_key).params)) < 1000  # nothing expanded
    stored = [p.read_bytes() for folder in (lab_settings.objects, lab_settings.quarantine) for p in folder.rglob("*")
              if p.is_file()]
    assert not any(b"root:" in data for data in stored)
