"""Shared helpers for the benchmark scripts: timing, tables and the JSON result file."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path:
    """``$LABFLOW_SHARED_DATA`` or ``../shared/data`` beside the project."""
    return Path(os.environ.get("LABFLOW_SHARED_DATA") or PROJECT_ROOT.parent / "shared" / "data")


def corpus_main(description: str, run: Callable[[Path], dict[str, Any]], folder: str = "instruments-dev") -> int:
    """A benchmark over one shared-data folder: ``--corpus DIR`` (default ``<shared>/<folder>``), ``--json PATH``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--corpus", type=Path, default=shared_data_dir() / folder)
    parser.add_argument("--json")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        print(f"missing corpus {args.corpus}: set LABFLOW_SHARED_DATA or pass --corpus", file=sys.stderr)
        return 2
    write_json(args.json, run(args.corpus))
    return 0


def best_of(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    """Fastest wall time of ``repeat`` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain fixed-width table on stdout."""
    cells = [[f"{c:.3f}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)))


def write_json(path: str | None, figures: dict[str, Any]) -> None:
    """Write the headline figures as a flat JSON object (if a path was given)."""
    if not path:
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    print(f"\nwrote {target}")
