"""A real S3-compatible HTTP endpoint for the tests: moto in server mode on 127.0.0.1.

This is the only fake the tests use, and it is a real HTTP server: boto3 is never patched. The
endpoint can be stopped (its socket closed, so clients get "connection refused") and started again
on the same port with its buckets intact, to test outages. Import the fixtures from here (or
register this module as a pytest plugin).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from labflow.s3 import s3_client
from tests.lab_fixtures import free_port

AWS_TEST_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1"}


class S3Endpoint:
    """moto's S3 over HTTP on a fixed local port; :meth:`stop` and :meth:`start` simulate an outage."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: ThreadedMotoServer | None = None

    def start(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    def stop(self) -> None:
        """Stop serving and close the listening socket (clients see "connection refused")."""
        if self._server is None:
            return
        self._server.stop()
        self._server._server.server_close()  # ThreadedMotoServer.stop leaves the socket open
        self._server = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def client(self, **kwargs: Any) -> Any:
        """A boto3 client for this endpoint (one attempt, short timeouts unless given)."""
        options = {"max_attempts": 1, "timeout_s": 5.0, **kwargs}
        return s3_client(endpoint_url=self.url, region_name="us-east-1", **options)

    def new_bucket(self, *, versioned: bool = False) -> str:
        """A new, empty bucket with a unique name."""
        name = f"lab-{uuid.uuid4().hex[:12]}"
        client = self.client()
        client.create_bucket(Bucket=name)
        if versioned:
            client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        return name


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[S3Endpoint]:
    """One moto S3 server for the session, with dummy AWS credentials in the environment."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    saved = {name: os.environ.get(name) for name in AWS_TEST_ENV}
    os.environ.update(AWS_TEST_ENV)
    endpoint = S3Endpoint()
    endpoint.start()
    try:
        yield endpoint
    finally:
        endpoint.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def s3(s3_endpoint: S3Endpoint) -> Iterator[S3Endpoint]:
    """The endpoint, running at the start of the test and again after it (a test may stop it)."""
    if not s3_endpoint.running:
        s3_endpoint.start()
    yield s3_endpoint
    if not s3_endpoint.running:
        s3_endpoint.start()


@pytest.fixture
def bucket(s3: S3Endpoint) -> str:
    """A fresh bucket on the endpoint."""
    return s3.new_bucket()
