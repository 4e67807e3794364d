"""Quality verdicts on real instrument files: which score below the threshold, and why.

    python benchmarks/quality_real.py [--corpus DIR] [--json PATH]

Every file of ``instruments-dev/`` (``$LABFLOW_SHARED_DATA``, else ``../shared/data`` beside the project)
that the project's readers read: its main block's signal channels (and its time axis as ``time_s`` when
the axis is time, so gaps and duplicates are checked; a frequency sweep or spectrum axis is not a clock)
go through ``assess_quality`` with the default recipe's limits, the reader's main channel (the one whose
SNR is judged; other channels' low SNR is informational) and the reader's notes. These files come from
working instruments, so a score under ``min_score`` is either a real defect the flags name or a false alarm;
informational flags (``too_short_to_judge``, ``noisy_side_channels``, ``unused_channels``,
``multi_rate_channels``) say what was seen and why it is no defect.

Beside it, in the same run: the stuck/clipped share by the old rule (runs of 10 / 3 identical samples
anywhere, no quantization floor, no held levels), to show what the quantization floor changed.

``--json`` keys: ``files`` (name, reader, axis, score, flags, explanations, old_stuck_ratio), ``read``,
``below_threshold``, ``min_score``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import corpus_main, print_table  # noqa: E402
from labflow.processing.peak_report import quality_frame, quality_main  # noqa: E402
from labflow.processing.readers.base import ReadRefused  # noqa: E402
from labflow.processing.readers.registry import read_file  # noqa: E402
from labflow.processing.quality import assess_quality, stuck_samples  # noqa: E402
from labflow.processing.recipes import QualityParams  # noqa: E402

SKIP = {"MANIFEST.md"}


def old_stuck_ratio(frame: pl.DataFrame, channels: list[str], params: QualityParams) -> float:
    """Clipped + flat-lined share by the old rule (no quantization floor, no held levels)."""
    total = sum(sum(stuck_samples(frame[c].to_numpy(), params)) for c in channels)
    return total / max(1, frame.height * len(channels))


def score_file(path: Path, params: QualityParams) -> dict[str, Any] | None:
    try:
        parsed = read_file(path.read_bytes(), path.name)
    except ReadRefused:
        return None
    frame, channels = quality_frame(parsed)
    if not channels:
        return None
    report = assess_quality(frame, channels, params, main=quality_main(parsed, channels), reader_notes=parsed.notes)
    return {"name": path.name, "reader": parsed.reader, "axis": parsed.axis.kind, "channels": len(channels),
            "score": round(report.score, 3), "flags": list(report.flags), "explanations": report.explanations,
            "old_stuck_ratio": round(old_stuck_ratio(frame, channels, params), 4)}


def run(corpus: Path) -> dict[str, Any]:
    params = QualityParams()
    names = sorted(p for p in corpus.iterdir() if p.is_file() and p.name not in SKIP)
    files = [row for row in (score_file(p, params) for p in names) if row is not None]
    below = [f for f in files if f["score"] < params.min_score]
    print_table(["file", "reader", "axis", "channels", "score", "flags", "old stuck %"],
                [[f["name"], f["reader"], f["axis"], f["channels"], f["score"], ", ".join(f["flags"]) or "-",
                  f"{100 * f['old_stuck_ratio']:.1f}"] for f in files])
    print(f"\n{len(files)} of {len(names)} files read; {len(below)} score below {params.min_score:g}:")
    for f in below:
        print(f"- {f['name']} ({f['score']:.2f})")
        for flag, why in f["explanations"].items():
            print(f"    {flag}: {why}")
    return {"files": files, "read": len(files), "below_threshold": len(below), "min_score": params.min_score}


def main() -> int:
    return corpus_main(__doc__.splitlines()[0], run)


if __name__ == "__main__":
    raise SystemExit(main())
