"""ETL throughput: parse → clean → peaks → quality on 1M and 10M points, beside plain pandas.

    python benchmarks/etl.py [--sizes 1000000,10000000] [--json PATH]

Both sides get the same generated CSV (time + 2 channels; Gaussian peaks on noise). Ours is the
project's own path (``labflow.processing.parsing`` → ``labflow.processing.smoothing`` → ``labflow.processing.peaks`` →
``labflow.processing.quality``); the baseline is what one would write with pandas: ``read_csv``, ``rolling``
mean, ``scipy.signal.find_peaks`` with a prominence threshold, and pandas quality statistics.
Keys: ``etl_1m_s``, ``rolling_mean_mpts_s``, ``speedup_vs_pandas`` (whole ETL at 1M points).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
from scipy.signal import find_peaks

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import best_of, print_table, write_json  # noqa: E402
from labflow.processing.parsing import parse_instrument_csv  # noqa: E402
from labflow.processing.peaks import detect_peaks  # noqa: E402
from labflow.processing.quality import assess_quality  # noqa: E402
from labflow.processing.recipes import Recipe  # noqa: E402
from labflow.processing.smoothing import clean_series, rolling_mean  # noqa: E402

RECIPE = Recipe(id="bench")


def make_csv(path: Path, n: int, seed: int = 0) -> None:
    """Time + two channels with a peak every ~10k samples on noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) * 1e-3
    phase = (np.arange(n) % 10_000) - 5_000
    a = 3.0 * np.exp(-0.5 * (phase / 40.0) ** 2) + rng.normal(0, 0.05, n)
    b = np.sin(t / 3.0) + rng.normal(0, 0.05, n)
    pl.DataFrame({"time_s": t, "ch_a": a, "ch_b": b}).write_csv(path, float_precision=6)


def ours(data: bytes) -> dict[str, float]:
    """The project's ETL, step by step."""
    times = {}
    start = time.perf_counter()
    parsed = parse_instrument_csv(data, name="bench.csv")
    times["parse"] = time.perf_counter() - start
    start = time.perf_counter()
    cleaned = clean_series(parsed.frame, parsed.channels, RECIPE.smoothing)
    times["clean"] = time.perf_counter() - start
    start = time.perf_counter()
    detect_peaks(cleaned["time_s"].to_numpy(), cleaned["ch_a_clean"].to_numpy(), RECIPE.peaks)
    times["peaks"] = time.perf_counter() - start
    start = time.perf_counter()
    assess_quality(parsed.frame, parsed.channels, RECIPE.quality)
    times["quality"] = time.perf_counter() - start
    times["total"] = sum(times.values())
    return times


def pandas_baseline(path: Path) -> dict[str, float]:
    """The same steps written plainly with pandas (+ SciPy for peaks)."""
    times = {}
    start = time.perf_counter()
    frame = pd.read_csv(path)
    times["parse"] = time.perf_counter() - start
    start = time.perf_counter()
    window = RECIPE.smoothing.window
    for column in ("ch_a", "ch_b"):
        frame[f"{column}_clean"] = frame[column].rolling(window, center=True, min_periods=1).mean()
    times["clean"] = time.perf_counter() - start
    start = time.perf_counter()
    values = frame["ch_a_clean"].to_numpy()
    noise = np.median(np.abs(np.diff(frame["ch_a"].to_numpy()))) / 0.6745 / np.sqrt(2)
    find_peaks(values, prominence=5 * noise, width=0)
    times["peaks"] = time.perf_counter() - start
    start = time.perf_counter()
    steps = frame["time_s"].diff()
    _ = {
        "missing": frame[["ch_a", "ch_b"]].isna().mean().mean(),
        "gaps": int((steps > 1.5 * steps.median()).sum()),
        "duplicates": int(frame["time_s"].duplicated().sum()),
        "flat": int((frame["ch_a"].diff() == 0).sum()),
        "clipped": int((frame["ch_a"] == frame["ch_a"].max()).sum()),
        "noise": frame["ch_a"].diff().abs().median(),
    }
    times["quality"] = time.perf_counter() - start
    times["total"] = sum(times.values())
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    figures: dict[str, float] = {}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = Path(tmp) / f"bench_{n}.csv"
            make_csv(path, n)
            data = path.read_bytes()
            repeat = args.repeat if n <= 2_000_000 else 1
            ours_times = min((ours(data) for _ in range(repeat)), key=lambda t: t["total"])
            base_times = min((pandas_baseline(path) for _ in range(repeat)), key=lambda t: t["total"])
            for step in ("parse", "clean", "peaks", "quality", "total"):
                speedup = base_times[step] / ours_times[step] if ours_times[step] else float("nan")
                rows.append([f"{n:,}", step, ours_times[step], base_times[step], f"{speedup:.2f}x",
                             f"{n / ours_times[step] / 1e6:.1f}"])
            if n == 1_000_000:
                figures["etl_1m_s"] = round(ours_times["total"], 4)
                figures["speedup_vs_pandas"] = round(base_times["total"] / ours_times["total"], 3)
                figures["pandas_etl_1m_s"] = round(base_times["total"], 4)
    values = np.random.default_rng(1).normal(size=max(sizes))
    seconds, _ = best_of(lambda: rolling_mean(values, 25, centered=True), repeat=5)
    pandas_s, _ = best_of(lambda: pd.Series(values).rolling(25, center=True, min_periods=1).mean(), repeat=3)
    figures["rolling_mean_mpts_s"] = round(values.size / seconds / 1e6, 1)
    figures["pandas_rolling_mean_mpts_s"] = round(values.size / pandas_s / 1e6, 1)
    print_table(["points", "step", "ours s", "pandas s", "speedup", "ours Mpts/s"], rows)
    print(f"\nrolling mean on {values.size:,} points: ours {figures['rolling_mean_mpts_s']} M points/s, "
          f"pandas {figures['pandas_rolling_mean_mpts_s']} M points/s")
    print("targets: etl_1m_s <= 0.4, rolling_mean_mpts_s >= 50, speedup_vs_pandas >= 1.5")
    write_json(args.json, figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
