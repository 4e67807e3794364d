"""Stream assets materialize a source × hour partition from the spool; the sensor requests closed hours."""

import dataclasses
from datetime import datetime, timezone

import dagster as dg
import pytest

from lab_assets.partitions import STREAM_SOURCES_PARTITION
from lab_assets.streams import stream_assets
from labflow.store.outputs import open_output_store
from labflow.streams.engine import StreamEngine
from labflow.streams.sources import SourceRegistry
from labflow.streams.tables import EVENTS_ASSET, FEEDBACK_ASSET, PATTERNS_ASSET, SUMMARY_ASSET
from labflow.streams.store import StreamStore
from sensors.streams import build_streams_sensor, plan_stream_runs
from tests.labflow.streams.conftest import as_events, noise

SOURCE_YAML = "name: probe\nfields: [value]\n"
DAY_AFTER = datetime(2024, 5, 2, 1, tzinfo=timezone.utc)


@pytest.fixture
def lab_settings(lab_settings, tmp_path):
    """The lab's settings with a sources folder of its own."""
    return dataclasses.replace(lab_settings, sources_dir=tmp_path / "sources")


def spool_a_stream(settings) -> StreamEngine:
    settings.sources_dir.mkdir(parents=True, exist_ok=True)
    (settings.sources_dir / "probe.yaml").write_text(SOURCE_YAML)
    engine = StreamEngine(settings.streams, SourceRegistry(settings.sources_dir))
    values = noise(5000)
    values[3000] = 40.0
    engine.process("probe", as_events(values))  # 2024-05-01 12:00 to 13:23
    return engine


def test_events_and_patterns_of_a_source_hour_are_materialized(lab_settings, lab_resources, instance):
    engine = spool_a_stream(lab_settings)
    instance.add_dynamic_partitions(STREAM_SOURCES_PARTITION, ["probe"])
    key = dg.MultiPartitionKey({"source": "probe", "hour": "2024-05-01-12:00"})
    result = dg.materialize(stream_assets[:2], instance=instance, resources=lab_resources, partition_key=key)
    assert result.success
    outputs = open_output_store(lab_settings)
    events = outputs.read_frame(EVENTS_ASSET, "probe__2024-05-01T12")
    assert events.height == 3600 and events["timestamp"].is_sorted()
    assert {"value", "anomaly_score"} <= set(events.columns)
    patterns = outputs.read_frame(PATTERNS_ASSET, "probe__2024-05-01T12")
    spooled = [p for p in engine.store.read_patterns("probe") if p["timestamp"] < "2024-05-01T13"]
    assert patterns["pattern_id"].to_list() == [p["pattern_id"] for p in spooled]
    assert "3000" in patterns.filter(patterns["type"] == "anomaly")["event_id"].to_list()
    materialization = instance.get_latest_materialization_event(dg.AssetKey(EVENTS_ASSET))
    assert materialization.asset_materialization.partition == str(key)


def test_the_daily_summary_and_the_feedback_assets(lab_settings, lab_resources, instance):
    engine = spool_a_stream(lab_settings)
    anomaly = next(p for p in engine.store.read_patterns("probe") if p["type"] == "anomaly")
    engine.record_feedback(anomaly["pattern_id"], "false_positive", "a test pulse")
    assert dg.materialize([stream_assets[2]], instance=instance, resources=lab_resources,
                          partition_key="2024-05-01").success
    assert dg.materialize([stream_assets[3]], instance=instance, resources=lab_resources).success
    outputs = open_output_store(lab_settings)
    summary = outputs.read_frame(SUMMARY_ASSET, "2024-05-01")
    assert summary.select("source", "events").rows() == [("probe", 5000)]
    assert summary["anomalies"][0] == sum(p["type"] == "anomaly" for p in engine.store.read_patterns("probe"))
    feedback = outputs.read_frame(FEEDBACK_ASSET, "all")
    assert feedback.select("pattern_id", "verdict", "note").rows() == [(anomaly["pattern_id"], "false_positive",
                                                                        "a test pulse")]


def test_the_sensor_requests_each_closed_hour_once_and_the_closed_day(lab_settings, lab_resources, instance):
    spool_a_stream(lab_settings)
    store = StreamStore(lab_settings.streams)
    with dg.build_sensor_context(instance=instance, resources=lab_resources) as context:
        result = plan_stream_runs(context, store, DAY_AFTER)
    hourly = [r for r in result.run_requests if r.partition_key and "|" in str(r.partition_key)]
    assert sorted(str(r.partition_key) for r in hourly) == ["2024-05-01-12:00|probe", "2024-05-01-13:00|probe"]
    assert [r.partition_key for r in result.run_requests if r.partition_key == "2024-05-01"] == ["2024-05-01"]
    assert result.dynamic_partitions_requests[0].partition_keys == ["probe"]
    instance.add_dynamic_partitions(STREAM_SOURCES_PARTITION, ["probe"])
    with dg.build_sensor_context(instance=instance, resources=lab_resources, cursor=result.cursor) as context:
        again = plan_stream_runs(context, store, DAY_AFTER)
    assert again.run_requests == [], "nothing new: nothing requested"
    outcome = dg.materialize(stream_assets[:2], instance=instance, resources=lab_resources,
                             partition_key=hourly[0].partition_key, tags=hourly[0].tags)
    assert outcome.success


def test_the_spool_keeps_raw_events_for_seven_days_and_patterns_for_thirty(lab_settings):
    engine = spool_a_stream(lab_settings)
    removed = engine.store.prune(datetime(2024, 5, 9, tzinfo=timezone.utc))
    assert removed == 2 and engine.store.hours("events", "probe") == []
    assert engine.store.hours("patterns", "probe")
    engine.store.prune(datetime(2024, 6, 1, tzinfo=timezone.utc))
    assert engine.store.hours("patterns", "probe") == []


def test_the_sensor_is_on_by_default_and_loads_in_the_definitions(lab_settings):
    from lab_assets.definitions import defs

    assert build_streams_sensor(lab_settings).default_status == dg.DefaultSensorStatus.RUNNING
    sensor = next(s for s in defs.sensors if s.name == "streams_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    graph = defs.resolve_asset_graph()
    assert {EVENTS_ASSET, PATTERNS_ASSET, SUMMARY_ASSET, FEEDBACK_ASSET} <= {
        key.to_user_string() for key in graph.get_all_asset_keys()}
