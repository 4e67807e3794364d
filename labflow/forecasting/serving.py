"""Serving forecasts: the active model of every asset kept in memory, and requests turned into forecasts.

:class:`ModelCache` loads every active model when it starts and then follows the registry: when an
asset's active version changes (a person activated it, or a training run auto-activated it, in any
process), the new model is loaded on the side and swapped in with one reference assignment, so a
request always finds a complete model — the old one until the swap, the new one after it.

:func:`predict` and :func:`detect` take a request's readings as plain dicts
(``{"timestamp": datetime, "value": float | None, <covariate>: float | None}``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

from labflow.forecasting.anomalies import Anomaly, find_anomalies
from labflow.forecasting.model import Forecast, ForecastModel, ForecastRequestError
from labflow.forecasting.registry import ModelRegistry, ModelVersion

log = logging.getLogger("labflow.forecasting")
_EPOCH = datetime(1970, 1, 1)
_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class ServedModel:
    """An asset's active model as loaded in memory."""

    asset_id: str
    version: int
    model: ForecastModel


class ModelCache:
    """Active models by asset, preloaded and hot-swapped when the registry's active version changes."""

    def __init__(self, registry: ModelRegistry, load: Callable[[ModelVersion], ForecastModel], *,
                 refresh_s: float = 2.0):
        self.registry = registry
        self.load = load
        self.refresh_s = refresh_s
        self._models: dict[str, ServedModel] = {}
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._refresh_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Load the active models in the background, then keep following the registry."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._follow, name="labflow-model-cache", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

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
            self._models = models  # one reference assignment: readers see the old or the new dict, whole
            self._ready.set()
            return sorted(set(changed))

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


def request_history(model: ForecastModel, points: Sequence[dict[str, Any]], *, field: str) -> RequestHistory:
    """Put a request's readings on the model's grid (sorted; a repeated timestamp keeps its last reading).

    Raises :class:`ForecastRequestError` naming the point when a timestamp is missing or off the grid, or
    when a covariate the model uses is absent from every point.
    """
    if not points:
        raise ForecastRequestError(f"{field} is empty; send at least {model.layout.min_history} readings")
    missing = [i for i, p in enumerate(points) if p.get("timestamp") is None]
    if missing:
        raise ForecastRequestError(f"{field}[{missing[0]}] has no timestamp ({len(missing)} point(s) without one); "
                                   "every reading needs its time, e.g. 2024-03-01T10:00:00Z")
    absent = [c for c in model.layout.covariates if all(p.get(c) is None for p in points)]
    if absent:
        raise ForecastRequestError(f"this model uses the covariate(s) {', '.join(model.layout.covariates)}; "
                                   f"{field} has no {', '.join(absent)}: send them in every point (null where unknown)")
    step = model.layout.step_s
    seconds = np.array([_epoch_s(p["timestamp"]) for p in points], dtype=np.int64)
    order = np.argsort(seconds, kind="stable")
    seconds = seconds[order]
    offsets = seconds - seconds[0]
    off_grid = np.flatnonzero(offsets % step)
    if off_grid.size:
        at = int(order[off_grid[0]])
        raise ForecastRequestError(f"{field}[{at}] ({points[at]['timestamp']}) is off the model's "
                                   f"{step // 60}-minute grid; send readings at regular times")
    index = offsets // step
    size = int(index[-1]) + 1
    if size > 50 * len(points) + model.layout.min_history:
        raise ForecastRequestError(f"{field} spans {size} steps but has only {len(points)} readings; "
                                   "send a continuous history")
    names = ("value", *model.layout.covariates)
    readings = np.array([[p.get(name) for name in names] for p in points], dtype=np.float64)  # None → NaN
    grid = np.full((size, len(names)), np.nan)
    grid[index] = readings[order]
    values, covariates = grid[:, 0].copy(), grid[:, 1:]
    values[values < 0] = np.nan
    first = datetime.fromtimestamp(int(seconds[0]), timezone.utc).replace(tzinfo=None)
    return RequestHistory(values, covariates, first, first + timedelta(seconds=(size - 1) * step))


def predict(served: ServedModel, points: Sequence[dict[str, Any]], horizon: int,
            future: Sequence[dict[str, Any]] = ()) -> Forecast:
    """Forecast ``horizon`` steps after the last reading of ``points``; ``future`` may give covariates at
    forecast times (points at other times are an error)."""
    model = served.model
    model.check_request(len(points), horizon)
    history = request_history(model, points, field="historical_data")
    week = history.values[-model.layout.min_history:]
    if np.count_nonzero(~np.isnan(week)) < model.layout.min_history // 2:
        raise ForecastRequestError(f"too little history: only {np.count_nonzero(~np.isnan(week))} of the last "
                                   f"{model.layout.min_history} readings have a value; send at least half of them")
    known = None
    if future and model.layout.covariates:
        known = np.full((horizon, len(model.layout.covariates)), np.nan)
        last = _epoch_s(history.last_time)
        for i, point in enumerate(future):
            offset = _epoch_s(point["timestamp"]) - last
            step = offset // model.layout.step_s
            if offset % model.layout.step_s or not 1 <= step <= horizon:
                raise ForecastRequestError(f"future_covariates[{i}] ({point['timestamp']}) is not one of the "
                                           f"{horizon} forecast times after {history.last_time:%Y-%m-%d %H:%M}")
            known[step - 1] = [_number(point.get(name)) for name in model.layout.covariates]
    return model.forecast(history.values, history.covariates, history.last_time, horizon, known)


def detect(served: ServedModel, points: Sequence[dict[str, Any]]) -> Detection:
    """Check every reading that has a week (plus the lead) of readings before it against the interval the
    model predicts for it from ``lead`` steps earlier (a day for hourly data)."""
    model = served.model
    history = request_history(model, points, field="data_stream")
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


def _epoch_s(moment: datetime) -> int:
    """Seconds since 1970 (a time without a zone is UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return (moment - _EPOCH) // _SECOND


def _number(value: Any) -> float:
    return np.nan if value is None else float(value)


class ForecastService:
    """What the API needs to serve forecasts: the registry, the stored models and the cache of active ones."""

    def __init__(self, catalog: Any, outputs: Any, *, refresh_s: float = 2.0):
        from labflow.forecasting.store import load_model

        self.registry = ModelRegistry(catalog)
        self.outputs = outputs
        self.cache = ModelCache(self.registry, lambda version: load_model(outputs, version), refresh_s=refresh_s)

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
