"""Health and Prometheus metrics: route templates and statuses, runs by status, one registry per app."""

from __future__ import annotations

import re
import time

from tests.api.conftest import make_settings, open_lab


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text, or ``None``."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    match = re.search(rf"^{name}\{{{re.escape(wanted)}\}} (\S+)$", text, re.M)
    return float(match.group(1)) if match else None


def test_health_reports_the_catalog_and_dagster(demo):
    assert demo.client.get("/healthz").json() == {"status": "ok", "catalog": True, "dagster": True,
                                                   "auth_required": False, "etl_mode": "eager"}


def test_metrics_count_requests_by_route_template_and_runs_by_status(demo):
    before = demo.client.get("/metrics").text
    key = demo.runs["run"]
    demo.client.get(f"/api/v1/runs/{key}")
    demo.client.get("/api/v1/runs/unknown-0000000000")
    text = demo.client.get("/metrics").text
    route = "/api/v1/runs/{run_key}"
    for status in ("200", "404"):
        labels = {"method": "GET", "route": route, "status": status}
        assert sample(text, "labflow_api_requests_total", **labels) == \
            (sample(before, "labflow_api_requests_total", **labels) or 0) + 1
    assert sample(text, "labflow_api_request_seconds_count", method="GET", route=route) >= 2
    assert sample(text, "labflow_runs", status="processed") == 4
    assert sample(text, "labflow_runs", status="failed") == 1
    assert sample(text, "labflow_runs_review", review_status="confirmed") == 1
    assert key not in text  # route templates, never run keys


def test_each_app_has_its_own_registry(api):
    other = open_lab(api.settings, api.instance)
    with other.client:
        api.client.get("/api/v1/runs")
        assert 'route="/api/v1/runs"' in api.client.get("/metrics").text
        assert 'route="/api/v1/runs"' not in other.client.get("/metrics").text
    other.catalog.dispose()


def test_the_s3_backlog_is_in_metrics(tmp_path, instance, s3_endpoint):
    """Objects under a watched S3 prefix that the S3 sensor has not taken (it never ticked here) wait."""
    bucket = s3_endpoint.new_bucket()
    client = s3_endpoint.client()
    for key in ("incoming/a.csv", "incoming/b.csv", "incoming/b.csv.meta.json"):
        client.put_object(Bucket=bucket, Key=key, Body=b"time,value\n0,1\n")
    settings = make_settings(tmp_path / "home", LABFLOW_S3_SOURCES=f"s3://{bucket}/incoming",
                             LABFLOW_S3_ENDPOINT_URL=s3_endpoint.url, LABFLOW_METRICS_REFRESH_S="0")
    lab = open_lab(settings, instance)
    source = f"s3://{bucket}/incoming/"
    with lab.client:
        text = lab.client.get("/metrics").text
        assert sample(text, "labflow_s3_objects_waiting", source=source) == 2
        assert sample(text, "labflow_s3_listing_complete", source=source) == 1
        assert 0 <= sample(text, "labflow_s3_oldest_waiting_seconds", source=source) < 300
        assert sample(text, "labflow_metrics_refresh_errors_total", part="s3") == 0
        s3_endpoint.stop()  # an outage: counted once, the last values kept, later scrapes do not wait on it
        try:
            during = [timed_scrape(lab) for _ in range(3)]
        finally:
            s3_endpoint.start()
    lab.catalog.dispose()
    assert all(sample(text, "labflow_s3_objects_waiting", source=source) == 2 for _, text in during)
    assert [sample(text, "labflow_metrics_refresh_errors_total", part="s3") for _, text in during] == [1, 1, 1]
    assert max(seconds for seconds, _ in during[1:]) < 2.0


def timed_scrape(lab) -> tuple[float, str]:
    started = time.perf_counter()
    text = lab.client.get("/metrics").text
    return time.perf_counter() - started, text
