"""R peaks on every annotated ECG record of one or more folders: the ``ecg`` recipe vs reference detectors.

    python benchmarks/peaks_quality.py [--ecg-dir DIR ...] [--json PATH]

Default folders: ``ecg-dev/`` (12 MIT-BIH records, 15 min each: paced, PVC-rich, bundle-branch blocks,
AF, very noisy, 2:1 block) and ``ecg/`` (MIT-BIH 100, both under ``$LABFLOW_SHARED_DATA``, falling back
to ``../shared/data`` beside the project). A record is ``<name>.csv.gz`` or ``<name>.csv`` beside
``<name>_beats.csv`` or ``<name>_rpeaks.csv`` with a ``time_s`` column (and optionally ``symbol``:
only MIT-BIH beat codes, ``BEAT_SYMBOLS``, count). Every value column is a lead and is scored; the
means are over each record's first lead (MLII), further leads (record 100's V5) are extra rows.

Detectors, all on the same parsed series, with no per-record setting:

- ``ecg recipe``: the project's path — ``raw_series.read_series`` (the readers), ``clean_series`` with the shipped
  ``recipes/ecg.yaml`` smoothing, ``detect_peaks`` with its peak parameters (``method: qrs``);
- ``band-pass reference``: zero-phase Butterworth 5–15 Hz, absolute value, ``find_peaks`` with height
  >= 0.35 x the record's 99.5th percentile of it and 250 ms minimum distance — a plain detector
  without adaptive thresholds or search-back;
- ``generic auto``: the generic detector (``PeakParams()``, the ``ecg`` recipe before the QRS detector).

Matching is greedy and one-to-one, closest pairs first, within ±50 ms and ±150 ms. Also printed: each
record's quality score and flags (``assess_quality`` with the recipe's limits).

``--json`` keys: ``ecg_f1_50ms_mean``, ``ecg_f1_150ms_mean`` (the recipe's means over records),
``reference_f1_50ms_mean``, ``reference_f1_150ms_mean``, ``generic_f1_50ms_mean``,
``generic_f1_150ms_mean``, ``records`` (per record and lead: name, channel, primary, f1/precision/recall at both tolerances for
each detector, detected, annotated, detect_s, quality_score, quality_flags).
Targets: mean F1 >= 0.99 at ±150 ms and >= 0.97 at ±50 ms.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from scipy.signal import butter, find_peaks, sosfiltfilt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import PROJECT_ROOT, print_table, shared_data_dir, write_json  # noqa: E402
from labflow.processing.peaks import detect_peaks  # noqa: E402
from labflow.processing.quality import assess_quality  # noqa: E402
from labflow.processing.raw_series import read_series  # noqa: E402
from labflow.processing.recipes import PeakParams, Recipe, load_recipe_file  # noqa: E402
from labflow.processing.smoothing import clean_series  # noqa: E402

BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")
TOLERANCES_MS = (50, 150)
TRUTH_SUFFIXES = ("_beats.csv", "_rpeaks.csv")
REFERENCE_BAND_HZ = (5.0, 15.0)
REFERENCE_HEIGHT = 0.35
REFERENCE_PERCENTILE = 99.5
REFERENCE_DISTANCE_S = 0.25


def find_records(folders: list[Path]) -> list[tuple[Path, Path]]:
    """(signal, truth) pairs of every folder, sorted by name; files without truth are left out."""
    pairs = []
    for folder in folders:
        for signal in sorted([*folder.glob("*.csv.gz"), *folder.glob("*.csv")]):
            stem = signal.name.removesuffix(".gz").removesuffix(".csv")
            if stem.endswith(tuple(s.removesuffix(".csv") for s in TRUTH_SUFFIXES)):
                continue
            truth = next((folder / f"{stem}{s}" for s in TRUTH_SUFFIXES if (folder / f"{stem}{s}").is_file()), None)
            if truth is not None:
                pairs.append((signal, truth))
    return pairs


def read_record(path: Path) -> tuple[pl.DataFrame, int]:
    """The series as the project reads it (the registry undoes gzip) and its dropped duplicate rows."""
    frame, info = read_series(path.read_bytes(), path.name)
    return frame, int(info.get("duplicate_rows_dropped", 0))


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


def reference_peaks(time_s: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Plain band-pass detector: |5–15 Hz band| above 0.35 x its 99.5th percentile, 250 ms apart."""
    rate = 1.0 / float(np.median(np.diff(time_s)))
    sos = butter(2, REFERENCE_BAND_HZ, btype="bandpass", fs=rate, output="sos")
    band = np.abs(sosfiltfilt(sos, np.nan_to_num(values)))
    height = REFERENCE_HEIGHT * float(np.percentile(band, REFERENCE_PERCENTILE))
    peaks, _ = find_peaks(band, height=height, distance=max(1, int(REFERENCE_DISTANCE_S * rate)))
    return time_s[peaks]


def score_record(signal: Path, truth_path: Path, recipe: Recipe) -> list[dict[str, Any]]:
    """Every lead of one record scored (the first lead is the record's; others, e.g. V5, are extra rows)."""
    frame, dropped = read_record(signal)
    truth = read_truth(truth_path)
    leads = [c for c in frame.columns if c not in ("time_s", "timestamp")]
    rows = [score_lead(frame, dropped, lead, truth, recipe) for lead in leads]
    name = signal.name.removesuffix(".gz").removesuffix(".csv")
    return [{**row, "name": name if i == 0 else f"{name} [{row['channel']}]", "primary": i == 0}
            for i, row in enumerate(rows)]


def score_lead(frame: pl.DataFrame, dropped: int, channel: str, truth: np.ndarray, recipe: Recipe
               ) -> dict[str, Any]:
    """Every detector's F1 at both tolerances on one lead, the recipe's timing and the quality verdict."""
    cleaned = clean_series(frame, [channel], recipe.smoothing)
    time_s = cleaned["time_s"].to_numpy()
    column = f"{channel}_clean" if recipe.peaks.source == "cleaned" else channel
    start = time.perf_counter()
    ours = detect_peaks(time_s, cleaned[column].to_numpy(), recipe.peaks).table["time_s"].to_numpy()
    detect_s = time.perf_counter() - start
    detectors = {
        "ecg": ours,
        "reference": reference_peaks(time_s, cleaned[channel].to_numpy()),
        "generic": detect_peaks(time_s, cleaned[f"{channel}_clean"].to_numpy(), PeakParams()).table["time_s"]
        .to_numpy(),
    }
    report = assess_quality(frame, [channel], recipe.quality, duplicate_rows_dropped=dropped)
    row: dict[str, Any] = {"channel": channel, "annotated": int(truth.size), "detect_s": round(detect_s, 4),
                           "quality_score": round(report.score, 4), "quality_flags": list(report.flags)}
    for name, times in detectors.items():
        row[f"{name}_detected"] = int(times.size)
        for ms in TOLERANCES_MS:
            s = scores(times, truth, ms / 1000.0)
            row.update({f"{name}_f1_{ms}ms": round(s["f1"], 5), f"{name}_precision_{ms}ms": round(s["precision"], 5),
                        f"{name}_recall_{ms}ms": round(s["recall"], 5)})
    return row


def run(folders: list[Path]) -> dict[str, Any]:
    """Score every record; print the table; return the JSON figures."""
    recipe = load_recipe_file(PROJECT_ROOT / "recipes" / "ecg.yaml")
    rows = [row for signal, truth in find_records(folders) for row in score_record(signal, truth, recipe)]
    records = [row for row in rows if row["primary"]]
    if not records:
        raise SystemExit(f"no ECG record (signal + _beats.csv/_rpeaks.csv) in {', '.join(map(str, folders))}")
    headers = ["record", "beats", "ecg F1 50ms", "ecg F1 150ms", "ref F1 50ms", "ref F1 150ms",
               "generic F1 50ms", "generic F1 150ms", "detected", "detect s", "quality"]
    table = [[r["name"], r["annotated"], r["ecg_f1_50ms"], r["ecg_f1_150ms"], r["reference_f1_50ms"],
              r["reference_f1_150ms"], r["generic_f1_50ms"], r["generic_f1_150ms"], r["ecg_detected"],
              r["detect_s"], f"{r['quality_score']:.2f} {','.join(r['quality_flags'])}"] for r in rows]
    means = {f"{name}_f1_{ms}ms_mean": round(float(np.mean([r[f"{name}_f1_{ms}ms"] for r in records])), 5)
             for name in ("ecg", "reference", "generic") for ms in TOLERANCES_MS}
    table.append(["mean (first leads)", sum(r["annotated"] for r in records), *(means[f"{n}_f1_{ms}ms_mean"] for n in
                  ("ecg", "reference", "generic") for ms in TOLERANCES_MS), "", "", ""])
    print(f"{len(records)} records from {', '.join(map(str, folders))}; recipe ecg v{recipe.version} "
          f"(peaks.method {recipe.peaks.method}, source {recipe.peaks.source})\n")
    print_table(headers, table)
    print("\ntargets: mean F1 >= 0.99 at ±150 ms and >= 0.97 at ±50 ms (ecg recipe)")
    return {**means, "records": rows}


def main() -> int:
    data = shared_data_dir()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ecg-dir", action="append", type=Path,
                        help="folder of records (repeatable); default: ecg-dev/ and ecg/ of the shared data")
    parser.add_argument("--json")
    args = parser.parse_args()
    folders = args.ecg_dir or [data / "ecg-dev", data / "ecg"]
    missing = [str(f) for f in folders if not f.is_dir()]
    if missing:
        print(f"missing ECG folder(s) {', '.join(missing)}: set LABFLOW_SHARED_DATA or pass --ecg-dir",
              file=sys.stderr)
        return 2
    write_json(args.json, run(folders))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
