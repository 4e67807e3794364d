"""PNG and CSV exports of the operations statistics."""

from __future__ import annotations

import io
from datetime import datetime, timezone

import polars as pl
import pytest
from matplotlib.image import imread

from labflow.ops.charts import CHARTS, chart_png, table_csv
from labflow.ops.periods import parse_period
from labflow.ops.stats import EVENT_COUNTS_SCHEMA, RUN_COUNTS_SCHEMA, VERSION_COUNTS_SCHEMA, OpsData, compute_stats

NOW = datetime(2026, 3, 10, 12, tzinfo=timezone.utc)


@pytest.fixture
def stats() -> dict:
    # Today: one processed run (quality 0.9, fifth bin) and one failed, both arrived.
    runs = pl.DataFrame([(NOW.date(), True, "processed", 4, 1, 0.9, 1), (NOW.date(), True, "failed", None, 1, None, 0)],
                        schema=RUN_COUNTS_SCHEMA, orient="row")
    events = pl.DataFrame([(NOW.date(), True, "new", 2)], schema=EVENT_COUNTS_SCHEMA, orient="row")
    return compute_stats(OpsData(parse_period("7d", now=NOW), runs, events, pl.DataFrame(schema=VERSION_COUNTS_SCHEMA),
                                 backlog=1))


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
