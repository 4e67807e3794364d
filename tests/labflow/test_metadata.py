from datetime import datetime, timezone

import pytest

from labflow.ingest.metadata import (
    MetadataError,
    is_sidecar,
    merge_metadata,
    metadata_from_path,
    normalise_fields,
    normalise_header_fields,
    parse_sidecar,
    sidecar_candidates,
)


def test_folder_convention_names_the_instrument():
    assert metadata_from_path("hplc-01/2024/run.csv") == {"instrument": "hplc-01"}
    assert metadata_from_path("run.csv") == {}


def test_aliases_map_to_canonical_fields_and_the_rest_to_params():
    fields = normalise_fields({"Operator": "alice", "Sample": "PLA", "Start Time": "2024-03-01 10:00",
                               "Flow rate": "1.2", "params": {"temp": 40}})
    assert fields["operator"] == "alice"
    assert fields["material"] == "PLA"
    assert fields["started_at"] == datetime(2024, 3, 1, 10, 0, tzinfo=timezone.utc)
    assert fields["params"] == {"Flow rate": "1.2", "temp": 40}


def test_started_at_with_offset_is_converted_to_utc():
    fields = normalise_fields({"started_at": "2024-03-01T12:00:00+02:00"})
    assert fields["started_at"] == datetime(2024, 3, 1, 10, 0, tzinfo=timezone.utc)


def test_bad_started_at_is_a_clear_error():
    with pytest.raises(MetadataError, match="not an ISO-8601"):
        normalise_fields({"started_at": "last tuesday"})


def test_later_layers_win_and_sources_are_recorded():
    merged = merge_metadata([
        ("folder", {"instrument": "hplc-01"}),
        ("header", {"operator": "bob", "instrument": "HPLC-01 (header)", "params": {"a": 1}}),
        ("sidecar", {"operator": "alice", "experiment_id": "EXP-7", "params": {"b": 2}}),
    ])
    assert merged.instrument == "HPLC-01 (header)"
    assert merged.operator == "alice"
    assert merged.experiment_id == "EXP-7"
    assert merged.params == {"a": 1, "b": 2}
    assert merged.sources == {"instrument": "header", "operator": "sidecar", "experiment_id": "sidecar"}


def test_sidecar_json_and_yaml():
    assert parse_sidecar("x.csv.meta.json", '{"operator": "chen", "temperature": 40}') == {
        "operator": "chen", "params": {"temperature": 40}}
    assert parse_sidecar("x.meta.yaml", "material: TiO2\nexperiment_id: 12\n") == {
        "material": "TiO2", "experiment_id": "12"}


@pytest.mark.parametrize(
    ("name", "text", "fragment"),
    [
        ("x.csv.meta.json", "", "is empty"),
        ("x.csv.meta.json", "{'operator': 'alice'}", "not valid JSON"),
        ("x.csv.meta.json", "[1, 2]", "must hold an object"),
        ("x.meta.yaml", "a: [unclosed", "not valid YAML"),
    ],
)
def test_bad_sidecars_fail_with_their_own_message(name, text, fragment):
    with pytest.raises(MetadataError, match=fragment):
        parse_sidecar(name, text)


def test_sidecar_names():
    assert sidecar_candidates("run.csv")[0] == "run.csv.meta.json"
    assert "run.meta.json" in sidecar_candidates("run.csv")
    assert is_sidecar("run.csv.meta.json") and is_sidecar("run.meta.yml") and not is_sidecar("run.csv")


def test_header_lines_with_an_unreadable_date_keep_it_as_a_parameter():
    fields = normalise_header_fields({"Operator": "bob", "Date": "Mon 3rd"})
    assert fields == {"operator": "bob", "params": {"Date": "Mon 3rd"}}
