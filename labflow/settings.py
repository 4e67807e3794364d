"""One settings object for every labflow process, read from environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

EtlMode = Literal["eager", "lazy"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "on", "yes"):
        return True
    if raw in ("0", "false", "off", "no"):
        return False
    raise ValueError(f"{name} must be on or off, got {raw!r}")


def normalise_database_url(url: str) -> str:
    """Return a SQLAlchemy URL whose Postgres driver is psycopg2 (the one we install).

    SQLAlchemy 2.1 maps a bare ``postgresql://`` to psycopg 3, which is not installed.
    """
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url


def _number(env: Mapping[str, str], name: str, default: float, *, low: float, high: float, kind: str,
            unit: str = "") -> float:
    """A number between ``low`` and ``high``; ``kind`` says in an error what it should look like."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be {kind}, got {raw!r}") from None
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low:g} and {high:g}{unit}, got {value:g}")
    return value


def _object_store(value: str | None) -> str | None:
    """``LABFLOW_OBJECT_STORE``: empty for the data directory, else ``s3://bucket/prefix``."""
    text = (value or "").strip()
    if not text or text in ("local", "file"):
        return None
    if not text.startswith("s3://") or len(text) <= len("s3://") or text.startswith("s3:///"):
        raise ValueError(f"LABFLOW_OBJECT_STORE must be empty (data directory) or s3://bucket/prefix, got {text!r}")
    return text.rstrip("/")


@dataclass(frozen=True)
class Settings:
    """Where labflow keeps its data and how it processes new files.

    Every path lives under one data directory, ``home`` (``LABFLOW_HOME``, default ``./.labflow``).
    """

    home: Path
    database_url: str
    etl_mode: EtlMode = "eager"
    sensor_interval_s: int = 5
    batch_size: int = 50
    recipes_dir: Path = PROJECT_ROOT / "recipes"
    dagster_url: str = "http://127.0.0.1:3000"
    api_port: int = 8000
    ui_port: int = 7860
    auth_required: bool = False
    key_recheck_s: float = 5.0  # a verified API key is trusted this long before the database is asked again
    upload_max_bytes: int = 200 * 1024 * 1024
    s3_sources: tuple[str, ...] = ()
    s3_endpoint_url: str | None = None
    forward_dirs: tuple[Path, ...] = ()
    # where POST /training-jobs may read data_url from: local folders (default: <home>/training and the
    # demo folder) and http(s) hosts / S3 buckets (default: none)
    training_data_dirs: tuple[Path, ...] | None = None
    training_data_hosts: tuple[str, ...] = ()
    object_store: str | None = None
    sources_dir: Path = PROJECT_ROOT / "sources"
    stream_raw_days: int = 7
    stream_pattern_days: int = 30
    forecast_tolerance: float = 0.05  # a new forecast model is auto-activated unless this much worse
    forecast_compiled_trees: bool = True  # serve forecast models on compiled trees (lleaves)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        """Build settings from ``LABFLOW_*`` environment variables (see README, "Configuration")."""
        env = os.environ if env is None else env
        home = Path(env.get("LABFLOW_HOME") or ".labflow").expanduser().resolve()
        mode = (env.get("LABFLOW_ETL_MODE") or "eager").strip().lower()
        if mode not in ("eager", "lazy"):
            raise ValueError(f"LABFLOW_ETL_MODE must be 'eager' or 'lazy', got {mode!r}")
        database_url = env.get("LABFLOW_DATABASE_URL") or f"sqlite:///{home / 'catalog.db'}"
        recipes_dir = Path(env.get("LABFLOW_RECIPES_DIR") or PROJECT_ROOT / "recipes").resolve()
        return cls(
            home=home,
            database_url=normalise_database_url(database_url),
            etl_mode=mode,  # type: ignore[arg-type]
            sensor_interval_s=_positive_int(env, "LABFLOW_SENSOR_INTERVAL", 5),
            batch_size=_positive_int(env, "LABFLOW_BATCH_SIZE", 50),
            recipes_dir=recipes_dir,
            dagster_url=(env.get("LABFLOW_DAGSTER_URL") or "http://127.0.0.1:3000").rstrip("/"),
            api_port=_positive_int(env, "LABFLOW_API_PORT", 8000),
            ui_port=_positive_int(env, "LABFLOW_UI_PORT", 7860),
            auth_required=_flag(env, "LABFLOW_AUTH", False),
            key_recheck_s=_number(env, "LABFLOW_KEY_RECHECK_S", 5.0, low=0, high=3600, kind="a number of seconds",
                                  unit=" seconds"),
            upload_max_bytes=_positive_int(env, "LABFLOW_UPLOAD_MAX_MB", 200) * 1024 * 1024,
            s3_sources=tuple(p.strip() for p in (env.get("LABFLOW_S3_SOURCES") or "").split(",") if p.strip()),
            s3_endpoint_url=env.get("LABFLOW_S3_ENDPOINT_URL") or None,
            forward_dirs=tuple(Path(p.strip()).expanduser() for p in (env.get("LABFLOW_FORWARD_DIRS") or "").split(",")
                               if p.strip()),
            training_data_dirs=tuple(Path(p.strip()).expanduser().resolve()
                                     for p in (env.get("LABFLOW_TRAINING_DATA_DIRS") or "").split(",") if p.strip())
            or None,
            training_data_hosts=tuple(h.strip().lower() for h in (env.get("LABFLOW_TRAINING_DATA_HOSTS") or "").split(",")
                                      if h.strip()),
            object_store=_object_store(env.get("LABFLOW_OBJECT_STORE")),
            sources_dir=Path(env.get("LABFLOW_SOURCES_DIR") or PROJECT_ROOT / "sources").expanduser().resolve(),
            stream_raw_days=_positive_int(env, "LABFLOW_STREAM_RAW_DAYS", 7),
            stream_pattern_days=_positive_int(env, "LABFLOW_STREAM_PATTERN_DAYS", 30),
            forecast_tolerance=_number(env, "LABFLOW_FORECAST_TOLERANCE", 0.05, low=0, high=1,
                                       kind="a number such as 0.05 (5 %)"),
            forecast_compiled_trees=_flag(env, "LABFLOW_FORECAST_COMPILED_TREES", True),
        )

    @property
    def training_folders(self) -> tuple[Path, ...]:
        """Folders training data may be read from (``LABFLOW_TRAINING_DATA_DIRS``, else ``training`` and ``demo``)."""
        return self.training_data_dirs or (self.home / "training", self.home / "demo")

    @property
    def inbox(self) -> Path:
        """The watched folder: instruments (or people) drop files here."""
        return self.home / "inbox"

    @property
    def objects(self) -> Path:
        """Immutable, content-addressed copies of every ingested file."""
        return self.home / "objects"

    @property
    def quarantine(self) -> Path:
        """Files that could not be processed, each with a ``.error.txt`` beside it."""
        return self.home / "quarantine"

    @property
    def storage(self) -> Path:
        """Asset outputs (Parquet, PNG) by asset and partition."""
        return self.home / "storage"

    @property
    def dagster_home(self) -> Path:
        """Dagster's own instance directory (SQLite storage on the embedded default)."""
        return self.home / "dagster_home"

    @property
    def streams(self) -> Path:
        """Event streams: the spool by source and hour, detector checkpoints, feedback."""
        return self.home / "streams"

    @property
    def compiled_trees_dir(self) -> Path:
        """Forecast models' trees compiled to machine code, by the hash of the trees (a cache)."""
        return self.home / "cache" / "compiled-trees"

    def ensure_dirs(self) -> None:
        """Create the data directory tree if it does not exist yet."""
        for path in (self.inbox, self.objects, self.quarantine, self.storage, self.dagster_home):
            path.mkdir(parents=True, exist_ok=True)
