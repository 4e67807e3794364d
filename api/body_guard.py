"""Request bodies are bounded and, with auth on, need a key before a byte of them is read.

FastAPI reads and parses a JSON body before it checks the key (40 MB sent without a key cost the
server 224 MB). This middleware answers first: a body under ``/api/v1`` without an
``Authorization`` header is 401 when auth is on, and a body over ``MAX_JSON_BYTES`` (declared, or
counted while it streams in without a length, buffered up to the limit) is 413. Multipart uploads have their own limit (``UploadSizeLimit``).
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import API_PREFIX
from api.errors import send_problem

MAX_JSON_BYTES = 16 * 1024 * 1024
_NO_BODY = ("GET", "HEAD", "OPTIONS", "DELETE")


class BodyGuard:
    """401 for a body without a key (auth on), 413 for a non-multipart body over ``MAX_JSON_BYTES``."""

    def __init__(self, app: ASGIApp, auth_required: bool, max_bytes: int = MAX_JSON_BYTES):
        self.app, self.auth_required, self.max_bytes = app, auth_required, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _NO_BODY or not scope["path"].startswith(API_PREFIX):
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        has_body = declared not in ("", "0") or "chunked" in headers.get("transfer-encoding", "").lower()
        if self.auth_required and has_body and "authorization" not in headers:
            return await send_problem(send, 401, "this endpoint needs an API key: send 'Authorization: Bearer <key>' "
                                                 "(create one with `labflow keys create`)", scope["path"],
                                      {"WWW-Authenticate": "Bearer"})
        if headers.get("content-type", "").lower().startswith("multipart/"):
            return await self.app(scope, receive, send)
        if declared.isdigit() and int(declared) > self.max_bytes:
            return await send_problem(send, 413, self._too_large(int(declared)), scope["path"])
        if declared.isdigit():
            return await self.app(scope, receive, send)
        await self._buffered(scope, receive, send)

    async def _buffered(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A body sent without a length: read up to ``max_bytes`` here, then hand it to the app."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await send_problem(send, 413, self._too_large(size, at_least=True), scope["path"])
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def _too_large(self, size: int, at_least: bool = False) -> str:
        return (f"the request body is {'more than ' if at_least else ''}{size:,} bytes; JSON bodies are limited to "
                f"{self.max_bytes:,} bytes: send fewer points per request")
