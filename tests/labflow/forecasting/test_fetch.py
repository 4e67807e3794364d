"""Fetching training data from file://, http(s):// and s3:// with a size limit and clear errors."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from labflow.forecasting.fetch import DataSources, FetchError, check_data_url, fetch_data
from tests.s3_fixtures import S3Endpoint

DATA = b"timestamp,value\n2024-01-01 00:00:00,1\n"


@pytest.fixture
def web_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on a free port serving ``tmp_path``."""
    handler = lambda *args: http.server.SimpleHTTPRequestHandler(*args, directory=str(tmp_path))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.RequestHandlerClass.log_message = lambda *args: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    server.shutdown()
    server.server_close()


def test_file_urls(tmp_path: Path):
    path = tmp_path / "line 3.csv"
    path.write_bytes(DATA)
    sources = DataSources([tmp_path])
    assert fetch_data(path.as_uri(), sources=sources, max_bytes=1000) == DATA
    with pytest.raises(FetchError, match="there is no file"):
        fetch_data((tmp_path / "missing.csv").as_uri(), sources=sources, max_bytes=1000)
    with pytest.raises(FetchError, match=r"is 38 bytes; training data is limited to 10 bytes"):
        fetch_data(path.as_uri(), sources=sources, max_bytes=10)


def test_only_allowed_folders_hosts_and_buckets_are_read(tmp_path: Path):
    inside = tmp_path / "training"
    inside.mkdir()
    (inside / "escape.csv").symlink_to("/etc/passwd")
    sources = DataSources([inside], hosts=("data.plant.example", "plant-bucket"))
    for url in ("file:///etc/shadow", f"file://{inside}/../../etc/passwd", (inside / "escape.csv").as_uri(),
                "http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:8000/api/v1/keys",
                "https://data.plant.example.evil.example/a.csv", "s3://other-bucket/a.csv"):
        with pytest.raises(FetchError, match="LABFLOW_TRAINING_DATA_") as refused:
            fetch_data(url, sources=sources, max_bytes=1000)
        assert "root:" not in str(refused.value)
    check_data_url("https://DATA.plant.example/a.csv", sources)
    check_data_url("s3://plant-bucket/line3.csv", sources)


def test_http_urls(web_root):
    url, root = web_root
    (root / "history.csv").write_bytes(DATA)
    sources = DataSources([], hosts=("127.0.0.1",))
    assert fetch_data(f"{url}/history.csv", sources=sources, max_bytes=1000) == DATA
    with pytest.raises(FetchError, match="answered HTTP 404"):
        fetch_data(f"{url}/nothing.csv", sources=sources, max_bytes=1000)
    with pytest.raises(FetchError, match="limited to 10 bytes"):
        fetch_data(f"{url}/history.csv", sources=sources, max_bytes=10)


def test_s3_urls(s3: S3Endpoint, bucket: str):
    s3.client().put_object(Bucket=bucket, Key="plant/line3.csv", Body=DATA)
    sources = DataSources([], hosts=(bucket,))
    assert fetch_data(f"s3://{bucket}/plant/line3.csv", sources=sources, max_bytes=1000, s3_endpoint_url=s3.url) == DATA
    with pytest.raises(FetchError, match="does not exist"):
        fetch_data(f"s3://{bucket}/plant/other.csv", sources=sources, max_bytes=1000, s3_endpoint_url=s3.url)


def test_url_forms_we_cannot_fetch_are_named():
    for url in ("ftp://host/a.csv", "line3.csv", "s3://bucket", "http:///a.csv"):
        with pytest.raises(FetchError):
            check_data_url(url)
    assert check_data_url("file:///data/a.csv") == "file:///data/a.csv"
