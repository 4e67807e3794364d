"""API keys: created once, shown once, stored only as a salted scrypt hash.

A key reads ``lf_<prefix>_<secret>``. The prefix (public, unique) finds the stored row; the secret is
checked against ``scrypt(secret, salt)`` with a constant-time comparison. Scopes are ordered:
``read`` < ``write`` < ``admin`` (a key may do everything its scope and the lower ones allow).

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
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import String, select, update
from sqlalchemy.orm import Mapped, mapped_column

from labflow.catalog import Base, Catalog, UTCDateTime
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


class KeyRequestError(ValueError):
    """A key cannot be created or revoked as asked (bad name or scope, name taken, unknown name)."""


def scope_allows(granted: str, needed: str) -> bool:
    """Whether a key with scope ``granted`` may do what needs ``needed``."""
    return SCOPES.index(granted) >= SCOPES.index(needed)


class KeyStore:
    """API keys in the catalog database."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        catalog.create_tables()
        # prefix -> fast digest of a secret that already passed scrypt (saves ~50 ms per request)
        self._verified: dict[str, bytes] = {}
        self._lock = threading.Lock()

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
        with self.catalog.session() as session:
            row = session.get(ApiKeyRow, prefix)
            if row is None or row.revoked_at is not None:
                return None
            key, salt, stored = _key(row), bytes.fromhex(row.salt), bytes.fromhex(row.hash)
        fast = hashlib.sha256(salt + secret.encode()).digest()
        with self._lock:
            known = self._verified.get(prefix)
        if known is not None and hmac.compare_digest(known, fast):
            return key
        if not hmac.compare_digest(_scrypt(secret, salt), stored):
            return None
        with self._lock:
            self._verified[prefix] = fast
        return key

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


def _key(row: ApiKeyRow) -> ApiKey:
    return ApiKey(row.name, row.scope, row.prefix, row.created_at, row.revoked_at)
