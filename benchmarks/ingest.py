"""Drop-to-peaks latency and burst throughput against a running daemon (`dagster dev`).

    python benchmarks/ingest.py [--burst 500] [--singles 5] [--baseline-files 40] [--json PATH]

Starts `dagster dev` on a temporary LABFLOW_HOME (the embedded default, default sensor interval),
then: drops single files one at a time and measures drop → `peaks` materialized; drops a burst of
files at once and measures the time until every one has `peaks`. Side by side, in the same run,
a baseline of one run per file (LABFLOW_BATCH_SIZE=1) on a smaller burst shows what batching buys.
Keys: ``single_p50_s``, ``single_p95_s``, ``burst500_total_s``, ``burst_files_per_s``,
``missing_files``, ``baseline_files_per_s``.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import print_table, write_json  # noqa: E402
from labflow.store.atomic import write_atomic  # noqa: E402
from labflow.store.catalog import Catalog  # noqa: E402
from labflow.devserver import dagster_dev_command, prepare_dagster_home, process_env, stop_group  # noqa: E402
from labflow.settings import Settings  # noqa: E402


def instrument_file(seed: int, n: int = 2000) -> bytes:
    rng = np.random.default_rng(seed)
    t = np.arange(n) * 0.01
    y = 4 * np.exp(-0.5 * ((t - 7) / 0.2) ** 2) + 2 * np.exp(-0.5 * ((t - 13) / 0.3) ** 2)
    y += rng.normal(0, 0.05, n)
    return ("time_s,signal\n" + "\n".join(f"{a:.2f},{b:.4f}" for a, b in zip(t, y)) + "\n").encode()


class DevServer:
    """`dagster dev` in its own process group on a temporary data directory."""

    def __init__(self, home: Path, extra_env: dict[str, str]):
        self.settings = Settings.from_env({"LABFLOW_HOME": str(home), **extra_env})
        prepare_dagster_home(self.settings)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        env = process_env(self.settings, {**os.environ, **extra_env})
        self.log = (home / "dagster-dev.log").open("wb")
        self.process = subprocess.Popen(dagster_dev_command(self.port), env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True)
        self._wait_ready()
        self.catalog = Catalog(self.settings.database_url)

    def _wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/server_info", timeout=2):
                    time.sleep(3)  # let the daemon start its sensor loop
                    return
            except OSError:
                time.sleep(1)
        raise RuntimeError("dagster dev did not start; see dagster-dev.log")

    def processed(self) -> set[str]:
        """Original names of the runs whose peaks exist."""
        storage = self.settings.storage / "peaks"
        done = {p.stem for p in storage.glob("*.parquet")} if storage.is_dir() else set()
        return {r.original_name for r in self.catalog.find_runs(limit=100_000) if r.run_key in done}

    def stop(self) -> None:
        stop_group(self.process)
        self.catalog.dispose()
        self.log.close()


def wait_processed(server: DevServer, names: set[str], timeout: float) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if names <= server.processed():
            return time.monotonic()
        time.sleep(0.25)
    return None


def drop_burst(server: DevServer, prefix: str, count: int, seed: int) -> tuple[set[str], float]:
    names = {f"{prefix}_{i:04d}.csv" for i in range(count)}
    started = time.monotonic()
    for i, name in enumerate(sorted(names)):
        write_atomic(server.settings.inbox / prefix / name, instrument_file(seed + i))
    return names, started


def run(args: argparse.Namespace) -> dict[str, float]:
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        server = DevServer(Path(tmp) / "batched", {})
        try:
            latencies = []
            for i in range(args.singles):
                name = f"single_{i:03d}.csv"
                started = time.monotonic()
                write_atomic(server.settings.inbox / name, instrument_file(i))
                finished = wait_processed(server, {name}, args.timeout)
                latencies.append((finished or float("nan")) - started)
                print(f"single file {i + 1}/{args.singles}: {latencies[-1]:.1f} s", flush=True)
            names, started = drop_burst(server, "burst", args.burst, 10_000)
            finished = wait_processed(server, names, args.timeout)
            missing = len(names - server.processed())
            burst_s = (finished or time.monotonic()) - started
        finally:
            server.stop()
        figures.update(single_p50_s=round(float(np.nanpercentile(latencies, 50)), 2),
                       single_p95_s=round(float(np.nanpercentile(latencies, 95)), 2),
                       burst500_total_s=round(burst_s, 1), burst_files_per_s=round(args.burst / burst_s, 2),
                       missing_files=missing)
        if args.baseline_files:
            base = DevServer(Path(tmp) / "per_file", {"LABFLOW_BATCH_SIZE": "1"})
            try:
                names, started = drop_burst(base, "base", args.baseline_files, 20_000)
                finished = wait_processed(base, names, args.timeout)
                base_s = (finished or time.monotonic()) - started
            finally:
                base.stop()
            figures["baseline_files_per_s"] = round(args.baseline_files / base_s, 2)
            figures["baseline_total_s"] = round(base_s, 1)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--singles", type=int, default=5)
    parser.add_argument("--baseline-files", type=int, default=40)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--json")
    args = parser.parse_args()
    figures = run(args)
    rows = [["single file drop → peaks p50 (s)", figures["single_p50_s"], "≤ 20"],
            ["single file drop → peaks p95 (s)", figures["single_p95_s"], ""],
            [f"burst of {args.burst}: total (s)", figures["burst500_total_s"], "≤ 180"],
            [f"burst of {args.burst}: files/s (batched runs)", figures["burst_files_per_s"], ""],
            ["missing files", figures["missing_files"], "0"]]
    if "baseline_files_per_s" in figures:
        rows.append([f"baseline, one run per file ({args.baseline_files} files): files/s",
                     figures["baseline_files_per_s"], ""])
    print_table(["measure", "value", "target"], rows)
    write_json(args.json, figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
