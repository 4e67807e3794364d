"""One error shape for every failure: RFC 9457 ``application/problem+json``.

Routes raise :class:`ApiProblem` (or a domain error mapped below); bad input becomes a 4xx with a
message that says what is wrong and what to do. The catch-all 500 is a last resort and is logged.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.models import FieldProblem, Problem
from labflow.store.catalog import RunNotFound
from labflow.experiments import ExperimentError, ExperimentExists
from labflow.ingest.uploads import UploadRejected

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("labflow.api")


class ApiProblem(Exception):
    """An error answer: HTTP status, a clear ``detail`` sentence, optional headers."""

    def __init__(self, status: int, detail: str, *, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


def problem_response(request: Request, status: int, detail: str, *, headers: dict[str, str] | None = None,
                     errors: list[FieldProblem] | None = None) -> JSONResponse:
    """The problem+json response for ``status``."""
    problem = Problem(title=_phrase(status), status=status, detail=detail, instance=request.url.path, errors=errors)
    return JSONResponse(problem.model_dump(mode="json", exclude_none=True), status_code=status, headers=headers,
                        media_type=PROBLEM_JSON)


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries documenting these error statuses with the problem shape."""
    return {code: {"model": Problem, "description": _phrase(code)} for code in codes}


def install_error_handlers(app: FastAPI) -> None:
    """Map framework and domain errors to problem responses."""

    async def api_problem(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ApiProblem)
        return problem_response(request, error.status, error.detail, headers=error.headers)

    async def http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        detail = error.detail if isinstance(error.detail, str) else str(error.detail)
        if error.status_code == 404 and detail == "Not Found":
            detail = f"there is no {request.url.path}; the API lives under /api/v1 (see /docs)"
        elif error.status_code == 400 and detail == "There was an error parsing the body":
            detail = "the request body cannot be read: send JSON with Content-Type: application/json (or the " \
                     "multipart form documented for uploads)"
        elif error.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        return problem_response(request, error.status_code, detail, headers=getattr(error, "headers", None))

    async def invalid_request(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        fields = [FieldProblem(loc=[str(part) for part in e.get("loc", ())], msg=_message(e)) for e in error.errors()]
        detail = "; ".join(f"{'.'.join(f.loc)}: {f.msg}" for f in fields) or "the request is not valid"
        return problem_response(request, 422, detail, errors=fields)

    async def domain_error(request: Request, error: Exception) -> JSONResponse:
        status = {RunNotFound: 404, ExperimentExists: 409}.get(type(error), 422)
        status = error.status if isinstance(error, UploadRejected) else status
        return problem_response(request, status, str(error))

    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem_response(request, 500, "an unexpected error occurred on the server; it has been logged")

    app.add_exception_handler(ApiProblem, api_problem)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    for domain in (RunNotFound, ExperimentError, UploadRejected):
        app.add_exception_handler(domain, domain_error)
    app.add_exception_handler(Exception, unexpected)


def use_problem_media_type(schema: dict[str, Any]) -> dict[str, Any]:
    """In an OpenAPI document, serve the problem schema as ``application/problem+json`` only."""
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for response in operation.get("responses", {}).values():
                content = response.get("content", {})
                json_schema = content.get("application/json", {}).get("schema", {})
                if json_schema.get("$ref", "").endswith("/Problem"):
                    content[PROBLEM_JSON] = content.pop("application/json")
    return schema


def _message(error: dict[str, Any]) -> str:
    if error.get("type") == "json_invalid":
        return f"not valid JSON: {error.get('ctx', {}).get('error', 'cannot be decoded')}"
    return str(error.get("msg", ""))


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
