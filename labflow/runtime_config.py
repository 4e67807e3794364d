"""The settings a person may change while labflow runs, and the effective configuration with its sources.

Deployment settings (paths, database, ports, auth) come from environment variables and need a
restart; they are shown, never edited here. The *safe subset* — alert thresholds and the default
recipe per instrument — lives in ``$LABFLOW_HOME/config.yaml``, is validated on every write, and
is read fresh by the sensors and the API, so a change applies at the next tick.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from labflow.ops.alerts import AlertThresholds
from labflow.store.atomic import write_atomic
from labflow.settings import Settings

CONFIG_FILE = "config.yaml"
# Settings fields and the environment variable each comes from.
ENV_NAMES = {
    "home": "LABFLOW_HOME", "database_url": "LABFLOW_DATABASE_URL", "etl_mode": "LABFLOW_ETL_MODE",
    "sensor_interval_s": "LABFLOW_SENSOR_INTERVAL", "batch_size": "LABFLOW_BATCH_SIZE",
    "recipes_dir": "LABFLOW_RECIPES_DIR", "dagster_url": "LABFLOW_DAGSTER_URL", "api_port": "LABFLOW_API_PORT",
    "ui_port": "LABFLOW_UI_PORT", "auth_required": "LABFLOW_AUTH",
    "key_recheck_s": "LABFLOW_KEY_RECHECK_S", "upload_max_bytes": "LABFLOW_UPLOAD_MAX_MB",
    "s3_sources": "LABFLOW_S3_SOURCES", "s3_endpoint_url": "LABFLOW_S3_ENDPOINT_URL",
    "forward_dirs": "LABFLOW_FORWARD_DIRS", "object_store": "LABFLOW_OBJECT_STORE",
    "sources_dir": "LABFLOW_SOURCES_DIR", "stream_raw_days": "LABFLOW_STREAM_RAW_DAYS",
    "stream_pattern_days": "LABFLOW_STREAM_PATTERN_DAYS", "forecast_tolerance": "LABFLOW_FORECAST_TOLERANCE",
    "forecast_compiled_trees": "LABFLOW_FORECAST_COMPILED_TREES",
}
SECRET_FIELDS = {"database_url"}


class RuntimeConfigError(ValueError):
    """An edit of the runtime configuration is invalid; the message names the field."""


class RuntimeConfig(BaseModel):
    """The editable subset."""

    model_config = ConfigDict(extra="forbid")

    alerts: AlertThresholds = AlertThresholds()
    default_recipes: dict[str, str] = Field(default_factory=dict,
                                            description="Instrument → recipe id, overriding the recipes' own lists.")


def load_runtime_config(settings: Settings) -> RuntimeConfig:
    """The editable settings from ``config.yaml`` (defaults when the file does not exist)."""
    path = settings.home / CONFIG_FILE
    if not path.exists():
        return RuntimeConfig()
    try:
        return RuntimeConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except (yaml.YAMLError, ValidationError) as error:
        raise RuntimeConfigError(f"{path} is invalid: {error}") from None


def update_runtime_config(settings: Settings, changes: Mapping[str, Any],
                          known_recipes: set[str] | None = None) -> RuntimeConfig:
    """Apply dotted changes (``alerts.min_quality``, ``default_recipes.hplc-01``) after validating them.

    A recipe id must be one of ``known_recipes`` when given; an empty value removes an instrument's default.
    """
    data = load_runtime_config(settings).model_dump()
    for dotted, value in changes.items():
        section, _, name = dotted.partition(".")
        if section not in data or not name:
            raise RuntimeConfigError(f"{dotted!r} is not an editable setting; editable: alerts.<threshold>, "
                                     "default_recipes.<instrument>")
        if section == "default_recipes":
            if value in (None, ""):
                data[section].pop(name, None)
                continue
            if known_recipes is not None and value not in known_recipes:
                raise RuntimeConfigError(f"unknown recipe {value!r} for {name}; known: {', '.join(sorted(known_recipes))}")
        elif name not in data[section]:
            raise RuntimeConfigError(f"{dotted!r} is not an editable setting")
        data[section][name] = value
    try:
        config = RuntimeConfig.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise RuntimeConfigError(f"invalid setting: {problems}") from None
    write_atomic(settings.home / CONFIG_FILE, yaml.safe_dump(config.model_dump(), sort_keys=True).encode())
    return config


def effective_settings(settings: Settings, env: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Every setting with its value and where it came from (environment, default or config.yaml)."""
    env = os.environ if env is None else env
    rows = []
    for item in fields(Settings):
        variable = ENV_NAMES.get(item.name)
        value = getattr(settings, item.name)
        shown = _hide_password(str(value)) if item.name in SECRET_FIELDS else value
        source = f"environment ({variable})" if variable and env.get(variable) else "default"
        rows.append({"name": item.name, "value": str(shown), "source": source, "editable": False})
    path = settings.home / CONFIG_FILE
    config = load_runtime_config(settings)
    source = str(path) if path.exists() else "default"
    for name, value in config.alerts.model_dump().items():
        rows.append({"name": f"alerts.{name}", "value": str(value), "source": source, "editable": True})
    for instrument, recipe in sorted(config.default_recipes.items()):
        rows.append({"name": f"default_recipes.{instrument}", "value": recipe, "source": source, "editable": True})
    return rows


def _hide_password(url: str) -> str:
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url
