"""S3 as a Dagster resource: dagster-aws's ``S3Resource`` plus the sources the S3 sensor watches.

Configured from the environment in one place (:func:`build_s3_resource`):

- ``LABFLOW_S3_SOURCES``: comma-separated ``s3://bucket/prefix`` list (the sensor exists only when set);
- ``LABFLOW_S3_ENDPOINT_URL``: an S3-compatible endpoint (MinIO, ...); empty means AWS;
- credentials and region: the standard ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
  ``AWS_SESSION_TOKEN``, ``AWS_REGION`` / ``AWS_DEFAULT_REGION`` (read by boto3, never copied into
  the resource's config, so they do not show in the UI).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from dagster_aws.s3 import S3Resource
from pydantic import Field

from labflow.ingest.s3_inbox import parse_sources
from labflow.s3 import S3Source, s3_client

SOURCES_ENV = "LABFLOW_S3_SOURCES"
ENDPOINT_ENV = "LABFLOW_S3_ENDPOINT_URL"


class S3InboxResource(S3Resource):
    """An ``S3Resource`` whose client has short timeouts, and the ``s3://bucket/prefix`` sources to watch."""

    sources: list[str] = Field(default_factory=list, description="s3://bucket/prefix locations to watch")
    timeout_s: float = Field(default=10.0, description="connect and read timeout of each S3 request")

    def get_client(self) -> Any:
        """A boto3 S3 client; an unreachable endpoint fails within ``timeout_s`` per attempt."""
        return s3_client(endpoint_url=self.endpoint_url, region_name=self.region_name,
                         max_attempts=self.max_attempts, timeout_s=self.timeout_s, profile_name=self.profile_name,
                         unsigned=self.use_unsigned_session, use_ssl=self.use_ssl, verify=self.verify,
                         aws_access_key_id=self.aws_access_key_id, aws_secret_access_key=self.aws_secret_access_key,
                         aws_session_token=self.aws_session_token)

    def inbox_sources(self) -> list[S3Source]:
        """The watched sources, parsed (a malformed URL raises with the URL in the message)."""
        return [S3Source.parse(url) for url in self.sources]


def build_s3_resource(env: Mapping[str, str] | None = None) -> S3InboxResource:
    """The ``s3`` resource from ``LABFLOW_S3_SOURCES`` and ``LABFLOW_S3_ENDPOINT_URL``."""
    env = os.environ if env is None else env
    sources = [s.url for s in parse_sources(env.get(SOURCES_ENV, ""))]
    return S3InboxResource(sources=sources, endpoint_url=env.get(ENDPOINT_ENV) or None, max_attempts=3)
