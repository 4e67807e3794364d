"""Peak memory to ingest and parse one instrument file of 1, 50 and 250 MB (not a test).

    python benchmarks/ingest_memory.py [--sizes 1,50,250] [--json PATH]

For each size a CSV of that size (time in seconds and four channels, as instruments export them) is
written to a temporary data directory; a fresh Python process then ingests it the way the inbox
sensor does (hash, raw copy, catalog) and runs the ``raw_file`` (table limits, metadata) and
``raw_series`` (parse, Parquet) steps. The baseline, in the same run, is a process that makes the
same imports and opens the same stores without a file. Figures: peak RSS of each process
(``ru_maxrss``), the file's cost (peak − baseline) and that cost as a multiple of the file size.
Keys: ``<size>mb_peak_mb``, ``<size>mb_cost_mb``, ``<size>mb_multiple``, ``<size>mb_seconds``, ``baseline_mb``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import PROJECT_ROOT, print_table, write_json  # noqa: E402

MB = 1_000_000


def write_csv(path: Path, size_bytes: int) -> None:
    """A realistic export of about ``size_bytes``: a header, then rows of time and four channels."""
    row_count = 0
    with path.open("w") as out:
        out.write("time_s,pressure_bar,temperature_c,flow_ml_min,signal_mv\n")
        while out.tell() < size_bytes:
            block = "".join(f"{(row_count + i) * 0.001:.3f},{1.0 + (i % 97) * 0.013:.5f},{21.5 + (i % 53) * 0.02:.4f},"
                            f"{0.5 + (i % 31) * 0.004:.5f},{(i % 1009) * 0.731:.4f}\n" for i in range(10_000))
            out.write(block)
            row_count += 10_000


def measure(home: Path, file_name: str | None) -> dict:
    """In this (child) process: ingest and parse ``file_name`` from the inbox (or nothing); peak RSS and time."""
    from labflow.store.catalog import Catalog
    from labflow.ingest.register import ingest_file
    from labflow.store.objects import open_object_store
    from labflow.processing.pipeline import RunProcessor
    from labflow.processing.recipe_store import recipes_in_effect
    from labflow.settings import Settings

    settings = Settings.from_env({"LABFLOW_HOME": str(home)})
    catalog = Catalog(settings.database_url)
    processor = RunProcessor(settings, catalog, recipes_in_effect(settings))
    started = time.perf_counter()
    outcome = None
    if file_name:
        outcome = ingest_file(settings.inbox, file_name, objects=open_object_store(settings), catalog=catalog,
                              is_known_run=lambda key: False, now=datetime.now(timezone.utc))
        for step in ("raw_file", "raw_series"):
            processor.run_step(step, outcome.run_key)
    return {"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB,
            "seconds": time.perf_counter() - started, "status": catalog.get_run(outcome.run_key).status
            if outcome else "-"}


def run_child(home: Path, file_name: str | None) -> dict:
    command = [sys.executable, __file__, "--child", str(home)] + ([file_name] if file_name else [])
    result = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,50,250", help="file sizes in MB, comma-separated")
    parser.add_argument("--json", help="write the figures to this JSON file")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(Path(args.child[0]), args.child[1] if len(args.child) > 1 else None)))
        return
    figures: dict[str, float] = {}
    rows = []
    with tempfile.TemporaryDirectory(prefix="labflow-mem-") as tmp:
        baseline = run_child(Path(tmp) / "baseline", None)["peak_mb"]
        figures["baseline_mb"] = round(baseline, 1)
        rows.append(["baseline (imports, stores)", "-", f"{baseline:.0f}", "-", "-", "-", "-"])
        for size in (int(s) for s in args.sizes.split(",")):
            home = Path(tmp) / f"home-{size}"
            (home / "inbox").mkdir(parents=True)
            write_csv(home / "inbox" / f"run-{size}mb.csv", size * MB)
            actual = (home / "inbox" / f"run-{size}mb.csv").stat().st_size / MB
            child = run_child(home, f"run-{size}mb.csv")
            cost = child["peak_mb"] - baseline
            figures.update({f"{size}mb_peak_mb": round(child["peak_mb"], 1), f"{size}mb_cost_mb": round(cost, 1),
                            f"{size}mb_multiple": round(cost / actual, 2), f"{size}mb_seconds": round(child["seconds"], 2)})
            rows.append([f"{size} MB file", f"{actual:.1f}", f"{child['peak_mb']:.0f}", f"{cost:.0f}",
                         f"{cost / actual:.2f}x", f"{child['seconds']:.1f}", child["status"]])
    print_table(["case", "file MB", "peak RSS MB", "cost MB", "cost / size", "seconds", "status"], rows)
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
