"""Applying a recipe to a series: smoothing (with the baseline), then peaks on one channel.

The rule "recipe → cleaned curve → peaks" is written here once. The pipeline's ``clean_series`` and
``peaks`` steps, the review preview, the kept preview and the measurement of a confirmed annotation all
call these functions, so what a person previews is what a run computes.

>>> import polars as pl
>>> from labflow.processing.recipes import Recipe
>>> recipe = Recipe.model_validate({"id": "demo", "smoothing": {"window": 3}, "peaks": {"min_prominence": 0.5}})
>>> series = pl.DataFrame({"time_s": [0.0, 1, 2, 3, 4, 5, 6], "signal": [0.0, 0, 1, 4, 1, 0, 0]})
>>> result = apply_recipe(series, recipe)
>>> result.channel, result.cleaned.columns, result.peak_times
('signal', ['time_s', 'signal', 'signal_clean'], [3.0])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from labflow.processing.peaks import PeakResult, detect_peaks
from labflow.processing.recipes import Recipe
from labflow.processing.smoothing import clean_series

TIME_COLUMNS = ("time_s", "timestamp")


class UnknownChannel(ValueError):
    """The recipe (or a person) names a channel the series does not have."""

    def __init__(self, channel: str, known: Sequence[str]):
        super().__init__(f"unknown channel {channel!r}; the series has {', '.join(known)}")
        self.channel, self.known = channel, list(known)


@dataclass(frozen=True)
class Processed:
    """A series with a recipe applied: raw and cleaned channels, and the peaks found on one of them."""

    cleaned: pl.DataFrame
    channel: str
    peaks: PeakResult

    @property
    def peak_times(self) -> list[float]:
        return self.peaks.table["time_s"].to_list()


def value_channels(frame: pl.DataFrame) -> list[str]:
    """The value columns of a series (everything but the time columns)."""
    return [c for c in frame.columns if c not in TIME_COLUMNS]


def clean(series: pl.DataFrame, recipe: Recipe) -> pl.DataFrame:
    """Every value channel smoothed (baseline removed if the recipe says so) as ``<ch>_clean`` beside the raw."""
    return clean_series(series, value_channels(series), recipe.smoothing)


def peak_channel(series: pl.DataFrame, recipe: Recipe) -> str:
    """The channel peaks are searched on: the recipe's ``peaks.channel``, else the first; raw or cleaned series."""
    channels = [c for c in value_channels(series) if not c.endswith("_clean")]
    wanted = recipe.peaks.channel or channels[0]
    if wanted not in channels:
        raise UnknownChannel(wanted, channels)
    return wanted


def find_peaks(cleaned: pl.DataFrame, recipe: Recipe) -> Processed:
    """Peaks of a cleaned series on the recipe's channel, on its cleaned or raw values (``peaks.source``)."""
    channel = peak_channel(cleaned, recipe)
    column = f"{channel}_clean" if recipe.peaks.source == "cleaned" else channel
    return Processed(cleaned, channel, detect_peaks(cleaned["time_s"].to_numpy(), cleaned[column].to_numpy(),
                                                    recipe.peaks))


def apply_recipe(series: pl.DataFrame, recipe: Recipe) -> Processed:
    """Smooth a raw series and find its peaks, as a run's ``clean_series`` and ``peaks`` steps do."""
    return find_peaks(clean(series, recipe), recipe)


def changes_cleaning(overrides: Mapping[str, Any]) -> bool:
    """Whether parameter overrides change the cleaned curve (else the stored ``clean_series`` holds)."""
    return any(key.startswith("smoothing.") for key in overrides)
