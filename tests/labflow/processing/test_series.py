"""The parsed-file model: axis kinds, channel lengths, main channel, export table."""

from __future__ import annotations

import numpy as np
import pytest

from labflow.processing.series import Axis, Block, Channel, ParsedFile


def _block(**kwargs) -> Block:
    axis = Axis("wavelength", "Wavelength", "nm", np.array([400.0, 401.0, 402.0]))
    channels = [Channel("Pixel", "", np.array([0.0, 1.0, 2.0]), role="axis"),
                Channel("Absorbance", "AU", np.array([0.1, 0.5, 0.2])),
                Channel("Sample", "", np.array(["a", "b", None], dtype=object), role="text")]
    return Block("spectrum", axis, channels, **kwargs)


def test_axis_kind_is_checked() -> None:
    with pytest.raises(ValueError, match="axis kind 'pixels'"):
        Axis("pixels", "x", "", np.arange(3))


def test_channel_length_must_match_axis() -> None:
    axis = Axis("time", "time", "s", np.arange(3))
    with pytest.raises(ValueError, match="has 2 values but the axis has 3"):
        Block("b", axis, [Channel("y", "", np.arange(2))])


def test_names_are_unique_including_the_axis() -> None:
    axis = Axis("time", "time", "s", np.arange(3))
    with pytest.raises(ValueError, match="used twice"):
        Block("b", axis, [Channel("time", "", np.arange(3))])


def test_main_channel_is_the_first_signal_never_an_axis_or_text() -> None:
    block = _block()
    assert block.main_channel.name == "Absorbance"
    assert [c.name for c in block.signals] == ["Absorbance"]
    assert _block(main="Absorbance").main_channel.name == "Absorbance"
    with pytest.raises(ValueError, match="main channel 'Nope'"):
        _block(main="Nope")


def test_frame_has_the_axis_first_and_units_in_names() -> None:
    frame = _block().to_frame()
    assert frame.columns == ["Wavelength (nm)", "Pixel", "Absorbance (AU)", "Sample"]
    assert frame["Sample"].to_list() == ["a", "b", None]
    assert frame["Absorbance (AU)"].to_list() == [0.1, 0.5, 0.2]


def test_descending_axis_and_label() -> None:
    axis = Axis("wavenumber", "Wavenumber", "cm-1", np.array([4000.0, 3999.0]))
    assert axis.descending and axis.label == "Wavenumber (cm-1)"


def test_parsed_file_names_blocks_and_refuses_empty() -> None:
    parsed = ParsedFile("x", [_block()])
    assert parsed.block_named("spectrum").rows == 3 and parsed.rows == 3
    with pytest.raises(KeyError, match="blocks: spectrum"):
        parsed.block_named("other")
    with pytest.raises(ValueError, match="at least one block"):
        ParsedFile("x", [])
