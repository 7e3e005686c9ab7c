"""The scan coordinator against a scripted worker: ids, stale events, a worker that leaves or dies.

The test plays the worker's part: its lines go through `WorkerLink.receive`, as the real
worker's do.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from stethoscope_desktop.core.protocol import (
    PROTOCOL_VERSION,
    ApiChecked,
    Command,
    Scan,
    ScanFailed,
    ScanReported,
    ScanResult,
    TraySettings,
    encode,
)
from stethoscope_desktop.core.strings import UiStrings
from stethoscope_desktop.ui.scanning import FailureCause, ScanCoordinator
from stethoscope_desktop.ui.worker_client import WorkerLink
from tests.ui.reports import mixed_report


class ScriptedWorker(WorkerLink):
    """Records the commands; the test plays the worker's part by emitting its signals."""

    def __init__(self) -> None:
        super().__init__()
        self.commands: list[Command] = []

    def send(self, command: Command) -> None:
        self.commands.append(command)

    def is_running(self) -> bool:
        return True

    def serves_api(self) -> bool:
        return False


REPORT = mixed_report()


def report_line(scan_id: int) -> str:
    return encode(ScanReported(scan_id, ScanResult(REPORT, UiStrings(), TraySettings())))


def test_a_report_with_the_scan_id_ends_the_scan(qtbot: QtBot) -> None:
    worker = ScriptedWorker()
    scans = ScanCoordinator(worker)
    scans.request_scan("start")
    assert worker.commands == [Scan(1)] and scans.is_scanning()
    with qtbot.waitSignal(scans.report_ready) as ready:
        worker.receive(report_line(1))
    assert ready.args is not None and ready.args[0].report == REPORT
    assert not scans.is_scanning() and scans.last_report() == REPORT


def test_events_of_other_scans_and_other_kinds_are_ignored(qtbot: QtBot) -> None:
    worker = ScriptedWorker()
    scans = ScanCoordinator(worker)
    scans.request_scan("start")
    with qtbot.assertNotEmitted(scans.report_ready):
        worker.receive(report_line(99))
        worker.receive(encode(ApiChecked("x")))
        worker.receive(encode(ScanFailed(99, "an old scan")))
    assert scans.is_scanning()


@pytest.mark.allow_warnings
def test_a_bad_report_fails_the_scan_with_the_reason(qtbot: QtBot) -> None:
    worker = ScriptedWorker()
    scans = ScanCoordinator(worker)
    scans.request_scan("start")
    event = json.loads(report_line(1))
    event["settings"]["scan_interval_minutes"] = "soon"
    with qtbot.waitSignal(scans.scan_failed) as failed:
        worker.receive(json.dumps(event))
    assert failed.args is not None and "scan_interval_minutes" in failed.args[0].detail
    assert failed.args[0].cause is FailureCause.BAD_ANSWER
    assert not scans.is_scanning() and scans.last_failure() == failed.args[0]


@pytest.mark.allow_warnings
@pytest.mark.parametrize(
    "line",
    [
        "not json",
        "[1, 2]",
        json.dumps({"v": PROTOCOL_VERSION, "event": "dance", "id": 1}),
        json.dumps({"v": PROTOCOL_VERSION, "event": "scan-failed", "id": 2}),
        json.dumps({"v": PROTOCOL_VERSION, "event": "report", "id": 2, "report": {}}),
    ],
    ids=[
        "text",
        "list",
        "unknown-event",
        "bad-failure-of-another-scan",
        "bad-report-of-another-scan",
    ],
)
def test_bad_lines_that_name_no_running_scan_are_logged_and_ignored(
    qtbot: QtBot, line: str
) -> None:
    worker = ScriptedWorker()
    scans = ScanCoordinator(worker)
    scans.request_scan("start")
    refused: list[object] = []
    worker.line_refused.connect(refused.append)
    with qtbot.assertNotEmitted(scans.scan_failed), qtbot.assertNotEmitted(scans.report_ready):
        worker.receive(line)
    assert len(refused) == 1 and scans.is_scanning()
    with qtbot.waitSignal(scans.report_ready):
        worker.receive(report_line(1))


@pytest.mark.allow_warnings
def test_a_worker_of_another_protocol_version_fails_the_scan_in_words(qtbot: QtBot) -> None:
    worker = ScriptedWorker()
    scans = ScanCoordinator(worker)
    scans.request_scan("start")
    line: dict[str, Any] = json.loads(report_line(1))
    line["v"] = PROTOCOL_VERSION + 1
    with qtbot.waitSignal(scans.scan_failed) as failed:
        worker.receive(json.dumps(line))
    assert failed.args is not None and failed.args[0].cause is FailureCause.VERSION
    assert f"protocol version {PROTOCOL_VERSION + 1}" in failed.args[0].detail
    assert failed.args[0].words(UiStrings()) == "checkFailed"  # the words come from the table


def test_a_scan_that_failed_in_the_worker_fails_with_its_message(qtbot: QtBot) -> None:
    worker = ScriptedWorker()
    scans = ScanCoordinator(worker)
    scans.request_scan("start")
    with qtbot.waitSignal(scans.scan_failed) as failed:
        worker.receive(encode(ScanFailed(1, "the engine fell over")))
    assert failed.args is not None and failed.args[0].cause is FailureCause.SCAN
    assert failed.args[0].detail == "the engine fell over"
    with qtbot.waitSignal(scans.report_ready):
        scans.request_scan("check again")
        worker.receive(report_line(2))
    assert scans.last_failure() is None, "a report ends the failure"


def test_a_worker_that_cannot_start_fails_the_scan_with_the_reason(qtbot: QtBot) -> None:
    worker = ScriptedWorker()
    scans = ScanCoordinator(worker)
    scans.request_scan("start")
    with qtbot.waitSignal(scans.scan_failed) as failed:
        worker.start_failed.emit("execvp: No such file or directory")
        worker.stopped.emit(-1)
    assert failed.args is not None and failed.args[0].cause is FailureCause.NOT_STARTED
    assert "No such file or directory" in failed.args[0].detail


def test_a_worker_that_left_idle_gets_the_scan_once_more(qtbot: QtBot) -> None:
    worker = ScriptedWorker()
    scans = ScanCoordinator(worker)
    scans.request_scan("start")
    worker.stopped.emit(0)  # it left for being idle just as the command was on its way
    assert worker.commands == [Scan(1), Scan(1)]
    assert scans.is_scanning()
    with qtbot.waitSignal(scans.scan_failed) as failed:
        worker.stopped.emit(0)  # twice is not a race
    assert failed.args is not None and "stopped before it finished" in failed.args[0].detail
    assert failed.args[0].cause is FailureCause.STOPPED


def test_a_crashed_worker_fails_the_scan_and_a_coalesced_request_runs(qtbot: QtBot) -> None:
    worker = ScriptedWorker()
    scans = ScanCoordinator(worker)
    scans.request_scan("start")
    scans.request_scan("timer")
    with qtbot.waitSignal(scans.scan_failed) as failed:
        worker.stopped.emit(-1)
    assert failed.args is not None and "crashed" in failed.args[0].detail
    assert worker.commands[-1] == Scan(2) and scans.is_scanning()


def test_a_worker_stopping_between_scans_changes_nothing(qtbot: QtBot) -> None:
    worker = ScriptedWorker()
    scans = ScanCoordinator(worker)
    with qtbot.assertNotEmitted(scans.scan_failed):
        worker.stopped.emit(0)
    assert worker.commands == []
