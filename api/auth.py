"""API-key auth: off by default (one local operator), on with ``LABFLOW_AUTH=on``.

When on, every data endpoint needs ``Authorization: Bearer <key>``: a missing or wrong key is
``401``, a key whose scope is too low is ``403``.
"""

from __future__ import annotations

import math
from typing import Annotated

import anyio
from fastapi import Depends, Request, WebSocket
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.deps import LabDep
from api.errors import ApiProblem
from labflow.apikeys import ApiKey, key_prefix, scope_allows

bearer = HTTPBearer(auto_error=False, scheme_name="ApiKey",
                    description="An API key from `labflow keys create --name N --scope read|write|admin`.")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}
WS_SUBPROTOCOL = "bearer"


async def accept_websocket(websocket: WebSocket) -> str | None:
    """Accept a WebSocket and return the API key it was opened with, if any.

    The key comes as ``Authorization: Bearer <key>`` or, from a browser (which cannot set headers on a
    WebSocket), as the subprotocols ``bearer, <key>`` (answered with ``bearer``); ``?token=<key>`` still
    works, and is kept out of the server log (:mod:`api.log_redaction`).
    """
    offered = websocket.scope.get("subprotocols") or []
    if len(offered) == 2 and offered[0] == WS_SUBPROTOCOL:
        await websocket.accept(subprotocol=WS_SUBPROTOCOL)
        return offered[1]
    await websocket.accept()
    header = websocket.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return websocket.query_params.get("token")


def check_key(lab: LabDep, token: str | None, scope: str, client: str | None = None) -> ApiKey | None:
    """The key allowed to do what needs ``scope``; ``None`` when auth is off; else a 401/403 problem.

    Wrong keys are counted per client address and per key prefix: past the limit, 429 with Retry-After.
    """
    if not lab.settings.auth:
        return None
    if not token:
        raise ApiProblem(401, "this endpoint needs an API key: send 'Authorization: Bearer <key>' "
                              "(create one with `labflow keys create`)", headers=_CHALLENGE)
    names = (f"client:{client}" if client else "", f"prefix:{key_prefix(token) or '-'}")
    wait = lab.failed_keys.retry_after(*names)
    if wait > 0:
        seconds = str(math.ceil(wait))
        raise ApiProblem(429, f"too many wrong API keys from this client or for this key; try again in {seconds} s",
                         headers={"Retry-After": seconds})
    key = lab.keys.verify(token)
    if key is None:
        lab.failed_keys.failed(*names)
        raise ApiProblem(401, "the API key is not valid (mistyped, revoked or unknown)", headers=_CHALLENGE)
    if not scope_allows(key.scope, scope):
        raise ApiProblem(403, f"the key {key.name!r} has scope {key.scope!r}; this needs {scope!r} or higher")
    return key


def _require(scope: str):
    async def current_key(request: Request, lab: LabDep,
                          credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
                          ) -> ApiKey | None:
        if not lab.settings.auth:
            return None
        token = credentials.credentials if credentials else None
        recent = lab.keys.recently_verified(token) if token else None
        if recent is not None and scope_allows(recent.scope, scope):
            return recent  # checked a moment ago: no thread, no database read
        client = request.client.host if request.client else None
        return await anyio.to_thread.run_sync(check_key, lab, token, scope, client)  # a database read, maybe scrypt

    return current_key


read_key = _require("read")
write_key = _require("write")
admin_key = _require("admin")
