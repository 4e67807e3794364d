"""Forecasting assets, partitioned by asset id: energy_history → forecast_model → forecast_evaluation.

A training job (``POST /api/v1/training-jobs``) adds the asset id as a partition and launches one
run of the three assets with the data URL in the run's tags; ``energy_history`` fetches the CSV
inside the run. Parameters come from the launchpad config, else from the run's tags, else defaults.
Every ``forecast_model`` materialization registers a model version; ``forecast_evaluation``
backtests it and activates it unless it is worse than the active version (see
:mod:`labflow.forecasting.registry`). All the work is in :mod:`labflow.forecasting`.
"""

from dataclasses import dataclass
from typing import Any, Callable, Optional

import dagster as dg

from lab_assets.partitions import energy_assets_partitions
from lab_assets.failures import failure_on
from labflow.forecasting.backtest import rolling_origin_evaluation
from labflow.forecasting.fetch import FetchError, data_sources, fetch_data
from labflow.forecasting.history import HistoryError, read_history_csv
from labflow.forecasting.model import ForecastParams, ForecastRequestError, covariate_fill, train_forecast_model
from labflow.forecasting.registry import ModelRegistry
from labflow.forecasting.store import (EVALUATION_ASSET, HISTORY_ASSET, MODEL_ASSET, load_history, model_key,
                                       save_backtest, save_history, save_model)
from labflow.ops.run_kinds import BACKGROUND
from labflow.store.outputs import MissingOutputError, open_output_store
from resources import CatalogResource, LabStorageResource

FORECASTING_GROUP = "forecasting"
DATA_URL_TAG = "labflow/data_url"
TRAINING_TAG = "labflow/training_job"
HORIZON_TAG = "labflow/forecast_horizon"
INTERVAL_TAG = "labflow/forecast_interval"
TREES_TAG = "labflow/forecast_trees"
TOLERANCE_TAG = "labflow/activation_tolerance"
DEFAULT_TOLERANCE = 0.05


class ForecastConfig(dg.Config):
    """Launchpad parameters (empty = the run's tags, else the defaults)."""

    data_url: Optional[str] = None
    horizon: Optional[int] = None
    interval: Optional[float] = None
    n_estimators: Optional[int] = None
    activation_tolerance: Optional[float] = None


def _choose(context: dg.AssetExecutionContext, given: Any, tag: str, cast: Callable[[str], Any], default: Any) -> Any:
    if given is not None:
        return given
    raw = context.run.tags.get(tag)
    return cast(raw) if raw not in (None, "") else default


def forecast_params(context: dg.AssetExecutionContext, config: ForecastConfig) -> ForecastParams:
    """The training parameters of this run."""
    defaults = ForecastParams()
    return ForecastParams(horizon=_choose(context, config.horizon, HORIZON_TAG, int, defaults.horizon),
                          interval=_choose(context, config.interval, INTERVAL_TAG, float, defaults.interval),
                          n_estimators=_choose(context, config.n_estimators, TREES_TAG, int, defaults.n_estimators))


@dg.asset(
    name=HISTORY_ASSET,
    partitions_def=energy_assets_partitions,
    group_name=FORECASTING_GROUP,
    kinds={"csv", "parquet"},
    description="The asset's consumption history, fetched from the training job's data URL and checked: on a "
    "regular grid, with gaps, duplicates and unit problems (negative readings, ×1000 jumps) reported.",
)
def energy_history(context: dg.AssetExecutionContext, config: ForecastConfig,
                   lab: LabStorageResource) -> dg.MaterializeResult:
    """Fetch the CSV named by the run (``data_url``), check it and store it on its time grid."""
    settings = lab.settings()
    url = _choose(context, config.data_url, DATA_URL_TAG, str, None)
    if not url:
        raise dg.Failure(description=f"no data URL: set data_url in the launchpad or start a training job "
                                     f"(POST /api/v1/training-jobs) for {context.partition_key}")
    with failure_on(FetchError, HistoryError):
        data = fetch_data(url, sources=data_sources(settings), max_bytes=settings.upload_max_bytes,
                          s3_endpoint_url=settings.s3_endpoint_url)
        history = read_history_csv(data, source=url.rsplit("/", 1)[-1] or url)
    path = save_history(open_output_store(settings), context.partition_key, history, url)
    for note in history.report.warnings():
        context.log.warning(note)
    return dg.MaterializeResult(metadata={
        **history.report.as_metadata(), "covariates": ", ".join(history.covariates) or "none",
        "data_hash": history.data_hash, "data_url": url, "path": dg.MetadataValue.path(path)})


@dg.asset(
    name=MODEL_ASSET,
    partitions_def=energy_assets_partitions,
    deps=[HISTORY_ASSET],
    group_name=FORECASTING_GROUP,
    kinds={"lightgbm"},
    description="LightGBM forecast of the asset's consumption (lag, rolling, calendar and covariate features; "
    "direct multi-step horizon) with quantile models for a calibrated prediction interval. Each "
    "materialization is a new model version in the registry.",
)
def forecast_model(context: dg.AssetExecutionContext, config: ForecastConfig, catalog: CatalogResource,
                   lab: LabStorageResource) -> dg.MaterializeResult:
    """Train on the stored history and register the result as the asset's next model version."""
    settings = lab.settings()
    outputs = open_output_store(settings)
    params = forecast_params(context, config)
    with failure_on(MissingOutputError, ForecastRequestError, ValueError):
        history, info = load_history(outputs, context.partition_key)
        model = train_forecast_model(history, params)
    key = model_key(context.partition_key, context.run.run_id)
    path = save_model(outputs, key, model)
    version = ModelRegistry(catalog.get_catalog()).register(
        context.partition_key, run_id=context.run.run_id, data_hash=history.data_hash, data_url=info.get("data_url"),
        params={**params.__dict__, "step_s": history.step_s, "covariates": list(history.covariates)},
        model_key=key)
    context.log.info(f"{context.partition_key}: model version {version.version} from {model.trained_rows:,} rows")
    return dg.MaterializeResult(metadata={
        "version": version.version, "horizon": params.horizon, "interval": params.interval,
        "trees": params.n_estimators, "trained_rows": model.trained_rows,
        **{f"interval_margin_{mode}": round(margin, 4) for mode, margin in model.margins.items()},
        "covariates": ", ".join(history.covariates) or "none",
        "covariates_filled_from": ", ".join(f"{name}: {rule}" for name, rule in covariate_fill(model.layout).items())
        or "none", "data_hash": history.data_hash,
        "trained_until": f"{model.trained_until:%Y-%m-%d %H:%M}", "path": dg.MetadataValue.path(path)})


@dg.asset(
    name=EVALUATION_ASSET,
    partitions_def=energy_assets_partitions,
    deps=[MODEL_ASSET],
    group_name=FORECASTING_GROUP,
    kinds={"parquet"},
    description="Rolling-origin backtest of the newest model version (MAE, MAPE, interval coverage beside the "
    "seasonal-naive forecast); activates the version unless it is worse than the active one.",
)
def forecast_evaluation(context: dg.AssetExecutionContext, config: ForecastConfig, catalog: CatalogResource,
                        lab: LabStorageResource) -> dg.MaterializeResult:
    """Backtest the version trained in this run (else the newest), record its metrics, maybe activate it."""
    settings = lab.settings()
    outputs = open_output_store(settings)
    registry = ModelRegistry(catalog.get_catalog())
    asset_id = context.partition_key
    with failure_on(LookupError, ForecastRequestError, ValueError):
        versions = registry.versions(asset_id)
        version = next((v for v in versions if v.run_id == context.run.run_id), versions[0])
        history, _ = load_history(outputs, asset_id)
        evaluation = rolling_origin_evaluation(history, ForecastParams.from_dict(version.params))
    path = save_backtest(outputs, version.model_key, evaluation.points)
    registry.set_metrics(asset_id, version.version, evaluation.metrics)
    tolerance = _choose(context, config.activation_tolerance, TOLERANCE_TAG, float, DEFAULT_TOLERANCE)
    activated, reason = registry.auto_activate(asset_id, version.version, tolerance=tolerance)
    context.log.info(f"{asset_id} version {version.version}: {'activated' if activated else 'not activated'} "
                     f"({reason})")
    metrics = {k: round(v, 4) if isinstance(v, float) else v for k, v in evaluation.metrics.items()
               if v is not None and k != "warnings"}
    warnings = evaluation.metrics.get("warnings") or []
    for warning in warnings:
        context.log.warning(f"{asset_id} version {version.version}: {warning}")
    return dg.MaterializeResult(metadata={**metrics, "warnings": "; ".join(warnings) or "none",
                                          "version": version.version, "activated": activated,
                                          "activation_reason": reason, "path": dg.MetadataValue.path(path)})


FORECASTING_ASSETS = [energy_history, forecast_model, forecast_evaluation]


class TrainingBusy(RuntimeError):
    """A training run of the asset is already queued or running."""

    def __init__(self, asset_id: str, run_id: str):
        super().__init__(f"a training job for {asset_id!r} is already queued or running ({run_id}); wait for it, "
                         "then start another")
        self.run_id = run_id


def launch_training(gateway: Any, asset_id: str, data_url: str, *, params: ForecastParams,
                    tolerance: float = DEFAULT_TOLERANCE) -> str:
    """Add the asset's partition and launch one run of the three assets; returns the run id at once.

    ``gateway`` is a :class:`lab_assets.gateway.DagsterGateway`. Raises :class:`TrainingBusy` when a
    training run of the asset is still queued or running.
    """
    assets = [a.key.to_user_string() for a in FORECASTING_ASSETS]
    running = gateway.active_run(asset_id, assets)
    if running is not None:
        raise TrainingBusy(asset_id, running)
    partitions = energy_assets_partitions.name
    if not gateway.instance.has_dynamic_partition(partitions, asset_id):
        gateway.instance.add_dynamic_partitions(partitions, [asset_id])
    tags = {**BACKGROUND, TRAINING_TAG: "1", DATA_URL_TAG: data_url, HORIZON_TAG: str(params.horizon),
            INTERVAL_TAG: str(params.interval), TREES_TAG: str(params.n_estimators), TOLERANCE_TAG: str(tolerance)}
    return gateway.request(assets, asset_id, tags=tags)


@dataclass(frozen=True)
class TrainingJob:
    """Where a training run stands: state, how many of the three assets are done, and the error if it failed."""

    run_id: str
    asset_id: str
    state: str
    done: tuple[str, ...]
    error: str | None


def training_job(gateway: Any, run_id: str) -> TrainingJob | None:
    """The training run ``run_id`` as a job, or ``None`` if there is no such training run."""
    run = gateway.instance.get_run_by_id(run_id)
    if run is None or run.tags.get(TRAINING_TAG) != "1":
        return None
    state = gateway.run_state(run_id).state
    done = tuple(record.dagster_event.asset_key.to_user_string() for record in gateway.instance.all_logs(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION))
    error = _failure(gateway.instance, run_id) if state == "failed" else None
    return TrainingJob(run_id, run.tags.get("dagster/partition", ""), state, done, error)


def _failure(instance: dg.DagsterInstance, run_id: str) -> str:
    """The first failed step and what it said, else the run failure's message."""
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        event = record.dagster_event
        data = getattr(event, "event_specific_data", None)
        user = getattr(data, "user_failure_data", None)
        if user is not None and user.description:
            return f"{event.step_key}: {user.description}"
        error = getattr(data, "error", None)
        if error is not None:
            return f"{event.step_key}: {error.message.strip().splitlines()[-1]}"
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE):
        return record.message or "the run failed"
    return "the run failed; see the run in the Dagster UI"
