"""The ``labflow`` command: ``dev``, ``api``, ``ui``, ``keys``, ``forward``, ``demo``, ``ingest``, ``runs``,
``replay``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from labflow.settings import Settings


def cmd_dev(args: argparse.Namespace, settings: Settings) -> int:
    """Start the whole system: Dagster UI + daemon (sensors on), the REST API and the labelling app."""
    from labflow.devserver import DevStack, prepare_dagster_home

    prepare_dagster_home(settings)
    on_ready = None
    if args.demo:
        from functools import partial

        from labflow.demo.live import seed_live_demo

        cmd_demo(argparse.Namespace(count=args.demo, seed=7, history=None), settings)
        on_ready = partial(seed_live_demo, settings)  # the stream and a training job, once the API answers
    stack = DevStack(settings, host=args.host, dagster_port=args.port, on_ready=on_ready)
    return stack.run()


def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the REST API (FastAPI on uvicorn)."""
    from api.server import serve

    serve(settings, host=args.host, port=args.port or settings.api_port)
    return 0


def cmd_ui(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the labelling app (Gradio)."""
    from ui.app import serve

    serve(settings, host=args.host, port=args.port or settings.ui_port)
    return 0


def cmd_keys(args: argparse.Namespace, settings: Settings) -> int:
    """Create, list or revoke API keys."""
    from labflow.apikeys import keys_command

    return keys_command(args, settings)


def cmd_forward(args: argparse.Namespace, settings: Settings) -> int:
    """Store-and-forward: upload complete files from a local folder to S3, exactly once."""
    from labflow.ingest.forward import forward_command

    return forward_command(args, settings)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Write realistic demo instrument files into the inbox, or seed a past month of history."""
    from labflow.demo.files import write_demo

    settings.ensure_dirs()
    if getattr(args, "history", None):
        return seed_demo_history(args.history, settings)
    written = write_demo(settings.inbox, args.count, seed=args.seed)
    print(f"wrote {len(written)} demo files into {settings.inbox}")
    return 0


def seed_demo_history(spec: str, settings: Settings) -> int:
    """Ingest, process (real Dagster runs, in this process) and review files spread over past days."""
    import dagster as dg

    from labflow.store.catalog import Catalog
    from labflow.demo.history import parse_days, seed_history
    from labflow.devserver import prepare_dagster_home
    from lab_assets.gateway import DagsterGateway

    days = parse_days(spec)
    prepare_dagster_home(settings)
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    catalog = Catalog(settings.database_url)
    with dg.DagsterInstance.get() as instance:
        gateway = DagsterGateway(instance)

        def process(keys: list[str]) -> None:
            print(f"processing {len(keys)} files in batches of {settings.batch_size} ...", flush=True)
            gateway.process_now(keys, batch_size=settings.batch_size)

        summary = seed_history(settings, catalog, days, process)
    print(f"history of {days} days: {summary.files} files, {summary.processed} processed, {summary.failed} failed; "
          f"{summary.confirmed} confirmed, {summary.rejected} rejected, {summary.drafts} drafts")
    return 0


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    """Copy files (and their sidecars) into the inbox, atomically."""
    from labflow.ingest.register import find_sidecar
    from labflow.store.atomic import write_atomic

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
    from labflow.store.catalog import Catalog

    catalog = Catalog(settings.database_url)
    filters = {k: getattr(args, k) for k in ("instrument", "operator", "material", "experiment_id", "status")}
    runs = catalog.find_runs(**{k: v for k, v in filters.items() if v}, limit=args.limit)
    print(f"{'run key':<44} {'status':<10} {'instrument':<12} {'operator':<8} {'quality':>7}  experiment")
    for run in runs:
        quality = f"{run.quality_score:.2f}" if run.quality_score is not None else "-"
        print(f"{run.run_key:<44} {run.status:<10} {run.instrument or '-':<12} {run.operator or '-':<8} "
              f"{quality:>7}  {run.experiment_id or '-'}")
    return 0


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    """Re-send a recorded event stream (CSV/JSONL) to the API at N times its pace."""
    from labflow.streams.replay import replay_command

    return replay_command(args, settings)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    dev = sub.add_parser("dev", help="start the Dagster UI and daemon on the data directory")
    dev.add_argument("--port", type=int, default=3000)
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--demo", type=int, default=0, metavar="N", help="write N demo files first")
    dev.set_defaults(func=cmd_dev)
    api = sub.add_parser("api", help="serve the REST API")
    api.add_argument("--port", type=int, default=0, help="default LABFLOW_API_PORT (8000)")
    api.add_argument("--host", default="127.0.0.1")
    api.set_defaults(func=cmd_api)
    ui = sub.add_parser("ui", help="serve the labelling app")
    ui.add_argument("--port", type=int, default=0, help="default LABFLOW_UI_PORT (7860)")
    ui.add_argument("--host", default="127.0.0.1")
    ui.set_defaults(func=cmd_ui)
    keys = sub.add_parser("keys", help="manage API keys (create shows the key once)")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create a key and print it once")
    create.add_argument("--name", required=True)
    create.add_argument("--scope", choices=("read", "write", "admin"), default="read")
    keys_sub.add_parser("list", help="list keys (names, scopes, prefixes; never the keys)")
    revoke = keys_sub.add_parser("revoke", help="revoke a key by name")
    revoke.add_argument("--name", required=True)
    keys.set_defaults(func=cmd_keys)
    forward = sub.add_parser("forward", help="upload complete files from a local folder to S3, exactly once")
    forward.add_argument("--from", dest="source", metavar="DIR", help="local staging folder to watch")
    forward.add_argument("--to", dest="target", metavar="s3://BUCKET/PREFIX", help="where to upload")
    forward.add_argument("--status", action="store_true", help="show pending / sent / failed files and exit")
    forward.add_argument("--once", action="store_true", help="upload what is complete now, then exit")
    forward.add_argument("--endpoint-url", help="S3-compatible endpoint (default: AWS, or AWS_ENDPOINT_URL)")
    forward.add_argument("--interval", type=float, default=2.0, help="seconds between folder scans")
    forward.set_defaults(func=cmd_forward)
    demo = sub.add_parser("demo", help="write realistic demo instrument files into the inbox")
    demo.add_argument("--count", type=int, default=12)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--history", metavar="DAYS", help="instead: seed a processed, reviewed past, e.g. 30d")
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
    replay = sub.add_parser("replay", help="re-send a recorded event stream (CSV/JSONL) to the API")
    replay.add_argument("file", help="CSV with a header, or JSON lines (rows or standard events)")
    replay.add_argument("--source", required=True, help="the source to send to (sources/<name>.yaml)")
    replay.add_argument("--speed", type=float, default=1.0, help="N times the recorded pace; 0 = at once")
    replay.add_argument("--batch", type=int, default=500, help="at most this many events per request")
    replay.add_argument("--restamp", action="store_true", help="shift the timestamps so the first is now")
    replay.add_argument("--url", help="the API (default http://127.0.0.1:LABFLOW_API_PORT)")
    replay.add_argument("--key", help="an API key with write scope (when auth is on)")
    replay.set_defaults(func=cmd_replay)
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
