"""Uploading a CSV into the inbox over HTTP (debugging, offline use)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Response, UploadFile
from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import write_key
from api.deps import API_PREFIX, LabDep
from api.errors import PROBLEM_JSON, problems
from api.models import UploadOut
from labflow.ingest.uploads import accept_upload, check_size

UPLOAD_PATH = f"{API_PREFIX}/uploads"
_MULTIPART_SLACK = 64 * 1024  # form fields and boundaries around the file

router = APIRouter(prefix=API_PREFIX, tags=["uploads"], dependencies=[Depends(write_key)],
                   responses=problems(400, 401, 403, 409, 413, 415, 422))


@router.post("/uploads", response_model=UploadOut, status_code=202, summary="Upload an instrument file")
def upload_file(
    lab: LabDep,
    response: Response,
    file: Annotated[UploadFile, File(description="The instrument CSV/TSV/TXT export.")],
    instrument: Annotated[str | None, Form(max_length=100, description="Put it under inbox/<instrument>/.")] = None,
    metadata: Annotated[str | None, Form(max_length=100_000,
                                         description="Sidecar fields as a JSON object (experiment_id, operator, …).")
                        ] = None,
) -> UploadOut:
    """Check the file (name, size, content) and put it into the inbox; the inbox sensor takes it from there.

    Answers ``202`` with the run key the file will get; nothing is written when a check fails.
    """
    limit = lab.settings.upload_max_bytes
    data = file.file.read(limit + 1)
    check_size(file.size if file.size is not None else len(data), limit)
    upload = accept_upload(lab.settings, file.filename or "", data, instrument=instrument, metadata=metadata,
                           catalog=lab.catalog)
    status_url = f"{API_PREFIX}/runs/{upload.run_key}"
    response.headers["Location"] = status_url
    return UploadOut(run_key=upload.run_key, file_name=upload.file_name, relative_path=upload.relative_path,
                     sha256=upload.sha256, size_bytes=upload.size_bytes, duplicate=upload.duplicate,
                     status_url=status_url)


class UploadSizeLimit:
    """Refuse an upload whose declared size is over the limit before its body is read (413)."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == UPLOAD_PATH:
            declared = dict(scope["headers"]).get(b"content-length", b"")
            if declared.isdigit() and int(declared) > self.max_bytes + _MULTIPART_SLACK:
                body = json.dumps({"type": "about:blank", "title": "Content Too Large", "status": 413,
                                   "detail": f"the upload is {int(declared):,} bytes; uploads are limited to "
                                             f"{self.max_bytes:,} bytes (LABFLOW_UPLOAD_MAX_MB)",
                                   "instance": UPLOAD_PATH}).encode()
                await send({"type": "http.response.start", "status": 413,
                            "headers": [(b"content-type", PROBLEM_JSON.encode()),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
