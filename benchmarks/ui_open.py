"""Opening a run in the labelling app: time to build the run view for 100k, 1M and 5M points.

    python benchmarks/ui_open.py [--sizes 100000,1000000,5000000] [--json PATH]

A run (time + two channels, each beside its cleaned column; a peak every 10k samples) is written
to a temporary data directory as the ETL assets would. **Ours** is what the app does when a person
opens the run: :func:`ui.review_logic.open_run` and :func:`ui.review_logic.render` (reading only the
needed Parquet columns, min/max downsampling on the server, the draft's objective, the peak table,
the histogram, the history) and Gradio's serialisation of the chart data. **Zoom** redraws a 1 %
window from the cached frame. The **naive** baseline sends every point: read the file, build the
long table of the raw and cleaned channel, serialise it for the chart (the browser would then get
all of it). Keys: ``open_<n>_s``, ``zoom_<n>_s``, ``naive_<n>_s``, ``payload_<n>_kb``,
``naive_payload_<n>_mb``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import best_of, print_table, write_json  # noqa: E402
from labflow.store.catalog import Catalog  # noqa: E402
from labflow.processing.peaks import detect_peaks  # noqa: E402
from labflow.processing.recipes import Recipe  # noqa: E402
from labflow.settings import PROJECT_ROOT, Settings  # noqa: E402
from labflow.store.outputs import OutputStore  # noqa: E402

CHANNELS = ("ch_a", "ch_b")


def write_run(settings: Settings, catalog: Catalog, n: int) -> str:
    """A processed run of ``n`` samples: catalog row, clean series, peaks and quality report."""
    key = f"bench-{n}"
    rng = np.random.default_rng(n)
    t = np.arange(n) * 1e-3
    phase = (np.arange(n) % 10_000) - 5_000
    a = 3.0 * np.exp(-0.5 * (phase / 40.0) ** 2) + rng.normal(0, 0.05, n)
    b = np.sin(t / 3.0) + rng.normal(0, 0.05, n)
    frame = pl.DataFrame({"time_s": t, "ch_a": a, "ch_a_clean": a, "ch_b": b, "ch_b_clean": b})
    outputs = OutputStore(settings.storage)
    outputs.write_frame("clean_series", key, frame)
    peaks = detect_peaks(t, a, Recipe(id="bench").peaks).table.with_columns(pl.lit("ch_a").alias("channel"))
    outputs.write_frame("peaks", key, peaks)
    outputs.write_json("quality_report", key, {"score": 1.0, "flags": [], "explanations": {}})
    catalog.register_file(run_key=key, sha256=f"{n:064d}", size_bytes=n, original_name=f"{key}.csv",
                          source=f"inbox:{key}.csv", object_path="/dev/null", sidecar_name=None, sidecar_text=None,
                          detected_at=datetime.now(timezone.utc))
    catalog.set_status(key, "processed")
    return key


def open_view(ctx, key: str) -> int:
    """What the app does when a person opens the run, from a cold cache; returns the chart payload size."""
    import gradio as gr

    from ui import review_logic
    from ui.run_data import SeriesCache

    ctx.series = SeriesCache(ctx.outputs)
    view = review_logic.render(ctx, review_logic.open_run(ctx, key, "bench"))
    return _payload(gr.LinePlot(x="time_s", y="value", color="series").postprocess(view.chart.frame))


def zoom_view(ctx, key: str, window: tuple[float, float]) -> int:
    import gradio as gr

    from ui import review_logic

    state = review_logic.zoom(review_logic.ViewState(run_key=key), *window)
    view = review_logic.render(ctx, state)
    return _payload(gr.LinePlot(x="time_s", y="value", color="series").postprocess(view.chart.frame))


def naive_view(outputs: OutputStore, key: str) -> int:
    """Every point of the raw and cleaned channel, serialised for the chart."""
    import gradio as gr

    frame = pl.read_parquet(outputs.local_path("clean_series", key))
    long = pd.concat([pd.DataFrame({"time_s": frame["time_s"].to_numpy(), "value": frame[c].to_numpy(),
                                    "series": c}) for c in ("ch_a", "ch_a_clean")], ignore_index=True)
    return _payload(gr.LinePlot(x="time_s", y="value", color="series").postprocess(long))


def _payload(data) -> int:
    return len(json.dumps(data.model_dump()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000,5000000")
    parser.add_argument("--json", default=None, help="write the headline figures here")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    import dagster as dg

    from lab_assets.gateway import DagsterGateway
    from ui.context import AppContext

    rows, figures = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env({"LABFLOW_HOME": tmp, "LABFLOW_RECIPES_DIR": str(PROJECT_ROOT / "recipes")})
        settings.ensure_dirs()
        ctx = AppContext.create(settings, DagsterGateway(dg.DagsterInstance.ephemeral()))
        for n in sizes:
            key = write_run(settings, ctx.catalog, n)
            opened, payload = best_of(lambda: open_view(ctx, key))
            duration = n * 1e-3
            zoomed, _ = best_of(lambda: zoom_view(ctx, key, (duration * 0.5, duration * 0.51)))
            start = time.perf_counter()
            naive_payload = naive_view(ctx.outputs, key)
            naive = time.perf_counter() - start
            rows.append([f"{n:,}", opened, zoomed, naive, f"{payload / 1e3:.0f} kB", f"{naive_payload / 1e6:.0f} MB",
                         f"{naive / opened:.0f}x"])
            tag = f"{n // 1000}k" if n < 1_000_000 else f"{n // 1_000_000}m"
            figures.update({f"open_{tag}_s": round(opened, 4), f"zoom_{tag}_s": round(zoomed, 4),
                            f"naive_{tag}_s": round(naive, 4), f"payload_{tag}_kb": round(payload / 1e3, 1),
                            f"naive_payload_{tag}_mb": round(naive_payload / 1e6, 1)})
        ctx.catalog.dispose()
    print_table(["points", "open (s)", "zoom 1% (s)", "naive: every point (s)", "payload", "naive payload",
                 "naive/open"], rows)
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
