"""Where raw copies and asset outputs live: the data directory (default) or an S3 bucket (one setting).

``LABFLOW_OBJECT_STORE`` empty keeps everything under ``LABFLOW_HOME``; ``s3://bucket/prefix`` puts raw
copies under ``<prefix>/objects/`` and asset outputs under ``<prefix>/storage/`` in that bucket, through
boto3 (the client dagster-aws's ``S3Resource`` wraps; same endpoint and credential settings as the S3
sensor). Readers that need a file (Parquet scans, downloads) get a local copy, cached under
``LABFLOW_HOME/cache/`` and re-fetched only when the object's ETag changes.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any, Protocol

from labflow.store.atomic import write_atomic


class BlobMissing(LookupError):
    """No blob is stored under this key."""


class BlobStoreUnreachable(RuntimeError):
    """The object store did not answer (network, credentials, missing bucket)."""


class BlobStore(Protocol):
    """Bytes under ``/``-separated keys."""

    def put(self, key: str, data: bytes) -> str:
        """Store ``data`` under ``key`` (atomically: readers see all or nothing); return its location."""
        ...

    def get(self, key: str) -> bytes:
        """The bytes under ``key``, or :class:`BlobMissing`."""
        ...

    def exists(self, key: str) -> bool:
        ...

    def location(self, key: str) -> str:
        """A path or ``s3://`` URL naming the blob, for metadata and the catalog."""
        ...

    def keys(self, prefix: str) -> list[str]:
        """Every key below ``prefix`` (a folder, ending with ``/``), sorted."""
        ...

    def local_copy(self, key: str) -> Path:
        """A local file holding the blob's current bytes."""
        ...

    def read_location(self, location: str) -> bytes:
        """The bytes at a location this store returned (also a local path written before a switch)."""
        ...


class LocalBlobStore:
    """Files under a folder; the key is the relative path."""

    def __init__(self, root: Path):
        self.root = root

    def path(self, key: str) -> Path:
        return self.root / key

    def put(self, key: str, data: bytes) -> str:
        write_atomic(self.path(key), data)
        return str(self.path(key))

    def get(self, key: str) -> bytes:
        return self.read_location(str(self.path(key)))

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def location(self, key: str) -> str:
        return str(self.path(key))

    def keys(self, prefix: str) -> list[str]:
        folder = self.path(prefix)
        if not folder.is_dir():
            return []
        return sorted(str(p.relative_to(self.root)) for p in folder.rglob("*")
                      if p.is_file() and not p.name.startswith("."))

    def local_copy(self, key: str) -> Path:
        if not self.path(key).exists():
            raise BlobMissing(key)
        return self.path(key)

    def read_location(self, location: str) -> bytes:
        if location.startswith("s3://"):
            raise BlobStoreUnreachable(f"{location} is in S3 but LABFLOW_OBJECT_STORE points at the data directory")
        return _read_file(location)


class S3BlobStore:
    """Objects under ``s3://bucket/prefix/``; local copies cached by ETag under ``cache_dir``."""

    def __init__(self, client: Any, bucket: str, prefix: str, cache_dir: Path):
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.cache_dir = cache_dir
        self._lock = threading.Lock()

    def key_of(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes) -> str:
        self._call("put_object", Bucket=self.bucket, Key=self.key_of(key), Body=data,
                   Metadata={"sha256": hashlib.sha256(data).hexdigest()})
        return self.location(key)

    def get(self, key: str) -> bytes:
        return self._call("get_object", Bucket=self.bucket, Key=self.key_of(key))["Body"].read()

    def exists(self, key: str) -> bool:
        try:
            self._call("head_object", Bucket=self.bucket, Key=self.key_of(key))
        except BlobMissing:
            return False
        return True

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.key_of(key)}"

    def keys(self, prefix: str) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.key_of(prefix))
        start = len(self.key_of(""))
        try:
            return sorted(item["Key"][start:] for page in pages for item in page.get("Contents", []))
        except Exception as error:  # botocore raises while iterating pages
            raise BlobStoreUnreachable(f"S3 listing of s3://{self.bucket}/{self.key_of(prefix)} failed: {error}") \
                from error

    def local_copy(self, key: str) -> Path:
        """Download once per ETag: a re-materialized output (new ETag) is fetched again."""
        etag = self._call("head_object", Bucket=self.bucket, Key=self.key_of(key))["ETag"].strip('"')
        target = self.cache_dir / self.bucket / self.key_of(key)
        tag = target.with_name(target.name + ".etag")
        with self._lock:
            if target.exists() and tag.exists() and tag.read_text() == etag:
                return target
            answer = self._call("get_object", Bucket=self.bucket, Key=self.key_of(key))
            write_atomic(target, answer["Body"].read())
            write_atomic(tag, answer["ETag"].strip('"').encode())
        return target

    def read_location(self, location: str) -> bytes:
        if not location.startswith("s3://"):  # written before the switch to S3
            return _read_file(location)
        bucket, _, key = location.removeprefix("s3://").partition("/")
        return self._call("get_object", Bucket=bucket, Key=key)["Body"].read()

    def _call(self, method: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, method)(**kwargs)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                raise BlobMissing(kwargs.get("Key", "")) from None
            raise BlobStoreUnreachable(f"S3 {method} s3://{kwargs.get('Bucket')}/{kwargs.get('Key', '')} "
                                       f"failed: {code or error}") from error
        except BotoCoreError as error:
            raise BlobStoreUnreachable(f"S3 endpoint did not answer ({method}): {error}") from error


def _read_file(location: str) -> bytes:
    try:
        return Path(location).read_bytes()
    except FileNotFoundError:
        raise BlobMissing(location) from None


def open_blob_store(home: Path, object_store: str | None, area: str, *,
                    endpoint_url: str | None = None) -> BlobStore:
    """The store for ``area`` (``objects`` or ``storage``): ``home/<area>`` or ``s3://…/<prefix>/<area>``."""
    if not object_store:
        return LocalBlobStore(home / area)
    from labflow.s3 import S3Source, s3_client

    source = S3Source.parse(object_store)
    client = _client(endpoint_url, s3_client)
    return S3BlobStore(client, source.bucket, f"{source.prefix}{area}", home / "cache")


_CLIENTS: dict[str | None, Any] = {}
_CLIENTS_LOCK = threading.Lock()


def _client(endpoint_url: str | None, factory: Any) -> Any:
    """One boto3 client per endpoint per process (clients are thread-safe and slow to build)."""
    with _CLIENTS_LOCK:
        if endpoint_url not in _CLIENTS:
            _CLIENTS[endpoint_url] = factory(endpoint_url=endpoint_url, max_attempts=3, timeout_s=10.0)
        return _CLIENTS[endpoint_url]
