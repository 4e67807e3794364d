"""Peak detection on a real annotated ECG: automatic thresholds vs a naive noise-floor rule.

    python benchmarks/peaks_quality.py [--signal CSV] [--column NAME] [--truth CSV]
                                       [--tolerance-ms 50] [--json PATH]

Defaults: MIT-BIH Arrhythmia Database record 100, first 15 min at 360 Hz
(``$LABFLOW_SHARED_DATA/ecg/mitdb100_part1.csv``, falling back to ``../shared/data`` beside the
project), lead ``MLII_mV``, cardiologist-annotated beats ``mitdb100_part1_rpeaks.csv`` (``time_s``).

Ours is the project's own path with no per-file tuning: ``labflow.processing.parsing.parse_instrument_csv``
(``polars.read_csv`` when the parser is not importable), ``clean_series`` with the default recipe's
smoothing, ``detect_peaks`` with ``PeakParams()`` (every threshold automatic), and the file's
``assess_quality`` report. Beside it, in the same table:

- ``naive``: ``scipy.signal.find_peaks`` on the same cleaned signal with prominence >= 5 x noise only
  (noise = MAD of first differences / 0.6745 / sqrt(2)), no height test, no class split;
- ``ours, mode=all``: our noise floor and height test without the dominant-class split.

Truth: the annotations whose symbol is a beat (MIT-BIH beat codes, ``BEAT_SYMBOLS``). The default
file holds only beats — 1,133 ``N`` (normal) and 12 ``A`` (atrial premature) — and no non-beat
annotations such as ``+`` (rhythm change) or ``~`` (signal quality), so all 1,145 are used; other
truth files may have them, and they are dropped. Matching is greedy and one-to-one: pairs of a
detected and an annotated time within the tolerance, closest first.

``--json`` keys: precision, recall, f1, tp, fp, fn, detected, annotated, detect_s (``detect_peaks``
wall time, best of 3), clean_s, read_s, quality_s, quality_score, naive_precision, naive_recall,
naive_f1, all_mode_f1. Target: f1 >= 0.99.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import polars.selectors as cs
from scipy.signal import find_peaks

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import best_of, print_table, shared_data_dir, write_json  # noqa: E402
from labflow.processing.peaks import detect_peaks  # noqa: E402
from labflow.processing.quality import assess_quality  # noqa: E402
from labflow.processing.recipes import PeakParams, Recipe  # noqa: E402
from labflow.processing.smoothing import clean_series  # noqa: E402

BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")
NAIVE_NOISE_FACTOR = 5.0


def read_series(path: Path) -> tuple[pl.DataFrame, int]:
    """The parsed series (with the project's parser when importable) and its dropped duplicate rows."""
    try:
        from labflow.processing.parsing import parse_instrument_csv
    except ImportError:
        return pl.read_csv(path).with_columns(cs.numeric().cast(pl.Float64)), 0
    parsed = parse_instrument_csv(path.read_bytes(), name=path.name)
    return parsed.frame, parsed.duplicate_rows_dropped


def read_truth(path: Path) -> np.ndarray:
    """Sorted annotated beat times (seconds); non-beat annotations are left out."""
    truth = pl.read_csv(path)
    if "symbol" in truth.columns:
        truth = truth.filter(pl.col("symbol").is_in(sorted(BEAT_SYMBOLS)))
    return np.sort(truth["time_s"].cast(pl.Float64).to_numpy())


def count_matches(detected: np.ndarray, truth: np.ndarray, tolerance_s: float) -> int:
    """Greedy one-to-one matching within the tolerance, closest pairs first; returns the matches."""
    detected = np.sort(detected)
    low = np.searchsorted(truth, detected - tolerance_s, side="left")
    high = np.searchsorted(truth, detected + tolerance_s, side="right")
    counts = high - low
    which = np.repeat(np.arange(detected.size), counts)
    target = np.repeat(low, counts) + np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    order = np.argsort(np.abs(detected[which] - truth[target]), kind="stable")
    used_detected: set[int] = set()
    used_truth: set[int] = set()
    for d, t in zip(which[order].tolist(), target[order].tolist()):
        if d not in used_detected and t not in used_truth:
            used_detected.add(d)
            used_truth.add(t)
    return len(used_truth)


def scores(detected: np.ndarray, truth: np.ndarray, tolerance_s: float) -> dict[str, float | int]:
    """Precision, recall, F1 and the counts behind them."""
    tp = count_matches(detected, truth, tolerance_s)
    precision = tp / detected.size if detected.size else 0.0
    recall = tp / truth.size if truth.size else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": int(detected.size - tp),
            "fn": int(truth.size - tp), "detected": int(detected.size), "annotated": int(truth.size)}


def naive_peaks(time_s: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Times of the peaks with prominence >= 5 x noise (MAD of first differences), nothing else."""
    finite = np.isfinite(values)
    noise = np.median(np.abs(np.diff(values[finite]))) / 0.6745 / np.sqrt(2)
    peaks, _ = find_peaks(values[finite], prominence=NAIVE_NOISE_FACTOR * noise)
    return time_s[finite][peaks]


def resolve_channel(frame: pl.DataFrame, column: str) -> str:
    """The requested column, or a clear error naming the ones the file has."""
    if column in frame.columns:
        return column
    raise SystemExit(f"column {column!r} is not in the signal file; it has {', '.join(frame.columns)}")


def timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Read, clean, detect (ours, naive, ours without the split), score; return the flat figures."""
    recipe = Recipe(id="default")
    read_s, (frame, dropped) = timed(lambda: read_series(Path(args.signal)))
    channel = resolve_channel(frame, args.column)
    truth = read_truth(Path(args.truth))
    tolerance = args.tolerance_ms / 1000.0
    clean_s, cleaned = best_of(lambda: clean_series(frame, [channel], recipe.smoothing))
    time_s = cleaned["time_s"].to_numpy()
    values = cleaned[f"{channel}_clean"].to_numpy()
    detect_s, result = best_of(lambda: detect_peaks(time_s, values, PeakParams()))
    naive_s, naive = best_of(lambda: naive_peaks(time_s, values))
    all_s, every = best_of(lambda: detect_peaks(time_s, values, PeakParams(mode="all")))
    quality_s, report = timed(lambda: assess_quality(frame, [channel], recipe.quality,
                                                     duplicate_rows_dropped=dropped))
    rows = {
        "ours (auto)": (scores(result.table["time_s"].to_numpy(), truth, tolerance), detect_s),
        "naive (prominence >= 5 x noise)": (scores(naive, truth, tolerance), naive_s),
        "ours, mode=all (no class split)": (scores(every.table["time_s"].to_numpy(), truth, tolerance), all_s),
    }
    _print_report(args, channel, frame.height, rows, result.thresholds, report, (read_s, clean_s, quality_s))
    ours = rows["ours (auto)"][0]
    return {
        **{k: round(v, 5) if isinstance(v, float) else v for k, v in ours.items()},
        "detect_s": round(detect_s, 4), "clean_s": round(clean_s, 4), "read_s": round(read_s, 4),
        "quality_s": round(quality_s, 4), "quality_score": round(report.score, 4),
        "naive_precision": round(rows["naive (prominence >= 5 x noise)"][0]["precision"], 5),
        "naive_recall": round(rows["naive (prominence >= 5 x noise)"][0]["recall"], 5),
        "naive_f1": round(rows["naive (prominence >= 5 x noise)"][0]["f1"], 5),
        "all_mode_f1": round(rows["ours, mode=all (no class split)"][0]["f1"], 5),
    }


def _print_report(args: argparse.Namespace, channel: str, samples: int, rows: dict[str, Any],
                  thresholds: dict[str, Any], report: Any, seconds: tuple[float, float, float]) -> None:
    read_s, clean_s, quality_s = seconds
    print(f"signal {args.signal} [{channel}], {samples:,} samples; truth {args.truth}; "
          f"tolerance ±{args.tolerance_ms:g} ms\n")
    headers = ["method", "precision", "recall", "f1", "tp", "fp", "fn", "detected", "annotated", "seconds"]
    table = [[name, s["precision"], s["recall"], s["f1"], s["tp"], s["fp"], s["fn"], s["detected"],
              s["annotated"], f"{elapsed:.4f}"] for name, (s, elapsed) in rows.items()]
    print_table(headers, table)
    print("\nthresholds chosen by ours (auto):")
    for key, value in thresholds.items():
        print(f"  {key}: {value:.4g}" if isinstance(value, float) else f"  {key}: {value}")
    print(f"\nread {read_s:.3f} s, clean_series {clean_s:.4f} s, assess_quality {quality_s:.4f} s; "
          f"quality score {report.score:.3f}, flags: {', '.join(report.flags) or 'none'}")
    print("target: f1 >= 0.99 with automatic parameters")


def main() -> int:
    ecg = shared_data_dir() / "ecg"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signal", default=str(ecg / "mitdb100_part1.csv"))
    parser.add_argument("--column", default="MLII_mV")
    parser.add_argument("--truth", default=str(ecg / "mitdb100_part1_rpeaks.csv"))
    parser.add_argument("--tolerance-ms", type=float, default=50.0)
    parser.add_argument("--json")
    args = parser.parse_args()
    for path in (args.signal, args.truth):
        if not Path(path).is_file():
            print(f"missing data file {path}: set LABFLOW_SHARED_DATA or pass --signal/--truth", file=sys.stderr)
            return 2
    write_json(args.json, run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
