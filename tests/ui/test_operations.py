"""Operations tab logic on a real instance: statistics, KPI cards, stages, alerts, exports."""

from __future__ import annotations

import io

import pytest
from matplotlib.image import imread

from labflow.ops.alerts import AlertStore, run_failed_alert
from labflow.review.annotations import Annotation
from labflow.review.store import ReviewStore
from tests.lab_fixtures import process_run
from tests.ui.conftest import two_peak_csv
from ui.operations import (StatsRequest, acknowledge, alerts_table, export_files, kpi_cards_html, load_stats,
                           stage_table)


@pytest.fixture
def lab(app_context, lab_settings, catalog, instance, lab_resources):
    keys = [process_run(lab_settings, catalog, instance, lab_resources, f"hplc-01/r{i}.csv", two_peak_csv(i))
            for i in range(3)]
    ReviewStore(catalog).confirm(keys[0], "ana", Annotation(), base_version=0)
    ReviewStore(catalog).confirm(keys[1], "ana", Annotation(verdict="invalid"), base_version=0)
    return app_context, keys


def test_stats_cards_and_stages_count_what_happened(lab):
    ctx, keys = lab
    stats = load_stats(ctx.catalog, ctx.gateway, StatsRequest(period="7d", instrument="hplc-01"))
    assert (stats["kpis"]["files_ingested"], stats["kpis"]["confirmed"], stats["kpis"]["rejected"]) == (3, 1, 1)
    cards = kpi_cards_html(stats)
    assert "Files ingested</div><div class=\"kpi-value\">3</div>" in cards and "before: 0" in cards
    stages = dict(stage_table(ctx.catalog).itertuples(index=False))
    assert stages["processing: processed"] == 3 and stages["review: confirmed"] == 1
    assert stages["review: rejected"] == 1 and stages["review: new"] + stages["review: needs review"] == 1


def test_bad_choices_are_explained(lab):
    ctx, _ = lab
    for request, message in [(StatsRequest(period="custom", since="yesterday", until="2026-01-01"), "look like"),
                             (StatsRequest(period="custom"), "look like"),
                             (StatsRequest(bucket="year"), "unknown bucket")]:
        with pytest.raises(ValueError, match=message):
            load_stats(ctx.catalog, ctx.gateway, request)


def test_acknowledge_and_export(lab, tmp_path):
    ctx, _ = lab
    store = AlertStore(ctx.catalog)
    store.raise_alerts([run_failed_alert("r1", "job", "boom", ["x"])])
    alert_id = str(store.list()[0].id)
    with pytest.raises(ValueError, match="name"):
        acknowledge(store, alert_id, " ")
    with pytest.raises(ValueError, match="number"):
        acknowledge(store, "first", "ana")
    assert acknowledge(store, alert_id, "ana") == f"alert {alert_id} acknowledged by ana"
    stats = load_stats(ctx.catalog, ctx.gateway, StatsRequest())
    files = export_files(stats, stage_table(ctx.catalog), alerts_table(store.list()), tmp_path)
    names = sorted(p.suffix for p in files)
    assert names == [".csv"] * 3 + [".png"] * 4
    for path in files:
        if path.suffix == ".png":
            assert imread(io.BytesIO(path.read_bytes()), format="png").std() > 0
        else:
            assert len(path.read_text().splitlines()) >= 2
