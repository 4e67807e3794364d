"""Serving forecasts: the active model of every asset kept in memory, and requests turned into forecasts.

:class:`ModelCache` loads every active model when it starts and then follows the registry: when an
asset's active version changes (a person activated it, or a training run auto-activated it, in any
process), the new model is loaded on the side and swapped in with one reference assignment, so a
request always finds a complete model — the old one until the swap, the new one after it. With a
``compile`` function, each loaded model is then compiled in a thread of its own and swapped in the
same way (same version, same numbers, faster: :mod:`labflow.forecasting.compiled`); until then, and
if compiling fails, LightGBM serves it.

:func:`predict` and :func:`detect` take a request's readings as :class:`~labflow.forecasting.readings.Readings`
(columns, what the API reads a body into) or as plain dicts
(``{"timestamp": datetime, "value": float | None, <covariate>: float | None}``).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from labflow.forecasting.anomalies import Anomaly, find_anomalies
from labflow.forecasting.model import Forecast, ForecastModel, ForecastRequestError
from labflow.forecasting.readings import Readings, epoch_seconds, readings_from_points
from labflow.forecasting.registry import ModelRegistry, ModelVersion

log = logging.getLogger("labflow.forecasting")


@dataclass(frozen=True)
class ServedModel:
    """An asset's active model as loaded in memory."""

    asset_id: str
    version: int
    model: ForecastModel


class ModelCache:
    """Active models by asset, preloaded and hot-swapped when the registry's active version changes."""

    def __init__(self, registry: ModelRegistry, load: Callable[[ModelVersion], ForecastModel], *,
                 refresh_s: float = 2.0, compile: Callable[[ForecastModel], ForecastModel] | None = None):
        self.registry = registry
        self.load = load
        self.refresh_s = refresh_s
        self.compile = compile
        self._models: dict[str, ServedModel] = {}
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._refresh_lock = threading.Lock()
        self._to_compile: queue.Queue[ServedModel] = queue.Queue()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Load the active models in the background, then keep following the registry (and compiling)."""
        if not self._threads:
            self._threads = [threading.Thread(target=self._follow, name="labflow-model-cache", daemon=True)]
            if self.compile is not None:
                self._threads.append(threading.Thread(target=self._compile_loaded, name="labflow-model-compiler",
                                                      daemon=True))
            for thread in self._threads:
                thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)
        self._threads = []

    def serving(self, asset_id: str) -> str | None:
        """How the asset's active model runs here: ``"compiled"``, ``"lightgbm"`` or ``None`` (not loaded)."""
        served = self._models.get(asset_id)
        if served is None:
            return None
        return "compiled" if served.model.is_compiled else "lightgbm"

    def loaded(self) -> list[ServedModel]:
        """The active models now in memory, one per asset."""
        return list(self._models.values())

    def get(self, asset_id: str, timeout_s: float = 60.0) -> ServedModel | None:
        """The asset's active model (waits for the first load), or ``None`` if it has none."""
        self._ready.wait(timeout_s)
        return self._models.get(asset_id)

    def peek(self, asset_id: str) -> ServedModel | None:
        """The asset's active model if it is in memory, without waiting."""
        return self._models.get(asset_id)

    def refresh(self) -> list[str]:
        """Load what changed in the registry and swap it in; returns the assets whose model changed."""
        with self._refresh_lock:
            active = self.registry.active_versions()
            current = self._models
            models = {asset: served for asset, served in current.items() if active.get(asset) == served.version}
            changed = [asset for asset in current if asset not in models]
            for asset, version in active.items():
                if asset in models:
                    continue
                try:
                    entry = self.registry.get(asset, version)
                    models[asset] = ServedModel(asset, version, self.load(entry))
                except Exception:  # a model that cannot be loaded must not take the others down
                    log.exception("cannot load model version %s of %s; keeping the previous one", version, asset)
                    if asset in current:
                        models[asset] = current[asset]
                    continue
                changed.append(asset)
                if self.compile is not None:
                    self._to_compile.put(models[asset])
            self._models = models  # one reference assignment: readers see the old or the new dict, whole
            self._ready.set()
            return sorted(set(changed))

    def _compile_loaded(self) -> None:
        """Compile each newly loaded model and swap it in, unless its asset moved on to another version."""
        while not self._stop.is_set():
            try:
                loaded = self._to_compile.get(timeout=0.2)
            except queue.Empty:
                continue
            assert self.compile is not None
            try:
                compiled = self.compile(loaded.model)
            except Exception:  # LightGBM keeps serving it
                log.exception("cannot compile the trees of %s version %s; LightGBM serves it", loaded.asset_id,
                              loaded.version)
                continue
            with self._refresh_lock:
                if self._models.get(loaded.asset_id) is loaded:
                    self._models = {**self._models, loaded.asset_id: replace(loaded, model=compiled)}

    def _follow(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
            except Exception:
                log.exception("cannot read the active forecast models; trying again")
            self._stop.wait(self.refresh_s)


@dataclass(frozen=True)
class RequestHistory:
    """A request's readings on the model's grid."""

    values: np.ndarray
    covariates: np.ndarray
    first_time: datetime
    last_time: datetime


@dataclass(frozen=True)
class Detection:
    checked: int
    first_checked: datetime | None
    anomalies: list[Anomaly]


def request_history(model: ForecastModel, readings: Readings | Sequence[dict[str, Any]], *,
                    field: str) -> RequestHistory:
    """Put a request's readings on the model's grid (sorted; a repeated timestamp keeps its last reading).

    Raises :class:`ForecastRequestError` naming the point when a timestamp is missing or off the grid, or
    when a covariate the model uses is absent from every point.
    """
    readings = _as_readings(readings, field)
    if not len(readings):
        raise ForecastRequestError(f"{field} is empty; send at least {model.layout.min_history} readings")
    covariates = [readings.covariate(name) for name in model.layout.covariates]
    absent = [name for name, column in zip(model.layout.covariates, covariates) if np.isnan(column).all()]
    if absent:
        raise ForecastRequestError(f"this model uses the covariate(s) {', '.join(model.layout.covariates)}; "
                                   f"{field} has no {', '.join(absent)}: send them in every point (null where unknown)")
    step = model.layout.step_s
    order = np.argsort(readings.seconds, kind="stable")
    seconds = readings.seconds[order]
    offsets = seconds - seconds[0]
    off_grid = np.flatnonzero(offsets % step)
    if off_grid.size:
        at = int(order[off_grid[0]])
        raise ForecastRequestError(f"{field}[{at}] ({readings.time_text(at)}) is off the model's "
                                   f"{step // 60}-minute grid; send readings at regular times")
    index = offsets // step
    size = int(index[-1]) + 1
    if size > 50 * len(readings) + model.layout.min_history:
        raise ForecastRequestError(f"{field} spans {size} steps but has only {len(readings)} readings; "
                                   "send a continuous history")
    assert readings.values is not None
    grid = np.full((size, 1 + len(covariates)), np.nan)
    grid[index] = np.column_stack([readings.values, *covariates])[order]
    values, covariate_grid = grid[:, 0].copy(), grid[:, 1:]
    values[values < 0] = np.nan
    first = datetime.fromtimestamp(int(seconds[0]), timezone.utc).replace(tzinfo=None)
    return RequestHistory(values, covariate_grid, first, first + timedelta(seconds=(size - 1) * step))


def predict(served: ServedModel, readings: Readings | Sequence[dict[str, Any]], horizon: int,
            future: Readings | Sequence[dict[str, Any]] | None = None) -> Forecast:
    """Forecast ``horizon`` steps after the last reading; ``future`` may give covariates at forecast times
    (points at other times are an error). Readings are :class:`Readings` or dicts (see the module)."""
    model = served.model
    model.check_request(len(readings), horizon)
    history = request_history(model, readings, field="historical_data")
    week = history.values[-model.layout.min_history:]
    if np.count_nonzero(~np.isnan(week)) < model.layout.min_history // 2:
        raise ForecastRequestError(f"too little history: only {np.count_nonzero(~np.isnan(week))} of the last "
                                   f"{model.layout.min_history} readings have a value; send at least half of them")
    known = None
    if future is not None and len(future) and model.layout.covariates:
        known = _future_covariates(model, _as_readings(future, "future_covariates", values=False),
                                   history.last_time, horizon)
    return model.forecast(history.values, history.covariates, history.last_time, horizon, known)


def detect(served: ServedModel, readings: Readings | Sequence[dict[str, Any]]) -> Detection:
    """Check every reading that has a week (plus the lead) of readings before it against the interval the
    model predicts for it from ``lead`` steps earlier (a day for hourly data)."""
    model = served.model
    history = request_history(model, readings, field="data_stream")
    lead = min(model.layout.horizon, model.layout.steps_per_day)
    first = model.layout.min_history - 1 + lead
    if history.values.size <= first:
        raise ForecastRequestError(f"too little history: data_stream covers {history.values.size} steps; readings are "
                                   f"checked after a week and {lead} more steps, so send at least {first + 1}")
    targets = np.arange(first, history.values.size)
    targets = targets[~np.isnan(history.values[targets])]
    predicted, lower, upper = model.predict_pairs(history.values, history.covariates, history.first_time,
                                                  targets - lead, np.full(targets.size, lead))
    times = [history.first_time + timedelta(seconds=int(t) * model.layout.step_s) for t in targets]
    found = find_anomalies(times, history.values[targets], predicted, lower, upper)
    return Detection(int(targets.size), times[0] if times else None, found)


def _future_covariates(model: ForecastModel, future: Readings, last_time: datetime, horizon: int) -> np.ndarray:
    """The ``horizon × k`` covariates at the forecast times (NaN where not given)."""
    step_s = model.layout.step_s
    offsets = future.seconds - epoch_seconds(last_time)
    steps = offsets // step_s
    wrong = np.flatnonzero((offsets % step_s != 0) | (steps < 1) | (steps > horizon))
    if wrong.size:
        at = int(wrong[0])
        raise ForecastRequestError(f"future_covariates[{at}] ({future.time_text(at)}) is not one of the "
                                   f"{horizon} forecast times after {last_time:%Y-%m-%d %H:%M}")
    known = np.full((horizon, len(model.layout.covariates)), np.nan)
    known[steps - 1] = np.column_stack([future.covariate(name) for name in model.layout.covariates])
    return known


def _as_readings(readings: Readings | Sequence[dict[str, Any]], field: str, *, values: bool = True) -> Readings:
    return readings if isinstance(readings, Readings) else readings_from_points(readings, field=field, values=values)


class ForecastService:
    """What the API needs to serve forecasts: the registry, the stored models and the cache of active ones."""

    def __init__(self, catalog: Any, outputs: Any, *, refresh_s: float = 2.0, compiled_trees_dir: Path | None = None):
        """``compiled_trees_dir``: compile the active models' trees, keeping the machine code there
        (``None``: serve with LightGBM)."""
        from labflow.forecasting.compiled import compile_trees
        from labflow.forecasting.store import load_model

        self.registry = ModelRegistry(catalog)
        self.outputs = outputs
        compile = None if compiled_trees_dir is None else partial(compile_trees, cache_dir=compiled_trees_dir)
        self.cache = ModelCache(self.registry, lambda version: load_model(outputs, version), refresh_s=refresh_s,
                                compile=compile)

    def served(self, asset_id: str) -> ServedModel:
        """The asset's active model; :class:`UnknownAsset` or :class:`NoActiveModel` if there is none."""
        served = self.cache.get(asset_id)
        if served is not None:
            return served
        if self.registry.active(asset_id) is not None:  # activated elsewhere a moment ago: load it now
            self.cache.refresh()
            served = self.cache.get(asset_id)
            if served is not None:
                return served
        self.registry.versions(asset_id)  # raises UnknownAsset when there is no version at all
        raise NoActiveModel(asset_id)


class NoActiveModel(LookupError):
    """The asset has model versions but none is active."""

    def __init__(self, asset_id: str):
        super().__init__(f"asset {asset_id!r} has model versions but none is active; activate one "
                         f"(POST /api/v1/assets/{asset_id}/models/<version>/activate)")
