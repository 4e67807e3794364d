"""API keys on SQLite and on the real PostgreSQL: shown once, stored hashed, scoped, revocable."""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timezone

import pytest
from sqlalchemy import text

from labflow.apikeys import ApiKeyRow, KeyRequestError, KeyStore, keys_command, scope_allows
from labflow.store.catalog import Catalog


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


def _revoke_elsewhere(store: KeyStore, prefix: str) -> None:
    """Revoke a key the way another process would (``labflow keys revoke``): in the database only."""
    with store.catalog.begin() as session:
        session.get(ApiKeyRow, prefix).revoked_at = datetime.now(timezone.utc)


def test_a_checked_key_is_trusted_for_recheck_s_then_asked_for_again(store):
    short = KeyStore(store.catalog, recheck_s=0.5)
    key, token = short.create("device", "read")
    assert short.recently_verified(token) is None  # never checked: the database decides
    assert short.verify(token) == key
    assert short.recently_verified(token) == key  # no database read, no scrypt
    _revoke_elsewhere(short, key.prefix)
    assert short.verify(token) == key  # another process's revocation is not seen yet…
    time.sleep(0.6)
    assert short.recently_verified(token) is None
    assert short.verify(token) is None  # …but after recheck_s it is
    assert short.recently_verified(token) is None


def test_with_recheck_s_zero_every_check_asks_the_database(store):
    eager = KeyStore(store.catalog, recheck_s=0)
    key, token = eager.create("device", "read")
    assert eager.verify(token) == key and eager.recently_verified(token) is None
    _revoke_elsewhere(eager, key.prefix)
    assert eager.verify(token) is None


def test_a_recently_checked_prefix_does_not_let_another_secret_in(store):
    key, token = store.create("device", "read")
    assert store.verify(token) == key
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert store.recently_verified(forged) is None and store.verify(forged) is None
    assert store.recently_verified(token) == key


def test_a_key_revoked_through_any_store_of_this_process_is_refused_at_once(store):
    key, token = store.create("old", "read")
    assert store.verify(token) == key and store.recently_verified(token) == key
    KeyStore(store.catalog).revoke("old")  # e.g. the app's Settings tab, beside the API's own store
    assert store.recently_verified(token) is None and store.verify(token) is None


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
