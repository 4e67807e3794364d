"""API keys: created once, shown once, stored only as a salted scrypt hash.

A key reads ``lf_<prefix>_<secret>``. The prefix (public, unique) finds the stored row; the secret is
checked against ``scrypt(secret, salt)`` with a constant-time comparison. Scopes are ordered:
``read`` < ``write`` < ``admin`` (a key may do everything its scope and the lower ones allow).

A device calling ``/predict`` many times a second should not cost a database read each time: a key
checked against the database is trusted for ``recheck_s`` seconds (``LABFLOW_KEY_RECHECK_S``, default 5)
by :meth:`KeyStore.recently_verified`, which only hashes the secret (SHA-256, microseconds). A key
revoked in this process is refused at once (every store on the same database shares what it
checked); one revoked by another process (``labflow keys revoke``) within ``recheck_s``.

Example::

    store = KeyStore(Catalog(settings.database_url))
    key, token = store.create("bo-client", "write")   # print token once; it is never stored
    store.verify(token).scope                          # 'write'
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import String, select, update
from sqlalchemy.orm import Mapped, mapped_column

from labflow.store.catalog import Base, Catalog, UTCDateTime
from labflow.settings import Settings

SCOPES: tuple[str, ...] = ("read", "write", "admin")
_TOKEN = re.compile(r"^lf_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@ -]{0,99}$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    prefix: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    scope: Mapped[str] = mapped_column(String(10))
    salt: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class ApiKey:
    """A stored key as anyone may see it: never the secret."""

    name: str
    scope: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class _Checked:
    """A key whose token passed scrypt: its salt, SHA-256 of salt + secret, and when the database last said
    it is active (``time.monotonic()``)."""

    key: ApiKey
    salt: bytes
    digest: bytes
    at: float


# (database URL, prefix) → the last check of that key in this process, shared by every store on the database;
# and revocations per database, so a check that read the row before a revocation committed is not kept.
_CHECKED: dict[tuple[str, str], _Checked] = {}
_REVOCATIONS: dict[str, int] = {}
_CHECKED_LOCK = threading.Lock()


class KeyRequestError(ValueError):
    """A key cannot be created or revoked as asked (bad name or scope, name taken, unknown name)."""


def scope_allows(granted: str, needed: str) -> bool:
    """Whether a key with scope ``granted`` may do what needs ``needed``."""
    return SCOPES.index(granted) >= SCOPES.index(needed)


class KeyStore:
    """API keys in the catalog database."""

    def __init__(self, catalog: Catalog, *, recheck_s: float = 5.0):
        """``recheck_s``: how long a key checked against the database is trusted without asking it again."""
        self.catalog = catalog
        self.recheck_s = recheck_s
        self._database = str(catalog.engine.url)
        catalog.create_tables()

    def create(self, name: str, scope: str) -> tuple[ApiKey, str]:
        """Create an active key; returns it and the token, which is shown once and never stored."""
        name = (name or "").strip()
        if not _NAME.match(name):
            raise KeyRequestError(f"key name {name!r} must be 1–100 letters, digits, spaces or . _ @ -, "
                            "starting with a letter or digit")
        if scope not in SCOPES:
            raise KeyRequestError(f"unknown scope {scope!r}; use one of {', '.join(SCOPES)}")
        if any(k.name == name and k.active for k in self.list()):
            raise KeyRequestError(f"an active key named {name!r} exists; revoke it first or choose another name")
        prefix, secret, salt = secrets.token_hex(6), secrets.token_urlsafe(32), secrets.token_bytes(16)
        row = ApiKeyRow(prefix=prefix, name=name, scope=scope, salt=salt.hex(), hash=_scrypt(secret, salt).hex(),
                        created_at=datetime.now(timezone.utc), revoked_at=None)
        with self.catalog.begin() as session:
            session.add(row)
        return _key(row), f"lf_{prefix}_{secret}"

    def verify(self, token: str) -> ApiKey | None:
        """The active key this token belongs to, or ``None`` (malformed, unknown, revoked or wrong)."""
        match = _TOKEN.match(token or "")
        if match is None:
            return None
        prefix, secret = match.groups()
        recent = self._recent(prefix, secret)
        if recent is not None:
            return recent
        with _CHECKED_LOCK:
            revocations = _REVOCATIONS.get(self._database, 0)
        with self.catalog.session() as session:
            row = session.get(ApiKeyRow, prefix)
            if row is None or row.revoked_at is not None:
                self._forget(lambda checked: checked.key.prefix == prefix)
                return None
            key, salt, stored = _key(row), bytes.fromhex(row.salt), bytes.fromhex(row.hash)
        digest = _fast_digest(salt, secret)
        with _CHECKED_LOCK:
            known = _CHECKED.get((self._database, prefix))
        if known is None or not hmac.compare_digest(known.digest, digest):  # not seen yet: the slow, real check
            if not hmac.compare_digest(_scrypt(secret, salt), stored):
                return None
        with _CHECKED_LOCK:
            if _REVOCATIONS.get(self._database, 0) == revocations:
                _CHECKED[(self._database, prefix)] = _Checked(key, salt, digest, time.monotonic())
        return key

    def recently_verified(self, token: str) -> ApiKey | None:
        """The key of ``token`` if the database said it is active less than ``recheck_s`` ago and the secret
        matches, else ``None`` (then :meth:`verify` decides). No database read, no scrypt: safe to call on an
        event loop."""
        match = _TOKEN.match(token or "")
        return None if match is None else self._recent(*match.groups())

    def _recent(self, prefix: str, secret: str) -> ApiKey | None:
        with _CHECKED_LOCK:
            known = _CHECKED.get((self._database, prefix))
        if known is None or time.monotonic() - known.at >= self.recheck_s:
            return None
        return known.key if hmac.compare_digest(known.digest, _fast_digest(known.salt, secret)) else None

    def _forget(self, which: Callable[[_Checked], bool]) -> None:
        """Drop this database's checks that ``which`` selects (a revocation: also counted)."""
        with _CHECKED_LOCK:
            _REVOCATIONS[self._database] = _REVOCATIONS.get(self._database, 0) + 1
            for place in [place for place, checked in _CHECKED.items()
                          if place[0] == self._database and which(checked)]:
                del _CHECKED[place]

    def list(self) -> list[ApiKey]:
        """Every key, active and revoked, oldest first."""
        with self.catalog.session() as session:
            rows = session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at, ApiKeyRow.prefix))
            return [_key(row) for row in rows]

    def revoke(self, name: str) -> int:
        """Revoke every active key named ``name``; returns how many were revoked."""
        statement = (update(ApiKeyRow).where(ApiKeyRow.name == name, ApiKeyRow.revoked_at.is_(None))
                     .values(revoked_at=datetime.now(timezone.utc)))
        with self.catalog.begin() as session:
            count = session.execute(statement).rowcount
        self._forget(lambda checked: checked.key.name == name)
        if count == 0:
            raise KeyRequestError(f"no active key named {name!r}; `labflow keys list` shows the keys")
        return count


def keys_command(args: argparse.Namespace, settings: Settings) -> int:
    """``labflow keys create|list|revoke``: returns the process exit code."""
    catalog = Catalog(settings.database_url)
    try:
        store = KeyStore(catalog)
        if args.keys_command == "create":
            key, token = store.create(args.name, args.scope)
            print(f"created key {key.name!r} (scope {key.scope}, prefix {key.prefix}). Store it now; "
                  "it is not shown again:")
            print(token)
        elif args.keys_command == "list":
            print(f"{'name':<24} {'scope':<6} {'prefix':<12} {'created (UTC)':<19}  state")
            for key in store.list():
                state = "active" if key.active else f"revoked {key.revoked_at:%Y-%m-%d %H:%M}"
                print(f"{key.name:<24} {key.scope:<6} {key.prefix:<12} {key.created_at:%Y-%m-%d %H:%M:%S}  {state}")
        else:
            count = store.revoke(args.name)
            print(f"revoked {count} key(s) named {args.name!r}")
    except KeyRequestError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        catalog.dispose()
    return 0


def _scrypt(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, **_SCRYPT)


def _fast_digest(salt: bytes, secret: str) -> bytes:
    return hashlib.sha256(salt + secret.encode()).digest()


def _key(row: ApiKeyRow) -> ApiKey:
    return ApiKey(row.name, row.scope, row.prefix, row.created_at, row.revoked_at)
