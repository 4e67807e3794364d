"""PNG and CSV exports of the operations statistics."""

from __future__ import annotations

import io
from datetime import datetime, timezone

import polars as pl
import pytest
from matplotlib.image import imread

from labflow.ops.charts import CHARTS, chart_png, table_csv
from labflow.ops.periods import parse_period
from labflow.ops.stats import EVENTS_SCHEMA, RUNS_SCHEMA, VERSIONS_SCHEMA, OpsData, compute_stats

NOW = datetime(2026, 3, 10, 12, tzinfo=timezone.utc)


@pytest.fixture
def stats() -> dict:
    runs = pl.DataFrame([("r1", NOW, "processed", "hplc", "h", None, 0.9, "new"),
                         ("r2", NOW, "failed", "hplc", "h", None, None, "new")], schema=RUNS_SCHEMA, orient="row")
    events = pl.DataFrame([("r1", "new", NOW), ("r2", "new", NOW)], schema=EVENTS_SCHEMA, orient="row")
    return compute_stats(OpsData(runs, events, pl.DataFrame(schema=VERSIONS_SCHEMA)), parse_period("7d", now=NOW))


@pytest.mark.parametrize("chart", CHARTS)
def test_every_chart_is_a_valid_png(stats, chart):
    png = chart_png(stats, chart)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = imread(io.BytesIO(png), format="png")
    assert image.shape[:2] == (320, 700) and image.std() > 0  # not a blank picture


def test_unknown_chart_is_refused(stats):
    with pytest.raises(ValueError, match="unknown chart"):
        chart_png(stats, "pie_in_the_sky")


def test_tables_export_as_csv(stats):
    text = table_csv(stats["by_bucket"])
    lines = text.strip().splitlines()
    assert lines[0] == "bucket,files,duplicates,failed,confirmed,rejected,check_failures" and len(lines) == 8
    assert lines[-1].startswith("2026-03-10,2,0,1,")
