"""Instrument readers on real exports: is every file read as its MANIFEST says, refused, or wrong?

    python benchmarks/readers.py [--corpus DIR] [--json PATH]

Default corpus: ``$LABFLOW_SHARED_DATA/instruments-dev`` (falling back to ``../shared/data`` beside the
project). For every file: the reader the registry chose, the axis kind, the main block's rows and the
channel names beside the expected ones, and a class:

- ``correct``: an expected reader, the expected axis kind and rows (every block's rows for multi-block
  files), and every expected column name found among the axis and channel names (where the manifest
  names no columns — JCAMP's generic "x, y", headerless files — the number of channels instead);
- ``refused``: the registry refused the file (the message is shown) — safe, but not read;
- ``wrong``: read, but anything differs from the expectation — the worst outcome;
- ``crash``: an exception other than a refusal.

The expectations are a table (``EXPECTED`` below) transcribed by hand from the corpus' ``MANIFEST.md``
("expected parse" lines: rows, column names, per-block counts, the x axis named in its "format quirks");
where the manifest describes columns instead of naming them (headerless files, implicit channels) the
table holds the names a correct reader must give (or a channel count). The baseline in the same run is the
generic delimited reader forced on every file (no format detection: one table of numbers, as labflow read
files before), classified the same way.
Targets: >= 90 % correct, 0 wrong, 0 crash.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import print_table, shared_data_dir, write_json  # noqa: E402
from labflow.processing.readers import ReadRefused, read_file  # noqa: E402
from labflow.processing.series import ParsedFile  # noqa: E402


@dataclass(frozen=True)
class Expected:
    readers: tuple[str, ...]
    axis: str
    rows: int
    names: tuple[str, ...]
    blocks: tuple[int, ...] = ()  # rows of every block, in file order, for multi-block files
    channels: int | None = None  # channels of the main block, where the manifest names no columns


EXPECTED: dict[str, Expected] = {
    "raman_neegala_PST532_SEX139.txt": Expected(
        ("raman",), "raman_shift", 2048,
        ("Pixels", "Wavelength", "Wavenumbers", "Raman_Shift", "Raw_Data", "Background_Data", "Processed_Data")),
    "raman_zolix_NeLamp_5ms.txt": Expected(("raman",), "raman_shift", 2095, (), channels=1),
    "raman_rruff_anatase_R060277.txt": Expected(("raman",), "raman_shift", 1753, (), channels=1),
    "gamma_ortec_NAA_pottery.Spe": Expected(("ortec",), "energy", 16384, ("channel", "counts")),
    "gamma_ortec_digibase.spe": Expected(("ortec",), "channel", 1024, ("channel", "counts")),
    "gamma_nai_detector.spe": Expected(("ortec",), "channel", 1001, ("channel", "counts")),
    "jcamp_ir_pe1800_pac.dx": Expected(("jcamp",), "wavenumber", 3301, (), channels=1),
    "jcamp_ms_isas_peaktable.dx": Expected(("jcamp",), "mass_to_charge", 26, (), channels=1),
    "jcamp_nmr13c_bruker_sqz.dx": Expected(("jcamp",), "frequency", 16384, (), channels=1),
    "jcamp_raman_oceanoptics_tannic.jdx": Expected(("jcamp",), "raman_shift", 1949, (), channels=1),
    "jcamp_uvvis_nist_toluene.jdx": Expected(("jcamp",), "wavelength", 335, (), channels=1),
    "touchstone_ringslot_measured.s1p": Expected(("touchstone",), "frequency", 101,
                                                 ("frequency", "Re S11", "Im S11")),
    "touchstone_ntwk1.s2p": Expected(
        ("touchstone",), "frequency", 91,
        ("frequency", "Re S11", "Im S11", "Re S21", "Im S21", "Re S12", "Im S12", "Re S22", "Im S22")),
    "touchstone_bfu520_noise.s2p": Expected(
        ("touchstone",), "frequency", 37,
        ("frequency", "S11 mag", "S11 ang", "S21 mag", "S21 ang", "S12 mag", "S12 ang", "S22 mag", "S22 ang"),
        blocks=(37, 37)),
    "eis_autolab_fra.txt": Expected(("autolab",), "frequency", 41,
                                    ("Freq", "Ampl", "Bias", "Time", "Z'(a)", "Z''(b)", "GD", "Err", "Range")),
    "eis_chi660e.txt": Expected(("chi",), "frequency", 73, ("Freq", "Z'", 'Z"', "Z", "Phase")),
    "eis_gamry_eispot.DTA": Expected(
        ("gamry",), "frequency", 72,
        ("Pt", "Time", "Freq", "Zreal", "Zimag", "Zsig", "Zmod", "Zphz", "Idc", "Vdc", "IERange"),
        blocks=(72, 387)),
    "eis_parstat.txt": Expected(
        ("delimited",), "time", 812,
        ("Potential", "Current", "Elapsed Time", "Frequency", "Zre", "Zim", "|Vac|", "|Iac|")),
    "eis_versastudio.par": Expected(
        ("versastudio",), "frequency", 61,
        ("Segment #", "Point #", "E", "I", "Elapsed Time", "ADC Sync Input", "Current Range", "Status",
         "E Applied", "Frequency", "E Real", "E Imag", "I Real", "I Imag", "Z Real", "Z Imag", "E2 Status",
         "E2", "E2 Real", "E2 Imag", "Z2 Real", "Z2 Imag", "ActionId", "AC Amplitude")),
    "eis_zplot.z": Expected(("zplot",), "frequency", 21,
                            ("Freq", "Ampl", "Bias", "Time", "Z'(a)", "Z''(b)", "GD", "Err", "Range")),
    "eis_biologic_peis.mpt": Expected(
        ("biologic",), "frequency", 43,
        ("freq", "Re(Z)", "-Im(Z)", "|Z|", "Phase(Z)", "time", "<Ewe>", "<I>", "Cs", "Cp", "cycle number",
         "I Range", "|Ewe|", "|I|", "Re(Y)", "Im(Y)", "|Y|", "Phase(Y)")),
    "biologic_eclab_cv_zilien2.mpt": Expected(
        ("biologic",), "time", 1170,
        ("mode", "ox/red", "error", "control changes", "counter inc.", "time", "control", "Ewe", "<I>",
         "cycle number", "(Q-Qo)", "I Range", "P")),
    "zilien_ecms_v2_test21.tsv": Expected(
        ("zilien",), "time", 1191,
        ("pot", "Iongauge value", "MFC1 setpoint", "MFC1 value", "MFC2 setpoint", "MFC2 value", "PC setpoint",
         "PC value", "Pirani1 value", "Pirani2 value", "Pirani3 value", "C0M2", "C1M4", "C2M15", "C3M18",
         "C4M26", "C5M28", "C6M29", "C7M32", "C8M40", "C9M43", "C10M44", "C11M45", "C12M59", "C13M88",
         "C14M19", "C15M56", "EC-lab")),
    "zilien_ms_noec.tsv": Expected(
        ("zilien",), "time", 28,
        ("Iongauge value", "MFC1 setpoint", "MFC1 value", "MFC2 setpoint", "MFC2 value", "PC setpoint",
         "PC value", "Pirani1 value", "Pirani2 value", "Pirani3 value", "C0M2", "C1M4", "C2M18", "C3M28",
         "C4M32", "C5M40", "C6M44")),
    "hplc_shimadzu_labsolutions.txt": Expected(("shimadzu",), "time", 4801, ("R.Time", "Intensity")),
    "xrd_bruker_uxd_BT86.uxd": Expected(("uxd",), "two_theta", 2374, ("2theta", "counts")),
    "xps_vamas_kratos_mjr9_59c.vms": Expected(
        ("vamas",), "energy", 1101, ("Kinetic Energy", "Intensity", "Transmission"),
        blocks=(1101, 601, 231, 211, 231, 181, 301, 181, 301)),
    "xps_specslab2_example.xy": Expected(("specs",), "energy", 1303, ("energy", "counts/s", "scaling"),
                                         blocks=(1303, 281, 501, 301)),
    "neutron_ill_d1a_LaNi2Mn3.dat": Expected(("ill_d1a",), "two_theta", 1680, ("2theta", "counts", "esd")),
    "cycler_maccor_two.txt": Expected(
        ("maccor",), "time", 214,
        ("Rec", "Cycle P", "Cycle C", "Step", "TestTime", "StepTime", "Cap.", "Ener.", "Current", "Voltage",
         "Md", "ES", "DPT Time", "VAR1", "VAR2", "VAR3", "VAR4", "VAR5", "VAR6", "VAR7", "VAR8", "VAR9", "VAR10",
         "VAR11", "VAR12", "VAR13", "VAR14", "VAR15")),
    "cycler_pec_Test25195.csv": Expected(
        ("pec",), "time", 19,
        ("Test", "Cell", "Rack", "Shelf", "Position", "Cell ID", "Step", "Instruction Name", "Cycle",
         "Total Time", "Load On Time", "Step Time", "Cycle Charge Time", "Cycle Discharge Time", "Real Time",
         "Position Start Time", "Voltage", "Current", "Charge Capacity", "Discharge Capacity", "Charge Energy",
         "Discharge Energy", "ReasonCode", "Charge Energy Density", "Discharge Energy Density", "50% DoD",
         "50% DoD vs CRate", "PeakPower 1", "PeakPower 2", "Open Circuit Voltage 1", "Open Circuit Voltage 2",
         "Coulombic Efficiency", "Internal Resistance 1", "Internal Resistance 2", "Temp",
         "Station Temperature")),
}


def _norm(name: str) -> str:
    return re.sub(r"\s+", " ", name.strip().casefold())


def _names(parsed: ParsedFile) -> set[str]:
    names = set()
    for block in parsed.blocks:
        names |= {block.name, block.axis.name, block.axis.label}
        names |= {n for c in block.channels for n in (c.name, c.label)}
    return {_norm(n) for n in names}


def classify(parsed: ParsedFile, expected: Expected) -> tuple[str, str]:
    """``correct`` or ``wrong`` with what differs."""
    problems = []
    if parsed.reader not in expected.readers:
        problems.append(f"reader {parsed.reader} (expected {'/'.join(expected.readers)})")
    if parsed.axis.kind != expected.axis:
        problems.append(f"axis {parsed.axis.kind} (expected {expected.axis})")
    if parsed.rows != expected.rows:
        problems.append(f"rows {parsed.rows} (expected {expected.rows})")
    if expected.blocks and tuple(b.rows for b in parsed.blocks) != expected.blocks:
        problems.append(f"blocks {[b.rows for b in parsed.blocks]} (expected {list(expected.blocks)})")
    if expected.channels is not None and len(parsed.channels) != expected.channels:
        problems.append(f"{len(parsed.channels)} channels (expected {expected.channels})")
    missing = [n for n in expected.names if _norm(n) not in _names(parsed)]
    if missing:
        problems.append(f"missing names {missing}")
    return ("wrong", "; ".join(problems)) if problems else ("correct", "")


def run_file(path: Path, expected: Expected) -> dict[str, Any]:
    row: dict[str, Any] = {"file": path.name, "reader": "", "axis": "", "rows": "", "channels": ""}
    try:
        parsed = read_file(path.read_bytes(), path.name)
    except ReadRefused as error:
        return row | {"class": "refused", "detail": str(error)}
    except Exception as error:  # noqa: BLE001 - a crash is what the benchmark counts
        return row | {"class": "crash", "detail": f"{type(error).__name__}: {error}"}
    outcome, detail = classify(parsed, expected)
    return row | {"reader": parsed.reader, "axis": f"{parsed.axis.kind} ({parsed.axis.label})",
                  "rows": parsed.rows, "blocks": len(parsed.blocks),
                  "channels": ", ".join(c.label for c in parsed.channels)[:80],
                  "notes": len(parsed.notes), "class": outcome, "detail": detail}


def baseline_class(path: Path, expected: Expected) -> str:
    """Baseline: the generic delimited reader alone on every file (what labflow did before format
    detection: one table of numbers), classified the same way."""
    try:
        parsed = read_file(path.read_bytes(), path.name, {"reader": "delimited"})
    except ReadRefused:
        return "refused"
    except Exception:  # noqa: BLE001
        return "crash"
    return classify(parsed, replace(expected, readers=("delimited",)))[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=shared_data_dir() / "instruments-dev")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    files = sorted(p for p in args.corpus.iterdir() if p.is_file() and p.name != "MANIFEST.md")
    unknown = [p.name for p in files if p.name not in EXPECTED]
    if unknown:
        print(f"no expectation for {unknown}: add them to EXPECTED", file=sys.stderr)
    results = []
    for path in files:
        if path.name in EXPECTED:
            row = run_file(path, EXPECTED[path.name])
            row["baseline"] = baseline_class(path, EXPECTED[path.name])
            results.append(row)
    print_table(["file", "reader", "axis", "rows", "class", "delimited only", "channels"],
                [[r["file"], r["reader"], r["axis"], r["rows"], r["class"], r["baseline"], r["channels"]]
                 for r in results])
    for r in results:
        if r["detail"]:
            print(f"\n{r['file']} [{r['class']}]: {r['detail']}")
    totals = {c: sum(r["class"] == c for r in results) for c in ("correct", "refused", "wrong", "crash")}
    old = {c: sum(r["baseline"] == c for r in results) for c in ("correct", "refused", "wrong", "crash")}
    share = totals["correct"] / max(len(results), 1)
    print(f"\nfiles {len(results)}: " + ", ".join(f"{k} {v}" for k, v in totals.items()) +
          f" ({share:.0%} correct; target >= 90 %, 0 wrong, 0 crash)")
    print("baseline, delimited reader only: " + ", ".join(f"{k} {v}" for k, v in old.items()))
    write_json(args.json, {"files": len(results), "correct_share": share, **totals,
                           **{f"baseline_{k}": v for k, v in old.items()},
                           "per_file": {r["file"]: {k: r[k] for k in ("class", "reader", "axis", "rows", "detail")}
                                        for r in results}})
    return 0 if totals["wrong"] == totals["crash"] == 0 and share >= 0.9 else 1


if __name__ == "__main__":
    sys.exit(main())
