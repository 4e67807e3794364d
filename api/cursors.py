"""Opaque page cursors: where the previous page ended (its last item's sort key), tied to one listing.

A cursor is base64 of ``{"a": [values…], "q": fingerprint}``; the fingerprint hashes the listing's
filters and order, so a cursor cannot be replayed against another listing by mistake.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from pydantic import BaseModel

from api.errors import ApiProblem


def fingerprint(query: BaseModel | dict[str, Any], exclude: frozenset[str] = frozenset()) -> str:
    """A short hash of a listing's filters and order (a model's fields but ``exclude``: cursor, page size…)."""
    fields = query.model_dump(mode="json", exclude=exclude) if isinstance(query, BaseModel) else query
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:12]


def encode(values: list[Any], owner: str) -> str:
    """The cursor after an item whose sort key is ``values`` (JSON-able) in the listing ``owner``."""
    return base64.urlsafe_b64encode(json.dumps({"a": values, "q": owner}).encode()).decode().rstrip("=")


def decode(cursor: str, owner: str, size: int) -> list[Any]:
    """The ``size`` sort-key values a cursor of listing ``owner`` holds, or a 422 that says what to do."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        values, cursor_owner = data["a"], data["q"]
        if not isinstance(values, list) or len(values) != size:
            raise ValueError("cursor size")
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ApiProblem(422, "cursor is not valid; pass the next_cursor of the previous page unchanged") from None
    if cursor_owner != owner:
        raise ApiProblem(422, "cursor belongs to a listing with other filters or order; start again without cursor")
    return values
