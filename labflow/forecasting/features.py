"""Features for forecasting ``step`` readings ahead of an origin: lags, rolling statistics, calendar, covariates.

The model is *direct*: one row per (origin, step) pair, with the step as a feature, so a whole
horizon is predicted by one batched call. Every feature uses only readings up to the origin, and
needs at most one week of history (a week-old reading of the target time is the oldest lag), so a
168-point hourly history is enough to forecast a day. Covariates at the target time come from the
caller (a weather forecast, a production plan) or, when not sent, are filled by persistence: the same
time on the latest known day, or one week earlier, whichever forecast that covariate better on the
training history (:func:`choose_fill_days`; a weekday plan is filled from last week's same weekday).
A ``<covariate>_sent`` feature tells the model which: a sent plan is trusted as the plan, a filled one
as the guess it is.

This is the boundary to LightGBM, so it works on NumPy arrays. Training, backtests and anomaly checks
call :func:`feature_matrix`; a forecast request, which has one origin, calls :func:`forecast_rows`, the
same rows with a fraction of the NumPy calls (at 24 rows the cost is the calls, not the arithmetic).
Both compute every number with the same operations in the same order, so they agree exactly, bit for
bit (tested), and a served model sees the features it was trained on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

NS = 1_000_000_000
DAY_S = 86_400
WEEK_S = 7 * DAY_S
CALENDAR_FEATURES = ("step", "hour", "weekday", "weekend")
HISTORY_FEATURES = ("last", "last_change", "mean_day", "std_day", "same_time_last_day", "same_time_day_before",
                    "same_time_last_week", "same_time_mean", "same_time_last_day_vs_mean")
_DAYS_BACK = np.arange(1, 8)
FILL_DAYS = (1, 7)  # fill a covariate from the same time one day or one week before the target


@dataclass(frozen=True)
class FeatureLayout:
    """The grid step, the longest horizon and the covariates a model was trained with; how each covariate
    is filled when not sent (``fill_days``: 1 = the same time on the latest known day, 7 = one week
    earlier; all 1 when empty) and whether the rows say which covariates were sent (``sent_flags``;
    models of format 1 have no such features, and have a ``day_of_year`` feature: on a few weeks of history
    it only let the trees carry the last weeks' offsets into the future — the demo workshop's MAE was 1.5–1.8×
    what it is without — and on two years of six buildings it cost 1.4 % of MAE too)."""

    step_s: int
    horizon: int
    covariates: tuple[str, ...] = ()
    fill_days: tuple[int, ...] = ()
    sent_flags: bool = True
    day_of_year: bool = False

    def __post_init__(self) -> None:
        if not self.fill_days:
            object.__setattr__(self, "fill_days", (1,) * len(self.covariates))
        if len(self.fill_days) != len(self.covariates) or not set(self.fill_days) <= set(FILL_DAYS):
            raise ValueError(f"fill_days must be one of {FILL_DAYS} per covariate, got {self.fill_days}")

    @property
    def steps_per_day(self) -> int:
        return DAY_S // self.step_s

    @property
    def steps_per_week(self) -> int:
        return WEEK_S // self.step_s

    @property
    def min_history(self) -> int:
        """Readings needed before an origin: one week."""
        return self.steps_per_week

    @property
    def names(self) -> list[str]:
        return [*CALENDAR_FEATURES, *(("day_of_year",) if self.day_of_year else ()), *HISTORY_FEATURES,
                *(f"{c}_at_target" for c in self.covariates),
                *(f"{c}_mean_day" for c in self.covariates),
                *(f"{c}_sent" for c in self.covariates if self.sent_flags)]

    @property
    def calendar_width(self) -> int:
        """How many calendar features lead a row (the history features follow them)."""
        return len(CALENDAR_FEATURES) + self.day_of_year

    def fill_lags(self, steps: np.ndarray) -> np.ndarray:
        """``len(steps) × k``: how many steps before each target its unsent covariates are taken from (the
        nearest whole ``fill_days`` period known at the origin)."""
        periods = np.array(self.fill_days, dtype=np.int64) * self.steps_per_day
        return -(-np.asarray(steps, dtype=np.int64)[:, None] // periods[None, :]) * periods[None, :]


def feature_matrix(layout: FeatureLayout, values: np.ndarray, covariates: np.ndarray, start_ns: int,
                   origins: np.ndarray, steps: np.ndarray, *, covariates_given: bool | np.ndarray = False
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The feature rows of every ``(origins[i], steps[i])`` pair, and the level each row is scaled by.

    Readings enter relative to the level (the mean of the week before the origin), and the model
    predicts the target relative to it too: a line that starts using half the energy it used last
    year is still recognised, where absolute values would fall outside everything a tree has seen.

    ``values`` are the readings on the grid (NaN where missing) and ``start_ns`` the time of index 0.
    ``covariates`` is ``(m, k)`` with ``m >= len(values)``. ``covariates_given`` (one flag, or one per
    row and covariate) says which were sent: those are taken at the target index as they are (known or
    forecast), the others filled as :meth:`FeatureLayout.fill_lags` says.
    """
    layout_day, layout_week = layout.steps_per_day, layout.steps_per_week
    origins = np.asarray(origins, dtype=np.int64)
    steps = np.asarray(steps, dtype=np.int64)
    targets = origins + steps
    days_back = -(-steps // layout_day)  # the latest whole day before the target that is known at the origin
    lag_day = targets - days_back * layout_day
    padded = np.concatenate([values, np.full(int(max(steps.max(initial=0), 1)), np.nan)])
    with np.errstate(all="ignore"):  # empty windows give NaN features, on purpose
        sums, counts, squares = _cumulative(values)
        mean_day, std_day = _window_stats(sums, counts, squares, origins, layout_day)
        mean_week, _ = _window_stats(sums, counts, squares, origins, layout_week)
        level = np.where(np.abs(mean_week) > 1e-9, np.abs(mean_week), 1.0)
        level = np.where(np.isnan(level), 1.0, level)
        same_time = padded[targets[:, None] - _DAYS_BACK[None, :] * layout_day]
        known = _DAYS_BACK[None, :] >= days_back[:, None]
        same_time_mean = _nanmean(np.where(known, same_time, np.nan))
        seconds = (start_ns // NS) + targets * layout.step_s
        names = layout.names
        rows = np.empty((targets.size, len(names)))
        c = _calendar(layout, rows, steps, seconds)
        scaled = [values[origins], values[origins] - values[np.maximum(origins - 1, 0)], mean_day, std_day,
                  padded[lag_day], padded[lag_day - layout_day], padded[targets - layout_week], same_time_mean,
                  padded[lag_day] - same_time_mean]
        rows[:, c:c + len(scaled)] = np.column_stack(scaled) / level[:, None]
        if layout.covariates:
            k = len(layout.covariates)
            given = np.broadcast_to(np.asarray(covariates_given, dtype=bool), (targets.size, k))
            filled = covariates[targets[:, None] - layout.fill_lags(steps), np.arange(k)[None, :]]
            rows[:, c + len(scaled):c + len(scaled) + k] = np.where(given, covariates[targets], filled)
            present = ~np.isnan(covariates[:len(values)])
            cov_sums = _prefixed_cumsum(np.where(present, covariates[:len(values)], 0.0))
            cov_counts = _prefixed_cumsum(present)
            low = np.maximum(origins + 1 - layout_day, 0)
            rows[:, c + len(scaled) + k:c + len(scaled) + 2 * k] = ((cov_sums[origins + 1] - cov_sums[low])
                                                                 / (cov_counts[origins + 1] - cov_counts[low]))
            if layout.sent_flags:
                rows[:, c + len(scaled) + 2 * k:] = given
    return rows, level


def forecast_rows(layout: FeatureLayout, values: np.ndarray, covariates: np.ndarray, start_ns: int,
                  horizon: int, sent: np.ndarray | bool = True) -> tuple[np.ndarray, float]:
    """The rows of :func:`feature_matrix` for one origin, the last reading, and steps ``1..horizon`` with
    the covariates at every target already in place (``covariates`` has ``len(values) + horizon`` rows, as
    :func:`extend_covariates` makes them), ``sent`` saying which were sent, and the level.

    Equal, bit for bit, to ``feature_matrix(layout, values, covariates, start_ns, [origin] * horizon,
    [1 … horizon], covariates_given=sent)``: the statistics of the origin are computed once, as scalars,
    from the same prefix sums, and the lookups relative to the origin are prepared once per horizon.
    """
    origin = values.size - 1
    steps, lagged_at, same_time_at, known = _forecast_offsets(layout.steps_per_day, layout.steps_per_week,
                                                              horizon)
    padded = np.concatenate([values, np.full(max(horizon, 1), np.nan)])
    k = len(layout.covariates)
    present = ~np.isnan(values)
    clean = np.where(present, values, 0.0)
    columns = [clean, present, clean * clean]
    if k:
        covariate_present = ~np.isnan(covariates[:values.size])
        columns += [np.where(covariate_present, covariates[:values.size], 0.0), covariate_present]
    sums = _prefixed_cumsum(np.column_stack(columns))
    at = sums[origin + 1]
    day_low = sums[max(origin + 1 - layout.steps_per_day, 0)]
    week_low = sums[max(origin + 1 - layout.steps_per_week, 0)]
    mean_day, std_day = _window_stats_at(at, day_low)
    mean_week = _window_stats_at(at, week_low)[0]
    level = abs(mean_week) if abs(mean_week) > 1e-9 else 1.0  # NaN compares false: 1.0, as feature_matrix
    targets = origin + steps
    seconds = (start_ns // NS) + targets * layout.step_s
    rows = np.empty((horizon, len(layout.names)))
    c = _calendar(layout, rows, steps, seconds)
    last = values[origin]
    rows[:, c:c + 4] = np.array([last, last - values[max(origin - 1, 0)], mean_day, std_day]) / level
    with np.errstate(all="ignore"):
        lagged = padded[origin + lagged_at]
        same_time_mean = _nanmean(np.where(known, padded[origin + same_time_at], np.nan))
        rows[:, c + 4:c + 7] = lagged / level
        rows[:, c + 7] = same_time_mean / level
        rows[:, c + 8] = (lagged[:, 0] - same_time_mean) / level
        if k:
            h = c + len(HISTORY_FEATURES)
            rows[:, h:h + k] = covariates[targets]
            rows[:, h + k:h + 2 * k] = (at[3:3 + k] - day_low[3:3 + k]) / (at[3 + k:] - day_low[3 + k:])
            if layout.sent_flags:
                rows[:, h + 2 * k:] = np.broadcast_to(np.asarray(sent, dtype=bool), (horizon, k))
    return rows, level


def _calendar(layout: FeatureLayout, rows: np.ndarray, steps: np.ndarray, seconds: np.ndarray) -> int:
    """Write the calendar features of targets at ``seconds`` into the first columns; returns how many."""
    weekday = ((seconds // DAY_S) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    rows[:, 0] = steps
    rows[:, 1] = (seconds % DAY_S) / 3600.0
    rows[:, 2] = weekday
    rows[:, 3] = weekday >= 5
    if layout.day_of_year:
        rows[:, 4] = (seconds % (365.2425 * DAY_S)) / DAY_S
    return layout.calendar_width


@lru_cache(maxsize=64)
def _forecast_offsets(day: int, week: int, horizon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For steps ``1..horizon``: the steps, where the day-before, two-days-before and week-before readings
    lie relative to the origin (``horizon × 3``), where the seven same-time readings lie (``horizon × 7``)
    and which of those are known at the origin. Read-only: shared by every request."""
    steps = np.arange(1, horizon + 1)
    days_back = -(-steps // day)
    lag_day = steps - days_back * day
    arrays = (steps, np.column_stack([lag_day, lag_day - day, steps - week]),
              steps[:, None] - _DAYS_BACK[None, :] * day, _DAYS_BACK[None, :] >= days_back[:, None])
    for array in arrays:
        array.flags.writeable = False
    return arrays


def _window_stats_at(at: np.ndarray, low: np.ndarray) -> tuple[float, float]:
    """:func:`_window_stats` of one window from two rows of prefix sums (value, count, square, …), as floats."""
    n = float(at[1] - low[1])
    if n <= 0:
        return math.nan, math.nan
    mean = float(at[0] - low[0]) / n
    if n <= 1:
        return mean, math.nan
    variance = float(at[2] - low[2]) / n - mean * mean
    return mean, math.sqrt(max(variance, 0.0))


def extend_covariates(layout: FeatureLayout, covariates: np.ndarray, future: np.ndarray | None,
                      horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Covariates for ``horizon`` steps after the last reading appended to ``covariates``: the ``future`` values
    where sent (a weather forecast, a production plan), else filled as the layout says; and which were sent
    (``horizon × k``)."""
    size, k = covariates.shape
    sent = np.zeros((horizon, k), dtype=bool) if future is None else ~np.isnan(future)
    steps = np.arange(1, horizon + 1)
    filled = covariates[size - 1 + steps[:, None] - layout.fill_lags(steps), np.arange(k)[None, :]]
    future_part = filled if future is None else np.where(sent, future, filled)
    return np.vstack([covariates, future_part]), sent


def choose_fill_days(layout: FeatureLayout, covariates: np.ndarray, targets: np.ndarray,
                     steps: np.ndarray) -> tuple[int, ...]:
    """Per covariate, the :data:`FILL_DAYS` period whose persistence forecast the covariate at ``targets``
    (``steps`` after their origins) with the smallest mean absolute error; the day on a tie or no data."""
    chosen = []
    for j in range(len(layout.covariates)):
        errors = []
        for days in FILL_DAYS:
            lags = FeatureLayout(layout.step_s, layout.horizon, (layout.covariates[j],), (days,)).fill_lags(steps)
            source = targets - lags[:, 0]
            usable = source >= 0
            error = np.abs(covariates[targets[usable], j] - covariates[source[usable], j])
            error = error[~np.isnan(error)]
            errors.append(float(error.mean()) if error.size else np.inf)
        chosen.append(FILL_DAYS[int(np.argmin(errors))])
    return tuple(chosen)


def training_pairs(layout: FeatureLayout, values: np.ndarray, *, first: int, last: int, max_rows: int,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(origin, step) pairs whose target reading is known, with origins in ``[first, last]`` and a week of
    history before each; at most ``max_rows`` of them, drawn at random (fixed seed)."""
    first = max(first, layout.min_history - 1)
    origins = np.arange(first, last + 1)
    steps = np.arange(1, layout.horizon + 1)
    grid_origins = np.repeat(origins, steps.size)
    grid_steps = np.tile(steps, origins.size)
    keep = grid_origins + grid_steps < values.size
    grid_origins, grid_steps = grid_origins[keep], grid_steps[keep]
    keep = ~np.isnan(values[grid_origins + grid_steps])
    grid_origins, grid_steps = grid_origins[keep], grid_steps[keep]
    if grid_origins.size > max_rows:
        chosen = np.sort(np.random.default_rng(seed).choice(grid_origins.size, max_rows, replace=False))
        grid_origins, grid_steps = grid_origins[chosen], grid_steps[chosen]
    return grid_origins, grid_steps


def _cumulative(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    present = ~np.isnan(values)
    clean = np.where(present, values, 0.0)
    sums = _prefixed_cumsum(np.stack([clean, present, clean * clean], axis=1))
    return sums[:, 0], sums[:, 1], sums[:, 2]


def _prefixed_cumsum(columns: np.ndarray) -> np.ndarray:
    """Cumulative sums down the rows, with a row of zeros first (so a window sum is two lookups)."""
    out = np.zeros((columns.shape[0] + 1, *columns.shape[1:]))
    np.cumsum(columns, axis=0, out=out[1:])
    return out


def _window_stats(sums: np.ndarray, counts: np.ndarray, squares: np.ndarray, origins: np.ndarray,
                  width: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of the ``width`` readings up to each origin (call under ``np.errstate``)."""
    low = np.maximum(origins + 1 - width, 0)
    n = counts[origins + 1] - counts[low]
    mean = (sums[origins + 1] - sums[low]) / n
    variance = (squares[origins + 1] - squares[low]) / n - mean * mean
    return np.where(n > 0, mean, np.nan), np.sqrt(np.clip(np.where(n > 1, variance, np.nan), 0, None))


def _nanmean(matrix: np.ndarray) -> np.ndarray:
    present = ~np.isnan(matrix)
    n = present.sum(axis=1)
    total = np.where(present, matrix, 0.0).sum(axis=1)
    return np.where(n > 0, total / np.maximum(n, 1), np.nan)
