"""Logging setup: the rotating file, the stderr threshold, idempotency and a folder that fails."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import platformdirs
import pytest

from stethoscope_desktop.logsetup import (
    BACKUP_COUNT,
    MAX_BYTES,
    RotatingFileHandler,
    configure_logging,
    default_log_dir,
    unconfigure_logging,
)

log = logging.getLogger("stethoscope_desktop.test")


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    yield
    unconfigure_logging()
    assert our_handlers() == []
    assert root.level == level


def our_handlers() -> list[logging.Handler]:
    return [
        h for h in logging.getLogger().handlers if (h.get_name() or "").startswith("stethoscope")
    ]


def flush() -> None:
    for handler in our_handlers():
        handler.flush()


def test_records_go_to_the_file_in_the_given_folder(tmp_path: Path) -> None:
    path = configure_logging(False, log_dir=tmp_path / "logs")
    assert path == tmp_path / "logs" / "stethoscope.log"
    log.info("scan finished: %d checks", 12)
    log.debug("not without --debug")
    flush()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO +stethoscope_desktop\.test: "
        r"scan finished: 12 checks",
        lines[0],
    )


def test_debug_goes_to_the_file_and_stderr_with_debug(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = configure_logging(True, log_dir=tmp_path)
    assert path is not None
    log.debug("looking closely")
    flush()
    assert "DEBUG" in path.read_text(encoding="utf-8")
    assert "looking closely" in capsys.readouterr().err


def test_stderr_shows_only_warnings_without_debug(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(False, log_dir=tmp_path)
    log.info("quiet on the console")
    assert capsys.readouterr().err == ""


@pytest.mark.allow_warnings
def test_warnings_reach_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(False, log_dir=tmp_path)
    log.warning("osqueryd is missing")
    err = capsys.readouterr().err
    assert "WARNING" in err
    assert "osqueryd is missing" in err


def test_configuring_twice_does_not_double_the_handlers(tmp_path: Path) -> None:
    configure_logging(False, log_dir=tmp_path)
    path = configure_logging(False, log_dir=tmp_path)
    assert path is not None
    kinds = sorted(type(h).__name__ for h in our_handlers())
    assert kinds == ["RotatingFileHandler", "StreamHandler"]
    log.info("once")
    flush()
    assert path.read_text(encoding="utf-8").count("once") == 1


def test_reconfiguring_changes_the_levels(tmp_path: Path) -> None:
    path = configure_logging(False, log_dir=tmp_path)
    configure_logging(True, log_dir=tmp_path)
    assert path is not None
    log.debug("now debugging")
    flush()
    assert "now debugging" in path.read_text(encoding="utf-8")
    assert len(our_handlers()) == 2


def test_the_file_rotates_and_keeps_three_backups(tmp_path: Path) -> None:
    path = configure_logging(False, log_dir=tmp_path)
    assert path is not None
    record = "x" * 1000
    for number in range((5 * MAX_BYTES) // len(record)):
        log.info("%06d %s", number, record)
    flush()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["stethoscope.log"] + [
        f"stethoscope.log.{n}" for n in range(1, BACKUP_COUNT + 1)
    ]
    for file in tmp_path.iterdir():
        assert file.stat().st_size <= MAX_BYTES
    first_backup = (tmp_path / "stethoscope.log.1").read_text(encoding="utf-8").splitlines()
    current = path.read_text(encoding="utf-8").splitlines()
    assert int(first_backup[-1].split(": ")[1].split()[0]) + 1 == int(
        current[0].split(": ")[1].split()[0]
    )


def test_a_folder_that_cannot_be_created_costs_only_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    assert configure_logging(False, log_dir=blocker / "logs") is None
    err = capsys.readouterr().err
    assert "warning: not logging to" in err
    assert str(blocker / "logs" / "stethoscope.log") in err
    assert [type(h).__name__ for h in our_handlers()] == ["StreamHandler"]
    log.info("still fine")


def test_unconfigure_removes_the_handlers_and_closes_the_file(tmp_path: Path) -> None:
    configure_logging(False, log_dir=tmp_path)
    (file_handler,) = [h for h in our_handlers() if isinstance(h, RotatingFileHandler)]
    unconfigure_logging()
    assert our_handlers() == []
    assert file_handler.stream is None


@pytest.mark.skipif(sys.platform != "linux", reason="XDG_STATE_HOME is how Linux picks the folder")
def test_the_default_folder_is_the_users_log_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert default_log_dir() == Path(platformdirs.user_log_dir("stethoscope", appauthor=False))
    path = configure_logging(False)
    assert path == tmp_path / "state" / "stethoscope" / "log" / "stethoscope.log"
    assert path.parent.is_dir()
