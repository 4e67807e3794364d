"""CSV exports never carry a formula a spreadsheet would run."""

from __future__ import annotations

import polars as pl

from labflow.spreadsheet_safe import neutralise, spreadsheet_safe, write_safe_csv


def test_formulas_are_written_as_text_and_numbers_and_plain_text_as_they_are():
    attacks = ["=cmd|' /C calc'!A0", "+1+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)", "\t=1", "-"]
    plain = ["-1", "-1.5e3", "-.5", "ok", "a=b", ""]
    frame = pl.DataFrame({"=HYPERLINK(\"x\")": attacks + plain, "value": list(range(12))})
    safe = spreadsheet_safe(frame)
    assert safe.columns == ["'=HYPERLINK(\"x\")", "value"]
    assert safe[:, 0].to_list() == [f"'{a}" for a in attacks] + plain
    assert safe["value"].to_list() == list(range(12))
    assert "\n=cmd" not in write_safe_csv(frame) and neutralise("-3") == "-3"
