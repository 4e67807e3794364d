"""Operations endpoints: stats against the demo lab, chart PNGs, alerts, recipe templates, settings."""

from __future__ import annotations

import io

from matplotlib.image import imread

from labflow.ops.alerts import AlertStore, run_failed_alert


def test_stats_count_the_demo_lab_exactly(demo):
    body = demo.client.get("/api/v1/stats", params={"period": "7d"}).json()
    runs = demo.catalog.find_runs(limit=100)
    assert body["kpis"]["files_ingested"] == len(runs) == 5
    assert body["kpis"]["runs_failed"] == 1 and body["kpis"]["runs_processed"] == 4
    assert body["kpis"]["confirmed"] == 1
    assert body["kpis"]["etl_seconds_per_file_p50"] is not None  # ETL runs come from the Dagster instance
    assert body["runs_by_status"] == {"failed": 1, "processed": 4}
    assert body["previous"]["files_ingested"] == 0 and body["change"]["files_ingested"] is None
    assert len(body["by_bucket"]) == 7 and sum(b["files"] for b in body["by_bucket"]) == 5
    hplc = demo.client.get("/api/v1/stats", params={"period": "30d", "instrument": "hplc-01"}).json()
    assert hplc["kpis"]["files_ingested"] == 1 and hplc["filters"] == {"instrument": "hplc-01"}


def test_stats_exports_csv_and_every_chart_as_png(demo):
    csv = demo.client.get("/api/v1/stats", params={"period": "today", "format": "csv"})
    assert csv.status_code == 200 and csv.text.startswith("bucket,files,")
    for chart in ("activity", "reviews", "runs_by_status", "quality"):
        response = demo.client.get(f"/api/v1/stats/charts/{chart}.png", params={"period": "7d", "bucket": "week"})
        assert response.status_code == 200 and response.headers["content-type"] == "image/png"
        assert imread(io.BytesIO(response.content), format="png").shape[2] in (3, 4)


def test_bad_stats_queries_are_clear_4xx(demo):
    for params in ({"period": "fortnight"}, {"period": "custom"}, {"bucket": "year"},
                   {"period": "custom", "since": "2026-02-01", "until": "2026-01-01"}):
        response = demo.client.get("/api/v1/stats", params=params)
        assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
    assert demo.client.get("/api/v1/stats/charts/pie.png").status_code == 422


def test_alerts_list_and_acknowledge(api):
    AlertStore(api.catalog).raise_alerts([run_failed_alert("abc123", "__ASSET_JOB", "boom", ["r1"])])
    (alert,) = api.client.get("/api/v1/alerts", params={"state": "open"}).json()
    assert alert["severity"] == "critical" and alert["open"] is True
    acked = api.client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", json={"by": "ana"}).json()
    assert acked["acknowledged_by"] == "ana" and acked["open"] is False
    assert api.client.get("/api/v1/alerts", params={"state": "open"}).json() == []
    assert api.client.post("/api/v1/alerts/999/acknowledge", json={"by": "ana"}).status_code == 404
    assert api.client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", json={}).status_code == 422


def test_recipes_import_export_versions_and_diff(api):
    listed = {r["id"]: r for r in api.client.get("/api/v1/recipes").json()}
    assert listed["chromatograph"]["source"] == "shipped"
    text = api.client.get("/api/v1/recipes/chromatograph").text
    bad = api.client.post("/api/v1/recipes", json={"text": text.replace("window: 9", "window: -3")})
    assert bad.status_code == 422 and "smoothing.window" in bad.json()["detail"]
    created = api.client.post("/api/v1/recipes", json={"text": text.replace("window: 9", "window: 21")})
    assert created.status_code == 201 and created.json()["source"] == "imported"
    versions = api.client.get("/api/v1/recipes/chromatograph/versions").json()
    assert len(versions) == 2
    diff = api.client.get("/api/v1/recipes/chromatograph/diff",
                          params={"from": versions[0]["content_hash"], "to": created.json()["content_hash"]})
    assert "+  window: 21" in diff.text
    as_json = api.client.get("/api/v1/recipes/chromatograph", params={"format": "json"}).json()
    assert as_json["smoothing"]["window"] == 21
    assert api.client.get("/api/v1/recipes/nope").status_code == 404


def test_settings_show_sources_and_accept_only_safe_valid_edits(api):
    rows = {r["name"]: r for r in api.client.get("/api/v1/settings").json()}
    assert rows["etl_mode"]["editable"] is False and rows["alerts.min_quality"]["editable"] is True
    changed = api.client.patch("/api/v1/settings", json={"changes": {"alerts.min_quality": 0.8,
                                                                     "default_recipes.hplc-01": "default"}})
    rows = {r["name"]: r for r in changed.json()}
    assert rows["alerts.min_quality"]["value"] == "0.8" and rows["default_recipes.hplc-01"]["value"] == "default"
    for changes in ({"etl_mode": "lazy"}, {"alerts.min_quality": 7}, {"default_recipes.uv": "nope"}):
        response = api.client.patch("/api/v1/settings", json={"changes": changes})
        assert response.status_code == 422, changes
    rows = {r["name"]: r for r in api.client.get("/api/v1/settings").json()}
    assert rows["alerts.min_quality"]["value"] == "0.8"
