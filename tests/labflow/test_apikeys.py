"""API keys on SQLite and on the real PostgreSQL: shown once, stored hashed, scoped, revocable."""

from __future__ import annotations

import argparse

import pytest
from sqlalchemy import text

from labflow.apikeys import KeyRequestError, KeyStore, keys_command, scope_allows
from labflow.catalog import Catalog


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path) -> KeyStore:
    url = (f"sqlite:///{tmp_path / 'catalog.db'}" if request.param == "sqlite"
           else request.getfixturevalue("postgres_url"))
    catalog = Catalog(url)
    yield KeyStore(catalog)
    catalog.dispose()


def test_a_created_key_verifies_and_carries_its_scope(store):
    key, token = store.create("bo-client", "write")
    assert token.startswith(f"lf_{key.prefix}_") and len(token) > 50
    verified = store.verify(token)
    assert verified is not None and (verified.name, verified.scope) == ("bo-client", "write")
    assert store.verify(token) == verified  # the second check (cached digest) agrees


def test_keys_are_never_stored_in_clear(store):
    _, token = store.create("device", "read")
    secret = token.split("_", 2)[2]
    with store.catalog.session() as session:
        rows = [tuple(str(v) for v in row) for row in session.execute(text("SELECT * FROM api_keys"))]
    assert rows and not any(secret in value or token in value for row in rows for value in row)


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # one character of the secret changed
    lambda t: t.replace("lf_", "xx_", 1),  # not our format
    lambda t: "lf_000000000000_" + t.split("_", 2)[2],  # unknown prefix
    lambda t: "",
])
def test_a_wrong_token_is_refused(store, mangle):
    _, token = store.create("device", "read")
    assert store.verify(token) is not None
    assert store.verify(mangle(token)) is None


def test_a_revoked_key_is_refused_at_once(store):
    _, token = store.create("old", "admin")
    assert store.verify(token) is not None
    assert store.revoke("old") == 1
    assert store.verify(token) is None
    assert [k.active for k in store.list()] == [False]
    with pytest.raises(KeyRequestError, match="no active key named 'old'"):
        store.revoke("old")


def test_bad_names_scopes_and_duplicates_are_refused(store):
    with pytest.raises(KeyRequestError, match="unknown scope 'root'"):
        store.create("x", "root")
    with pytest.raises(KeyRequestError, match="key name"):
        store.create("", "read")
    store.create("same", "read")
    with pytest.raises(KeyRequestError, match="an active key named 'same' exists"):
        store.create("same", "write")


def test_scopes_are_ordered():
    assert scope_allows("admin", "write") and scope_allows("write", "read") and scope_allows("read", "read")
    assert not scope_allows("read", "write") and not scope_allows("write", "admin")


def test_the_keys_command_shows_the_key_once_then_only_its_prefix(lab_settings, capsys):
    assert keys_command(argparse.Namespace(keys_command="create", name="ci", scope="read"), lab_settings) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert keys_command(argparse.Namespace(keys_command="list"), lab_settings) == 0
    listing = capsys.readouterr().out
    assert "ci" in listing and token.split("_")[1] in listing and token not in listing
    assert keys_command(argparse.Namespace(keys_command="revoke", name="ci"), lab_settings) == 0
    assert keys_command(argparse.Namespace(keys_command="revoke", name="ci"), lab_settings) == 2
    assert "no active key" in capsys.readouterr().err
