"""API latency under load: the confirmed dataset (10k points) and a downsampled series (1M → 2k points).

    python benchmarks/api.py [--clients 16] [--seconds 10] [--rounds 5] [--json PATH]

Builds a temporary data directory whose Dagster instance holds a ``confirmed_dataset`` materialization
of 10,000 confirmed experiments and a ``clean_series`` materialization of one 1,000,000-point run,
starts the real API (``labflow api``, one uvicorn worker) in a subprocess, and drives it with
``--clients`` concurrent keep-alive clients (one process each) on the same machine. Side by side,
interleaved in rounds so that all see the same background load, a plain-JSON baseline route
(``/api/v1/_baseline`` → ``{"ok": true}``, enabled by ``LABFLOW_BENCH=1``) shows what the server and
the load generator cost on their own. A request's time is until its last byte arrived (the dataset
comes gzipped, as to any client that accepts it). Extra rows: the dataset polled with
``If-None-Match`` (304), the dataset with the client also decompressing it, the dataset uncompressed,
and the series with a new window on every request (nothing served from the response cache).
Keys: ``dataset_p99_ms``, ``series_p99_ms``, ``baseline_p99_ms`` (+ p50 and requests/s of each).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from multiprocessing import get_context
from multiprocessing.pool import Pool
from pathlib import Path

import dagster as dg
import httpx
import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import print_table, write_json  # noqa: E402
from labflow.store.catalog import Catalog  # noqa: E402
from labflow.review.confirmed import DATASET_ASSET, DATASET_SCHEMA, write_dataset  # noqa: E402
from labflow.devserver import prepare_dagster_home, process_env  # noqa: E402
from labflow.settings import PROJECT_ROOT, Settings  # noqa: E402
from labflow.store.outputs import OutputStore  # noqa: E402

SERIES_RUN = "bench_series-0123456789"
DATASET_POINTS = 10_000
SERIES_POINTS = 1_000_000
DRAWN_POINTS = 2_000


def confirmed_frame(points: int, seed: int = 0) -> pl.DataFrame:
    """A confirmed dataset with one run per experiment, shaped like the ``confirmed_dataset`` asset's."""
    rng = np.random.default_rng(seed)
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    rows = [{
        "run_key": f"run_{i:05d}-{i:010x}", "experiment_id": f"EXP-{i:05d}", "campaign": f"c{i % 4}",
        "inputs": json.dumps({"column_temperature_c": round(float(rng.uniform(25, 60)), 2),
                              "flow_ml_min": round(float(rng.uniform(0.5, 1.5)), 3)}, sort_keys=True),
        "objective": float(rng.normal(100, 10)), "objective_kind": "main_peak_area", "objective_detail": "area",
        "verdict": "valid", "peak_count": 3, "annotation_version": 1, "confirmed_by": "ana",
        "confirmed_at": start + timedelta(minutes=i), "file_sha256": f"{i:064x}", "recipe_id": "chromatograph",
        "recipe_hash": "0dd6087fb00a6db7", "instrument": "hplc-01", "operator": "alice", "material": "PLA",
    } for i in range(points)]
    return pl.DataFrame(rows, schema=DATASET_SCHEMA, orient="row")


def prepare(settings: Settings) -> None:
    """Write the dataset and the long run, and record their materializations in the instance."""
    outputs = OutputStore(settings.storage)
    digest, dataset_path = write_dataset(confirmed_frame(DATASET_POINTS), outputs)
    t = np.arange(SERIES_POINTS) * 1e-3
    signal = np.sin(t / 5) + 3 * np.exp(-0.5 * (((t % 100) - 50) / 0.5) ** 2)
    noise = np.random.default_rng(1).normal(0, 0.05, SERIES_POINTS)
    series = pl.DataFrame({"time_s": t, "signal": signal + noise, "signal_clean": signal})
    series_path = outputs.write_frame("clean_series", SERIES_RUN, series)
    Catalog(settings.database_url).register_file(
        run_key=SERIES_RUN, sha256="0" * 64, size_bytes=0, original_name="bench_series.csv", source="bench",
        object_path="-", sidecar_name=None, sidecar_text=None, detected_at=datetime.now(timezone.utc))
    instance = dg.DagsterInstance.from_config(str(settings.dagster_home))
    instance.add_dynamic_partitions("runs", [SERIES_RUN])
    instance.report_runless_asset_event(dg.AssetMaterialization(
        DATASET_ASSET,
        metadata={"digest": digest, "rows": DATASET_POINTS, "path": dg.MetadataValue.path(dataset_path)}))
    instance.report_runless_asset_event(dg.AssetMaterialization(
        "clean_series", partition=SERIES_RUN, metadata={"path": dg.MetadataValue.path(str(series_path))}))
    instance.dispose()


class ApiServer:
    """``labflow api`` in a subprocess on a free port."""

    def __init__(self, settings: Settings, env: dict[str, str] | None = None):
        """``env``: more environment variables for the server (e.g. ``LABFLOW_AUTH=on``)."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        env = process_env(settings, {**os.environ, "LABFLOW_BENCH": "1", **(env or {})})
        self.log = (settings.home / "api.log").open("wb")
        self.process = subprocess.Popen([sys.executable, "-m", "labflow.cli", "api", "--port", str(self.port)],
                                        env=env, cwd=PROJECT_ROOT, stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.5)
        raise RuntimeError(f"the API did not start; see {settings.home / 'api.log'}")

    def cpu_seconds(self) -> float:
        """CPU time the server process has used so far (user + system, all threads; Linux's /proc)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


@dataclass(frozen=True)
class Case:
    """One measured endpoint: a GET with params and headers; ``decode`` also undoes gzip in the client;
    ``new_window`` moves the series window on every request, so no answer comes from the cache."""

    path: str
    params: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    decode: bool = False
    new_window: bool = False


def _client(job: tuple[str, Case, float, float, int]) -> list[float]:
    """One client (in its own process): warm up, then request from ``start_at`` for ``seconds``.

    Returns each request's time in ms until its last body byte arrived (and, with ``decode``, was
    decompressed); an error status counts as ``inf``.
    """
    url, case, start_at, seconds, index = job
    times = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for number in range(-1, 10**9):  # request -1 connects and warms up, outside the measurement
            if number == 0:
                time.sleep(max(0.0, start_at - time.monotonic()))
            if number >= 0 and time.monotonic() >= start_at + seconds:
                return times
            params = dict(case.params)
            if case.new_window:
                params["start"] = f"{(index * 7919 + number) % 100_003 * 1e-5:.5f}"
            began = time.perf_counter()
            response = client.send(client.build_request("GET", case.path, params=params,
                                                        headers=dict(case.headers)), stream=True)
            for _ in response.iter_bytes() if case.decode else response.iter_raw():
                pass
            response.close()
            if number >= 0:
                times.append((time.perf_counter() - began) * 1000 if response.status_code < 400 else float("inf"))
    return times


def load(pool: Pool, url: str, case: Case, clients: int, seconds: float) -> tuple[list[float], float]:
    """``clients`` concurrent clients, one process and keep-alive connection each, for ``seconds``.

    Separate processes, like real clients: threads of one Python process would mostly measure
    their own contention for the interpreter lock.
    """
    start_at = time.monotonic() + 2.0
    per_client = pool.map(_client, [(url, case, start_at, seconds, i) for i in range(clients)], chunksize=1)
    return [t for times in per_client for t in times], time.monotonic() - start_at


def summary(latencies: list[float], seconds: float) -> dict[str, float]:
    """p50, p99, requests per second and errors of a set of request times (ms) over ``seconds``."""
    times = np.array(latencies)
    ok = times[np.isfinite(times)]
    return {"p50_ms": round(float(np.percentile(ok, 50)), 1), "p99_ms": round(float(np.percentile(ok, 99)), 1),
            "rps": round(times.size / seconds, 1), "requests": int(times.size), "errors": int(times.size - ok.size)}


def run(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env({"LABFLOW_HOME": str(Path(tmp) / "home")})
        prepare_dagster_home(settings)
        print("writing 10k confirmed points and a 1M-point series …", flush=True)
        prepare(settings)
        server = ApiServer(settings)
        try:
            etag = httpx.get(f"{server.url}/api/v1/datasets/confirmed", timeout=60).headers["etag"]
            dataset, series = "/api/v1/datasets/confirmed", f"/api/v1/runs/{SERIES_RUN}/series/clean"
            drawn = (("points", str(DRAWN_POINTS)), ("channels", "signal"))
            cases = {
                "baseline": Case("/api/v1/_baseline"),
                "dataset": Case(dataset),
                "series": Case(series, drawn),
                "dataset_304": Case(dataset, headers=(("If-None-Match", etag),)),
                "dataset_decoded": Case(dataset, decode=True),
                "dataset_identity": Case(dataset, headers=(("Accept-Encoding", "identity"),)),
                "series_uncached": Case(series, drawn, new_window=True),
            }
            times: dict[str, list[float]] = {name: [] for name in cases}
            spans = dict.fromkeys(cases, 0.0)
            with get_context("fork").Pool(args.clients) as pool:
                for round_number in range(args.rounds):  # interleaved: every case sees the same background load
                    for name, case in cases.items():
                        values, span = load(pool, server.url, case, args.clients, args.seconds / args.rounds)
                        times[name] += values
                        spans[name] += span
                    print(f"round {round_number + 1}/{args.rounds} done", flush=True)
            results = {name: summary(values, spans[name]) for name, values in times.items()}
        finally:
            server.stop()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per endpoint")
    parser.add_argument("--rounds", type=int, default=5, help="the seconds are split over this many rounds")
    parser.add_argument("--json")
    args = parser.parse_args()
    results = run(args)
    baseline = results["baseline"]["p99_ms"]
    labels = {"baseline": 'baseline {"ok": true}', "dataset": f"confirmed dataset ({DATASET_POINTS:,} points)",
              "series": f"series {SERIES_POINTS:,} → {DRAWN_POINTS:,} points",
              "dataset_304": "confirmed dataset, If-None-Match → 304",
              "dataset_decoded": "confirmed dataset, client also gunzips",
              "dataset_identity": "confirmed dataset, uncompressed (5 MB)",
              "series_uncached": "series, new window each request (no cache)"}
    rows = [[labels[name], r["p50_ms"], r["p99_ms"], r["rps"], r["errors"],
             "" if name == "baseline" else f"{r['p99_ms'] / baseline:.2f}"] for name, r in results.items()]
    print(f"\n{args.clients} concurrent clients, {args.seconds:g} s per endpoint in {args.rounds} rounds; "
          "targets: p99 ≤ 2 × baseline and ≤ 150 ms")
    print_table(["endpoint", "p50 ms", "p99 ms", "req/s", "errors", "p99 / baseline"], rows)
    figures = {f"{name}_{key}": value for name, r in results.items() for key, value in r.items()
               if key in ("p50_ms", "p99_ms", "rps")}
    write_json(args.json, figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
