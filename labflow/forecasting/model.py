"""The forecast model of one asset: LightGBM for the expected consumption and two quantile models for
a prediction interval, calibrated on held-out data (conformalized quantile regression).

Example::

    model = train_forecast_model(history, ForecastParams(horizon=24))
    forecast = model.forecast(history.values[-168:], history.covariate_matrix()[-168:], last_time, 24)
    forecast.predicted, forecast.lower, forecast.upper
"""

from __future__ import annotations

import gzip
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from labflow.forecasting.features import (FeatureLayout, extend_covariates, feature_matrix, forecast_rows,
                                          training_pairs)
from labflow.forecasting.history import EnergyHistory

FORMAT = "labflow-forecast/1"


class ForecastRequestError(ValueError):
    """A forecast cannot be made from what was given (too little history, horizon too long, …)."""


@dataclass(frozen=True)
class ForecastParams:
    """How a model is trained. ``interval`` is the nominal coverage of the prediction interval;
    ``calibration_fraction`` of the newest origins is held out to calibrate it."""

    horizon: int = 24
    interval: float = 0.9
    n_estimators: int = 100
    learning_rate: float = 0.1
    num_leaves: int = 31
    min_child_samples: int = 20
    max_train_rows: int = 60_000
    calibration_fraction: float = 0.2
    num_threads: int = 1  # the machine is shared with the API and Dagster; more threads rarely pay
    seed: int = 0

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ForecastParams":
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def check(self) -> None:
        """Raise ``ValueError`` naming the parameter that is out of range."""
        if not 1 <= self.horizon <= 7 * 96:
            raise ValueError(f"horizon must be 1–672 steps, got {self.horizon}")
        if not 0.5 <= self.interval < 1:
            raise ValueError(f"interval must be in [0.5, 1), got {self.interval}")
        if not 0 < self.calibration_fraction < 0.5:
            raise ValueError(f"calibration_fraction must be in (0, 0.5), got {self.calibration_fraction}")
        if self.n_estimators < 1:
            raise ValueError(f"n_estimators must be at least 1, got {self.n_estimators}")


@dataclass(frozen=True)
class Forecast:
    """Predicted values and interval for the steps after the last reading."""

    timestamps: list[datetime]
    predicted: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


@dataclass
class ForecastModel:
    """Three boosters (point, lower and upper quantile) on one :class:`FeatureLayout`, and the interval
    widening ``margin`` found on held-out data."""

    layout: FeatureLayout
    params: ForecastParams
    boosters: dict[str, Any]
    margin: float
    trained_rows: int
    trained_until: datetime
    info: dict[str, Any] = field(default_factory=dict)
    compiled: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)  # see compiled.py

    def predict_pairs(self, values: np.ndarray, covariates: np.ndarray, start: datetime, origins: np.ndarray,
                      steps: np.ndarray, *, covariates_given: bool = False) -> tuple[np.ndarray, np.ndarray,
                                                                                     np.ndarray]:
        """Predicted value, lower and upper bound of every (origin, step) pair (one batched call per booster)."""
        rows, level = feature_matrix(self.layout, values, covariates, _ns(start), origins, steps,
                                     covariates_given=covariates_given)
        return self._interval(rows, level)

    def _interval(self, rows: np.ndarray, level: np.ndarray | float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Predicted value, lower and upper bound of feature rows scaled by ``level``."""
        predicted = self._raw("point", rows) * level
        lower = np.minimum((self._raw("lower", rows) - self.margin) * level, predicted)
        upper = np.maximum((self._raw("upper", rows) + self.margin) * level, predicted)
        return predicted, lower, upper

    @property
    def is_compiled(self) -> bool:
        """Whether predictions run on compiled trees (:mod:`labflow.forecasting.compiled`)."""
        return bool(self.compiled)

    def _raw(self, name: str, rows: np.ndarray) -> np.ndarray:
        compiled = self.compiled.get(name)
        return compiled.predict(rows) if compiled is not None else self.boosters[name].predict(rows, num_threads=1)

    def forecast(self, values: np.ndarray, covariates: np.ndarray, last_time: datetime, horizon: int,
                 future_covariates: np.ndarray | None = None) -> Forecast:
        """Forecast ``horizon`` steps after ``last_time`` from the readings (on the grid) up to it.

        ``future_covariates`` (``horizon × k``, NaN where unknown) are the covariates at the forecast times;
        unknown ones are taken from the same time on the latest day.
        """
        self.check_request(len(values), horizon)
        covariates = extend_covariates(self.layout, covariates, future_covariates, horizon)
        start = last_time - timedelta(seconds=(len(values) - 1) * self.layout.step_s)
        predicted, lower, upper = self._interval(*forecast_rows(self.layout, values, covariates, _ns(start), horizon))
        step = timedelta(seconds=self.layout.step_s)
        return Forecast([last_time + step * s for s in range(1, horizon + 1)], predicted, lower, upper)

    def check_request(self, readings: int, horizon: int) -> None:
        """Raise :class:`ForecastRequestError` if ``readings`` cannot support a ``horizon``-step forecast."""
        if horizon < 1 or horizon > self.layout.horizon:
            raise ForecastRequestError(f"forecast_horizon must be 1–{self.layout.horizon} steps for this model "
                                       f"(it was trained for {self.layout.horizon}), got {horizon}")
        if readings < self.layout.min_history:
            raise ForecastRequestError(
                f"too little history: {readings} reading(s) on the {self.layout.step_s // 60}-minute grid; send at "
                f"least {self.layout.min_history} (one week) before the first forecast time")

    def to_bytes(self) -> bytes:
        """The model as gzipped JSON (LightGBM's own text format inside)."""
        document = {"format": FORMAT, "layout": {"step_s": self.layout.step_s, "horizon": self.layout.horizon,
                                                 "covariates": list(self.layout.covariates)},
                    "params": asdict(self.params), "margin": self.margin, "trained_rows": self.trained_rows,
                    "trained_until": self.trained_until.isoformat(), "info": self.info,
                    "boosters": {name: b.model_to_string() for name, b in self.boosters.items()}}
        return gzip.compress(json.dumps(document).encode(), compresslevel=5)

    @classmethod
    def from_bytes(cls, data: bytes) -> "ForecastModel":
        import lightgbm as lgb

        document = json.loads(gzip.decompress(data))
        if document.get("format") != FORMAT:
            raise ValueError(f"not a labflow forecast model (format {document.get('format')!r})")
        layout = document["layout"]
        return cls(FeatureLayout(layout["step_s"], layout["horizon"], tuple(layout["covariates"])),
                   ForecastParams.from_dict(document["params"]),
                   {name: lgb.Booster(model_str=text) for name, text in document["boosters"].items()},
                   float(document["margin"]), int(document["trained_rows"]),
                   datetime.fromisoformat(document["trained_until"]), document.get("info", {}))


def train_forecast_model(history: EnergyHistory, params: ForecastParams | None = None, *,
                         until: int | None = None) -> ForecastModel:
    """Train on the readings up to index ``until`` (exclusive; default all of them).

    The interval is calibrated first (split-conformal): the three boosters are fitted on the older origins,
    the newest ``calibration_fraction`` of origins, forecast as a request without future covariates is,
    measures how far outside the quantile band readings fall, and that margin is kept; then the boosters
    are fitted again on every origin.
    """
    params = params or ForecastParams()
    params.check()
    layout = FeatureLayout(history.step_s, params.horizon, history.covariates)
    values = history.values[:until]
    covariates = history.covariate_matrix()[:until]
    needed = layout.min_history + 2 * layout.steps_per_day + params.horizon
    if np.count_nonzero(~np.isnan(values)) < needed:
        raise ForecastRequestError(f"too little history to train: {np.count_nonzero(~np.isnan(values))} "
                                   f"reading(s); send at least {needed} (a week, two days and the horizon)")
    start = history.frame["timestamp"][0]
    last_origin = values.size - 2
    split = int(layout.min_history + (last_origin - layout.min_history) * (1 - params.calibration_fraction))
    fit_origins, fit_steps = training_pairs(layout, values[:split + 1], first=0, last=split, max_rows=
                                            params.max_train_rows, seed=params.seed)
    cal_origins, cal_steps = training_pairs(layout, values, first=split + 1, last=last_origin,
                                            max_rows=params.max_train_rows // 3, seed=params.seed + 1)
    boosters = _fit(layout, params, values, covariates, start, fit_origins, fit_steps)
    actual, lower, upper = _held_out_band(layout, params, boosters, values, covariates, start, cal_origins,
                                          cal_steps)
    margin = _conformal_margin(actual, lower, upper, params.interval)
    origins, steps = training_pairs(layout, values, first=0, last=last_origin, max_rows=params.max_train_rows,
                                    seed=params.seed)
    boosters = _fit(layout, params, values, covariates, start, origins, steps)
    trained_until = start + timedelta(seconds=(values.size - 1) * layout.step_s)
    coverage_before = float(np.mean((actual >= lower) & (actual <= upper))) if actual.size else float("nan")
    return ForecastModel(layout, params, boosters, margin, origins.size, trained_until,
                         {"calibration_rows": int(actual.size), "quantile_coverage_before_margin": coverage_before})


def _fit(layout: FeatureLayout, params: ForecastParams, values: np.ndarray, covariates: np.ndarray,
         start: datetime, origins: np.ndarray, steps: np.ndarray) -> dict[str, Any]:
    import lightgbm as lgb

    rows, level = feature_matrix(layout, values, covariates, _ns(start), origins, steps, covariates_given=True)
    target = values[origins + steps] / level
    tail = (1 - params.interval) / 2
    base = {"learning_rate": params.learning_rate, "num_leaves": params.num_leaves,
            "min_child_samples": params.min_child_samples, "num_threads": params.num_threads, "verbose": -1,
            "seed": params.seed, "feature_fraction": 0.9, "bagging_fraction": 0.8, "bagging_freq": 1}
    objectives = {"point": {"objective": "l1"}, "lower": {"objective": "quantile", "alpha": tail},
                  "upper": {"objective": "quantile", "alpha": 1 - tail}}
    dataset = lgb.Dataset(rows, target, feature_name=layout.names, free_raw_data=False,
                          params={"verbose": -1, "max_bin": 127})
    return {name: lgb.train({**base, **objective}, dataset, num_boost_round=params.n_estimators)
            for name, objective in objectives.items()}


def _held_out_band(layout: FeatureLayout, params: ForecastParams, boosters: dict[str, Any], values: np.ndarray,
                   covariates: np.ndarray, start: datetime, origins: np.ndarray, steps: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Actual readings and the quantile band of held-out pairs, relative to the level, forecast as a request
    without future covariates is: the covariates after the origin carried forward from the latest day.

    The backtest and ``/predict`` carry covariates forward unless they are sent; the margin must cover the
    errors of that forecast, not of one that knew the covariates (on a plan that changes at the weekend the
    two differ by more than the band). Sent covariates usually make the errors smaller: the interval then
    errs on the wide side.
    """
    rows, level = feature_matrix(layout, values, covariates, _ns(start), origins, steps, covariates_given=False)
    lower = boosters["lower"].predict(rows, num_threads=params.num_threads)
    upper = boosters["upper"].predict(rows, num_threads=params.num_threads)
    return values[origins + steps] / level, lower, upper


def _conformal_margin(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray, level: float) -> float:
    """How much to widen (or narrow, if negative) the quantile band so ``level`` of held-out readings fall in."""
    if actual.size == 0:
        return 0.0
    scores = np.sort(np.maximum(lower - actual, actual - upper))
    rank = min(int(np.ceil((scores.size + 1) * level)), scores.size)  # split-conformal: the k-th smallest score
    return float(scores[rank - 1])


def _ns(moment: datetime) -> int:
    return int(np.datetime64(moment.replace(tzinfo=None), "ns").astype(np.int64))
