"""The ``labflow`` command: ``dev``, ``demo``, ``ingest``, ``runs``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from labflow.settings import Settings


def cmd_dev(args: argparse.Namespace, settings: Settings) -> int:
    """Start Dagster (UI on --port, daemon with sensors on) on the data directory."""
    from labflow.devserver import dagster_dev_command, prepare_dagster_home, process_env

    prepare_dagster_home(settings)
    if args.demo:
        cmd_demo(argparse.Namespace(count=args.demo, seed=7), settings)
    command = dagster_dev_command(args.port, args.host)
    print(f"labflow: data in {settings.home}; Dagster UI on http://{args.host}:{args.port}", flush=True)
    os.execve(command[0], command, process_env(settings))
    return 0  # not reached


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Write realistic demo instrument files into the inbox."""
    from labflow.demo import write_demo

    settings.ensure_dirs()
    written = write_demo(settings.inbox, args.count, seed=args.seed)
    print(f"wrote {len(written)} demo files into {settings.inbox}")
    return 0


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    """Copy files (and their sidecars) into the inbox, atomically."""
    from labflow.ingest import find_sidecar
    from labflow.objects import write_atomic

    settings.ensure_dirs()
    target_dir = settings.inbox / args.instrument if args.instrument else settings.inbox
    target_dir.mkdir(parents=True, exist_ok=True)
    missing = [p for p in args.paths if not Path(p).is_file()]
    if missing:
        print(f"error: not a file: {', '.join(missing)}", file=sys.stderr)
        return 2
    for name in args.paths:
        source = Path(name)
        sidecar = find_sidecar(source)
        if sidecar is not None:
            write_atomic(target_dir / sidecar.name, sidecar.read_bytes())
        write_atomic(target_dir / source.name, source.read_bytes())
        print(f"{source} -> {target_dir / source.name}")
    return 0


def cmd_runs(args: argparse.Namespace, settings: Settings) -> int:
    """List runs from the catalog, newest first, with filters."""
    from labflow.catalog import Catalog

    catalog = Catalog(settings.database_url)
    filters = {k: getattr(args, k) for k in ("instrument", "operator", "material", "experiment_id", "status")}
    runs = catalog.find_runs(**{k: v for k, v in filters.items() if v}, limit=args.limit)
    print(f"{'run key':<44} {'status':<10} {'instrument':<12} {'operator':<8} {'quality':>7}  experiment")
    for run in runs:
        quality = f"{run.quality_score:.2f}" if run.quality_score is not None else "-"
        print(f"{run.run_key:<44} {run.status:<10} {run.instrument or '-':<12} {run.operator or '-':<8} "
              f"{quality:>7}  {run.experiment_id or '-'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    dev = sub.add_parser("dev", help="start the Dagster UI and daemon on the data directory")
    dev.add_argument("--port", type=int, default=3000)
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--demo", type=int, default=0, metavar="N", help="write N demo files first")
    dev.set_defaults(func=cmd_dev)
    demo = sub.add_parser("demo", help="write realistic demo instrument files into the inbox")
    demo.add_argument("--count", type=int, default=12)
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(func=cmd_demo)
    ingest = sub.add_parser("ingest", help="copy files (with sidecars) into the inbox")
    ingest.add_argument("paths", nargs="+")
    ingest.add_argument("--instrument", help="put them under inbox/<instrument>/")
    ingest.set_defaults(func=cmd_ingest)
    runs = sub.add_parser("runs", help="list ingested runs")
    for name in ("instrument", "operator", "material", "experiment_id", "status"):
        runs.add_argument(f"--{name.replace('_', '-')}", dest=name)
    runs.add_argument("--limit", type=int, default=50)
    runs.set_defaults(func=cmd_runs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``labflow`` console script."""
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return args.func(args, settings)


if __name__ == "__main__":
    raise SystemExit(main())
