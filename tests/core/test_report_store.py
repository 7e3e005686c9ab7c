"""The last report on disk (`core.report_store`): where, how privately, and that failing is harmless."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import stat
from pathlib import Path, PurePath

import pytest

from stethoscope_desktop.core.checks import load_checks
from stethoscope_desktop.core.practices import PracticesFolder, PracticesLoader
from stethoscope_desktop.core.protocol import Scan
from stethoscope_desktop.core.report import Report
from stethoscope_desktop.core.report_store import (
    last_report_path,
    policy_sha256,
    report_path_in_home,
    save_last_report,
)
from stethoscope_desktop.core.scanner import Scanner
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.resources import checks_dir, practices_dir
from stethoscope_desktop.worker import WorkerSession
from tests.canned import canned_linux
from tests.ui.reports import mixed_report


def test_the_report_is_written_0600_in_a_0700_folder_and_reads_back(tmp_path: Path) -> None:
    report = mixed_report()
    target = tmp_path / "state" / "stethoscope" / "last-report.json"
    assert save_last_report(report, target) == target
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    again = Report.from_dict(json.loads(target.read_text(encoding="utf-8")))
    assert again.practices == report.practices
    assert again.policy_sha256 == policy_sha256(report.policy_files) != ""
    assert [p.name for p in target.parent.iterdir()] == ["last-report.json"]  # no temporary left


def test_a_temporary_a_killed_write_left_is_removed(tmp_path: Path) -> None:
    target = tmp_path / "stethoscope" / "last-report.json"
    target.parent.mkdir()
    leftover = target.parent / ".last-report.json.abcd1234.tmp"
    leftover.write_text("half a report")
    os.utime(leftover, (0, 0))
    save_last_report(mixed_report(), target)
    assert sorted(p.name for p in target.parent.iterdir()) == ["last-report.json"]


def test_an_existing_state_folder_is_made_private(tmp_path: Path) -> None:
    folder = tmp_path / "stethoscope"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    save_last_report(mixed_report(), folder / "last-report.json")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


@pytest.mark.allow_warnings
def test_a_write_that_fails_is_logged_and_returns_none(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    with caplog.at_level(logging.WARNING, logger="stethoscope_desktop.core.report_store"):
        assert save_last_report(mixed_report(), blocker / "last-report.json") is None
    assert "could not write the last report" in caplog.text


def test_the_default_place_is_the_users_state_folder() -> None:
    # The test session's XDG_STATE_HOME (tests/conftest.py) stands for ~/.local/state.
    expected = Path(os.environ["XDG_STATE_HOME"]) / "stethoscope" / "last-report.json"
    assert last_report_path() == expected


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ("linux", "/home/a/.local/state/stethoscope/last-report.json"),
        ("darwin", "/home/a/Library/Application Support/stethoscope/last-report.json"),
        ("windows", "/home/a/AppData/Local/stethoscope/last-report.json"),
    ],
)
def test_another_users_report_is_at_the_platforms_default_place(
    platform: str, expected: str
) -> None:
    assert report_path_in_home("/home/a", platform) == PurePath(expected)


def test_the_policy_digest_is_sha256_over_each_files_sha256(tmp_path: Path) -> None:
    one, two = tmp_path / "policy.yaml", tmp_path / "config.yaml"
    one.write_text("firewall: ALWAYS\n")
    two.write_text("organization: Example\n")
    expected = hashlib.sha256(
        hashlib.sha256(one.read_bytes()).digest() + hashlib.sha256(two.read_bytes()).digest()
    ).hexdigest()
    assert policy_sha256([str(one), str(two)]) == expected


def test_the_policy_digest_counts_contents_not_places(tmp_path: Path) -> None:
    one, two = tmp_path / "a" / "policy.yaml", tmp_path / "b" / "policy.yaml"
    for path in (one, two):
        path.parent.mkdir()
        path.write_text("firewall: ALWAYS\n")
    assert policy_sha256([str(one)]) == policy_sha256([str(two)])
    two.write_text("firewall: SUGGESTED\n")
    assert policy_sha256([str(one)]) != policy_sha256([str(two)])
    assert policy_sha256(["https://it.example/policy"]) != policy_sha256(["https://x.example/p"])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_the_policy_digest_never_reads_a_named_pipe(tmp_path: Path) -> None:
    pipe = tmp_path / "policy.yaml"
    os.mkfifo(pipe)
    assert policy_sha256([str(pipe)]) != policy_sha256([str(tmp_path / "gone.yaml")])


def test_a_scan_records_the_policy_digest() -> None:
    report = mixed_report()
    assert report.policy_sha256 == policy_sha256(report.policy_files)
    assert len(report.policy_sha256) == 64


@pytest.mark.allow_warnings
def test_the_worker_saves_each_report_and_a_failing_save_does_not_fail_the_scan(
    tmp_path: Path,
) -> None:
    saved: list[Report] = []
    events: list[object] = []
    loader = PracticesLoader([PracticesFolder("bundled", practices_dir())], "en")
    scanner = Scanner(EmbeddedEngine(canned_linux()), load_checks(checks_dir()), platform="linux")
    session = WorkerSession(loader, scanner, events.append, save_report=saved.append)
    session.handle(Scan(1))
    assert saved == [session.latest()]

    def broken(report: Report) -> None:
        raise RuntimeError("a bug in the writer")

    failing = WorkerSession(loader, scanner, events.append, save_report=broken)
    failing.handle(Scan(2))
    assert failing.latest() is not None
    assert type(events[-1]).__name__ == "ScanReported"


def test_the_json_has_every_field_of_the_report() -> None:
    report = mixed_report()
    fields = {field.name for field in dataclasses.fields(Report)}
    assert set(json.loads(report.to_json())) == fields
