"""Fetch a training CSV from where a plant keeps it: ``http(s)://``, ``s3://bucket/key`` or ``file:///path``."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

SCHEMES = ("http", "https", "s3", "file")


class FetchError(ValueError):
    """The data cannot be fetched: which URL, what went wrong, what to do."""


def check_data_url(url: str) -> str:
    """Return the URL if its form is one we can fetch, else raise :class:`FetchError` saying which forms are."""
    parsed = urlparse(url or "")
    if parsed.scheme not in SCHEMES:
        raise FetchError(f"data_url {url!r} must start with http://, https://, s3:// or file://")
    if parsed.scheme in ("http", "https", "s3") and not parsed.netloc:
        raise FetchError(f"data_url {url!r} names no host or bucket")
    if parsed.scheme == "s3" and not parsed.path.strip("/"):
        raise FetchError(f"data_url {url!r} names a bucket but no object key (s3://bucket/path/file.csv)")
    if parsed.scheme == "file" and not parsed.path:
        raise FetchError(f"data_url {url!r} names no file (file:///absolute/path.csv)")
    return url


def fetch_data(url: str, *, max_bytes: int, s3_endpoint_url: str | None = None, timeout_s: float = 30.0) -> bytes:
    """The bytes at ``url`` (at most ``max_bytes``; larger data is refused, not truncated)."""
    check_data_url(url)
    parsed = urlparse(url)
    if parsed.scheme == "file":
        data = _read_file(Path(unquote(parsed.path)), max_bytes, url)
    elif parsed.scheme == "s3":
        data = _read_s3(parsed.netloc, unquote(parsed.path.lstrip("/")), max_bytes, url, s3_endpoint_url, timeout_s)
    else:
        data = _read_http(url, max_bytes, timeout_s)
    if not data:
        raise FetchError(f"{url} is empty")
    return data


def _too_large(url: str, size: int, max_bytes: int) -> FetchError:
    return FetchError(f"{url} is {size:,} bytes; training data is limited to {max_bytes:,} bytes "
                      "(LABFLOW_UPLOAD_MAX_MB): send a shorter history")


def _read_file(path: Path, max_bytes: int, url: str) -> bytes:
    if not path.is_file():
        raise FetchError(f"{url}: there is no file {path} on the machine that runs the training")
    size = path.stat().st_size
    if size > max_bytes:
        raise _too_large(url, size, max_bytes)
    return path.read_bytes()


def _read_http(url: str, max_bytes: int, timeout_s: float) -> bytes:
    import httpx

    try:
        with httpx.stream("GET", url, timeout=timeout_s, follow_redirects=True) as response:
            if response.status_code >= 400:
                raise FetchError(f"{url} answered HTTP {response.status_code}; check the URL and that it is "
                                 "readable without a login")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise _too_large(url, int(declared), max_bytes)
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise _too_large(url, size, max_bytes)
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.HTTPError as error:
        raise FetchError(f"{url} cannot be fetched: {error}") from None


def _read_s3(bucket: str, key: str, max_bytes: int, url: str, endpoint: str | None, timeout_s: float) -> bytes:
    from botocore.exceptions import BotoCoreError, ClientError

    from labflow.s3 import s3_client

    client = s3_client(endpoint_url=endpoint, timeout_s=timeout_s)
    try:
        head = client.head_object(Bucket=bucket, Key=key)
        if head["ContentLength"] > max_bytes:
            raise _too_large(url, head["ContentLength"], max_bytes)
        return client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("404", "NoSuchKey", "NoSuchBucket"):
            raise FetchError(f"{url} does not exist (S3 says {code})") from None
        raise FetchError(f"{url} cannot be read from S3: {code or error}") from None
    except BotoCoreError as error:
        raise FetchError(f"{url} cannot be read from S3: {error}") from None
