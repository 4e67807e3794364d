"""Tune the anomaly detector's defaults on (half of) the NAB corpus, report on the other half.

    python benchmarks/streams_tune.py [--nab-dir DIR] [--tune-on odd|even|all] [--json PATH]

One configuration for every file (no per-file tuning). A coordinate search over a small grid of
:class:`~labflow.streams.sources.AnomalySettings` values, starting from values chosen before any NAB run
(``UNTUNED``: HTM-like likelihood windows, KNN-CAD-like context), maximizes the
NAB standard score (:mod:`benchmarks.nab_scoring`, NAB's rules) on the files it tunes on: ``odd`` or ``even``
(the 1st, 3rd, ... or 2nd, 4th, ... of the corpus in name order) or ``all``. It prints the chosen settings
and their scores on both halves: the score on the half it did not see is the honest one. The shipped
defaults are what ``--tune-on all`` chose (the detector's structure was also chosen looking at all files).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import print_table, shared_data_dir, write_json  # noqa: E402
from benchmarks.nab_scoring import NabFile, load_corpus, nab_score  # noqa: E402
from labflow.streams.anomaly import AnomalyDetector  # noqa: E402
from labflow.streams.sources import AnomalySettings  # noqa: E402

UNTUNED = AnomalySettings(history=1000, short=10, alpha=0.02, knn_dim=10, knn_size=600, cooldown=200,
                          range_margin=0.05, range_score=0.7, warmup=300)
GRID: dict[str, list] = {
    "alpha": [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02],
    "cooldown": [25, 50, 100, 200],
    "short": [3, 5, 10],
    "history": [250, 500, 1000],
    "knn_dim": [10, 20, 30],
    "knn_size": [300, 600, 1200],
    "range_margin": [0.0, 0.05, 0.1],
    "range_score": [0.55, 0.7, 0.9],
    "warmup": [150, 300, 450],
}


def half(files: list[NabFile], which: str) -> list[NabFile]:
    """``odd`` (1st, 3rd, ...), ``even`` (2nd, 4th, ...) or ``all`` of the files, in name order."""
    return files if which == "all" else files[(0 if which == "odd" else 1)::2]


def score(files: list[NabFile], settings: AnomalySettings, profile: str = "standard") -> float:
    """The NAB score of ``settings`` on ``files`` (each file through a fresh detector, in one batch)."""
    written = [AnomalyDetector(settings, ("value",)).update_many({"value": f.values.tolist()})[0] for f in files]
    return nab_score(files, written, profile)[0]


def tune(files: list[NabFile], start: AnomalySettings, rounds: int = 2) -> AnomalySettings:
    """Coordinate search: each setting in turn takes its best grid value; ``rounds`` passes."""
    best, best_score = start, score(files, start)
    for _ in range(rounds):
        improved = False
        for name, values in GRID.items():
            for value in values:
                if value == getattr(best, name):
                    continue
                candidate = replace(best, **{name: value})
                s = score(files, candidate)
                if s > best_score + 0.05:
                    best, best_score, improved = candidate, s, True
            print(f"  {name} = {getattr(best, name)}: {best_score:.2f}", file=sys.stderr)
        if not improved:
            break
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nab-dir", type=Path, default=shared_data_dir() / "nab")
    parser.add_argument("--tune-on", choices=("odd", "even", "all"), default="odd")
    parser.add_argument("--rounds", type=int, default=2, help="passes of the coordinate search")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    files = load_corpus(args.nab_dir)
    tuned = tune(half(files, args.tune_on), UNTUNED, args.rounds)
    changed = {name: getattr(tuned, name) for name in GRID if getattr(tuned, name) != getattr(AnomalySettings(), name)}
    print(f"tuned on {args.tune_on}: {changed or 'the shipped defaults'}")
    rows, figures = [], {"tuned_on": args.tune_on, "settings": {n: getattr(tuned, n) for n in GRID}}
    for name in ("odd", "even", "all"):
        shipped, mine = score(half(files, name), AnomalySettings()), score(half(files, name), tuned)
        rows.append((name, len(half(files, name)), shipped, mine))
        figures[f"nab_standard_{name}_tuned"] = round(mine, 2)
        figures[f"nab_standard_{name}_shipped"] = round(shipped, 2)
    print_table(("files", "count", "NAB standard, shipped defaults", f"NAB standard, tuned on {args.tune_on}"), rows)
    write_json(args.json, figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
