import os

from labflow.ingest.inbox import InboxCursor, is_ignored, scan_inbox


def test_temporary_hidden_and_sidecar_names_are_ignored():
    for name in ("run.csv.part", "~$run.xlsx", ".run.csv", "run.csv.meta.json", "x.tmp", "Thumbs.db"):
        assert is_ignored(name), name
    assert not is_ignored("run.csv")


def test_scan_is_recursive_and_skips_hidden_folders(tmp_path):
    (tmp_path / "hplc" / "day1").mkdir(parents=True)
    (tmp_path / ".staging").mkdir()
    (tmp_path / "hplc" / "day1" / "a.csv").write_text("1")
    (tmp_path / ".staging" / "b.csv").write_text("2")
    (tmp_path / "c.csv.part").write_text("3")
    assert set(scan_inbox(tmp_path)) == {"hplc/day1/a.csv"}


def test_a_file_is_ready_only_after_two_identical_scans():
    cursor = InboxCursor()
    assert cursor.advance({"a.csv": (10, 1)}, limit=10) == []
    assert cursor.advance({"a.csv": (20, 2)}, limit=10) == []  # still growing
    assert cursor.advance({"a.csv": (20, 2)}, limit=10) == ["a.csv"]


def test_done_files_are_not_returned_again_until_they_change():
    cursor = InboxCursor()
    cursor.advance({"a.csv": (10, 1)}, limit=10)
    (ready,) = [cursor.advance({"a.csv": (10, 1)}, limit=10)]
    cursor.mark_done("a.csv", (10, 1))
    assert ready == ["a.csv"]
    assert cursor.advance({"a.csv": (10, 1)}, limit=10) == []
    assert cursor.advance({"a.csv": (11, 5)}, limit=10) == []  # rewritten: pending again
    assert cursor.advance({"a.csv": (11, 5)}, limit=10) == ["a.csv"]


def test_files_that_left_the_inbox_are_forgotten():
    cursor = InboxCursor(done={"gone.csv": (1, 1), "kept.csv": (2, 2)})
    cursor.advance({"kept.csv": (2, 2)}, limit=10)
    assert cursor.done == {"kept.csv": (2, 2)}


def test_limit_leaves_the_rest_pending_for_the_next_tick():
    listing = {f"f{i:03d}.csv": (1, 1) for i in range(25)}
    cursor = InboxCursor()
    cursor.advance(listing, limit=10)
    first = cursor.advance(listing, limit=10)
    for rel in first:
        cursor.mark_done(rel, listing[rel])
    second = cursor.advance(listing, limit=10)
    assert len(first) == len(second) == 10
    assert not set(first) & set(second)


def test_cursor_survives_a_json_round_trip():
    cursor = InboxCursor(pending={"a.csv": (1, 2)}, done={"b.csv": (3, 4)})
    again = InboxCursor.from_json(cursor.to_json())
    assert again == cursor
    assert InboxCursor.from_json(None) == InboxCursor()


def test_scan_reports_size_and_mtime(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"12345")
    os.utime(path, ns=(1_000_000_000, 2_000_000_000))
    assert scan_inbox(tmp_path) == {"a.csv": (5, 2_000_000_000)}
