"""``labflow inspect`` / ``labflow readers``: the JSON shape scripts rely on, the export, the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from cli.main import main
from labflow.processing.readers.inspect import export, inspect_path

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "readers"


def test_json_report_has_the_documented_keys() -> None:
    described, parsed = inspect_path(FIXTURES / "gamry_eis.DTA")
    assert set(described) == {"file", "reader", "axis", "channels", "rows", "blocks", "metadata", "notes"}
    assert described["axis"] == {"kind": "frequency", "name": "Freq", "unit": "Hz"}
    assert described["channels"][0] == {"name": "Pt", "unit": "#", "role": "status"}
    assert [(b["name"], b["rows"]) for b in described["blocks"]] == [("ZCURVE", 3), ("OCVCURVE", 2)]
    assert described["blocks"][0]["main"] == "Zreal"
    json.dumps(described)  # plain JSON, nothing else


def test_refusal_is_reported_with_its_message(tmp_path: Path) -> None:
    path = tmp_path / "prose.txt"
    path.write_text("Dear lab,\nplease find the data attached.\n")
    described, parsed = inspect_path(path)
    assert parsed is None and set(described) == {"file", "refused"}
    assert "no reader is sure" in described["refused"]


def test_export_writes_the_axis_first_and_one_file_per_block(tmp_path: Path) -> None:
    _, parsed = inspect_path(FIXTURES / "noise.s2p")
    written = export(parsed, tmp_path / "out.csv")
    assert [p.name for p in written] == ["out-network.csv", "out-noise.csv"]
    network = pl.read_csv(written[0])
    assert network.columns[:3] == ["frequency (GHz)", "Re S11", "Im S11"]
    assert network["Re S21"].to_list() == [0.9, 0.8]
    noise = pl.read_csv(written[1])
    assert noise.columns == ["frequency (GHz)", "NFmin (dB)", "Gamma opt mag", "Gamma opt ang (deg)", "Rn (normalised)"]


def test_export_keeps_text_columns(tmp_path: Path) -> None:
    _, parsed = inspect_path(FIXTURES / "pec.csv")
    [written] = export(parsed, tmp_path / "pec-out.csv")
    frame = pl.read_csv(written)
    assert frame.columns[0] == "Total Time (s)"
    assert frame["Instruction Name"].to_list() == ["Idle", "Idle", "Charge"]


def test_a_sidecar_reader_field_forces_the_reader(tmp_path: Path) -> None:
    path = tmp_path / "lamp.txt"
    path.write_text("".join(f"{100 + i}\t{i % 7}\n" for i in range(20)))
    assert "refused" in inspect_path(path)[0]
    (tmp_path / "lamp.txt.meta.json").write_text(json.dumps({"reader": "raman", "operator": "ada"}))
    described, _ = inspect_path(path)
    assert described["reader"] == "raman" and described["axis"]["kind"] == "raman_shift"


def test_cli_inspect_json_and_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "run.mpt"
    shutil.copy(FIXTURES / "biologic_peis_fr.mpt", source)
    assert main(["inspect", str(source), "--json", "--export", str(tmp_path / "run.csv")]) == 0
    described = json.loads(capsys.readouterr().out)
    assert described["reader"] == "biologic" and described["rows"] == 3
    assert pl.read_csv(tmp_path / "run.csv").columns[0] == "freq (Hz)"


def test_cli_inspect_text_shows_notes_and_refusals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(FIXTURES / "digibase_invalid_cal.spe")]) == 0
    out = capsys.readouterr().out
    assert "read by 'ortec'" in out and "axis: channel — channel" in out and "invalid (all zero)" in out
    bad = tmp_path / "empty.csv"
    bad.write_text("")
    assert main(["inspect", str(bad)]) == 2
    assert "REFUSED" in capsys.readouterr().out


def test_cli_readers_lists_every_builtin(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["readers"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names[-1] == "delimited" and {"jcamp", "ortec", "biologic", "ezchrom"} <= set(names)
