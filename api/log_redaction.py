"""Secrets never reach the logs: API keys and ``?token=`` values are replaced before a line is written.

uvicorn writes the path and query of every request (``uvicorn.access``) and WebSocket
(``uvicorn.error``); a key sent as ``?token=`` would otherwise sit in the log in clear.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"
_QUERY_SECRET = re.compile(r"(?i)([?&](?:token|access_token|api_key)=)[^&\s\"']*")
_API_KEY = re.compile(r"\blf_[0-9a-f]{12}_[A-Za-z0-9_-]+")
_LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact(text: str) -> str:
    """``text`` with query-string secrets and anything shaped like an API key replaced."""
    return _API_KEY.sub(REDACTED, _QUERY_SECRET.sub(rf"\1{REDACTED}", text))


class RedactSecrets(logging.Filter):
    """A logging filter that rewrites a record's message with :func:`redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def redact_server_logs() -> None:
    """Install :class:`RedactSecrets` on uvicorn's loggers (once per process)."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
