"""examples/bo_loop.py: its surrogate, and one real round against the API over HTTP."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time

import numpy as np
import pytest

from labflow.review.store import ReviewStore
from labflow.settings import PROJECT_ROOT
from tests.api.conftest import InboxDaemon, detected_annotation, uvicorn_server
from tests.lab_fixtures import ReviewDaemon

SCRIPT = PROJECT_ROOT / "examples" / "bo_loop.py"
_spec = importlib.util.spec_from_file_location("bo_loop", SCRIPT)
bo_loop = sys.modules["bo_loop"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bo_loop)


def test_the_surrogate_interpolates_and_is_unsure_far_from_data():
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(25, 2))
    y = np.sin(3 * x[:, 0]) + x[:, 1] ** 2
    model = bo_loop.GaussianProcess(noise=1e-6).fit(x, y)
    mean, std = model.predict(x)
    assert np.allclose(mean, y, atol=1e-2) and std.max() < 0.05
    _, far = model.predict(np.array([[3.0, 3.0]]))
    assert far[0] > 10 * std.max()


def test_recommendations_switch_from_space_filling_to_model_driven():
    rng = np.random.default_rng(2)
    first = bo_loop.recommend([], 3, rng)
    assert {p["phase"] for p in first} == {"space_filling"}
    assert all((p["mean"], p["uncertainty"]) == (bo_loop.PRIOR_MEAN, bo_loop.PRIOR_STD) for p in first)
    seen = [bo_loop.Observation(np.array([t, f]), 40 + 2 * t - 60 * (f - 1) ** 2)
            for t, f in [(30, 0.6), (40, 1.4), (50, 1.0), (35, 0.9), (55, 1.2)]]
    later = bo_loop.recommend(seen, 2, rng)
    assert {p["phase"] for p in later} == {"model_driven"}
    for point in later:
        low, high = bo_loop.BOUNDS["column_temperature_c"]
        assert low <= point["parameters"]["column_temperature_c"] <= high and point["uncertainty"] > 0
    assert max(p["parameters"]["column_temperature_c"] for p in later) > 45  # the objective grows with it


def test_the_uncertainty_is_in_the_objectives_units_and_covers_new_measurements():
    rng = np.random.default_rng(3)

    def measured(inputs: np.ndarray) -> np.ndarray:  # main-peak areas around 2,000 with measurement noise
        t, f = inputs[:, 0], inputs[:, 1]
        return 30 * (40 + 2.0 * t - 60 * (f - 1.0) ** 2) + rng.normal(0, 40, len(t))

    low, high = np.array([25.0, 0.5]), np.array([60.0, 1.5])
    seen = low + rng.uniform(size=(12, 2)) * (high - low)
    y = measured(seen)
    model = bo_loop.GaussianProcess().fit(bo_loop.scale(seen), y)
    new = low + rng.uniform(size=(200, 2)) * (high - low)
    mean, std = model.predict(bo_loop.scale(new))
    inside = np.abs(measured(new) - mean) <= 2 * std
    assert 0.85 <= inside.mean() <= 1.0  # a ± 2 σ interval holds about 95 % of new measurements
    assert 20 < np.median(std) < 0.5 * y.std()  # in the objective's units: tens, not ± 1 on values of 2,000
    alone = bo_loop.GaussianProcess().fit(bo_loop.scale(seen[:1]), y[:1])
    _, far = alone.predict(bo_loop.scale(np.array([[25.0, 0.5], [60.0, 1.5]])))
    assert far.max() > 0.5 * bo_loop.PRIOR_STD  # one measurement says little about the far corner


def test_help_shows_every_default():
    text = bo_loop.parser().format_help()
    for default in ("http://127.0.0.1:8000", "(default: demo)", "(default: 3)", "(default: 2000.0)",
                    "(default: 1000.0)", "$LABFLOW_API_KEY"):
        assert default in text


@pytest.mark.timeout(180)
def test_one_round_against_the_real_server_waits_for_the_confirmation(api):
    with uvicorn_server(api.app) as url:
        script = subprocess.Popen([sys.executable, str(SCRIPT), "--api", url, "--campaign", "demo", "--iterations",
                                   "1", "--simulate", "--timeout", "90", "--poll", "0.2"],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            uploaded = _wait_for_upload(api)
            inbox, review = InboxDaemon(api.settings, api.instance, api.resources), ReviewDaemon(
                api.settings, api.instance, api.resources)
            inbox.tick()
            (request,) = inbox.tick()
            inbox.execute(request)
            key = request.partition_key
            ReviewStore(api.catalog).confirm(key, "ana", detected_annotation(api, key), base_version=0)
            review.tick()
            output, _ = script.communicate(timeout=60)
        finally:
            script.kill()
    assert script.returncode == 0, output
    assert "space_filling recommendation(s)" in output and "confirmed: objective" in output
    campaign = api.client.get("/api/v1/campaigns/demo").json()
    assert campaign["phase"] == "space_filling" and len(campaign["points"]) == 3
    assert [p["state"] for p in campaign["points"]].count("confirmed") == 1
    assert uploaded.startswith("hplc-01/EXP-")


def _wait_for_upload(api, timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        files = [p for p in api.settings.inbox.rglob("*.csv") if p.is_file()]
        if files:
            return files[0].relative_to(api.settings.inbox).as_posix()
        time.sleep(0.1)
    raise AssertionError("the example uploaded nothing")
