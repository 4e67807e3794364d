"""Never silently wrong: a file that contradicts its own header is refused with a message that says where."""

from __future__ import annotations

from pathlib import Path

import pytest

from labflow.processing.readers import ReadRefused, read_file

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "readers"


def _edited(name: str, old: str, new: str) -> bytes:
    data = (FIXTURES / name).read_bytes()
    assert old.encode("latin-1") in data, f"fixture {name} lost {old!r}"
    return data.replace(old.encode("latin-1"), new.encode("latin-1"), 1)


CASES = [
    ("ezchrom_two_channels.asc", "Total Data Points:\t4\t4", "Total Data Points:\t5\t4",
     r"declares 2 channel\(s\) of \[5, 4\] points \(9 values\) but the file holds 8"),
    ("ezchrom_two_channels.asc", "Y Axis Multiplier:\t0.001000\t0.500000", "Y Axis Multiplier:\t0.001000",
     "2 point counts, 2 sampling rates and 1 Y multipliers"),
    ("shimadzu.txt", "# of Points,4", "# of Points,5", "'# of Points' is 5 but 4 rows follow"),
    ("shimadzu.txt", "Interval(msec),500", "Interval(msec),100", "Interval\\(msec\\) is 100"),
    ("digibase_invalid_cal.spe", "0 4\n", "0 5\n", r"declares channels 0..5 \(6\) but holds 5 counts"),
    ("nmr_sqz.dx", "##NPOINTS= 11", "##NPOINTS= 12", "NPOINTS=12 but the data hold 11 points"),
    ("nmr_sqz.dx", "##LASTX= 90", "##LASTX= 80", "abscissa does not agree"),
    ("nmr_sqz.dx", "##FIRSTY= 12", "##FIRSTY= 13", "FIRSTY=13 but the data give 12"),
    ("uvvis_pairs.jdx", "##YFACTOR=1.0", "##YFACTOR=10", "FIRSTY=1.05 but the data give 10.5"),
    ("autolab_fra.txt", "\n3\n", "\n4\n", "declares 4 points but holds 3 rows"),
    ("gamry_eis.DTA", "OCVCURVE\tTABLE\t2", "OCVCURVE\tTABLE\t3", "table OCVCURVE declares 3 rows but 2 follow"),
    ("xps.vms", "\n6\n10\n30\n", "\n6\n10\n31\n", "declared from 10 to 31 but the values run from 10 to 30"),
    ("specs.xy", "# Values/Curve:      3", "# Values/Curve:      4", "declares 4 values per curve but 3 rows"),
    ("noise.s2p", "2.0 0.2 0.1 0.8 0.1 0.8 0.1 0.2 0.1", "2.0 0.2 0.1 0.8 0.1 0.8 0.1 0.2",
     "do not split into points of 9"),
    ("bruker.uxd", "_STEPSIZE=0.015592", "_STEPSIZE=0.02", "_STEPSIZE=0.02 but the 2θ values step by"),
    ("ill_d1a.dat", "-9.7000", "-9.6000", "not 4 points"),
    ("zilien.tsv", '"C0M2" data series\tC0M2\tint\t2', '"C0M2" data series\tC0M2\tint\t3',
     "series 'C0M2' declares 3 points but has 2"),
    ("zplot_eis.z", "Data Points:                5", "Data Points:                2",
     "declares 2 data points but 3 rows follow"),
    ("biologic_peis_fr.mpt", "Nb header lines : 5", "Nb header lines : 6", "line 6 is not the column row"),
    ("versastudio_eis.par", "Z Real, Z Imag, 0", "Z Real, Z Imag, Zmod",
     "names 8 columns but the rows have 7; which column is which cannot be told"),
]


@pytest.mark.parametrize(("name", "old", "new", "message"), CASES, ids=[f"{c[0]}:{i}" for i, c in enumerate(CASES)])
def test_a_header_the_data_contradict_is_refused(name: str, old: str, new: str, message: str) -> None:
    with pytest.raises(ReadRefused, match=message) as refused:
        read_file(_edited(name, old, new), name)
    assert str(refused.value).startswith(f"{name}: ")


def test_a_dif_y_check_that_fails_is_refused() -> None:
    data = (b"##TITLE=t\n##JCAMP-DX=5.0\n##XUNITS=1/CM\n##YUNITS=ABSORBANCE\n##FIRSTX=10\n##LASTX=5\n"
            b"##NPOINTS=6\n##XYDATA=(X++(Y..Y))\n10@JJ1K\n7A5J%\n##END=\n")
    with pytest.raises(ReadRefused, match="DIF Y-check failed on data line 2: it starts with 15 but the line "
                                          "before ended with 14"):
        read_file(data, "ir.dx")


def test_a_stray_delimiter_is_refused_with_its_line() -> None:
    data = b"time,signal\n0,1\n1,2\n2,3,4\n3,4\n4,5\n"
    with pytest.raises(ReadRefused, match="line 4 has 3 fields but the table has 2") as refused:
        read_file(data, "run.csv")
    assert refused.value.line == 4


def test_a_binary_file_is_refused() -> None:
    with pytest.raises(ReadRefused, match="this is a binary file, not a text export"):
        read_file(bytes(range(256)) * 10, "image.png")
