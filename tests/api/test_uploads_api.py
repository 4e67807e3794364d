"""Uploads over HTTP: the file lands in the inbox and becomes the promised run; bad uploads write nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.api.conftest import InboxDaemon, open_lab
from tests.lab_fixtures import signal_csv

UPLOADS = "/api/v1/uploads"
BAD = Path(__file__).resolve().parent.parent / "fixtures" / "parsing" / "bad"


def inbox_files(lab) -> list[str]:
    return sorted(p.relative_to(lab.settings.inbox).as_posix() for p in lab.settings.inbox.rglob("*") if p.is_file())


def test_an_uploaded_file_becomes_the_run_it_was_promised(api):
    response = api.client.post(UPLOADS, files={"file": ("run 7.csv", signal_csv(1), "text/csv")},
                               data={"instrument": "hplc-01", "metadata": json.dumps({"operator": "alice"})})
    assert response.status_code == 202
    upload = response.json()
    assert response.headers["location"] == upload["status_url"] == f"/api/v1/runs/{upload['run_key']}"
    assert inbox_files(api) == ["hplc-01/run 7.csv", "hplc-01/run 7.csv.meta.json"]
    daemon = InboxDaemon(api.settings, api.instance, api.resources)
    daemon.tick()
    (request,) = daemon.tick()
    assert request.partition_key == upload["run_key"]
    daemon.execute(request)
    run = api.client.get(upload["status_url"]).json()
    assert (run["status"], run["instrument"], run["operator"]) == ("processed", "hplc-01", "alice")
    again = api.client.post(UPLOADS, files={"file": ("copy.csv", signal_csv(1))}).json()
    assert again["duplicate"] and again["run_key"] == upload["run_key"]


@pytest.mark.parametrize(("name", "data", "status", "message"), [
    ("../../etc/cron.d/evil.csv", signal_csv(1), 400, "outside the inbox"),
    ("..\\..\\evil.csv", signal_csv(1), 400, "outside the inbox"),
    (".hidden.csv", signal_csv(1), 400, "inbox ignores"),
    ("run.csv", b"", 422, "empty"),
    ("run.csv", (BAD / "binary_png.csv").read_bytes(), 415, "binary file"),
    ("run.csv", b"\x00\x01\x02" * 100, 415, "binary"),
    ("run.csv", b"Dear colleague,\nplease find the results attached.\n", 415, "not an instrument table"),
])
def test_bad_uploads_are_refused_clearly_and_write_nothing(api, name, data, status, message):
    response = api.client.post(UPLOADS, files={"file": (name, data, "text/csv")})
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json" and message in response.json()["detail"]
    assert inbox_files(api) == []


def test_bad_form_fields_are_refused(api):
    bad_folder = api.client.post(UPLOADS, files={"file": ("a.csv", signal_csv(1))}, data={"instrument": "../x"})
    assert bad_folder.status_code == 400 and "instrument" in bad_folder.json()["detail"]
    bad_metadata = api.client.post(UPLOADS, files={"file": ("a.csv", signal_csv(1))}, data={"metadata": "[1, 2]"})
    assert bad_metadata.status_code == 422 and "must hold an object" in bad_metadata.json()["detail"]
    no_file = api.client.post(UPLOADS, data={"instrument": "x"})
    assert no_file.status_code == 422 and "file" in no_file.json()["detail"]
    assert inbox_files(api) == []


def test_an_upload_over_the_limit_is_413(lab_settings, instance):
    small = lab_settings.model_copy(update={"upload_max_mb": 1024 / 2**20})
    lab = open_lab(small, instance)
    with lab.client:
        response = lab.client.post(UPLOADS, files={"file": ("big.csv", signal_csv(1, n=2000))})
        assert response.status_code == 413 and "limited to 1,024 bytes" in response.json()["detail"]
        huge = b"x" * (200 * 1024)  # refused from its Content-Length, before the body is read
        early = lab.client.post(UPLOADS, files={"file": ("huge.csv", huge)})
        assert early.status_code == 413 and early.headers["content-type"] == "application/problem+json"
    assert inbox_files(lab) == []
    lab.catalog.dispose()


def test_a_different_waiting_file_of_the_same_name_is_409(api):
    assert api.client.post(UPLOADS, files={"file": ("run.csv", signal_csv(1))}).status_code == 202
    clash = api.client.post(UPLOADS, files={"file": ("run.csv", signal_csv(2))})
    assert clash.status_code == 409 and "waiting in the inbox" in clash.json()["detail"]
    assert (api.settings.inbox / "run.csv").read_bytes() == signal_csv(1)
