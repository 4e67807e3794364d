"""Two small trained models shared by the forecasting tests (training takes about a second each)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from labflow.forecasting.demo import energy_csv
from labflow.forecasting.history import EnergyHistory, read_history_csv
from labflow.forecasting.model import ForecastModel, train_forecast_model
from tests.forecast_fixtures import FAST_PARAMS


@pytest.fixture(scope="session")
def workshop_history() -> EnergyHistory:
    """Six weeks of hourly workshop consumption with temperature and production."""
    return read_history_csv(energy_csv(6), source="workshop.csv")


@pytest.fixture(scope="session")
def workshop_model(workshop_history: EnergyHistory) -> ForecastModel:
    return train_forecast_model(workshop_history, FAST_PARAMS)


@pytest.fixture(scope="session")
def other_model(workshop_history: EnergyHistory) -> ForecastModel:
    """A second, different model of the same asset (fewer trees, another seed)."""
    return train_forecast_model(workshop_history, replace(FAST_PARAMS, n_estimators=15, seed=3))
