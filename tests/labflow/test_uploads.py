"""Uploads into the inbox: safe names, size limit, content sniffing; nothing written on refusal."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from labflow.ingest.inbox import scan_inbox
from labflow.keys import make_run_key, sha256_hex
from labflow.ingest.uploads import SNIFF_BYTES, UploadRejected, accept_upload, sanitise_filename
from tests.lab_fixtures import signal_csv

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "parsing"


def inbox_files(settings) -> list[str]:
    return sorted(p.relative_to(settings.inbox).as_posix() for p in settings.inbox.rglob("*") if p.is_file())


@pytest.mark.parametrize(("name", "safe"), [
    ("run 7.csv", "run 7.csv"),
    ("C:\\exports\\hplc\\run.csv", "run.csv"),
    ("/etc/hplc/run.csv", "run.csv"),
    ("sub/dir/trace.txt", "trace.txt"),
])
def test_folders_are_stripped_from_file_names(name, safe):
    assert sanitise_filename(name) == safe


@pytest.mark.parametrize(("name", "message"), [
    ("../../etc/passwd", "outside the inbox"),
    ("..\\..\\boot.ini", "outside the inbox"),
    ("a/../b.csv", "outside the inbox"),
    ("run\x00.csv", "control characters"),
    ("run\n.csv", "control characters"),
    ("", "no file name"),
    ("   ", "no file name"),
    ("dir/", "no file part"),
    (".hidden.csv", "inbox ignores"),
    ("run.csv.part", "inbox ignores"),
    ("run.csv.meta.json", "inbox ignores"),
    ("x" * 300 + ".csv", "limit is 200"),
])
def test_dangerous_or_useless_names_are_refused(name, message):
    with pytest.raises(UploadRejected, match=message) as refused:
        sanitise_filename(name)
    assert refused.value.status == 400


def test_a_good_file_lands_in_the_inbox_with_its_sidecar_and_the_run_key_it_will_get(lab_settings, catalog):
    data = signal_csv(1)
    upload = accept_upload(lab_settings, "exports/run 7.csv", data, instrument="hplc-01",
                           metadata=json.dumps({"experiment_id": "EXP-7", "operator": "alice"}), catalog=catalog)
    assert upload.run_key == make_run_key("run 7.csv", sha256_hex(data))
    assert upload.relative_path == "hplc-01/run 7.csv" and not upload.duplicate
    assert (lab_settings.inbox / "hplc-01" / "run 7.csv").read_bytes() == data
    assert json.loads((lab_settings.inbox / "hplc-01" / "run 7.csv.meta.json").read_text())["operator"] == "alice"
    assert list(scan_inbox(lab_settings.inbox)) == ["hplc-01/run 7.csv"]  # the sensor will see the data file


@pytest.mark.parametrize("fixture", ["good/latin1_micro_volts.csv", "good/utf16le_bom_tab.txt",
                                     "good/utf8_bom_zeit.csv"])
def test_real_export_dialects_are_accepted(lab_settings, fixture):
    data = (FIXTURES / fixture).read_bytes()
    upload = accept_upload(lab_settings, Path(fixture).name, data)
    assert (lab_settings.inbox / upload.relative_path).read_bytes() == data


def refused(settings, name: str, data: bytes, **kwargs) -> UploadRejected:
    with pytest.raises(UploadRejected) as error:
        accept_upload(settings, name, data, **kwargs)
    assert inbox_files(settings) == [], "nothing may be written on refusal"
    return error.value


@pytest.mark.parametrize(("fixture", "status", "message"), [
    ("bad/binary_png.csv", 415, "binary file"),
    ("bad/control_bytes.csv", 415, "binary file"),
    ("bad/prose.txt", 415, "not an instrument table"),
    ("bad/whitespace_only.csv", 415, "empty"),
])
def test_files_that_are_not_tables_are_refused(lab_settings, fixture, status, message):
    error = refused(lab_settings, "x.csv", (FIXTURES / fixture).read_bytes())
    assert error.status == status and message in str(error)


def test_empty_and_oversize_files_are_refused(lab_settings):
    assert refused(lab_settings, "x.csv", b"").status == 422
    small = dataclasses.replace(lab_settings, upload_max_bytes=1000)
    error = refused(small, "x.csv", signal_csv(1))
    assert error.status == 413 and "limited to 1,000 bytes" in str(error)


def test_a_nul_byte_after_the_sniffed_head_is_still_refused(lab_settings):
    data = signal_csv(1, n=200_000)
    assert len(data) > SNIFF_BYTES
    cut = len(data) - 100
    error = refused(lab_settings, "x.csv", data[:cut] + b"\x00" + data[cut + 1:])
    assert error.status == 415 and "NUL" in str(error)


def test_a_large_utf16_file_is_sniffed_on_a_whole_line(lab_settings):
    data = signal_csv(2, n=100_000).decode().encode("utf-16")
    assert len(data) > SNIFF_BYTES
    assert accept_upload(lab_settings, "big.txt", data).size_bytes == len(data)


def test_bad_instrument_and_metadata_are_refused(lab_settings):
    assert "instrument" in str(refused(lab_settings, "x.csv", signal_csv(1), instrument="../up"))
    assert "not valid JSON" in str(refused(lab_settings, "x.csv", signal_csv(1), metadata="{oops"))
    assert "must hold an object" in str(refused(lab_settings, "x.csv", signal_csv(1), metadata="[1]"))


def test_a_different_waiting_file_of_the_same_name_is_a_conflict_the_same_one_is_not(lab_settings):
    first = accept_upload(lab_settings, "run.csv", signal_csv(1))
    again = accept_upload(lab_settings, "run.csv", signal_csv(1))
    assert again == first
    with pytest.raises(UploadRejected, match="a different file named run.csv is waiting") as error:
        accept_upload(lab_settings, "run.csv", signal_csv(2))
    assert error.value.status == 409
    assert (lab_settings.inbox / "run.csv").read_bytes() == signal_csv(1)


def test_bytes_already_ingested_report_the_existing_run(lab_settings, catalog):
    data = signal_csv(3)
    sha = sha256_hex(data)
    catalog.register_file(run_key="first-" + sha[:10], sha256=sha, size_bytes=len(data), original_name="first.csv",
                          source="inbox:first.csv", object_path="/x", sidecar_name=None, sidecar_text=None,
                          detected_at=datetime.now(timezone.utc))
    upload = accept_upload(lab_settings, "renamed.csv", data, catalog=catalog)
    assert upload.duplicate and upload.run_key == "first-" + sha[:10]
