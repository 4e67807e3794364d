"""Operations view logic (no Gradio): statistics for the chosen period, KPI cards, stages, alerts, exports."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from labflow.ops.alerts import Alert, AlertStore
from labflow.store.catalog import REVIEW_STATUSES, RUN_STATUSES, Catalog
from labflow.store.atomic import write_atomic
from labflow.ops.charts import CHARTS, chart_png, table_csv
from labflow.ops.periods import parse_period
from labflow.ops.stats import StatsFilters, compute_stats
from lab_assets.gateway import DagsterGateway

KPI_CARDS = (
    ("files_ingested", "Files ingested", "{:d}", True),
    ("runs_failed", "Failed runs", "{:d}", False),
    ("check_failures", "Failed checks", "{:d}", False),
    ("etl_seconds_per_file_p50", "ETL s/file p50", "{:.2f}", False),
    ("etl_seconds_per_file_p95", "ETL s/file p95", "{:.2f}", False),
    ("throughput_files_per_hour", "Files / hour", "{:.2f}", True),
    ("mean_quality", "Mean quality", "{:.2f}", True),
    ("confirmed_per_day", "Confirmed / day", "{:.2f}", True),
    ("backlog_awaiting_review", "Awaiting review", "{:d}", False),
)
SEVERITY_COLORS = {"critical": "#fde0dd", "warning": "#fff3cd", "info": "#e8f1fb"}


@dataclass(frozen=True)
class StatsRequest:
    """What the person chose: period, bucket, custom dates and filters (empty text = none)."""

    period: str = "7d"
    bucket: str = "day"
    since: str = ""
    until: str = ""
    instrument: str = ""
    recipe_hash: str = ""
    campaign: str = ""


def load_stats(catalog: Catalog, gateway: DagsterGateway, request: StatsRequest) -> dict[str, Any]:
    """Statistics for the request; raises ``ValueError`` with a readable message for bad input."""
    since = _date(request.since, "from") if request.period == "custom" else None
    until = _date(request.until, "until") if request.period == "custom" else None
    period = parse_period(request.period, since=since, until=until)
    if request.bucket not in ("day", "week", "month"):
        raise ValueError(f"unknown bucket {request.bucket!r}; use day, week or month")
    filters = StatsFilters(request.instrument or None, request.recipe_hash or None, request.campaign or None)
    return compute_stats(gateway.ops_data(catalog, period, filters), request.bucket)  # type: ignore[arg-type]


def kpi_cards_html(stats: dict[str, Any]) -> str:
    """KPI cards: value, the previous period's value and the change, coloured good/bad."""
    cards = []
    for key, label, fmt, higher_is_better in KPI_CARDS:
        value, before, change = stats["kpis"][key], stats["previous"][key], stats["change"].get(key)
        shown = "–" if value is None else fmt.format(value)
        previous = "–" if before is None else fmt.format(before)
        trend = ""
        if change is not None and change != 0:
            good = (change > 0) == higher_is_better
            trend = (f'<span style="color:{"#31a354" if good else "#d62728"}">'
                     f'{"▲" if change > 0 else "▼"} {abs(change) * 100:.0f} %</span>')
        cards.append(f'<div class="kpi"><div class="kpi-label">{html.escape(label)}</div>'
                     f'<div class="kpi-value">{shown}</div>'
                     f'<div class="kpi-prev">before: {previous} {trend}</div></div>')
    return f'<div class="kpi-grid">{"".join(cards)}</div>'


def stage_table(catalog: Catalog) -> pd.DataFrame:
    """Runs in each processing stage and review state right now."""
    rows = [{"stage": f"processing: {status}", "runs": catalog.count_runs(status=status)} for status in RUN_STATUSES]
    rows += [{"stage": f"review: {status.replace('_', ' ')}",
              "runs": catalog.count_runs(status="processed", review_status=status)} for status in REVIEW_STATUSES]
    return pd.DataFrame(rows)


BATCH_COLUMNS = ["started (UTC)", "files", "what happened", "Dagster run"]


def batch_table(gateway: DagsterGateway, limit: int = 10) -> pd.DataFrame:
    """The newest batches of arriving files, each with what happened to its files, so a red run in
    Dagster reads "19 processed, 1 quarantined (name: reason)" here without opening it."""
    rows = [[f"{b['started']:%Y-%m-%d %H:%M:%S}" if b["started"] else "queued", b["files"],
             b["outcome"] or b["status"].lower(), b["run_id"][:8]] for b in gateway.file_batches(limit)]
    return pd.DataFrame(rows, columns=BATCH_COLUMNS)


def alerts_table(alerts: list[Alert]) -> pd.DataFrame:
    """Alerts as a table, highlighted by severity (open ones in bold)."""
    frame = pd.DataFrame([{
        "id": a.id, "severity": a.severity, "kind": a.kind, "subject": a.subject, "message": a.message,
        "count": a.count, "first seen": f"{a.first_seen:%Y-%m-%d %H:%M}", "last seen": f"{a.last_seen:%Y-%m-%d %H:%M}",
        "state": "open" if a.open else ("resolved" if a.resolved_at else f"ack by {a.acknowledged_by}"),
    } for a in alerts], columns=["id", "severity", "kind", "subject", "message", "count", "first seen", "last seen",
                                 "state"])
    return frame


def style_alerts(frame: pd.DataFrame) -> Any:
    """A pandas Styler colouring rows by severity."""
    def colour(row: pd.Series) -> list[str]:
        background = SEVERITY_COLORS.get(row["severity"], "")
        weight = "bold" if row["state"] == "open" else "normal"
        return [f"background-color: {background}; font-weight: {weight}"] * len(row)

    return frame.style.apply(colour, axis=1)


def acknowledge(store: AlertStore, alert_id: str, who: str) -> str:
    """Acknowledge an alert by id; returns a message for the person."""
    if not who.strip():
        raise ValueError("enter your name at the top first")
    if not alert_id.strip().isdigit():
        raise ValueError("give the number of the alert (its id column)")
    alert = store.acknowledge(int(alert_id), who)
    return f"alert {alert.id} acknowledged by {alert.acknowledged_by}"


def export_files(stats: dict[str, Any], stages: pd.DataFrame, alerts: pd.DataFrame, folder: Path) -> list[Path]:
    """Every table as CSV and every chart as PNG, written into ``folder`` for download."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    files = {f"stats-by-{stats['period']['bucket']}-{stamp}.csv": table_csv(stats["by_bucket"]).encode(),
             f"stages-{stamp}.csv": stages.to_csv(index=False).encode(),
             f"alerts-{stamp}.csv": alerts.to_csv(index=False).encode()}
    files.update({f"{chart}-{stamp}.png": chart_png(stats, chart) for chart in CHARTS})
    paths = []
    for name, data in files.items():
        write_atomic(folder / name, data)
        paths.append(folder / name)
    return paths


def chart_files(stats: dict[str, Any], folder: Path) -> list[Path]:
    """The charts as PNG files (what the tab shows)."""
    paths = []
    for chart in CHARTS:
        path = folder / f"chart-{chart}.png"
        write_atomic(path, chart_png(stats, chart))
        paths.append(path)
    return paths


def _date(text: str, what: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"the {what} date must look like 2024-03-01, got {text!r}") from None
