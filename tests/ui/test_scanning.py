"""The scan coordinator against a scripted worker: ids, stale events, a worker that leaves or dies."""

from __future__ import annotations

import json
from typing import Any

from pytestqt.qtbot import QtBot

from stethoscope_desktop.core.handover import TraySettings, scan_event
from stethoscope_desktop.core.strings import UiStrings
from stethoscope_desktop.ui.scanning import ScanCoordinator
from stethoscope_desktop.ui.worker_client import WorkerLink
from tests.ui.reports import mixed_report


class ScriptedWorker(WorkerLink):
    """Records the commands; the test plays the worker's part by emitting its signals."""

    def __init__(self) -> None:
        super().__init__()
        self.commands: list[dict[str, Any]] = []

    def send(self, command: dict[str, Any]) -> None:
        self.commands.append(command)

    def is_running(self) -> bool:
        return True

    def serves_api(self) -> bool:
        return False


REPORT = mixed_report()


def report_event(scan_id: object) -> dict[str, Any]:
    event = scan_event(scan_id, REPORT, UiStrings(), TraySettings())
    return json.loads(json.dumps(event))  # type: ignore[no-any-return]


def test_a_report_with_the_scan_id_ends_the_scan(qtbot: QtBot) -> None:
    worker = ScriptedWorker()
    scans = ScanCoordinator(worker)
    scans.request_scan("start")
    assert worker.commands == [{"op": "scan", "id": 1}] and scans.is_scanning()
    with qtbot.waitSignal(scans.report_ready) as ready:
        worker.event_received.emit(report_event(1))
    assert ready.args is not None and ready.args[0].report == REPORT
    assert not scans.is_scanning() and scans.last_report() == REPORT


def test_events_of_other_scans_and_other_kinds_are_ignored(qtbot: QtBot) -> None:
    worker = ScriptedWorker()
    scans = ScanCoordinator(worker)
    scans.request_scan("start")
    with qtbot.assertNotEmitted(scans.report_ready):
        worker.event_received.emit(report_event(99))
        worker.event_received.emit({"event": "api-checked", "label": "x"})
    assert scans.is_scanning()


def test_a_bad_report_fails_the_scan_with_the_reason(qtbot: QtBot) -> None:
    worker = ScriptedWorker()
    scans = ScanCoordinator(worker)
    scans.request_scan("start")
    event = report_event(1)
    event["settings"]["scan_interval_minutes"] = "soon"
    with qtbot.waitSignal(scans.scan_failed) as failed:
        worker.event_received.emit(event)
    assert failed.args is not None and "scan_interval_minutes" in failed.args[0]
    assert not scans.is_scanning()


def test_a_worker_that_left_idle_gets_the_scan_once_more(qtbot: QtBot) -> None:
    worker = ScriptedWorker()
    scans = ScanCoordinator(worker)
    scans.request_scan("start")
    worker.stopped.emit(0)  # it left for being idle just as the command was on its way
    assert worker.commands == [{"op": "scan", "id": 1}, {"op": "scan", "id": 1}]
    assert scans.is_scanning()
    with qtbot.waitSignal(scans.scan_failed) as failed:
        worker.stopped.emit(0)  # twice is not a race
    assert failed.args is not None and "stopped before it finished" in failed.args[0]


def test_a_crashed_worker_fails_the_scan_and_a_coalesced_request_runs(qtbot: QtBot) -> None:
    worker = ScriptedWorker()
    scans = ScanCoordinator(worker)
    scans.request_scan("start")
    scans.request_scan("timer")
    with qtbot.waitSignal(scans.scan_failed) as failed:
        worker.stopped.emit(-1)
    assert failed.args is not None and "crashed" in failed.args[0]
    assert worker.commands[-1] == {"op": "scan", "id": 2} and scans.is_scanning()


def test_a_worker_stopping_between_scans_changes_nothing(qtbot: QtBot) -> None:
    worker = ScriptedWorker()
    scans = ScanCoordinator(worker)
    with qtbot.assertNotEmitted(scans.scan_failed):
        worker.stopped.emit(0)
    assert worker.commands == []
