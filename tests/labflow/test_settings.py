import pytest

from labflow.settings import Settings, normalise_database_url


def test_defaults_live_under_one_home(tmp_path):
    settings = Settings.from_env({"LABFLOW_HOME": str(tmp_path)})
    assert settings.inbox == tmp_path / "inbox"
    assert settings.dagster_home == tmp_path / "dagster_home"
    assert settings.database_url == f"sqlite:///{tmp_path / 'catalog.db'}"
    assert settings.etl_mode == "eager" and settings.sensor_interval_s == 5


def test_postgres_urls_use_psycopg2():
    assert normalise_database_url("postgresql://u@h/db") == "postgresql+psycopg2://u@h/db"
    assert normalise_database_url("postgresql+psycopg2://u@h/db") == "postgresql+psycopg2://u@h/db"


@pytest.mark.parametrize(("name", "value", "fragment"), [
    ("LABFLOW_ETL_MODE", "sometimes", "eager' or 'lazy"),
    ("LABFLOW_SENSOR_INTERVAL", "fast", "whole number"),
    ("LABFLOW_BATCH_SIZE", "0", "at least 1"),
    ("LABFLOW_KEY_RECHECK_S", "soon", "number of seconds"),
    ("LABFLOW_KEY_RECHECK_S", "-1", "between 0 and 3600"),
])
def test_bad_values_are_clear_errors(tmp_path, name, value, fragment):
    with pytest.raises(ValueError, match=fragment):
        Settings.from_env({"LABFLOW_HOME": str(tmp_path), name: value})


def test_api_keys_are_rechecked_every_few_seconds_unless_told_otherwise(tmp_path):
    assert Settings.from_env({"LABFLOW_HOME": str(tmp_path)}).key_recheck_s == 5.0
    assert Settings.from_env({"LABFLOW_HOME": str(tmp_path), "LABFLOW_KEY_RECHECK_S": "0"}).key_recheck_s == 0.0


def test_every_setting_names_the_variable_that_sets_it() -> None:
    """The Settings tab says where each value comes from: no field may be missing from ENV_NAMES."""
    from dataclasses import fields

    from labflow.runtime_config import ENV_NAMES

    assert {item.name for item in fields(Settings)} == set(ENV_NAMES)
    for name, variable in ENV_NAMES.items():
        assert variable.startswith("LABFLOW_"), name
