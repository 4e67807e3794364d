"""Event streams: throughput (REST batch path end to end, detectors alone) and detection quality on NAB.

    python benchmarks/streams.py [--nab-dir DIR] [--windows JSON] [--json PATH] [--scores-out DIR]
                                 [--nab-score PATH] [--halves]

Throughput: a real API server (uvicorn, in a thread of this process) receives batches of 1,000
events on ``POST /api/v1/streams/bench/events`` from one client; the time runs until the engine has
*processed* (scored, spooled) every accepted event. Detectors alone: the same events, in batches of
1,000, through one source pipeline (the anomaly ensemble, ADWIN, k-means) on one core; events/s by wall
time and by this process's CPU time (the machine may be shared).

Quality: every NAB file (``--nab-dir``, default ``../shared/data/nab/``) is replayed in order through
the *default* detector configuration (one field, ``value``; no per-file tuning). An alarm is an
``anomaly`` pattern event. Window-level precision/recall/F1 (a window is detected when at least one
alarm falls inside it; an alarm outside every window is a false positive), pooled over all files,
beside a rolling z-score baseline (window 100 rows; the same warm-up and cool-down as the detector; the
best of |z| > 3, 4 or 5 is reported, which favours the baseline). Keys:
``events_per_s_rest``, ``events_per_s_detect``, ``window_f1``, ``window_f1_zscore``.

The official NAB score: every file's online scores go to ``DIR/<folder>/<file>.csv``
(``timestamp,value,anomaly_score``; ``--scores-out DIR``, else a temporary folder) and the official scorer
(``--nab-score``, ``$LABFLOW_NAB_SCORE`` or ``../shared/tools/nab-score`` beside the project) prints the
standard, low-FP and low-FN scores (keys ``nab_standard``, ``nab_low_fp``, ``nab_low_fn``); skipped with a
note when the scorer is not there. ``--halves`` also scores the odd and the even files apart (what
``benchmarks/streams_tune.py`` tunes on and reports on).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import PROJECT_ROOT, print_table, shared_data_dir, write_json  # noqa: E402
from labflow.streams.engine import SourcePipeline  # noqa: E402
from labflow.streams.sources import SourceConfig, source_from_mapping  # noqa: E402

ZSCORE_WINDOW = 100
ZSCORE_LIMITS = (3.0, 4.0, 5.0)
REST_EVENTS = 100_000
REST_BATCH = 1_000
PROFILES = {"standard": "nab_standard", "reward_low_FP_rate": "nab_low_fp", "reward_low_FN_rate": "nab_low_fn"}


@dataclass
class WindowCounts:
    detected: int = 0
    missed: int = 0
    false_alarms: int = 0

    def add(self, other: "WindowCounts") -> None:
        self.detected += other.detected
        self.missed += other.missed
        self.false_alarms += other.false_alarms

    @property
    def precision(self) -> float:
        total = self.detected + self.false_alarms
        return self.detected / total if total else 0.0

    @property
    def recall(self) -> float:
        total = self.detected + self.missed
        return self.detected / total if total else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def score_windows(alarms: list[datetime], windows: list[tuple[datetime, datetime]]) -> WindowCounts:
    """Detected windows (>= 1 alarm inside), missed windows, and alarms outside every window."""
    counts = WindowCounts()
    for start, end in windows:
        if any(start <= a <= end for a in alarms):
            counts.detected += 1
        else:
            counts.missed += 1
    counts.false_alarms = sum(not any(s <= a <= e for s, e in windows) for a in alarms)
    return counts


def zscore_alarms(values: np.ndarray, limit: float, cooldown: int, warmup: int) -> list[int]:
    """Rows more than ``limit`` rolling standard deviations from the mean of the ZSCORE_WINDOW rows before
    (online), none in the first ``warmup`` rows, at most one alarm per ``cooldown`` rows."""
    alarms, recent, quiet = [], deque(maxlen=ZSCORE_WINDOW), cooldown
    for i, v in enumerate(values):
        quiet += 1
        if len(recent) == ZSCORE_WINDOW and i >= warmup:
            sd = float(np.std(recent)) or 1e-9
            if abs(v - float(np.mean(recent))) / sd > limit and quiet >= cooldown:
                alarms.append(i)
                quiet = 0
        recent.append(v)
    return alarms


def nab_source() -> SourceConfig:
    """The default detector configuration for a one-field stream (what every NAB file gets)."""
    return source_from_mapping({"name": "nab", "fields": ["value"]}, "benchmark")


def nab_frame(path: Path) -> pl.DataFrame:
    frame = pl.read_csv(path, try_parse_dates=False)
    return frame.select(
        pl.int_range(pl.len()).cast(pl.String).alias("event_id"),
        pl.col("timestamp").str.to_datetime("%Y-%m-%d %H:%M:%S", time_zone="UTC"),
        pl.lit("measurement").alias("type"), pl.col("value").cast(pl.Float64))


def run_file(frame: pl.DataFrame) -> tuple[list[float], list[int]]:
    """Online anomaly scores (0–1) and alarm rows of one stream through a fresh default pipeline."""
    pipeline = SourcePipeline(nab_source())
    result = pipeline.process_frame(frame)
    alarm_ids = {p.event_id for p in result.patterns if p.type == "anomaly"}
    alarms = [i for i, event_id in enumerate(frame["event_id"].to_list()) if event_id in alarm_ids]
    return result.scores, alarms


def evaluate(nab_dir: Path, windows_path: Path, scores_out: Path) -> dict:
    """Window P/R/F1 of the detector and the z-score baseline over every labelled file."""
    windows = json.loads(windows_path.read_text())
    ours, zscore = WindowCounts(), {limit: WindowCounts() for limit in ZSCORE_LIMITS}
    cooldown, warmup = nab_source().anomaly.cooldown, nab_source().anomaly.warmup
    rows = []
    started = time.perf_counter()
    for n, (key, spans) in enumerate(sorted(windows.items()), 1):
        path = nab_dir / key
        if not path.exists():
            continue
        frame = nab_frame(path)
        bounds = [(datetime.fromisoformat(s).replace(tzinfo=timezone.utc),
                   datetime.fromisoformat(e).replace(tzinfo=timezone.utc)) for s, e in spans]
        stamps = frame["timestamp"].to_list()
        scores, alarms = run_file(frame)
        mine = score_windows([stamps[i] for i in alarms], bounds)
        ours.add(mine)
        base = {}
        for limit in ZSCORE_LIMITS:
            found = zscore_alarms(frame["value"].to_numpy(), limit, cooldown, warmup)
            base[limit] = score_windows([stamps[i] for i in found], bounds)
            zscore[limit].add(base[limit])
        rows.append((key, len(bounds), mine.detected, mine.false_alarms, base[4.0].detected, base[4.0].false_alarms))
        target = scores_out / key
        target.parent.mkdir(parents=True, exist_ok=True)
        pl.DataFrame({"timestamp": pl.read_csv(path)["timestamp"], "value": frame["value"],
                      "anomaly_score": scores}).write_csv(target)
        print(f"\r[{n}/{len(windows)}] {key:<60} {time.perf_counter() - started:5.0f} s", end="", file=sys.stderr)
    print(file=sys.stderr)
    print_table(("file", "windows", "found", "false alarms", "z>4 found", "z>4 false"), rows)
    return {"ours": ours, "zscore": zscore}


def detector_rate(frame: pl.DataFrame) -> dict[str, float]:
    """Events/s (wall and CPU time) through one full source pipeline in batches of REST_BATCH, and through
    the old default anomaly detector (river's HalfSpaceTrees + MinMax) alone, as a baseline."""
    from river import anomaly, preprocessing

    pipeline = SourcePipeline(nab_source())
    batches = [frame.slice(s, REST_BATCH) for s in range(0, frame.height, REST_BATCH)]
    wall, cpu = time.perf_counter(), time.process_time()
    for batch in batches:
        pipeline.process_frame(batch)
    full, full_cpu = frame.height / (time.perf_counter() - wall), frame.height / (time.process_time() - cpu)
    scaler = preprocessing.MinMaxScaler()
    trees = anomaly.HalfSpaceTrees(n_trees=25, height=8, window_size=250, seed=42)
    start = time.perf_counter()
    for value in frame["value"].to_list():
        x = {"value": value}
        scaler.learn_one(x)
        scaled = scaler.transform_one(x)
        trees.score_one(scaled)
        trees.learn_one(scaled)
    bare = frame.height / (time.perf_counter() - start)
    return {"full": full, "full_cpu": full_cpu, "bare": bare}


def official_scores(scorer: Path, scores_dir: Path, data_dir: Path | None = None) -> dict[str, float]:
    """The official NAB scorer's normalized score per profile for the scores in ``scores_dir``."""
    command = [str(scorer), str(scores_dir)] + (["--data", str(data_dir)] if data_dir else [])
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    found = dict(re.findall(r"on '(\w+)' profile = (-?[\d.]+)", done.stdout))
    if done.returncode or set(found) != set(PROFILES):
        raise RuntimeError(f"{scorer} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return {PROFILES[p]: float(v) for p, v in found.items()}


def half_data(nab_dir: Path, windows: dict, which: int, into: Path) -> Path:
    """A NAB data folder of every other file (``which`` = 0: 1st, 3rd, ...; 1: 2nd, 4th, ...), by links."""
    keys = sorted(windows)[which::2]
    for key in keys:
        (into / key).parent.mkdir(parents=True, exist_ok=True)
        (into / key).symlink_to((nab_dir / key).resolve())
    (into / "combined_windows.json").write_text(json.dumps({k: windows[k] for k in keys}))
    return into


def nab_scores(scorer: Path, scores_dir: Path, nab_dir: Path, windows_path: Path, halves: bool) -> dict[str, float]:
    """Official scores of all files and, with ``halves``, of the odd and the even files apart."""
    figures = official_scores(scorer, scores_dir)
    if halves:
        windows = json.loads(windows_path.read_text())
        for which, name in enumerate(("odd", "even")):
            with tempfile.TemporaryDirectory(prefix="labflow-nab-half-") as tmp:
                part = official_scores(scorer, scores_dir, half_data(nab_dir, windows, which, Path(tmp)))
            figures.update({f"{k}_{name}": v for k, v in part.items()})
    return figures


def rest_rate(frame: pl.DataFrame) -> tuple[float, float]:
    """Events/s pushed in batches of REST_BATCH to a real ``labflow api`` until all were processed, by wall
    time and by CPU time (the server process and this client together; NaN where /proc is missing)."""
    import httpx

    from benchmarks.api import ApiServer
    from labflow.devserver import prepare_dagster_home
    from labflow.settings import Settings

    with tempfile.TemporaryDirectory(prefix="labflow-streams-bench-") as tmp:
        sources = Path(tmp) / "sources"
        sources.mkdir()
        (sources / "bench.yaml").write_text(f"name: bench\nfields: [value]\nqueue_size: {REST_EVENTS}\n")
        os.environ["LABFLOW_SOURCES_DIR"] = str(sources)
        settings = Settings.from_env({"LABFLOW_HOME": str(Path(tmp) / "home"), "LABFLOW_SOURCES_DIR": str(sources)})
        settings.ensure_dirs()
        prepare_dagster_home(settings)
        stamps = frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_list()
        values = frame["value"].to_list()
        bodies = [json.dumps([{"event_id": str(i), "timestamp": stamps[i], "payload": {"value": values[i]}}
                              for i in range(s, min(s + REST_BATCH, frame.height))]).encode()
                  for s in range(0, frame.height, REST_BATCH)]
        server = ApiServer(settings)
        try:
            with httpx.Client(base_url=server.url, timeout=60,
                              headers={"Content-Type": "application/json"}) as http:
                start, cpu = time.perf_counter(), time.process_time() + _cpu_seconds(server.process.pid)
                for body in bodies:
                    while (answer := http.post("/api/v1/streams/bench/events", content=body)).status_code == 429:
                        time.sleep(float(answer.headers.get("Retry-After", "1")))
                    answer.raise_for_status()
                while True:
                    counters = http.get("/api/v1/sources").json()["sources"][0]["counters"]
                    if counters["processed"] + counters["failed"] >= frame.height:
                        break
                    time.sleep(0.01)
                elapsed = time.perf_counter() - start
                cpu = time.process_time() + _cpu_seconds(server.process.pid) - cpu
                if counters["failed"]:
                    raise RuntimeError(f"{counters['failed']} events failed: {counters['last_error']}")
        finally:
            server.stop()
    return frame.height / elapsed, frame.height / cpu


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (Linux /proc), NaN elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def throughput_frame(nab_dir: Path, rows: int) -> pl.DataFrame:
    """``rows`` events of real NAB values (files concatenated, then repeated), one a minute."""
    files = sorted(nab_dir.glob("real*/*.csv"))
    values = pl.concat([pl.read_csv(f)["value"].cast(pl.Float64) for f in files])
    values = pl.concat([values] * (rows // len(values) + 1)).head(rows)
    start = datetime(2024, 5, 1, tzinfo=timezone.utc)
    return pl.DataFrame({
        "event_id": [str(i) for i in range(rows)],
        "timestamp": pl.datetime_range(start, start + timedelta(minutes=rows - 1), "1m", eager=True,
                                       time_zone="UTC"),
        "type": ["measurement"] * rows, "value": values})


def main() -> int:
    default_nab = shared_data_dir() / "nab"
    default_scorer = Path(os.environ.get("LABFLOW_NAB_SCORE") or PROJECT_ROOT.parent / "shared" / "tools" / "nab-score")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nab-dir", type=Path, default=default_nab)
    parser.add_argument("--windows", type=Path, default=None, help="default: NAB_DIR/combined_windows.json")
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--scores-out", type=Path, help="write DIR/<folder>/<file>.csv with online scores")
    parser.add_argument("--nab-score", type=Path, default=default_scorer, help="the official NAB scorer")
    parser.add_argument("--halves", action="store_true", help="also score the odd and the even files apart")
    args = parser.parse_args()
    windows = args.windows or args.nab_dir / "combined_windows.json"
    if not windows.exists():
        print(f"error: no {windows}; point --nab-dir at a NAB data folder (or give --windows)", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="labflow-nab-scores-") as tmp:
        scores_dir = args.scores_out or Path(tmp)
        print("detection quality (window level, all files, default configuration):")
        quality = evaluate(args.nab_dir, windows, scores_dir)
        official: dict[str, float] = {}
        if args.nab_score.exists():
            print("official NAB scorer (a few minutes) ...", file=sys.stderr)
            official = nab_scores(args.nab_score, scores_dir, args.nab_dir, windows, args.halves)
        else:
            print(f"note: no NAB scorer at {args.nab_score} (give --nab-score or LABFLOW_NAB_SCORE); "
                  "official NAB score skipped", file=sys.stderr)
    ours, zscore = quality["ours"], quality["zscore"]
    best_limit = max(zscore, key=lambda limit: zscore[limit].f1)
    frame = throughput_frame(args.nab_dir, REST_EVENTS)
    print(f"\nthroughput ({frame.height:,} events):", file=sys.stderr)
    detect = detector_rate(frame)
    rest, rest_cpu = rest_rate(frame)

    print()
    rows = [("anomaly ensemble + ADWIN + k-means (default)", ours.detected, ours.missed, ours.false_alarms,
             ours.precision, ours.recall, ours.f1)]
    rows += [(f"rolling z-score |z| > {limit:g}", c.detected, c.missed, c.false_alarms, c.precision, c.recall, c.f1)
             for limit, c in zscore.items()]
    print_table(("detector", "windows found", "missed", "false alarms", "precision", "recall", "F1"), rows)
    if official:
        print()
        parts = [("all files", "")] + ([("odd files", "_odd"), ("even files", "_even")] if args.halves else [])
        print_table(("official NAB score", "standard", "low FP", "low FN"),
                    [(name, *(f"{official[key + suffix]:.2f}" for key in PROFILES.values())) for name, suffix in parts])
    print()
    print_table(("path", "events/s"), [
        ("REST batches of 1,000 -> processed (real server, wall time)", f"{rest:,.0f}"),
        ("REST batches of 1,000 -> processed (server + client CPU time)", f"{rest_cpu:,.0f}"),
        ("detectors alone (full pipeline, one core, wall time)", f"{detect['full']:,.0f}"),
        ("detectors alone (full pipeline, one core, CPU time)", f"{detect['full_cpu']:,.0f}"),
        ("baseline: river HalfSpaceTrees + MinMax only (old anomaly detector)", f"{detect['bare']:,.0f}")])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"(load average {load:.1f} on {os.cpu_count()} cores: wall-time rates count other processes' work)")
    figures = {"events_per_s_rest": round(rest), "events_per_s_rest_cpu": round(rest_cpu),
               "load_average": round(load, 1), "events_per_s_detect": round(detect["full"]),
               "events_per_s_detect_cpu": round(detect["full_cpu"]),
               "events_per_s_hst_minmax_only": round(detect["bare"]),
               "window_f1": round(ours.f1, 4), "window_precision": round(ours.precision, 4),
               "window_recall": round(ours.recall, 4), "window_f1_zscore": round(zscore[best_limit].f1, 4),
               "zscore_limit": best_limit, "windows": ours.detected + ours.missed, **official}
    print(f"\nwindow F1 {ours.f1:.3f} vs z-score {zscore[best_limit].f1:.3f} (best limit {best_limit:g}): "
          f"{ours.f1 - zscore[best_limit].f1:+.3f}")
    write_json(args.json, figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
