"""What the Models tab shows and does, without a browser: assets, versions with their backtest metrics, the
backtest chart, training from an uploaded CSV, activation and rollback."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from matplotlib.figure import Figure

from lab_assets.forecasting import FORECASTING_ASSETS, TrainingJob, launch_training, training_job
from labflow.forecasting.backtest import quality_warnings
from labflow.forecasting.model import ForecastParams
from labflow.forecasting.registry import ModelRegistry, RegistryError, UnknownAsset, UnknownVersion
from labflow.forecasting.store import check_asset_id, load_backtest
from labflow.keys import sha256_hex
from labflow.settings import Settings
from labflow.store.outputs import MissingOutputError, OutputStore

ASSET_COLUMNS = ["asset", "versions", "active", "newest"]
VERSION_COLUMNS = ["version", "active", "trained (UTC)", "MAE", "naive MAE", "MAE / naive", "MAPE %",
                   "interval coverage", "warnings", "horizon", "trees", "data (sha256)"]
STEP_LABELS = {"energy_history": "history checked", "forecast_model": "model trained",
               "forecast_evaluation": "backtest done"}
SHOWN_DAYS = 14


@dataclass(frozen=True)
class Progress:
    """A training job as the tab shows it: a sentence and the fraction done (0–1)."""

    text: str
    fraction: float
    finished: bool


def asset_rows(registry: ModelRegistry) -> list[list[Any]]:
    return [[a.asset_id, a.versions, a.active if a.active is not None else "none", a.latest]
            for a in registry.assets()]


def version_rows(registry: ModelRegistry, asset_id: str) -> list[list[Any]]:
    """One row per version, newest first, in :data:`VERSION_COLUMNS` order."""
    try:
        versions = registry.versions(asset_id)
    except UnknownAsset:
        return []
    rows = []
    for v in versions:
        m = v.metrics
        rows.append([v.version, "✓" if v.active else "", f"{v.created_at:%Y-%m-%d %H:%M}", _num(m.get("mae")),
                     _num(m.get("naive_mae")), _num(m.get("mae_ratio_vs_naive")), _num(m.get("mape_pct"), 1),
                     _num(m.get("interval_coverage")), "⚠ " + "; ".join(_warnings(m)) if _warnings(m) else "",
                     v.params.get("horizon", ""), v.params.get("n_estimators", ""), v.data_hash[:12]])
    return rows


def version_choices(registry: ModelRegistry, asset_id: str | None) -> tuple[list[int], int | None]:
    """The asset's version numbers (newest first) and the one shown by default: the active, else the newest."""
    chosen = _chosen(registry, asset_id, None)
    if chosen is None:
        return [], None
    return [v.version for v in registry.versions(chosen.asset_id)], chosen.version


def version_verdict(registry: ModelRegistry, asset_id: str | None, version: int | None = None) -> str:
    """A sentence on the shown version: the warnings of its backtest, or that it beats the naive forecast."""
    chosen = _chosen(registry, asset_id, version)
    if chosen is None:
        return ""
    metrics = chosen.metrics
    if "mae_ratio_vs_naive" not in metrics:
        return f"Version {chosen.version} has no backtest yet."
    warnings = _warnings(metrics)
    if warnings:
        return f"⚠ **Version {chosen.version} should not be trusted:** {'; '.join(warnings)}."
    return (f"Version {chosen.version}: MAE {metrics['mae_ratio_vs_naive']:.2f} × the seasonal-naive forecast; "
            f"its {metrics.get('interval_nominal', 0.9):.0%} interval holds "
            f"{metrics.get('interval_coverage', 0):.0%} of the actuals.")


def backtest_figure(registry: ModelRegistry, outputs: OutputStore, asset_id: str | None,
                    version: int | None = None) -> Figure:
    """Actual vs forecast with the interval over the last :data:`SHOWN_DAYS` days of the version's backtest
    (the active version by default, else the newest)."""
    figure = Figure(figsize=(9, 3.4), dpi=100)
    axes = figure.add_subplot()
    chosen = _chosen(registry, asset_id, version)
    points = None
    if chosen is not None:
        try:
            points = load_backtest(outputs, chosen)
        except MissingOutputError:
            points = None
    if chosen is None or points is None or points.height == 0:
        axes.text(0.5, 0.5, "no backtest yet", ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
        return figure
    cutoff = pl.col("timestamp").max() - pl.duration(days=SHOWN_DAYS)
    shown = points.sort("timestamp").filter(pl.col("timestamp") > cutoff)
    nominal = chosen.metrics.get("interval_nominal", chosen.params.get("interval", 0.9))
    axes.fill_between(shown["timestamp"].to_list(), shown["lower"].to_numpy(), shown["upper"].to_numpy(),
                      color="#1f77b4", alpha=0.2, linewidth=0, label=f"{nominal:.0%} interval")
    axes.plot(shown["timestamp"].to_list(), shown["predicted"].to_numpy(), color="#1f77b4", linewidth=1.2,
              label="forecast (day ahead)")
    axes.plot(shown["timestamp"].to_list(), shown["actual"].to_numpy(), color="black", linewidth=1.0, label="actual")
    axes.set_title(f"{chosen.asset_id} · version {chosen.version} · last {SHOWN_DAYS} days of the backtest",
                   fontsize="medium")
    axes.set_ylabel("consumption")
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left", fontsize="small")
    figure.autofmt_xdate()
    figure.subplots_adjust(left=0.08, right=0.98, top=0.9, bottom=0.2)
    return figure


def start_training(settings: Settings, gateway: Any, asset_id: str, upload: str | Path | None, *,
                   horizon: int = 24, n_estimators: int = 100) -> str:
    """Keep the uploaded CSV in the data directory and launch a training run from it; returns the job id.

    Raises ``ValueError`` with a sentence for the person (no file, bad asset id, a job already running).
    """
    if not upload:
        raise ValueError("choose a CSV file to train from first")
    check_asset_id((asset_id or "").strip())
    source = Path(upload)
    digest = sha256_hex(source.read_bytes())[:12]
    target = settings.home / "training_uploads" / f"{asset_id.strip()}-{digest}.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    params = ForecastParams(horizon=horizon, n_estimators=n_estimators)
    try:
        return launch_training(gateway, asset_id.strip(), target.resolve().as_uri(), params=params,
                               tolerance=settings.forecast_tolerance)
    except RuntimeError as error:
        raise ValueError(str(error)) from None


def progress(gateway: Any, job_id: str) -> Progress:
    """The job's progress: which of the three steps are done, and how it ended."""
    job: TrainingJob | None = training_job(gateway, job_id)
    total = len(FORECASTING_ASSETS)
    if job is None:
        return Progress("queued: waiting for the run to start", 0.0, False)
    done = [STEP_LABELS.get(step, step) for step in job.done]
    fraction = len(job.done) / total
    if job.state == "succeeded":
        return Progress(f"done: {', '.join(done)}", 1.0, True)
    if job.state in ("failed", "canceled"):
        return Progress(f"{job.state}: {job.error or 'see the run in the Dagster UI'}", fraction, True)
    return Progress(f"{job.state}: {len(job.done)}/{total} steps" + (f" ({', '.join(done)})" if done else ""),
                    fraction, False)


def activate(registry: ModelRegistry, asset_id: str, version: Any, author: str) -> str:
    """Activate a version by hand; returns what happened, as a sentence."""
    who = (author or "").strip()
    if not who:
        return "Type your name at the top first: it is recorded with the activation."
    try:
        number = int(version)
        registry.activate(asset_id, number, by=who)
    except (TypeError, ValueError):
        return "Type the number of the version to activate."
    except (UnknownAsset, UnknownVersion) as error:
        return str(error)
    return f"Version {number} of {asset_id} is active; predictions use it within seconds."


def rollback(registry: ModelRegistry, asset_id: str, author: str) -> str:
    who = (author or "").strip()
    if not who:
        return "Type your name at the top first: it is recorded with the rollback."
    try:
        version = registry.rollback(asset_id, by=who)
    except (UnknownAsset, RegistryError) as error:
        return str(error)
    return f"Rolled back: version {version.version} of {asset_id} is active again."


def _chosen(registry: ModelRegistry, asset_id: str | None, version: int | None) -> Any:
    if not asset_id:
        return None
    try:
        versions = registry.versions(asset_id)
    except UnknownAsset:
        return None
    if version is not None:
        return next((v for v in versions if v.version == version), None)
    return next((v for v in versions if v.active), versions[0])


def _warnings(metrics: dict[str, Any]) -> list[str]:
    """The backtest's warnings (recomputed for versions evaluated before warnings were stored)."""
    return list(metrics["warnings"]) if "warnings" in metrics else quality_warnings(metrics)


def _num(value: Any, digits: int = 3) -> Any:
    return round(value, digits) if isinstance(value, (int, float)) else ""
