"""Upload-to-peaks throughput: folder inbox vs S3 endpoint, SQLite vs PostgreSQL storage, side by side.

    python benchmarks/s3_ingest.py [--files 100] [--json PATH]     # the issue's figure: --files 500 (~20 min)

For each combination, a real `dagster-daemon` (sensors + run queue + default run launcher) runs on a
fresh data directory and instance: the embedded `dagster.yaml` (SQLite, queue of 2) or
`deploy/dagster.prod.yaml` (PostgreSQL, queue of 4) with the catalog on the same storage. One warm-up
file is sent first (its latency is reported); then `--files` small instrument files are written into
the inbox or uploaded to S3 (moto in server mode, a separate process on 127.0.0.1) and the clock runs
until every one of them has `peaks` materialized in the Dagster instance. PostgreSQL combinations are
left out when the server (``LABFLOW_TEST_POSTGRES_URL`` or 127.0.0.1:5432) is not reachable.
Every combination keeps raw copies and outputs on local disk; one more (S3 inbox, SQLite) puts them in
the bucket too (``LABFLOW_OBJECT_STORE``), to show what the object storage switch costs.
Keys: ``<inbox>_<storage>[_s3out]_files_per_s``, ``…_total_s``, ``…_first_file_s``, ``…_missing``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dagster as dg  # noqa: E402

from benchmarks.common import PROJECT_ROOT, print_table, write_json  # noqa: E402
from benchmarks.ingest import instrument_file  # noqa: E402
from labflow.store.atomic import write_atomic  # noqa: E402
from labflow.devserver import stop_group  # noqa: E402
from labflow.s3 import s3_client  # noqa: E402
from labflow.settings import Settings  # noqa: E402

POSTGRES_ADMIN_URL = os.environ.get("LABFLOW_TEST_POSTGRES_URL",
                                    "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
BUCKET = "bench-lab"
AWS_ENV = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}


@dg.definitions
def defs() -> dg.Definitions:
    """The labflow ETL with both sensors (the code location the benchmark's daemon loads)."""
    from lab_assets.etl import run_etl
    from resources import build_resources
    from resources.s3 import build_s3_resource
    from sensors.inbox import build_inbox_sensor
    from sensors.s3 import build_s3_sensor

    settings = Settings.from_env()
    return dg.Definitions(assets=[run_etl], sensors=[build_inbox_sensor(settings), build_s3_sensor(settings)],
                          resources={**build_resources(settings), "s3": build_s3_resource()},
                          executor=dg.in_process_executor)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def moto_server(workdir: Path) -> Iterator[str]:
    """moto's S3 in its own process; yields its URL."""
    port = free_port()
    log = (workdir / "moto.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"moto server did not start; see {workdir / 'moto.log'}") from None
                time.sleep(0.2)
        yield url
    finally:
        stop_group(process)
        log.close()


def postgres_reachable() -> bool:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.pool import NullPool

    engine = create_engine(POSTGRES_ADMIN_URL, poolclass=NullPool, connect_args={"connect_timeout": 5})
    try:
        with engine.connect():
            return True
    except OperationalError as error:
        print(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL} ({error.orig}); SQLite only")
        return False
    finally:
        engine.dispose()


@contextmanager
def postgres_databases() -> Iterator[tuple[str, str]]:
    """Two fresh databases on the server (Dagster's, the catalog's), dropped afterwards."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    admin = create_engine(POSTGRES_ADMIN_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    names = [f"labflow_bench_{kind}_{uuid.uuid4().hex[:6]}" for kind in ("dagster", "catalog")]
    with admin.connect() as connection:
        for name in names:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        base = make_url(POSTGRES_ADMIN_URL)
        yield base.set(database=names[0]).render_as_string(False), base.set(database=names[1]).render_as_string(False)
    finally:
        with admin.connect() as connection:
            for name in names:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


class Setup:
    """A data directory, a Dagster instance (SQLite or PostgreSQL) and a running `dagster-daemon`."""

    def __init__(self, home: Path, storage: str, databases: tuple[str, str] | None, s3_url: str,
                 outputs: str = "disk"):
        from sqlalchemy.engine import make_url

        self.home = home
        self.prefix = f"incoming/{home.name}"  # each combination watches its own prefix
        dagster_home = self.home / "dagster_home"
        dagster_home.mkdir(parents=True)
        env = {**os.environ, **AWS_ENV, "LABFLOW_HOME": str(self.home), "DAGSTER_HOME": str(dagster_home),
               "LABFLOW_S3_SOURCES": f"s3://{BUCKET}/{self.prefix}", "LABFLOW_S3_ENDPOINT_URL": s3_url,
               "PYTHONPATH": str(PROJECT_ROOT)}
        if outputs == "s3":
            env["LABFLOW_OBJECT_STORE"] = f"s3://{BUCKET}/outputs/{home.name}"
        if storage == "postgres":
            assert databases is not None
            dagster_url = make_url(databases[0])
            env.update(DAGSTER_PG_HOST=dagster_url.host, DAGSTER_PG_PORT=str(dagster_url.port or 5432),
                       DAGSTER_PG_USER=dagster_url.username, DAGSTER_PG_PASSWORD=dagster_url.password or "",
                       DAGSTER_PG_DB=dagster_url.database, LABFLOW_DATABASE_URL=databases[1])
            shutil.copyfile(PROJECT_ROOT / "deploy" / "dagster.prod.yaml", dagster_home / "dagster.yaml")
        else:
            env["LABFLOW_DATABASE_URL"] = f"sqlite:///{self.home / 'catalog.db'}"
            shutil.copyfile(PROJECT_ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
        self.settings = Settings.from_env(env)
        self.settings.ensure_dirs()
        workspace = self.home / "workspace.yaml"
        workspace.write_text(
            "load_from:\n  - python_module:\n      module_name: benchmarks.s3_ingest\n      attribute: defs\n"
            f"      working_directory: {PROJECT_ROOT}\n      location_name: labflow\n")
        os.environ.update({k: v for k, v in env.items() if k.startswith("DAGSTER_PG_")})
        self.instance = dg.DagsterInstance.from_config(str(dagster_home))
        self.queue_limit = self.instance.get_concurrency_config().run_queue_config.max_concurrent_runs
        self.log = (self.home / "daemon.log").open("wb")
        daemon = Path(sys.executable).with_name("dagster-daemon")
        self.daemon = subprocess.Popen([str(daemon), "run", "-w", str(workspace)], env=env, cwd=PROJECT_ROOT,
                                       stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def peaks_done(self) -> int:
        return len(self.instance.get_materialized_partitions(dg.AssetKey("peaks")))

    def wait_for_peaks(self, count: int, timeout: float) -> float | None:
        """Seconds on the monotonic clock when ``count`` partitions have peaks, or None on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.peaks_done() >= count:
                return time.monotonic()
            if self.daemon.poll() is not None:
                raise RuntimeError(f"dagster-daemon exited; see {self.home / 'daemon.log'}")
            time.sleep(0.25)
        return None

    def close(self) -> None:
        stop_group(self.daemon)
        self.log.close()
        self.instance.dispose()


def send(inbox: str, setup: Setup, client, names: list[str], seed: int) -> None:
    """Write files into the inbox (atomically) or upload them to the bucket."""
    for i, name in enumerate(names):
        data = instrument_file(seed + i)
        if inbox == "folder":
            write_atomic(setup.settings.inbox / "bench" / name, data)
        else:
            client.put_object(Bucket=BUCKET, Key=f"{setup.prefix}/{name}", Body=data)


def measure(inbox: str, setup: Setup, client, files: int, timeout: float, seed: int) -> dict[str, float]:
    started = time.monotonic()
    send(inbox, setup, client, [f"warmup_{seed}.csv"], seed)
    first = setup.wait_for_peaks(1, timeout)
    if first is None:
        raise RuntimeError(f"the warm-up file never reached peaks; see {setup.home / 'daemon.log'}")
    names = [f"f{seed}_{i:04d}.csv" for i in range(files)]
    started_burst = time.monotonic()
    send(inbox, setup, client, names, seed + 1)
    finished = setup.wait_for_peaks(files + 1, timeout)
    total = (finished or time.monotonic()) - started_burst
    return {"first_file_s": round(first - started, 1), "total_s": round(total, 1),
            "files_per_s": round(files / total, 2), "missing": files + 1 - setup.peaks_done()}


def run(args: argparse.Namespace) -> tuple[list[list[object]], dict[str, float]]:
    rows: list[list[object]] = []
    figures: dict[str, float] = {}
    storages = ["sqlite"] + (["postgres"] if postgres_reachable() else [])
    with tempfile.TemporaryDirectory() as tmp, moto_server(Path(tmp)) as s3_url:
        os.environ.update(AWS_ENV)
        client = s3_client(endpoint_url=s3_url, region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        combinations = [(inbox, storage, "disk") for storage in storages for inbox in ("folder", "s3")]
        for inbox, storage, outputs in [*combinations, ("s3", "sqlite", "s3")]:
            label = f"{inbox}_{storage}" + ("_s3out" if outputs == "s3" else "")
            print(f"{label}: starting the daemon …", flush=True)
            with (postgres_databases() if storage == "postgres" else nullcontext()) as databases:
                setup = Setup(Path(tmp) / label, storage, databases, s3_url, outputs)
                try:
                    result = measure(inbox, setup, client, args.files, args.timeout, seed=len(rows) * 10_000)
                finally:
                    setup.close()
            print(f"{label}: {result}", flush=True)
            figures.update({f"{label}_{k}": v for k, v in result.items()})
            rows.append([inbox, storage, outputs, setup.queue_limit, result["first_file_s"], result["total_s"],
                         result["files_per_s"], result["missing"]])
    return rows, figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100, help="files per combination (5 combinations)")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--json")
    args = parser.parse_args()
    rows, figures = run(args)
    print()
    print_table(["inbox", "storage", "objects + outputs", "run queue", "daemon start + 1st file (s)", f"{args.files} files (s)",
                 "files/s", "missing"], rows)
    write_json(args.json, figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
