"""Shared fixtures: the PostgreSQL server and fresh databases on it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

POSTGRES_ADMIN_URL = os.environ.get(
    "LABFLOW_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """URL of the ``postgres`` database on the test server.

    Skips when the server is unreachable, unless ``CI`` is set: CI must run the Postgres tests.
    """
    engine = create_engine(POSTGRES_ADMIN_URL, poolclass=NullPool, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except OperationalError as error:
        message = f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {error.orig}"
        if "CI" in os.environ:
            pytest.fail(f"{message}\nCI is set, so the Postgres tests must run: start the server.", pytrace=False)
        pytest.skip(message)
    finally:
        engine.dispose()
    return POSTGRES_ADMIN_URL


@contextmanager
def fresh_database(admin_url: str, prefix: str = "labflow_test") -> Iterator[str]:
    """URL of a new, empty database (``<prefix>_<8 hex>``) on the server of ``admin_url``, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """URL of a new, empty database (``labflow_test_<8 hex>``), dropped after the test."""
    with fresh_database(postgres_admin_url) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A fresh catalog database: a SQLite file, then (second parameter) a new Postgres database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    return request.getfixturevalue("postgres_url")


pytest_plugins = ["tests.lab_fixtures", "tests.s3_fixtures"]
