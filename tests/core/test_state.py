"""The state file (`core.state.StateStore`): loads whatever is there, saves atomically, never raises.

Failures are real, not patched: a path whose parent is a file (the tests run as root, so a
read-only folder would not stop them), a target that is a folder, bytes that are not JSON.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from stethoscope_desktop.core.state import StateStore

DATA = {"notify": {"failing": ["firewall"], "notified_at": {"firewall": 1.5}}, "ünïcode": "✓"}


def files_in(directory: Path) -> list[str]:
    """Return the names in `directory`, temporary files included."""
    return sorted(os.listdir(directory))


def test_a_missing_file_loads_as_empty_without_a_warning(tmp_path: Path) -> None:
    assert StateStore(tmp_path / "nowhere" / "state.json").load() == {}


def test_save_then_load_round_trips_and_creates_the_folder(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state" / "stethoscope" / "state.json")
    assert store.save(DATA)
    assert store.path.is_file()
    assert StateStore(store.path).load() == DATA
    assert files_in(store.path.parent) == ["state.json"]


def test_save_replaces_the_whole_object(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json")
    assert store.save({"a": 1, "b": 2})
    assert store.save({"b": 3})
    assert store.load() == {"b": 3}
    assert files_in(tmp_path) == ["state.json"]


def test_update_keeps_the_other_keys(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json")
    assert store.save({"notify": {"failing": []}, "last_report_status": "PASS"})
    assert store.update({"last_report_status": "FAIL"})
    assert store.load() == {"notify": {"failing": []}, "last_report_status": "FAIL"}


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_the_file_is_private_to_the_user(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json")
    assert store.save(DATA)
    assert store.path.stat().st_mode & 0o777 == 0o600


@pytest.mark.allow_warnings
@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{",
        b'{"notify": ',
        b"\xff\xfe not utf-8",
        b"[1, 2, 3]",
        b'"just text"',
        b"null",
        b"[" * 100_000 + b"]" * 100_000,
    ],
    ids=["empty", "brace", "truncated", "bytes", "list", "string", "null", "deep"],
)
def test_a_corrupt_file_loads_as_empty_with_a_warning(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="stethoscope_desktop.core.state"):
        assert StateStore(path).load() == {}
    assert [r.name for r in caplog.records] == ["stethoscope_desktop.core.state"]
    assert str(path) in caplog.records[0].getMessage()


@pytest.mark.allow_warnings
def test_a_corrupt_file_is_replaced_by_the_next_save(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json")
    store.path.write_text("{ not json", "utf-8")
    assert store.load() == {}
    assert store.save(DATA)
    assert store.load() == DATA


@pytest.mark.allow_warnings
def test_an_unreadable_path_loads_as_empty(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "state.json").mkdir()  # a folder where the file should be
    assert StateStore(tmp_path / "state.json").load() == {}
    assert "Could not read" in caplog.text


@pytest.mark.allow_warnings
def test_saving_where_the_folder_cannot_be_made_returns_false(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "stethoscope"
    blocker.write_text("a file, not a folder", "utf-8")
    store = StateStore(blocker / "state.json")
    assert store.save(DATA) is False
    assert "Could not save" in caplog.text
    assert files_in(tmp_path) == ["stethoscope"]
    assert blocker.read_text("utf-8") == "a file, not a folder"


@pytest.mark.allow_warnings
def test_a_failed_replace_leaves_no_temporary_file_and_the_old_state_intact(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The write succeeds and the final rename fails (the target is a non-empty folder).
    target = tmp_path / "state.json"
    target.mkdir()
    (target / "keep").write_text("x", "utf-8")
    assert StateStore(target).save(DATA) is False
    assert "Could not save" in caplog.text
    assert files_in(tmp_path) == ["state.json"]
    assert files_in(target) == ["keep"]


def test_data_json_cannot_hold_is_a_programming_error_and_writes_nothing(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json")
    assert store.save({"kept": True})
    with pytest.raises(TypeError):
        store.save({"failing": {"a", "b"}})
    with pytest.raises(ValueError, match="JSON"):
        store.save({"snoozed_until": float("nan")})
    assert store.load() == {"kept": True}
    assert files_in(tmp_path) == ["state.json"]


def test_concurrent_saves_leave_one_whole_save_and_no_temporary_files(tmp_path: Path) -> None:
    # Two stores on one path stand for two writers that share no lock (two processes).
    path = tmp_path / "state.json"
    writers = [StateStore(path), StateStore(path)]
    payloads = [{"writer": n, "padding": "x" * 10_000, "n": list(range(200))} for n in range(8)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(payloads))

    def write(n: int) -> None:
        try:
            start.wait()
            for _ in range(10):
                assert writers[n % 2].save(payloads[n])
                assert writers[n % 2].load() in payloads  # never a torn or empty file
        except BaseException as error:  # reported below, in the test's own thread
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(len(payloads))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert StateStore(path).load() in payloads
    assert files_in(tmp_path) == ["state.json"]


def test_concurrent_updates_through_one_store_lose_no_key(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json")

    def update(n: int) -> None:
        for round_ in range(5):
            store.update({f"part{n}": round_})

    threads = [threading.Thread(target=update, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.load() == {f"part{n}": 4 for n in range(6)}


def test_the_file_is_readable_json_for_a_person(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json")
    assert store.save({"b": 1, "a": {"c": "✓"}})
    text = store.path.read_text("utf-8")
    assert json.loads(text) == {"a": {"c": "✓"}, "b": 1}
    assert text.startswith('{\n  "a"')  # indented, keys sorted, so diffs stay small
    assert "✓" in text


def _leftover(folder: Path, name: str = ".state.json.abcd_123.tmp", age: float = 60.0) -> Path:
    """Write a temporary file as a killed save leaves it, `age` seconds old."""
    leftover = folder / name
    leftover.write_text('{"half": ', "utf-8")
    moment = time.time() - age
    os.utime(leftover, (moment, moment))
    return leftover


def test_the_start_up_sweep_removes_what_a_killed_save_left(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json")
    assert store.save(DATA)
    _leftover(tmp_path)
    _leftover(tmp_path, ".state.json.zz9_0xyq.tmp")
    assert store.remove_stale_temporaries() == 2
    assert files_in(tmp_path) == ["state.json"]
    assert store.load() == DATA


def test_the_sweep_leaves_everything_that_is_not_surely_our_leftover(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json")
    kept = [
        _leftover(tmp_path, ".state.json.abcd1234.tmp", age=0.0),  # a save may be under way
        _leftover(tmp_path, "state.json.abcd1234.tmp"),  # not our pattern
        _leftover(tmp_path, ".state.json.abcd1234.tmp.bak"),
        _leftover(tmp_path, ".state.json.abc.tmp"),
        _leftover(tmp_path, ".other.json.abcd1234.tmp"),  # another file's
        _leftover(tmp_path, "notes.txt"),
    ]
    target = _leftover(tmp_path, "precious.txt")
    os.symlink(target, tmp_path / ".state.json.link0000.tmp")  # never followed, never removed
    os.mkdir(tmp_path / ".state.json.folder00.tmp")
    assert store.remove_stale_temporaries() == 0
    assert all(path.exists() for path in kept) and target.exists()
    assert (tmp_path / ".state.json.link0000.tmp").is_symlink()
    assert (tmp_path / ".state.json.folder00.tmp").is_dir()


@pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")
def test_the_sweep_leaves_a_temporary_file_a_live_writer_holds(tmp_path: Path) -> None:
    import fcntl

    store = StateStore(tmp_path / "state.json")
    busy = _leftover(tmp_path, age=3600.0)
    with open(busy, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # as write_atomically does
        assert store.remove_stale_temporaries() == 0
        assert busy.exists()
    assert store.remove_stale_temporaries() == 1  # the writer is gone: a leftover now
    assert not busy.exists()


def test_a_missing_state_folder_sweeps_nothing_and_does_not_raise(tmp_path: Path) -> None:
    assert StateStore(tmp_path / "nowhere" / "state.json").remove_stale_temporaries() == 0


@pytest.mark.parametrize(
    "text",
    [
        '{"other": NaN, "notify": {"snoozed_until": Infinity}}',
        '{"other": -Infinity}',
        '{"other": "\\ud800", "\\udfff": 1}',
    ],
)
def test_whatever_load_returned_the_next_update_can_save(tmp_path: Path, text: str) -> None:
    # Found by tests/fuzz: Python's json reads NaN and Infinity (which save refuses) and lone
    # surrogates (which UTF-8 cannot hold), so the update after loading such a file raised.
    path = tmp_path / "state.json"
    path.write_text(text, encoding="utf-8")
    store = StateStore(path)
    before = store.load()
    assert store.update({"notify": {"failing": []}}) is True
    after = store.load()
    assert after["notify"] == {"failing": []}
    assert {key: value for key, value in after.items() if key != "notify"} == {
        key: value for key, value in before.items() if key != "notify"
    }
    json.loads(path.read_bytes().decode("utf-8"))  # strict UTF-8 and JSON
