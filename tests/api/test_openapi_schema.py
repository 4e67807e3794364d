"""Schemathesis against the app's own OpenAPI schema, over real HTTP: no 5xx, answers match the schema."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (content_type_conformance, negative_data_rejection,
                                               response_headers_conformance, response_schema_conformance,
                                               status_code_conformance)

from tests.api.conftest import Lab, demo_lab, uvicorn_server

EXAMPLES = 25
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance, negative_data_rejection]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, str]]:
    """Its own demo lab (schemathesis posts experiments and uploads) behind a real uvicorn server."""
    with demo_lab(tmp_path_factory.mktemp("fuzzed_lab")) as lab, uvicorn_server(lab.app) as url:
        yield lab, url


def test_the_real_server_answers_over_http(served):
    lab, url = served
    health = httpx.get(f"{url}/healthz", timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    page = httpx.get(f"{url}/api/v1/runs", params={"instrument": "hplc-01"}, timeout=10).json()
    assert [item["run_key"] for item in page["items"]] == [lab.runs["run"]]
    missing = httpx.get(f"{url}/api/v1/runs/nope-0000000000", timeout=10)
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_answer_matches_the_schema_and_none_is_a_server_error(served, mode):
    """Each operation gets valid (positive) or invalid (negative) requests; every answer is checked.

    Operations without parameters have no invalid request (hypothesis reports them unsatisfiable).
    """
    schema = schemathesis.openapi.from_url(f"{served[1]}/openapi.json")
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def exercise(case: schemathesis.Case) -> None:
            case.call_and_validate(checks=CHECKS, timeout=30)

        try:
            exercise()
        except Unsatisfiable:
            assert mode == GenerationMode.NEGATIVE, f"{operation.label}: no valid request can be made"
        except Exception as failure:  # noqa: BLE001 - collect every operation's failure, then report them all
            failures[operation.label] = str(failure)[:2000]
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
