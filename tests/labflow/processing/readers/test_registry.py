"""The registry: best sniff wins, ``reader:`` forces one, nobody sure refuses, gzip, entry points."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from labflow.processing.readers import registry
from labflow.processing.readers.base import Reader, ReadRefused
from labflow.processing.series import Axis, Block, Channel, ParsedFile


class Fixed:
    """A reader that is as sure as it is told and reads every file as one three-point block."""

    family = "test"

    def __init__(self, name: str, score: float) -> None:
        self.name, self.score = name, score

    def sniff(self, head: bytes, filename: str) -> float:
        return self.score if head.startswith(b"X") else 0.0

    def read(self, data: bytes, filename: str, options) -> ParsedFile:
        axis = Axis("index", "row", "", np.arange(3))
        return ParsedFile(self.name, [Block(filename, axis, [Channel("y", "", np.ones(3))])])


def test_the_surest_reader_reads() -> None:
    readers = [Fixed("a", 0.6), Fixed("b", 0.9)]
    assert registry.read_file(b"X1", "f.txt", readers=readers).reader == "b"


def test_ties_go_to_the_earlier_reader() -> None:
    readers = [Fixed("a", 0.9), Fixed("b", 0.9)]
    assert registry.read_file(b"X1", "f.txt", readers=readers).reader == "a"


def test_the_reader_option_forces_a_reader() -> None:
    readers = [Fixed("a", 0.1), Fixed("b", 0.9)]
    assert registry.read_file(b"X1", "f.txt", {"reader": "a"}, readers=readers).reader == "a"
    with pytest.raises(ReadRefused, match="reader 'zz' .* does not exist; readers: a, b"):
        registry.read_file(b"X1", "f.txt", {"reader": "zz"}, readers=readers)


def test_nobody_sure_refuses_and_says_which_reader_to_force() -> None:
    with pytest.raises(ReadRefused) as refused:
        registry.read_file(b"X1", "f.txt", readers=[Fixed("a", 0.3), Fixed("b", 0.1)])
    message = str(refused.value)
    assert message.startswith("f.txt: no reader is sure")
    assert "a (test, 0.30)" in message and "reader: a" in message


def test_empty_file_is_refused() -> None:
    with pytest.raises(ReadRefused, match="empty"):
        registry.read_file(b"  \n", "f.txt", readers=[Fixed("a", 1.0)])


def test_gzip_is_decompressed_once_for_every_reader() -> None:
    parsed = registry.read_file(gzip.compress(b"X1"), "f.csv.gz", readers=[Fixed("a", 0.9)])
    assert parsed.block.name == "f.csv" and parsed.metadata["compression"] == "gzip" and parsed.notes == []
    with pytest.raises(ReadRefused, match="cannot be decompressed"):
        registry.read_file(gzip.compress(b"X1")[:8], "f.csv.gz", readers=[Fixed("a", 0.9)])


def test_utf16_is_decoded_once_for_every_reader() -> None:
    for data in ("X1".encode("utf-16"), "X1".encode("utf-16-le")):
        parsed = registry.read_file(data, "f.txt", readers=[Fixed("a", 0.9)])
        assert parsed.reader == "a" and parsed.metadata["encoding"].startswith("utf-16")


def test_a_crashing_sniff_does_not_hide_the_other_readers() -> None:
    class Broken(Fixed):
        def sniff(self, head: bytes, filename: str) -> float:
            raise RuntimeError("bug")

    assert registry.read_file(b"X1", "f", readers=[Broken("a", 1), Fixed("b", 0.7)]).reader == "b"


PLUGIN = '''
import numpy as np
from labflow.processing.series import Axis, Block, Channel, ParsedFile

class LabReader:
    name = "our-lab"
    family = "our lab's own instrument"

    def sniff(self, head, filename):
        return 0.99 if head.startswith(b"OURLAB") else 0.0

    def read(self, data, filename, options):
        values = [float(v) for v in data.split()[1:]]
        axis = Axis("index", "point", "", np.arange(len(values)))
        return ParsedFile(self.name, [Block("main", axis, [Channel("signal", "mV", np.array(values))])])

class NotAReader:
    pass
'''


def _install_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry: str) -> None:
    (tmp_path / "ourlab_reader.py").write_text(PLUGIN)
    info = tmp_path / "ourlab_reader-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ourlab-reader\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[labflow.readers]\n{entry}\n")
    monkeypatch.syspath_prepend(str(tmp_path))


def test_an_entry_point_adds_a_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install_plugin(tmp_path, monkeypatch, "ourlab = ourlab_reader:LabReader")
    names = [r.name for r in registry.all_readers()]
    assert names[-1] == "our-lab" and isinstance(registry.all_readers()[-1], Reader)
    parsed = registry.read_file(b"OURLAB 1 2 3", "run.lab")
    assert parsed.reader == "our-lab" and parsed.main_channel.values.tolist() == [1.0, 2.0, 3.0]


def test_a_broken_entry_point_is_reported_not_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install_plugin(tmp_path, monkeypatch, "bad = ourlab_reader:NotAReader\nmissing = ourlab_reader:Nope")
    readers, problems = registry.plugin_readers()
    assert readers == []
    assert any("'bad'" in p and "is not a reader" in p for p in problems)
    assert any("'missing'" in p and "failed to load" in p for p in problems)


def test_a_gzip_bomb_is_refused_before_it_is_held_in_memory():
    from labflow.processing.readers.registry import decompressed

    bomb = gzip.compress(b"0" * 2_000_000)  # about 2 kB that decompress to 2 MB
    assert len(bomb) < 10_000
    with pytest.raises(ReadRefused, match="decompresses to more than 1,000,000 bytes"):
        decompressed(bomb, "trace.csv.gz", limit=1_000_000)
    assert decompressed(bomb, "trace.csv.gz", limit=2_000_000)[0] == b"0" * 2_000_000
    two_members = gzip.compress(b"a,b\n") + gzip.compress(b"1,2\n")
    assert decompressed(two_members, "x.csv.gz")[0] == b"a,b\n1,2\n"
