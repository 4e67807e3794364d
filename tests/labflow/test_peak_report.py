"""``labflow inspect FILE --peaks``: the recipe for the axis kind, peaks on the file's axis, the quality verdict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cli.main import main
from labflow.processing.peak_report import peak_report, quality_frame
from labflow.processing.recipes import RecipeBook
from labflow.processing.series import Axis, Block, Channel, ParsedFile

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
LINES = (144.0, 399.0, 639.0)


def raman_counts(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    shift = np.linspace(80.0, 1200.0, 1400)
    expected = 200 + 0.1 * shift
    for centre, height in zip(LINES, (9000.0, 2500.0, 1500.0)):
        expected = expected + height * np.exp(-0.5 * ((shift - centre) / 6.0) ** 2)
    return shift, np.random.default_rng(seed).poisson(expected).astype(float)


def test_peak_report_runs_the_axis_kinds_recipe_and_reports_quality() -> None:
    shift, counts = raman_counts()
    parsed = ParsedFile("raman", [Block("spectrum", Axis("raman_shift", "Raman shift", "cm-1", shift),
                                        [Channel("Intensity", "counts", counts)])], notes=["no header"])
    recipe = RecipeBook.from_dir(RECIPES).for_run(instrument=None, axis_kind="raman_shift")
    assert recipe.id == "raman"
    described = peak_report(parsed, recipe)
    positions = sorted(row["position"] for row in described["peaks"])
    assert positions == pytest.approx(list(LINES), abs=1.0)
    assert all(row["fwhm"] == pytest.approx(6.0 * 2.3548, rel=0.15) for row in described["peaks"])
    assert described["axis"] == {"kind": "raman_shift", "name": "Raman shift", "unit": "cm-1"}
    assert described["quality"]["flags"] == ["reader_notes"]
    frame, channels = quality_frame(parsed)
    assert channels == ["Intensity"] and "time_s" not in frame.columns


def test_cli_inspect_peaks_json_and_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shift, counts = raman_counts(1)
    source = tmp_path / "anatase_like.txt"
    body = "\n".join(f"{x:.5f}, {y:.1f}" for x, y in zip(shift, counts))
    source.write_text(f"##NAMES=Synthetic\n##RRUFFID=R000000\n{body}\n##END=\n")
    assert main(["inspect", str(source), "--peaks", "--json"]) == 0
    described = json.loads(capsys.readouterr().out)
    assert described["peaks"]["recipe"] == "raman"
    assert sorted(round(p["position"]) for p in described["peaks"]["peaks"]) == pytest.approx(list(LINES), abs=1)
    assert main(["inspect", str(source), "--peaks", "--recipe", "default"]) == 0
    text = capsys.readouterr().out
    assert "recipe: default" in text and "quality:" in text
    assert main(["inspect", str(source), "--peaks", "--recipe", "nope"]) == 2
    assert "unknown recipe 'nope'" in capsys.readouterr().out


def test_cli_inspect_peaks_on_a_gamma_spectrum_finds_its_lines_in_kev(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """An ORTEC .Spe of our own: 2048 channels at 0.5 keV, Poisson counts, lines at 661.7 and 911.2 keV."""
    channel = np.arange(2048, dtype=np.float64)
    energy = 0.5 * channel
    expected = 300.0 * np.exp(-energy / 400.0) + 5.0
    for line, net in ((661.7, 8000.0), (911.2, 3000.0)):
        fwhm = np.sqrt(4.0 + 0.004 * line)  # keV
        expected += net * 0.5 / (fwhm * 1.0645) * np.exp(-4 * np.log(2) * ((energy - line) / fwhm) ** 2)
    expected[:40] = 0.0  # below the discriminator
    counts = np.random.default_rng(3).poisson(expected)
    source = tmp_path / "cs_ac.Spe"
    source.write_text("$SPEC_ID:\nsynthetic\n$MEAS_TIM:\n600 600\n$DATA:\n0 2047\n"
                      + "".join(f"{c:8d}\n" for c in counts)
                      + "$ENER_FIT:\n0.000000 0.500000\n$MCA_CAL:\n3\n0.000000E+000 5.000000E-001 0.000000E+000\n")
    assert main(["inspect", str(source), "--peaks", "--json"]) == 0
    described = json.loads(capsys.readouterr().out)["peaks"]
    assert described["recipe"] == "gamma" and described["axis"]["unit"] == "keV"
    assert "Poisson significance" in described["settings"]["line_rule"]
    positions = sorted(p["position"] for p in described["peaks"])
    assert positions == pytest.approx([661.7, 911.2], abs=0.5)
    areas = sorted((p["position"], p["area"]) for p in described["peaks"])
    assert areas[0][1] == pytest.approx(8000.0 * 0.5, rel=0.1)  # net counts x the 0.5 keV step


def test_quality_judges_the_readers_main_channel_not_the_first() -> None:
    shift, counts = raman_counts(2)
    noise = np.random.default_rng(3).normal(0, 5, shift.size)
    block = Block("spectrum", Axis("raman_shift", "Raman shift", "cm-1", shift),
                  [Channel("Dark", "counts", noise), Channel("Intensity", "counts", counts)], main="Intensity")
    recipe = RecipeBook.from_dir(RECIPES).for_run(instrument=None, axis_kind="raman_shift")
    quality = peak_report(ParsedFile("raman", [block]), recipe)["quality"]
    assert quality["flags"] == ["noisy_side_channels"] and "Dark" in quality["explanations"]["noisy_side_channels"]
    assert quality["metrics"]["main_snr_db"] == quality["metrics"]["snr_db.Intensity"]
