"""What a Prometheus scrape of ``/metrics`` costs on a big catalog, beside scanning the catalog per scrape.

    python benchmarks/metrics.py [--runs N] [--database-url URL] [--json PATH]

A catalog of N runs (default 200,000; one ingest event each, every tenth file arriving twice) is written in
bulk, with a real Dagster instance (temporary). Measured: the pipeline collector's reading of everything
(``PipelineCollector.refresh``: ingest events past the watermark, new peaks materializations, quarantine,
inbox, forwarders, Dagster runs and sensors, confirmations; counting starts when the API starts) when nothing
is new and with 100 new files; a whole ``GET /metrics`` when the
reading is fresh (served from the last reading) and when it is due (a whole scrape also holds the catalog's
run counts, ``labflow_runs``, which are not this collector's). Baseline: counting files by kind and instrument
with one scan of the catalog (``GROUP BY`` over ``ingest_events`` joined to ``runs``), what a collector without
a watermark would do on every scrape. Keys: ``refresh_idle_ms``,
``refresh_100_new_ms``, ``scrape_fresh_ms``, ``scrape_due_ms``, ``baseline_scan_ms``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.app import create_app  # noqa: E402
from api.metrics_pipeline import PipelineCollector  # noqa: E402
from benchmarks.common import best_of, print_table, write_json  # noqa: E402
from lab_assets.gateway import DagsterGateway  # noqa: E402
from labflow.settings import Settings  # noqa: E402
from labflow.store.catalog import Catalog, IngestEventRow, RunRow  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
CHUNK = 20_000


def fill(catalog: Catalog, first: int, count: int) -> None:
    """``count`` runs with their ``new`` event (every tenth also a ``duplicate``), in bulk."""
    for start in range(first, first + count, CHUNK):
        keys = range(start, min(start + CHUNK, first + count))
        runs = [dict(run_key=f"run_{i:07d}-{i:010x}", sha256=f"{i:064x}", size_bytes=1000, original_name=f"r{i}.csv",
                     source=f"inbox:inst-{i % 8}/r{i}.csv", object_path=f"objects/{i}", sidecar_name=None,
                     sidecar_text=None, detected_at=T0 + timedelta(seconds=i), instrument=f"inst-{i % 8}",
                     params={}, status="processed", updated_at=T0, quality_flags=[]) for i in keys]
        events = [dict(run_key=r["run_key"], source=r["source"], kind="new", detected_at=r["detected_at"]) for r in runs]
        events += [dict(run_key=r["run_key"], source="s3/lab/in:x", kind="duplicate", detected_at=r["detected_at"])
                   for r in runs[::10]]
        with catalog.begin() as session:
            session.execute(insert(RunRow), runs)
            session.execute(insert(IngestEventRow), events)


def baseline_scan(catalog: Catalog) -> int:
    query = (select(IngestEventRow.kind, RunRow.instrument, func.count())
             .join(RunRow, RunRow.run_key == IngestEventRow.run_key)
             .group_by(IngestEventRow.kind, RunRow.instrument))
    with catalog.session() as session:
        return len(session.execute(query).all())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200_000)
    parser.add_argument("--database-url", help="catalog database (default: a SQLite file in a temporary folder)")
    parser.add_argument("--json", help="write the headline figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, dg.instance_for_test(temp_dir=folder) as instance:
        env = {"LABFLOW_HOME": str(Path(folder) / "home"), "LABFLOW_METRICS_REFRESH_S": "10"}
        if args.database_url:
            env["LABFLOW_DATABASE_URL"] = args.database_url
        settings = Settings.from_env(env)
        settings.ensure_dirs()
        catalog = Catalog(settings.database_url)
        started = time.perf_counter()
        fill(catalog, 0, args.runs)
        print(f"catalog: {args.runs:,} runs, {catalog.count_runs():,} in the table, written in "
              f"{time.perf_counter() - started:.1f} s ({catalog.engine.dialect.name})")
        app = create_app(settings, gateway=DagsterGateway(instance))
        collector = PipelineCollector(app.state.lab, instance, refresh_s=0)  # counts from now on, as after a restart
        idle, _ = best_of(collector.refresh, repeat=5)
        fill(catalog, args.runs, 100)
        new_100, _ = best_of(collector.refresh, repeat=1)
        assert collector.ingest.by_source() == {"inbox": 100, "s3/lab/in": 10}, collector.ingest.by_source()
        baseline, groups = best_of(lambda: baseline_scan(catalog), repeat=3)
        with TestClient(app) as client:
            client.get("/metrics")
            fresh, _ = best_of(lambda: client.get("/metrics"), repeat=5)
        due_app = create_app(Settings.from_env({**env, "LABFLOW_METRICS_REFRESH_S": "0"}),
                             gateway=DagsterGateway(instance))
        with TestClient(due_app) as client:
            due, response = best_of(lambda: client.get("/metrics"), repeat=5)
        assert response.status_code == 200 and "labflow_inbox_files_waiting 0.0" in response.text
        catalog.dispose()
    rows = [
        ["collector reading, nothing new", idle * 1e3],
        ["collector reading, 100 new files", new_100 * 1e3],
        ["GET /metrics, reading fresh (served from the last one)", fresh * 1e3],
        ["GET /metrics, reading due (LABFLOW_METRICS_REFRESH_S=0)", due * 1e3],
        [f"baseline: one scan of the catalog ({groups} groups)", baseline * 1e3],
    ]
    print_table(["what", "ms"], rows)
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    write_json(args.json, {"runs": args.runs, "refresh_idle_ms": idle * 1e3,
                           "refresh_100_new_ms": new_100 * 1e3, "scrape_fresh_ms": fresh * 1e3,
                           "scrape_due_ms": due * 1e3, "baseline_scan_ms": baseline * 1e3})


if __name__ == "__main__":
    main()
