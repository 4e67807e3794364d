"""The engine spools events and patterns, and a restart resumes from the checkpoint."""

import pickle

import numpy as np

from labflow.streams.engine import StreamEngine
from labflow.streams.sources import SourceRegistry
from tests.labflow.streams.conftest import as_events, noise

SOURCE_YAML = """
name: probe
fields: [value]
detectors:
  anomaly: {warmup: 100, cooldown: 20}
"""


def make_engine(tmp_path):
    (tmp_path / "sources").mkdir(parents=True, exist_ok=True)
    (tmp_path / "sources" / "probe.yaml").write_text(SOURCE_YAML)
    return StreamEngine(tmp_path / "streams", SourceRegistry(tmp_path / "sources"))


def learned_state(engine):
    pipeline = engine.pipelines["probe"]
    field = pipeline.anomaly.ensemble.fields["value"]
    return (pipeline.processed, pipeline.anomaly.seen, pipeline.drift.detectors["value"].width,
            field.deviation.mean, field.context.tail.tolist(),
            field.context_likelihood.history.tolist(),
            pipeline.clusters.seen)


def test_a_restart_resumes_from_the_checkpoint_instead_of_relearning(tmp_path):
    values = np.r_[noise(1500), noise(1500, mean=14.0, seed=1)]
    engine = make_engine(tmp_path)
    engine.process("probe", as_events(values[:1000]))
    engine.checkpoint()
    before = learned_state(engine)

    restarted = make_engine(tmp_path)
    assert not restarted.pipelines
    restarted.pipeline("probe")
    assert learned_state(restarted) == before, "the restored state differs from the checkpointed one"
    assert restarted.pipelines["probe"].anomaly.seen == 1000, "it starts from 1000 events, not from zero"

    # the rest of the stream gives the same findings as an engine that never stopped
    uninterrupted = make_engine(tmp_path / "other")
    uninterrupted.process("probe", as_events(values[:1000]))
    expected = uninterrupted.process("probe", as_events(values[1000:], start=1000))
    resumed = restarted.process("probe", as_events(values[1000:], start=1000))
    assert [(p.type, p.event_id) for p in resumed.patterns] == [(p.type, p.event_id) for p in expected.patterns]
    assert resumed.scores == expected.scores
    assert any(p.type == "drift" for p in resumed.patterns)


def test_resent_events_are_not_processed_twice(tmp_path):
    engine = make_engine(tmp_path)
    events = as_events(noise(300))
    assert engine.process("probe", events).frame.height == 300
    assert engine.process("probe", events[250:] + as_events(noise(10), start=300)).frame.height == 10
    hours = engine.store.hours("events", "probe")
    assert sum(engine.store.read_events("probe", h).height for h in hours) == 310


def test_events_and_patterns_are_spooled_by_source_and_hour(tmp_path):
    engine = make_engine(tmp_path)
    values = noise(5000)
    values[4000] = 40.0
    result = engine.process("probe", as_events(values))
    hours = engine.store.hours("events", "probe")
    assert hours == ["2024-05-01T12", "2024-05-01T13"]  # 5000 s from 12:00
    frame = engine.store.read_events("probe", "2024-05-01T12")
    assert frame.height == 3600 and {"event_id", "timestamp", "value", "anomaly_score"} <= set(frame.columns)
    spooled = engine.store.read_patterns("probe")
    assert [p["pattern_id"] for p in spooled] == [p.pattern_id for p in result.patterns]
    spike = next(p for p in spooled if p["event_id"] == "4000")
    assert spike["type"] == "anomaly" and set(spike["details"]) == {"prev_state", "new_state", "metrics",
                                                                     "confidence"}
    around = engine.store.events_around(spike, minutes=1)
    assert "4000" in around["event_id"].to_list() and around.height == 121


def test_the_checkpoint_is_a_plain_pickle_of_the_pipeline(tmp_path):
    engine = make_engine(tmp_path)
    engine.process("probe", as_events(noise(50)))
    engine.checkpoint()
    restored = pickle.loads((tmp_path / "streams" / "state" / "probe.pkl").read_bytes())
    assert restored.processed == 50
