"""Source files: validated with clear errors, and re-read when they change (no restart)."""

import os
import time

import pytest

from labflow.settings import PROJECT_ROOT
from labflow.streams.sources import SourceConfigError, SourceRegistry, UnknownSource, source_from_mapping


def test_the_shipped_example_source_loads():
    registry = SourceRegistry(PROJECT_ROOT / "sources")
    demo = registry.get("demo-sensor")
    assert demo.fields == ("temperature_c", "pressure_kpa")
    assert demo.feature_names == ("temperature_c", "pressure_kpa", "temp_per_kpa")
    assert not registry.errors


@pytest.mark.parametrize("data, says", [
    ({"name": "Bad Name", "fields": ["v"]}, "must be lower-case"),
    ({"name": "a"}, "'fields' must list"),
    ({"name": "a", "fields": ["v"], "kind": "mqtt"}, "kind 'mqtt' is not one of"),
    ({"name": "a", "fields": ["v"], "kind": "file"}, "needs 'path'"),
    ({"name": "a", "fields": ["v"], "detectors": {"anomaly": {"quantile": "high"}}}, "quantile: expected float"),
    ({"name": "a", "fields": ["v"], "detectors": {"anomaly": {"treshold": 1}}}, "unknown setting"),
])
def test_a_bad_source_says_what_to_fix(data, says):
    with pytest.raises(SourceConfigError, match=says):
        source_from_mapping(data, "sources/a.yaml")


def test_sources_are_reloaded_when_a_file_changes(tmp_path):
    (tmp_path / "a.yaml").write_text("name: a\nfields: [v]\ndetectors: {anomaly: {quantile: 0.99}}\n")
    registry = SourceRegistry(tmp_path, check_every_s=0)
    assert registry.get("a").anomaly.quantile == 0.99
    (tmp_path / "a.yaml").write_text("name: a\nfields: [v]\ndetectors: {anomaly: {quantile: 0.9}}\n")
    os.utime(tmp_path / "a.yaml", ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    assert registry.get("a").anomaly.quantile == 0.9
    (tmp_path / "b.yaml").write_text("name: b\nfields: [x\n")
    assert [s.name for s in registry.all()] == ["a"]
    assert "b.yaml" in registry.errors
    with pytest.raises(UnknownSource, match="there is no source 'c' \\(known: a\\)"):
        registry.get("c")


def test_threads_asking_during_the_first_load_all_find_the_source(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    for i in range(30):
        (tmp_path / f"s{i}.yaml").write_text(f"name: s{i}\nfields: [v]\n")
    for _ in range(5):
        registry = SourceRegistry(tmp_path)
        with ThreadPoolExecutor(8) as pool:
            names = list(pool.map(lambda _: registry.get("s29").name, range(16)))
        assert names == ["s29"] * 16
