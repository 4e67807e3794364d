"""Every built-in reader on a small fixture of its family, chosen by the registry from the bytes alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labflow.processing.readers import read_file

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "readers"

# file, reader, axis kind, axis unit, rows per block, main channel
CASES = [
    ("biologic_peis_fr.mpt", "biologic", "frequency", "Hz", [3], "Re(Z)"),
    ("gamry_eis.DTA", "gamry", "frequency", "Hz", [3, 2], "Zreal"),
    ("chi660e_eis.txt", "chi", "frequency", "Hz", [3], "Z'"),
    ("autolab_fra.txt", "autolab", "frequency", "Hz", [3], "Ampl"),
    ("versastudio_eis.par", "versastudio", "frequency", "Hz", [3], "Z Real"),
    ("zplot_eis.z", "zplot", "frequency", "Hz", [3], "Z'(a)"),
    ("nmr_sqz.dx", "jcamp", "frequency", "Hz", [11], "Intensity"),
    ("uvvis_pairs.jdx", "jcamp", "wavelength", "nm", [3], "Logarithm epsilon"),
    ("digibase_invalid_cal.spe", "ortec", "channel", "", [5], "counts"),
    ("noise.s2p", "touchstone", "frequency", "GHz", [2, 2], "Re S11"),
    ("raman_neegala.txt", "raman", "raman_shift", "cm-1", [4], "Processed_Data"),
    ("rruff_anatase.txt", "raman", "raman_shift", "cm-1", [4], "Intensity"),
    ("bruker.uxd", "uxd", "two_theta", "deg", [4], "counts"),
    ("ill_d1a.dat", "ill_d1a", "two_theta", "deg", [4], "counts"),
    ("specs.xy", "specs", "energy", "eV", [3, 2], "counts/s"),
    ("xps.vms", "vamas", "energy", "eV", [3], "Intensity"),
    ("shimadzu.txt", "shimadzu", "time", "min", [4], "Intensity"),
    ("ezchrom_two_channels.asc", "ezchrom", "time", "s", [4], "channel 1"),
    ("maccor_cut.txt", "maccor", "time", "min", [4], "Current"),
    ("pec.csv", "pec", "time", "s", [3], "Voltage"),
    ("zilien.tsv", "zilien", "time", "s", [3, 2], "Voltage"),
    ("logger_epoch.tsv", "delimited", "time", "s", [4], "Temp"),
]


@pytest.mark.parametrize(("name", "reader", "kind", "unit", "rows", "main"), CASES, ids=[c[0] for c in CASES])
def test_the_registry_picks_the_family_reader(name, reader, kind, unit, rows, main) -> None:
    parsed = read_file((FIXTURES / name).read_bytes(), name)
    assert parsed.reader == reader
    assert (parsed.axis.kind, parsed.axis.unit) == (kind, unit)
    assert [b.rows for b in parsed.blocks] == rows
    assert parsed.main_channel.name == main
    assert parsed.main_channel.role == "signal"
    assert all(c.name != parsed.axis.name for c in parsed.channels)


def _read(name: str):
    return read_file((FIXTURES / name).read_bytes(), name)


def test_biologic_reads_decimal_commas_and_status_columns() -> None:
    parsed = _read("biologic_peis_fr.mpt")
    assert parsed.axis.values.tolist() == [1000.3, 770.24, 593.03]
    roles = {c.name: c.role for c in parsed.channels}
    assert roles["cycle number"] == roles["I Range"] == "status"


def test_gamry_tables_are_blocks_and_text_is_kept() -> None:
    parsed = _read("gamry_eis.DTA")
    assert [b.name for b in parsed.blocks] == ["ZCURVE", "OCVCURVE"]
    ocv = parsed.block_named("OCVCURVE")
    assert ocv.axis.kind == "time" and ocv.channel("Over").is_text
    assert parsed.metadata["TITLE"] == "Potentiostatic EIS"


def test_jcamp_sqz_values_and_descending_axis() -> None:
    parsed = _read("nmr_sqz.dx")
    assert parsed.axis.descending and parsed.axis.values.tolist() == list(range(100, 89, -1))
    assert parsed.main_channel.values.tolist() == [12, 23, 34, 45, 56, 66, 77, 88, 99, 10, 0]


def test_ortec_invalid_calibration_gives_the_channel_axis_and_a_note() -> None:
    parsed = _read("digibase_invalid_cal.spe")
    assert parsed.axis.values.tolist() == [0, 1, 2, 3, 4]
    assert any("invalid (all zero)" in note for note in parsed.notes)


def test_touchstone_noise_block_and_units() -> None:
    parsed = _read("noise.s2p")
    noise = parsed.block_named("noise")
    assert noise.channel("NFmin").unit == "dB" and noise.axis.values.tolist() == [1.0, 2.0]
    assert parsed.block.channel("Re S21").values.tolist() == [0.9, 0.8]


def test_raman_other_axes_are_not_signals() -> None:
    parsed = _read("raman_neegala.txt")
    roles = {c.name: c.role for c in parsed.channels}
    assert roles["Pixels"] == roles["Wavelength"] == roles["Wavenumbers"] == "axis"
    assert parsed.metadata["wl"] == "532nm"


def test_ill_counts_then_errors() -> None:
    parsed = _read("ill_d1a.dat")
    assert np.allclose(parsed.axis.values, [-10.0, -9.9, -9.8, -9.7])
    assert parsed.block.channel("esd").values.tolist() == [0.1, 0.1, 0.1, 0.2]


def test_vamas_interleaved_variables() -> None:
    parsed = _read("xps.vms")
    assert parsed.block.channel("Transmission").values.tolist() == [1, 1, 1]
    assert parsed.axis.values.tolist() == [1190.0, 1190.5, 1191.0]


def test_shimadzu_multiplier_is_applied_and_noted() -> None:
    parsed = _read("shimadzu.txt")
    assert parsed.main_channel.unit == "mV" and parsed.main_channel.values.tolist() == [0, 1.5, 0, 0.02]
    assert "Intensity Multiplier 0.001" in parsed.metadata["applied"] and parsed.notes == []


def test_ezchrom_channels_one_after_another_are_split_scaled_and_timed() -> None:
    parsed = _read("ezchrom_two_channels.asc")
    assert parsed.axis.values.tolist() == [0.0, 0.5, 1.0, 1.5]
    assert parsed.block.channel("channel 1").values.tolist() == [1.0, 2.0, 3.0, 1.0]
    assert parsed.block.channel("channel 2").values.tolist() == [1.0, 2.0, 3.0, 1.0]


def test_maccor_cut_last_row_and_unit_from_the_clock() -> None:
    parsed = _read("maccor_cut.txt")
    assert parsed.axis.values.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert np.isnan(parsed.block.channel("StepTime").values[-1])
    assert any("cut short" in note for note in parsed.notes)
    assert any("(min) was told from the DPT Time clock" in note for note in parsed.notes)


def test_pec_durations_labels_and_empty_columns() -> None:
    parsed = _read("pec.csv")
    assert parsed.axis.values.tolist() == [0.002, 1.0, 10.0]
    assert parsed.block.channel("Instruction Name").values.tolist() == ["Idle", "Idle", "Charge"]
    temp = parsed.block.channel("Temp")
    assert temp.unit == "°C" and np.isnan(temp.values).all() and temp not in parsed.block.signals


def test_zilien_series_have_their_own_time() -> None:
    parsed = _read("zilien.tsv")
    assert [b.name for b in parsed.blocks] == ["pot", "C0M2"]
    assert parsed.block_named("C0M2").axis.values.tolist() == [0.5, 1.5]


def test_specs_regions_are_blocks() -> None:
    parsed = _read("specs.xy")
    assert [b.name for b in parsed.blocks] == ["O1s", "Si2p"]


def test_ec_lab_counters_in_a_zilien_file_are_status_not_the_main_channel() -> None:
    data = (b"num_header_lines\tNumber of header lines\t\tint\t2\nnum_data_header_lines\tx\t\tint\t2\n"
            b"EC-lab\t\t\t\ntime/s\texperiment_number\ttechnique_number\tNs changes\tEwe/V\n"
            b"0.0\t1\t1\t0\t0.10\n0.1\t1\t1\t0\t0.12\n0.2\t1\t2\t0\t0.15\n")
    parsed = read_file(data, "ecms.tsv")
    roles = {c.name: c.role for c in parsed.channels}
    assert roles["experiment_number"] == roles["technique_number"] == roles["Ns changes"] == "status"
    assert parsed.main_channel.name == "Ewe"
