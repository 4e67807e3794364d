import pytest

from labflow.settings import Settings, normalise_database_url


def test_defaults_live_under_one_home(tmp_path):
    settings = Settings.from_env({"LABFLOW_HOME": str(tmp_path)})
    assert settings.inbox == tmp_path / "inbox"
    assert settings.dagster_home == tmp_path / "dagster_home"
    assert settings.database_url == f"sqlite:///{tmp_path / 'catalog.db'}"
    assert settings.etl_mode == "eager" and settings.sensor_interval == 5


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
    """The Settings tab says where each value comes from: every field has its variable, derived from its name."""
    env_names = Settings.variables()
    assert set(Settings.model_fields) == set(env_names)
    for name, variable in env_names.items():
        assert variable.startswith("LABFLOW_"), name
        if name != "home":  # an empty variable is the default
            assert Settings.from_env({"LABFLOW_HOME": "/tmp/lab", variable: ""}) == Settings.from_env(
                {"LABFLOW_HOME": "/tmp/lab"})
    assert env_names["sensor_interval"] == "LABFLOW_SENSOR_INTERVAL" and env_names["auth"] == "LABFLOW_AUTH"
    assert env_names["upload_max_mb"] == "LABFLOW_UPLOAD_MAX_MB"
