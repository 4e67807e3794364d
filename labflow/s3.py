"""The S3 client labflow uses everywhere (inbox sensor, blob store, forwarding, forecasts), with short
timeouts, and the two errors a scientist can act on: the endpoint does not answer, or the bucket cannot be read.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import Any

_SESSION_LOCK = threading.Lock()
_UNREACHABLE = ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError",
                "ProxyConnectionError")


class S3SourceError(RuntimeError):
    """A source that cannot be read as configured (missing bucket, no permission)."""


class S3Unreachable(RuntimeError):
    """The endpoint does not answer (network down, server stopped); try again later."""


@dataclass(frozen=True)
class S3Source:
    """One watched location: a bucket and a key prefix ('' or ending with '/')."""

    bucket: str
    prefix: str = ""

    @classmethod
    def parse(cls, url: str) -> "S3Source":
        """``s3://bucket`` or ``s3://bucket/some/prefix`` (a prefix is a folder: '/' is added)."""
        text = url.strip()
        if not text.startswith("s3://") or len(text) <= len("s3://"):
            raise ValueError(f"an S3 source looks like s3://bucket/prefix, got {url!r}")
        bucket, _, prefix = text[len("s3://"):].partition("/")
        if not bucket or ":" in prefix:
            raise ValueError(f"an S3 source looks like s3://bucket/prefix (no ':' in the prefix), got {url!r}")
        prefix = prefix.strip("/")
        return cls(bucket, prefix + "/" if prefix else "")

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    @property
    def catalog_prefix(self) -> str:
        """The run ``source`` before the ':' (the part after it is the key below the prefix)."""
        return f"s3/{self.bucket}/{self.prefix}".rstrip("/")

    def key(self, relative: str) -> str:
        return self.prefix + relative


def s3_client(*, endpoint_url: str | None = None, region_name: str | None = None, max_attempts: int = 3,
              timeout_s: float = 10.0, profile_name: str | None = None, unsigned: bool = False,
              **client_kwargs: Any) -> Any:
    """A boto3 S3 client with short timeouts, so an unreachable endpoint fails fast instead of hanging.

    ``client_kwargs`` (``aws_access_key_id``, ``use_ssl``, ``verify``, ...) go to ``boto3`` as they are;
    ``None`` values are left out, so credentials come from the standard AWS environment variables.
    """
    from botocore import UNSIGNED
    from botocore.config import Config

    config = Config(connect_timeout=timeout_s, read_timeout=timeout_s,
                    retries={"max_attempts": max_attempts, "mode": "standard"},
                    signature_version=UNSIGNED if unsigned else None)
    with _SESSION_LOCK:  # creating clients from one session is not thread-safe
        return _session(profile_name).client(
            "s3", endpoint_url=endpoint_url or None, region_name=region_name or None, config=config,
            **{k: v for k, v in client_kwargs.items() if v is not None})


@functools.lru_cache(maxsize=4)
def _session(profile_name: str | None) -> Any:
    """One boto3 session per profile: a new session reloads the service models (~0.3 s)."""
    import boto3

    return boto3.session.Session(profile_name=profile_name)


def endpoint_of(client: Any) -> str:
    return client.meta.endpoint_url


def classify_error(error: Exception, client: Any, bucket: str) -> Exception | None:
    """Turn a botocore error into :class:`S3Unreachable` / :class:`S3SourceError`, or ``None``."""
    name = type(error).__name__
    if name in _UNREACHABLE:
        return S3Unreachable(f"cannot reach endpoint {endpoint_of(client)}: {error}")
    code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
    if code == "NoSuchBucket":
        return S3SourceError(f"bucket {bucket!r} not found at endpoint {endpoint_of(client)}")
    if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
        return S3SourceError(f"no access to bucket {bucket!r} at endpoint {endpoint_of(client)}: {code}; "
                             "check the AWS credentials")
    return None
