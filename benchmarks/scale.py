"""The API and dashboard at a large catalog: latency per endpoint, API memory, growth per ×10 runs.

    python benchmarks/scale.py [--runs 1000,10000,100000,1000000] [--backends sqlite,postgres]
                               [--sqlite-max 100000] [--requests 100] [--clients 8] [--json PATH]
                               [--postgres postgresql://postgres@127.0.0.1:5432/postgres]

For each backend the catalog grows through the sizes in ``--runs`` (SQLite up to ``--sqlite-max``;
PostgreSQL in a fresh database that is dropped at the end): runs are bulk-inserted with the catalog's
own tables (``Catalog.insert``) at a lab's pace of :data:`RUNS_PER_DAY` runs a day, so a larger catalog
is a *longer history* ending now (today and the last year hold as many runs whatever the size). A run
has one arrival event (5 % a duplicate too), 90 % are processed, a third reviewed (confirmed or
rejected with a version, or waiting). Beside them: a 10,000-point confirmed dataset and 30 days of
pattern events of one source (:data:`PATTERNS`), the same at every size. At each size a fresh API
(``labflow api``, one uvicorn worker) answers ``--requests`` requests per endpoint from ``--clients``
concurrent keep-alive clients; the table shows p50/p95/p99 (ms), the API's resident memory at the end
(``rss_mb``) and its peak (``rss_peak_mb``), and the growth of p95 per ×10 runs. ``baseline`` is
``/api/v1/_baseline`` (``{"ok": true}``): what the server and the clients cost alone in the same run.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import httpx
import numpy as np
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.routers.runs import RunQuery, page_cursor  # noqa: E402
from benchmarks.api import ApiServer, confirmed_frame  # noqa: E402
from benchmarks.common import print_table  # noqa: E402
from labflow.store import rollups  # noqa: E402
from labflow.store.catalog import Catalog, IngestEventRow, RunReviewRow, RunRow  # noqa: E402
from labflow.review.confirmed import DATASET_ASSET, write_dataset  # noqa: E402
from labflow.devserver import prepare_dagster_home  # noqa: E402
from labflow.review.store import AnnotationVersionRow  # noqa: E402
from labflow.settings import Settings, normalise_database_url  # noqa: E402
from labflow.store.outputs import OutputStore  # noqa: E402
from labflow.streams.store import StreamStore  # noqa: E402

RUNS_PER_DAY = 300  # "a few hundred files a day"
PATTERNS = 5_000  # over 30 days of one source
PATTERN_SOURCE = "line-1"
BATCH = 10_000
INSTRUMENTS = ("hplc-01", "hplc-02", "uv-01", "ftir-01", "ecg-01")
CAMPAIGNS = ("yield", "purity", "stability", None)
RECIPES = ("0dd6087fb00a6db7", "9a1c44e2b0d1f7aa", "5e3f0c1d2b4a6978")
NOW = datetime.now(timezone.utc)


def run_rows(start: int, stop: int, rng: random.Random) -> tuple[list[dict], list[dict], list[dict], list[dict]]:
    """Runs ``start`` … ``stop - 1`` (newest first: run i arrived i / RUNS_PER_DAY days ago)."""
    runs, events, reviews, versions = [], [], [], []
    for i in range(start, stop):
        key = f"bench_{i:08d}-{i * 2654435761 % 16**10:010x}"
        detected = NOW - timedelta(days=i / RUNS_PER_DAY, seconds=rng.uniform(0, 60))
        roll = rng.random()
        status = "processed" if roll < 0.9 else "failed" if roll < 0.97 else "queued"
        campaign = rng.choice(CAMPAIGNS)
        runs.append(dict(
            run_key=key, sha256=f"{i:064x}", size_bytes=4096, original_name=f"run_{i}.csv", source="inbox",
            object_path=f"objects/{i}", sidecar_name=None, sidecar_text=None, detected_at=detected,
            instrument=rng.choice(INSTRUMENTS), operator=rng.choice(("alice", "bob", "chen")), material="PLA",
            experiment_id=f"EXP-{i // 10:06d}", campaign=campaign, started_at=detected - timedelta(minutes=5),
            params={"campaign": campaign, "flow_ml_min": 1.0} if campaign else {"flow_ml_min": 1.0},
            status=status, error="bad file" if status == "failed" else None, recipe_id="chromatograph",
            recipe_hash=rng.choice(RECIPES), updated_at=detected,
            quality_score=round(rng.random(), 3) if status == "processed" else None, quality_flags=[]))
        events.append(dict(run_key=key, source="inbox", kind="new", detected_at=detected))
        if rng.random() < 0.05:
            events.append(dict(run_key=key, source="inbox", kind="duplicate",
                               detected_at=detected + timedelta(hours=1)))
        if status == "processed" and rng.random() < 1 / 3:
            verdict = rng.choice(("valid", "valid", "peaks_wrong", "invalid", None))
            review = "needs_review" if verdict is None else "rejected" if verdict == "invalid" else "confirmed"
            reviewed = detected + timedelta(hours=2)
            reviews.append(dict(run_key=key, review_status=review, head_version=0 if verdict is None else 1,
                                updated_at=reviewed))
            if verdict is not None:
                versions.append(dict(run_key=key, version=1, base_version=0, author="ana", created_at=reviewed,
                                     verdict=verdict, body={}, changes=[]))
    return runs, events, reviews, versions


def grow(catalog: Catalog, start: int, stop: int, rng: random.Random) -> None:
    """Bulk-insert runs ``start`` … ``stop - 1`` with their events, reviews and versions.

    SQLite: multi-row inserts into the catalog's tables, the rollup triggers counting every row as it
    comes. PostgreSQL: ``COPY`` with the triggers off (``session_replication_role = replica``), then the
    rollups counted again from the rows (:func:`labflow.store.rollups.refill`), as a bulk import would.
    """
    postgres = catalog.engine.dialect.name == "postgresql"
    tables = (RunRow, IngestEventRow, RunReviewRow, AnnotationVersionRow)
    for first in range(start, stop, BATCH):
        batch = run_rows(first, min(first + BATCH, stop), rng)
        if postgres:
            _copy(catalog, tables, batch)
        else:
            with catalog.begin() as session:
                for table, rows in zip(tables, batch):
                    if rows:
                        session.execute(catalog.insert(table), rows)
        print(f"  {min(first + BATCH, stop):,} runs", end="\r", flush=True)
    print()
    if postgres:
        with catalog.engine.begin() as connection:
            rollups.refill(connection)


def _copy(catalog: Catalog, tables: tuple, batch: tuple[list[dict], ...]) -> None:
    """``COPY`` rows into PostgreSQL in one transaction, the rollup triggers off."""
    raw = catalog.engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
            for table, rows in zip(tables, batch):
                if not rows:
                    continue
                columns = list(rows[0])
                buffer = io.StringIO()
                writer = csv.writer(buffer)
                for row in rows:
                    writer.writerow([_csv_value(row[c]) for c in columns])
                buffer.seek(0)
                cursor.copy_expert(f"COPY {table.__tablename__} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)",
                                   buffer)
        raw.commit()
    finally:
        raw.close()


def _csv_value(value: object) -> object:
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def prepare_extras(settings: Settings) -> None:
    """The confirmed dataset (10,000 points) and 30 days of one source's pattern events."""
    digest, path = write_dataset(confirmed_frame(10_000), OutputStore(settings.storage))
    instance = dg.DagsterInstance.from_config(str(settings.dagster_home))
    instance.report_runless_asset_event(dg.AssetMaterialization(
        DATASET_ASSET, metadata={"digest": digest, "rows": 10_000, "path": dg.MetadataValue.path(path)}))
    instance.dispose()
    rng = np.random.default_rng(3)
    seconds = np.sort(rng.uniform(0, 30 * 86400, PATTERNS))
    StreamStore(settings.streams).append_patterns(PATTERN_SOURCE, [{
        "pattern_id": uuid.UUID(int=int(rng.integers(2**62))).hex[:16],
        "type": ("drift", "anomaly", "cluster_change")[i % 3],
        "timestamp": (NOW - timedelta(days=30) + timedelta(seconds=float(s))).isoformat(),
        "source": PATTERN_SOURCE, "event_id": None,
        "details": {"prev_state": {}, "new_state": {}, "metrics": {"z": 3.1}, "confidence": round(float(c), 4)},
        "contributors": [{"name": "temperature", "share": 1.0}]}
        for i, (s, c) in enumerate(zip(seconds, rng.uniform(0.5, 1.0, PATTERNS)))])


def endpoints(catalog: Catalog, runs: int) -> dict[str, tuple[str, dict[str, str]]]:
    """What is measured: path and query of each endpoint, for a catalog of ``runs`` runs."""
    deep = catalog.find_runs(limit=1, offset=max(0, runs - 100))[0]  # once, to make the deep cursor
    year = {"period": "custom", "bucket": "month", "since": (NOW - timedelta(days=365)).isoformat(),
            "until": NOW.isoformat()}
    return {
        "baseline": ("/api/v1/_baseline", {}),
        "stats_today": ("/api/v1/stats", {"period": "today"}),
        "stats_365d_by_month": ("/api/v1/stats", year),
        "activity_png": ("/api/v1/stats/charts/activity.png", {}),
        "runs_first": ("/api/v1/runs", {"limit": "50"}),
        "runs_deep": ("/api/v1/runs", {"limit": "50", "cursor": page_cursor(RunQuery(), deep)}),
        "run_detail": (f"/api/v1/runs/{deep.run_key}", {}),
        "datasets_confirmed": ("/api/v1/datasets/confirmed", {}),
        "metrics": ("/metrics", {}),
        "patterns": ("/api/v1/patterns", {"source": PATTERN_SOURCE, "limit": "50"}),
    }


def measure(url: str, path: str, params: dict[str, str], requests: int, clients: int) -> dict[str, float]:
    """p50/p95/p99 (ms) of ``requests`` GETs spread over ``clients`` concurrent keep-alive clients."""
    def client(count: int) -> list[float]:
        times = []
        with httpx.Client(base_url=url, timeout=120) as http:
            http.get(path, params=params).raise_for_status()  # connect and warm up, not measured
            for _ in range(count):
                began = time.perf_counter()
                response = http.get(path, params=params)
                response.raise_for_status()
                times.append((time.perf_counter() - began) * 1000)
        return times

    shares = [requests // clients + (i < requests % clients) for i in range(clients)]
    with ThreadPoolExecutor(clients) as pool:
        times = np.array([t for part in pool.map(client, shares) for t in part])
    return {f"p{q}_ms": round(float(np.percentile(times, q)), 1) for q in (50, 95, 99)}


def rss_mb(pid: int) -> tuple[float, float]:
    """Resident and peak resident memory (MB) of a process."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


def run_backend(backend: str, database_url: str, sizes: list[int], args: argparse.Namespace,
                everything: dict[str, dict]) -> None:
    """Grow the catalog through ``sizes`` and measure at each; results land in ``everything[backend]``
    (and in ``--json`` after every size, so a long run keeps what it measured)."""
    results = everything.setdefault(backend, {})
    with tempfile.TemporaryDirectory(prefix="labflow-scale-") as tmp:
        env = {"LABFLOW_HOME": str(Path(tmp) / "home"), "LABFLOW_DATABASE_URL": database_url}
        settings = Settings.from_env(env)
        prepare_dagster_home(settings)
        prepare_extras(settings)
        catalog = Catalog(database_url)
        rng, seeded = random.Random(7), 0
        for size in sizes:
            print(f"{backend}: seeding to {size:,} runs …", flush=True)
            began = time.perf_counter()
            grow(catalog, seeded, size, rng)
            seeded = size
            if backend == "postgres":
                with catalog.engine.connect() as connection:
                    connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
            else:
                with catalog.engine.begin() as connection:
                    connection.exec_driver_sql("ANALYZE")
            print(f"  seeded in {time.perf_counter() - began:.0f} s", flush=True)
            server = ApiServer(settings, env={"LABFLOW_DATABASE_URL": database_url})
            try:
                row = {name: measure(server.url, path, params, args.requests, args.clients)
                       for name, (path, params) in endpoints(catalog, size).items()}
                row["rss_mb"], row["rss_peak_mb"] = (round(v, 1) for v in rss_mb(server.process.pid))
            finally:
                server.stop()
            results[str(size)] = row
            if args.json:
                Path(args.json).parent.mkdir(parents=True, exist_ok=True)
                Path(args.json).write_text(json.dumps(everything, indent=2) + "\n")
            print(f"  {json.dumps({k: v.get('p95_ms', v) if isinstance(v, dict) else v for k, v in row.items()})}",
                  flush=True)
        catalog.dispose()


def fresh_postgres(admin_url: str) -> tuple[str, str]:
    name = f"labflow_scale_{os.getpid()}"
    engine = create_engine(normalise_database_url(admin_url), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return name, admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_postgres(admin_url: str, name: str) -> None:
    engine = create_engine(normalise_database_url(admin_url), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def report(results: dict[str, dict]) -> None:
    for backend, by_size in results.items():
        sizes = list(by_size)
        names = [k for k in by_size[sizes[0]] if isinstance(by_size[sizes[0]][k], dict)]
        headers = ["endpoint", *(f"{int(s):,} p50/p95/p99" for s in sizes), "p95 ×10 growth"]
        rows = []
        for name in names:
            cells = [f"{by_size[s][name]['p50_ms']:g}/{by_size[s][name]['p95_ms']:g}/{by_size[s][name]['p99_ms']:g}"
                     for s in sizes]
            p95 = [by_size[s][name]["p95_ms"] for s in sizes]
            growth = " ".join(f"{b / a:.2f}" for a, b in zip(p95, p95[1:]) if a)
            rows.append([name, *cells, growth])
        rows.append(["API RSS MB (end/peak)", *(f"{by_size[s]['rss_mb']:g}/{by_size[s]['rss_peak_mb']:g}"
                                               for s in sizes), ""])
        print(f"\n{backend}: ms per request ({args_text})")
        print_table(headers, rows)


def main() -> int:
    global args_text
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="1000,10000,100000,1000000")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--sqlite-max", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=100, help="requests per endpoint and size")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="an admin URL; a fresh database is made beside it and dropped at the end")
    parser.add_argument("--json")
    args = parser.parse_args()
    args_text = f"{args.clients} concurrent clients, {args.requests} requests per endpoint"
    sizes = sorted(int(s) for s in args.runs.split(","))
    results: dict[str, dict] = {}
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory(prefix="labflow-scale-db-") as folder:
                run_backend("sqlite", f"sqlite:///{folder}/catalog.db", [s for s in sizes if s <= args.sqlite_max],
                            args, results)
        elif backend == "postgres":
            name, url = fresh_postgres(args.postgres)
            try:
                run_backend("postgres", url, sizes, args, results)
            finally:
                drop_postgres(args.postgres, name)
        else:
            parser.error(f"unknown backend {backend!r}; use sqlite and/or postgres")
    report(results)
    return 0


args_text = ""

if __name__ == "__main__":
    raise SystemExit(main())
