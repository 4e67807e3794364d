"""The anomaly estimators on generated streams: a planted anomaly is found within a bounded delay, a clean
stationary stream stays quiet after the warm-up, every score is in [0, 1], and a pickled estimator goes on
exactly as the one that was never stopped (what the engine's checkpoint relies on)."""

import math
import pickle

import numpy as np
import pytest

from labflow.streams.anomaly import AnomalyDetector
from labflow.streams.deviation import Deviation
from labflow.streams.ensemble import AnomalyEnsemble
from labflow.streams.knn import WindowKNN
from labflow.streams.likelihood import AnomalyLikelihood, log_score
from labflow.streams.range_break import RangeBreak
from labflow.streams.sources import AnomalySettings


def daily(n: int, seed: int = 0, period: int = 96) -> np.ndarray:
    """A periodic signal with a little noise (a day in 5-minute steps is 288; shorter keeps tests fast)."""
    t = np.arange(n)
    return 50 + 10 * np.sin(2 * np.pi * t / period) + np.random.default_rng(seed).normal(0, 0.5, n)


def alarms(values: np.ndarray, **settings) -> list[int]:
    detector = AnomalyDetector(AnomalySettings(**settings), ("v",))
    scores, found = detector.update_many({"v": values.tolist()})
    assert all(0.0 <= s <= 1.0 for s in scores)
    return [a.row for a in found]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_spike_is_alarmed_at_once(seed):
    values = daily(3000, seed)
    values[2400] += 30
    found = alarms(values)
    assert [i for i in found if 2400 <= i <= 2402], f"alarms at {found}"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_level_shift_is_alarmed_within_a_few_events(seed):
    values = daily(3000, seed)
    values[2400:] += 15
    found = alarms(values)
    assert [i for i in found if 2400 <= i <= 2410], f"alarms at {found}"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_changed_shape_within_the_usual_range_is_alarmed(seed):
    """The signal stops oscillating but stays inside its range: only the context detector can see it."""
    values = daily(3000, seed)
    values[2400:2600] = 50 + np.random.default_rng(seed).normal(0, 0.5, 200)
    found = alarms(values)
    assert [i for i in found if 2400 <= i <= 2450], f"alarms at {found}"


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_clean_stationary_streams_stay_quiet_after_the_warm_up(seed):
    assert alarms(daily(5000, seed)) == []
    assert alarms(np.random.default_rng(seed).normal(10, 1, 5000)) == []


def test_no_alarm_during_the_warm_up_and_one_per_cool_down():
    values = daily(2000)
    values[100] += 40  # inside the warm-up
    values[1500:1520] += 40  # twenty anomalous events: one finding
    found = alarms(values, warmup=300, cooldown=100)
    assert len(found) == 1 and 1500 <= found[0] <= 1502, f"alarms at {found}"


def replay_after_pickle(make, feed, first, rest):
    """Scores of ``rest`` from an estimator fed ``first``, and from its pickled copy."""
    original = make()
    feed(original, first)
    copy = pickle.loads(pickle.dumps(original))
    return feed(original, rest), feed(copy, rest)


@pytest.mark.parametrize("name,make,feed", [
    ("likelihood", lambda: AnomalyLikelihood(200, 5), lambda e, v: [e.update(abs(x - 50)) for x in v]),
    ("deviation", lambda: Deviation(0.01), lambda e, v: [(e.score_one(x), e.learn_one(x))[0] for x in v]),
    ("knn", lambda: WindowKNN(10, 300, 5), lambda e, v: e.update_many(v).tolist()),
    ("range", lambda: RangeBreak(0.05), lambda e, v: [e.update(x) for x in v]),
    ("ensemble", lambda: AnomalyEnsemble(("v",), AnomalySettings()),
     lambda e, v: e.update_many({"v": list(v)})[0]["v"]),
    ("detector", lambda: AnomalyDetector(AnomalySettings(), ("v",)), lambda e, v: e.update_many({"v": list(v)})[0]),
])
def test_a_pickled_estimator_continues_exactly(name, make, feed):
    values = daily(2500)
    values[2000] += 30
    kept, restored = replay_after_pickle(make, feed, values[:1200].tolist(), values[1200:].tolist())
    assert kept == restored, name


def test_knn_scores_a_batch_as_one_event_at_a_time():
    values = daily(1500) + np.random.default_rng(9).normal(0, 2, 1500).cumsum() * 0.1
    one_by_one = WindowKNN(8, 300, 5)
    batched = WindowKNN(8, 300, 5)
    single = [one_by_one.update(x) for x in values]
    chunks = np.concatenate([batched.update_many(values[i:i + 333]) for i in range(0, 1500, 333)])
    assert np.allclose(single, chunks)
    assert chunks.min() >= 0.0
    assert chunks[:20].max() == 0.0 < chunks[21], "no score before there are more than k windows to compare"


def test_knn_finds_a_shape_it_has_not_seen():
    values = daily(1200)
    knn = WindowKNN(10, 600, 5)
    usual = knn.update_many(values)[600:]
    bump = knn.update_many(50 + np.r_[np.zeros(5), np.full(5, 8.0)])  # flat and a step: never seen
    assert bump.max() > 3 * usual.max()


def test_likelihood_and_its_log_scale():
    lik = AnomalyLikelihood(history=300, short=5)
    calm = [lik.update(float(x)) for x in np.random.default_rng(3).normal(1.0, 0.1, 1000)]
    assert max(calm[100:]) < 0.99999
    burst = [lik.update(3.0) for _ in range(5)]
    assert burst[-1] > 0.99999 and log_score(burst[-1]) > 0.5
    assert log_score(0.0) == 0.0 and math.isclose(log_score(1.0), 1.0, abs_tol=1e-6)
    assert math.isclose(log_score(0.99999), 0.5, abs_tol=1e-4)


def test_range_break_needs_a_margin():
    watch = RangeBreak(0.1)
    assert [watch.update(v) for v in (0.0, 10.0, 10.5, 12.0, -0.5, -2.0)] == [False, True, False, True, False, True]
