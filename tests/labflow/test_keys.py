import hashlib

import pytest

from labflow.keys import make_run_key, sanitise_stem

SHA = hashlib.sha256(b"some bytes").hexdigest()


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("run 1.csv", "run-1"),
        ("HPLC, sample [3].CSV", "HPLC-sample-3"),
        ("a/b/c/data.tsv", "data"),
        ("'quoted'.txt", "quoted"),
        ("...csv", "file"),
        ("µ-probe.dat", "probe"),
    ],
)
def test_sanitise_stem_keeps_only_safe_characters(name, stem):
    assert sanitise_stem(name) == stem


def test_run_key_is_stem_plus_short_hash():
    assert make_run_key("run 1.csv", SHA) == f"run-1-{SHA[:10]}"


def test_run_key_is_stable_and_depends_on_content():
    other = hashlib.sha256(b"other bytes").hexdigest()
    assert make_run_key("x.csv", SHA) == make_run_key("x.csv", SHA)
    assert make_run_key("x.csv", SHA) != make_run_key("x.csv", other)


def test_long_names_are_truncated():
    key = make_run_key("x" * 300 + ".csv", SHA)
    assert len(key) <= 48 + 11


def test_run_key_rejects_a_non_hash():
    with pytest.raises(ValueError, match="SHA-256"):
        make_run_key("x.csv", "abc")
