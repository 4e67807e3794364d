"""deploy/monitoring against the real thing: Debian's Prometheus scrapes a real API (uvicorn) with the shipped
scrape config and rules while files are processed; promtool checks the config and rules and runs the rule
unit tests; every Grafana dashboard query names a metric the API really exposes (Grafana is not in Debian)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from labflow.ingest.forward import JOURNAL_NAME, Journal
from labflow.settings import PROJECT_ROOT
from tests.api.conftest import InboxDaemon, Lab, demo_lab, uvicorn_server
from tests.lab_fixtures import drop, signal_csv

MONITORING = PROJECT_ROOT / "deploy" / "monitoring"
PROMETHEUS_DIR = MONITORING / "prometheus"
DASHBOARDS = MONITORING / "grafana" / "dashboards"
METRIC = re.compile(r"\blabflow_[a-z0-9_]+\b")
PROMQL_WORDS = {"le"}


def tool(name: str) -> str:
    """The path of a Prometheus tool (Debian's ``prometheus`` package); skip without it unless on CI."""
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if path is None:
        message = f"{name} is not installed (apt-get install prometheus)"
        if "CI" in os.environ:
            pytest.fail(f"{message}; CI must run the monitoring tests", pytrace=False)
        pytest.skip(message)
    return path


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("promtool"), *args], capture_output=True, text=True, timeout=60, check=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """The demo lab (4 runs, 1 broken, 1 confirmed) with a forwarder folder holding one unsent file; its
    metrics are read again at every scrape."""
    root = tmp_path_factory.mktemp("monitoring_lab")
    outbox = root / "outbox"
    outbox.mkdir()
    journal = Journal(outbox / JOURNAL_NAME)
    journal.enqueue("hplc-01/late.csv", 10, 1, "0" * 64)
    journal.close()
    with demo_lab(root, LABFLOW_METRICS_REFRESH_S="0", LABFLOW_FORWARD_DIRS=str(outbox)) as lab:
        yield lab


def exposed_names(metrics_text: str) -> set[str]:
    """Every sample name the exposition may hold: families declared by ``# TYPE`` and their suffixes."""
    names = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", metrics_text, re.M):
        suffixes = {"histogram": ["_bucket", "_count", "_sum"], "summary": ["_count", "_sum"]}.get(kind, [])
        names.update([name, *(name + suffix for suffix in suffixes)])  # a counter's TYPE line names it with _total
    return names


def rendered_config(target: str, folder: Path) -> Path:
    """The shipped scrape config pointed at ``target``, scraping every second, its rules by absolute path."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(PROMETHEUS_DIR / name) for name in config["rule_files"]]
    (job,) = config["scrape_configs"]
    job["static_configs"][0]["targets"] = [target]
    path = folder / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def prometheus(lab: Lab, tmp_path: Path) -> Iterator[tuple[str, Lab]]:
    """A real Prometheus (own process group) scraping the lab's API served by uvicorn; yields its URL."""
    binary = tool("prometheus")
    with uvicorn_server(lab.app) as api_url:
        config = rendered_config(api_url.removeprefix("http://"), tmp_path)
        assert promtool("check", "config", str(config)).returncode == 0
        port = free_port()
        log = (tmp_path / "prometheus.log").open("w")
        process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: httpx.get(f"{url}/-/ready", timeout=2).status_code == 200, "Prometheus to be ready",
                     process, tmp_path / "prometheus.log")
            yield url, lab
        finally:
            os.killpg(process.pid, 15)
            process.wait(20)
            log.close()


def wait_for(condition, what: str, process: subprocess.Popen | None = None, log: Path | None = None,
             timeout_s: float = 45.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if condition():
                return
        except (httpx.HTTPError, KeyError, IndexError, ValueError):
            pass
        if process is not None and process.poll() is not None:
            pytest.fail(f"Prometheus exited: {log.read_text()[-2000:] if log else ''}")
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout_s:g} s for {what}" + (f"\n{log.read_text()[-2000:]}" if log else ""))
        time.sleep(0.25)


def query(url: str, promql: str) -> dict[str, float]:
    """Prometheus's answer to an instant query, as ``{label values joined by ',': value}``."""
    body = httpx.get(f"{url}/api/v1/query", params={"query": promql}, timeout=5).json()
    assert body["status"] == "success", body
    return {",".join(f"{k}={v}" for k, v in sorted(r["metric"].items()) if k not in ("__name__", "job", "instance")):
            float(r["value"][1]) for r in body["data"]["result"]}


def test_prometheus_scrapes_the_whole_flow_from_a_real_api(prometheus):
    url, lab = prometheus
    try:
        wait_for(lambda: query(url, 'up{job="labflow"}') == {"": 1.0}, "the first scrape of the API")
    except pytest.fail.Exception:
        targets = httpx.get(f"{url}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
        pytest.fail(f"Prometheus cannot scrape the API: {[(t['scrapeUrl'], t['lastError']) for t in targets]}")
    wait_for(lambda: query(url, "labflow_files_ingested_total") == {"source=inbox": 5.0}, "5 ingested files")
    assert query(url, "labflow_files_seen_total") == {"source=inbox": 5.0}
    assert query(url, "sum(labflow_files_quarantined)") == {"": 1.0}  # broken.csv
    arrival = query(url, "sum by (instrument) (labflow_etl_arrival_to_peaks_seconds_count)")
    assert arrival == {"instrument=ecg-01": 1.0, "instrument=furnace-02": 1.0, "instrument=hplc-01": 1.0,
                       "instrument=photodet-03": 1.0}
    assert query(url, "labflow_review_confirmations_total") == {"": 1.0}
    assert query(url, "labflow_runs") ["status=processed"] == 4.0
    finished = query(url, "sum by (status) (labflow_dagster_runs_finished_total)")
    assert finished.get("status=success", 0) >= 1 and set(finished) <= {"status=success", "status=failure"}
    assert query(url, "labflow_dagster_run_queue_length") == {"": 0.0}
    assert query(url, 'labflow_forward_files{state="pending"}')[f"folder={lab.settings.forward_dirs[0]},state=pending"] == 1
    # The inbox sensor never ticked on this instance (the test ticks it in-process): every inbox file waits.
    assert query(url, "labflow_inbox_files_waiting") == {"": 5.0}
    assert query(url, "labflow_inbox_oldest_waiting_seconds")[""] > 0

    # A few more files: one new, and the five old ones again (same bytes: duplicates, not new runs).
    drop(lab.settings.inbox, "hplc-01/run_late.csv", signal_csv(seed=11), sidecar={"instrument": "hplc-01"})
    InboxDaemon(lab.settings, lab.instance, lab.resources).ingest_all()
    wait_for(lambda: query(url, "labflow_files_ingested_total") == {"source=inbox": 6.0}, "the new file")
    assert query(url, "labflow_files_duplicate_total") == {"source=inbox": 5.0}
    assert query(url, "labflow_files_seen_total") == {"source=inbox": 11.0}
    wait_for(lambda: query(url, 'sum(labflow_etl_arrival_to_peaks_seconds_count{instrument="hplc-01"})') == {"": 2.0},
             "the new file's peaks")
    assert query(url, "labflow_metrics_refresh_errors_total > 0") == {}

    rules = httpx.get(f"{url}/api/v1/rules", timeout=5).json()["data"]["groups"]
    shipped = yaml.safe_load((PROMETHEUS_DIR / "rules.yml").read_text())["groups"]
    assert sorted(g["name"] for g in rules) == sorted(g["name"] for g in shipped)
    assert all(rule["health"] == "ok" for group in rules for rule in group["rules"]), rules


def test_every_dashboard_query_names_a_metric_the_api_exposes(lab: Lab):
    exposed = exposed_names(lab.client.get("/metrics").text)
    dashboards = sorted(DASHBOARDS.glob("*.json"))
    assert {d.stem for d in dashboards} == {"labflow-ingest-etl", "labflow-review", "labflow-streams",
                                            "labflow-forecasting"}
    for path in dashboards:
        board = json.loads(path.read_text())
        assert board["uid"] and board["panels"], path.name
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == "labflow-prometheus", (path.name, panel["title"])
            for target in panel["targets"]:
                names = set(METRIC.findall(target["expr"])) - PROMQL_WORDS
                assert names, (path.name, panel["title"], target["expr"])
                assert names <= exposed, (path.name, panel["title"], sorted(names - exposed))


def test_every_alert_rule_names_a_metric_the_api_exposes(lab: Lab):
    exposed = exposed_names(lab.client.get("/metrics").text)
    for group in yaml.safe_load((PROMETHEUS_DIR / "rules.yml").read_text())["groups"]:
        for rule in group["rules"]:
            names = set(METRIC.findall(rule["expr"]))
            assert names <= exposed, (rule["alert"], sorted(names - exposed))


def test_promtool_accepts_the_shipped_config_and_rules_and_their_unit_tests():
    for args in (("check", "config", str(PROMETHEUS_DIR / "prometheus.yml")),
                 ("check", "rules", str(PROMETHEUS_DIR / "rules.yml")),
                 ("test", "rules", str(PROMETHEUS_DIR / "rules_test.yml"))):
        result = promtool(*args)
        assert result.returncode == 0, result.stdout + result.stderr


def test_compose_runs_prometheus_and_grafana_on_the_monitoring_profile():
    compose = yaml.safe_load((PROJECT_ROOT / "deploy" / "docker-compose.yml").read_text())
    services = compose["services"]
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["monitoring"]
        for volume in services[name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (PROJECT_ROOT / "deploy" / source).exists(), volume
    assert all("monitoring" not in s.get("profiles", []) for n, s in services.items()
               if n not in ("prometheus", "grafana"))
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    api_port = services["api"]["ports"][0].split(":")[-1]
    assert config["scrape_configs"][0]["static_configs"][0]["targets"] == [f"api:{api_port}"]
    datasource = yaml.safe_load((MONITORING / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
    assert datasource["datasources"][0]["uid"] == "labflow-prometheus"
