"""One settings object for every labflow process, read from ``LABFLOW_*`` environment variables.

Each field is read from ``LABFLOW_`` + its name in capitals (``batch_size`` ← ``LABFLOW_BATCH_SIZE``); an
empty variable means the default. A bad value is refused with the variable's name and what it should be:

>>> Settings.from_env({"LABFLOW_HOME": "/tmp/lab", "LABFLOW_UPLOAD_MAX_MB": "1"}).upload_max_bytes
1048576
>>> Settings.from_env({"LABFLOW_HOME": "/tmp/lab", "LABFLOW_BATCH_SIZE": "0"})
Traceback (most recent call last):
...
labflow.settings.SettingsError: LABFLOW_BATCH_SIZE must be at least 1, got 0

The settings a person may change while labflow runs are not here: see :mod:`labflow.runtime_config`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ValidationError, ValidationInfo, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

EtlMode = Literal["eager", "lazy"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "LABFLOW_"
_GIVEN_ENV: ContextVar[Mapping[str, str] | None] = ContextVar("labflow_settings_env", default=None)


class SettingsError(ValueError):
    """A ``LABFLOW_*`` variable has a value labflow cannot use; the message names the variable."""


def variable(field: str) -> str:
    """The environment variable a settings field is read from.

    >>> variable("upload_max_mb")
    'LABFLOW_UPLOAD_MAX_MB'
    """
    return ENV_PREFIX + field.upper()


def normalise_database_url(url: str) -> str:
    """Return a SQLAlchemy URL whose Postgres driver is psycopg2 (the one we install).

    SQLAlchemy 2.1 maps a bare ``postgresql://`` to psycopg 3, which is not installed.
    """
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else str(value)


def _whole(low: int = 1) -> BeforeValidator:
    def check(value: Any, info: ValidationInfo) -> int:
        try:
            number = int(_text(value))
        except ValueError:
            raise ValueError(f"{variable(info.field_name)} must be a whole number, got {value!r}") from None
        if number < low:
            raise ValueError(f"{variable(info.field_name)} must be at least {low}, got {number}")
        return number
    return BeforeValidator(check)


def _number(low: float, high: float, kind: str, unit: str = "") -> BeforeValidator:
    """A number between ``low`` and ``high``; ``kind`` says in an error what it should look like."""
    def check(value: Any, info: ValidationInfo) -> float:
        try:
            number = float(_text(value))
        except ValueError:
            raise ValueError(f"{variable(info.field_name)} must be {kind}, got {value!r}") from None
        if not low <= number <= high:
            raise ValueError(f"{variable(info.field_name)} must be between {low:g} and {high:g}{unit}, got {number:g}")
        return number
    return BeforeValidator(check)


def _flag(value: Any, info: ValidationInfo) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in ("1", "true", "on", "yes"):
        return True
    if text in ("0", "false", "off", "no"):
        return False
    raise ValueError(f"{variable(info.field_name)} must be on or off, got {value!r}")


def _etl_mode(value: Any, info: ValidationInfo) -> str:
    text = _text(value).lower()
    if text not in ("eager", "lazy"):
        raise ValueError(f"{variable(info.field_name)} must be 'eager' or 'lazy', got {text!r}")
    return text


def _folder(value: Any) -> Path:
    return Path(value).expanduser().resolve()


def _listed(item: Callable[[str], Any]) -> BeforeValidator:
    """A comma-separated list (from the environment) or a sequence (from code)."""
    def parse(value: Any) -> tuple[Any, ...] | None:
        if value is None:  # an optional list left unset
            return None
        parts = value.split(",") if isinstance(value, str) else value
        return tuple(item(str(part).strip()) for part in parts if str(part).strip())
    return BeforeValidator(parse)


def _object_store(value: Any) -> str | None:
    """``LABFLOW_OBJECT_STORE``: empty for the data directory, else ``s3://bucket/prefix``."""
    text = _text(value or "")
    if not text or text in ("local", "file"):
        return None
    if not text.startswith("s3://") or len(text) <= len("s3://") or text.startswith("s3:///"):
        raise ValueError(f"LABFLOW_OBJECT_STORE must be empty (data directory) or s3://bucket/prefix, got {text!r}")
    return text.rstrip("/")


def _positive(value: Any, info: ValidationInfo) -> float:
    try:
        number = float(_text(value))
    except ValueError:
        raise ValueError(f"{variable(info.field_name)} must be a number, got {value!r}") from None
    if not number > 0:
        raise ValueError(f"{variable(info.field_name)} must be more than 0, got {number:g}")
    return number


WholeNumber = Annotated[int, _whole()]
Flag = Annotated[bool, BeforeValidator(_flag)]
Folder = Annotated[Path, BeforeValidator(_folder)]


class Settings(BaseSettings):
    """Where labflow keeps its data and how it processes new files.

    Every path lives under one data directory, ``home`` (``LABFLOW_HOME``, default ``./.labflow``).
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_ignore_empty=True, frozen=True, extra="ignore")

    home: Folder = Path(".labflow")
    database_url: str = ""  # empty: the SQLite catalog under home
    etl_mode: Annotated[EtlMode, BeforeValidator(_etl_mode)] = "eager"
    sensor_interval: WholeNumber = 5  # seconds between sensor ticks
    batch_size: WholeNumber = 50
    recipes_dir: Folder = PROJECT_ROOT / "recipes"
    dagster_url: Annotated[str, BeforeValidator(lambda v: _text(v).rstrip("/"))] = "http://127.0.0.1:3000"
    api_port: WholeNumber = 8000
    ui_port: WholeNumber = 7860
    auth: Flag = False  # API keys required
    # a verified API key is trusted this long before the database is asked again
    key_recheck_s: Annotated[float, _number(0, 3600, "a number of seconds", " seconds")] = 5.0
    upload_max_mb: Annotated[float, BeforeValidator(_positive)] = 200  # MiB
    s3_sources: Annotated[tuple[str, ...], NoDecode, _listed(str)] = ()
    s3_endpoint_url: str | None = None
    forward_dirs: Annotated[tuple[Path, ...], NoDecode, _listed(lambda p: Path(p).expanduser())] = ()
    # where POST /training-jobs may read data_url from: local folders (default: <home>/training and the
    # demo folder) and http(s) hosts / S3 buckets (default: none)
    training_data_dirs: Annotated[tuple[Path, ...] | None, NoDecode, _listed(lambda p: Path(p).expanduser().resolve())] = None
    training_data_hosts: Annotated[tuple[str, ...], NoDecode, _listed(str.lower)] = ()
    object_store: Annotated[str | None, BeforeValidator(_object_store)] = None
    sources_dir: Folder = PROJECT_ROOT / "sources"
    stream_raw_days: WholeNumber = 7
    stream_pattern_days: WholeNumber = 30
    # a new forecast model is auto-activated unless this much worse
    forecast_tolerance: Annotated[float, _number(0, 1, "a number such as 0.05 (5 %)")] = 0.05
    forecast_compiled_trees: Flag = True  # serve forecast models on compiled trees (lleaves)
    # /metrics reads the catalog, folders and Dagster at most this often
    metrics_refresh_s: Annotated[float, _number(0, 3600, "a number of seconds", " seconds")] = 10.0

    @model_validator(mode="before")
    @classmethod
    def _catalog_under_home(cls, data: Any) -> Any:
        if isinstance(data, dict):
            url = data.get("database_url") or f"sqlite:///{_folder(data.get('home') or '.labflow') / 'catalog.db'}"
            data = {**data, "database_url": normalise_database_url(url)}
        return data

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        given = _GIVEN_ENV.get()
        return (init_settings, env_settings if given is None else _MappingSource(settings_cls, given))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        """Settings from ``env`` (default: this process's environment); a bad value raises :class:`SettingsError`."""
        token = _GIVEN_ENV.set(env)
        try:
            return cls()
        except ValidationError as error:
            raise SettingsError(describe(error)) from None
        finally:
            _GIVEN_ENV.reset(token)

    @classmethod
    def from_json(cls, text: str, **values: Any) -> "Settings":
        """Settings written by :meth:`model_dump_json`, with ``values`` replacing fields (the environment is
        not read)."""
        return cls.model_validate({**json.loads(text), **values})

    @classmethod
    def variables(cls) -> dict[str, str]:
        """Every field and the environment variable it is read from."""
        return {name: variable(name) for name in cls.model_fields}

    @property
    def upload_max_bytes(self) -> int:
        """The largest upload accepted (``LABFLOW_UPLOAD_MAX_MB``), in bytes."""
        return round(self.upload_max_mb * 1024 * 1024)

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


class _MappingSource(EnvSettingsSource):
    """The ``LABFLOW_*`` variables of a given mapping instead of ``os.environ`` (tests, benchmarks, scripts)."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]):
        self._given = env
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {name.lower(): value for name, value in self._given.items() if value != ""}


def describe(error: ValidationError) -> str:
    """A validation error as sentences that name the variable (one per problem)."""
    problems = []
    for item in error.errors():
        message = str(item["msg"]).removeprefix("Value error, ")
        field = str(item["loc"][0]) if item["loc"] else ""
        problems.append(message if message.startswith(ENV_PREFIX) or not field else f"{variable(field)}: {message}")
    return "; ".join(problems)
