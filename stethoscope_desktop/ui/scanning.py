"""Scans off the UI thread: one at a time, triggers during a scan coalesce into one more.

Triggers are the start, "Check again", the timer, a change to IT's policy files and news from
the policy server. Each scan is a command to the scan worker (`WorkerLink`), which loads the
practices (so a changed file is read) and scans in its own process; its report comes back as an
event and leaves here as `report_ready`. A scan that brings no report — the worker could not
start, stopped, failed, or answered in a way the tray cannot read — leaves as `scan_failed`
with a `ScanFailure` that says why, in the person's words and in detail.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal, Slot

from stethoscope_desktop.core.protocol import (
    Event,
    ProtocolError,
    Scan,
    ScanFailed,
    ScanReported,
    ScanResult,
    VersionMismatch,
)
from stethoscope_desktop.core.report import Report
from stethoscope_desktop.core.strings import UiStrings
from stethoscope_desktop.ui.worker_client import WorkerLink

log = logging.getLogger(__name__)
FILE_CHANGE_SETTLE_MS = 500


class FailureCause(StrEnum):
    """Why a scan brought no report; each value is the string key of its words."""

    NOT_STARTED = "failedNotStarted"
    STOPPED = "failedStopped"
    SCAN = "failedScan"
    BAD_ANSWER = "failedBadAnswer"
    VERSION = "failedVersion"


@dataclass(frozen=True)
class ScanFailure:
    """A scan that brought no report: why, for the person (`cause`) and in detail."""

    cause: FailureCause
    detail: str  # what went wrong, technically: for the log and the window's fine print

    def words(self, strings: UiStrings) -> str:
        """Return "Couldn't check this computer: <the cause in words>"."""
        return strings.string("checkFailed", reason=strings.string(self.cause))


class ScanCoordinator(QObject):
    """Starts scans on request; at most one runs, and requests during it become one more."""

    scan_started = Signal(str)  # the reason
    report_ready = Signal(object)  # ScanResult
    scan_failed = Signal(object)  # ScanFailure

    def __init__(self, worker: WorkerLink) -> None:
        super().__init__()
        self._worker = worker
        self._worker.event_received.connect(self._on_worker_event_received)
        self._worker.line_refused.connect(self._on_worker_line_refused)
        self._worker.start_failed.connect(self._on_worker_start_failed)
        self._worker.stopped.connect(self._on_worker_stopped)
        self._running: int | None = None  # the id of the scan under way
        self._resent = False
        self._pending: str | None = None
        self._last: ScanResult | None = None
        self._failure: ScanFailure | None = None
        self.scans_started = 0

    def is_scanning(self) -> bool:
        """Return True while a scan runs."""
        return self._running is not None

    def last_report(self) -> Report | None:
        """Return the newest report, if any."""
        return self._last.report if self._last is not None else None

    def last_result(self) -> ScanResult | None:
        """Return the newest report with its strings and settings, if any."""
        return self._last

    def last_failure(self) -> ScanFailure | None:
        """Return why the last scan failed, or None when it brought a report (or none ended)."""
        return self._failure

    @Slot(str)
    def request_scan(self, reason: str) -> None:
        """Scan now, or once more after the running scan if one is running."""
        if self._running is not None:
            self._pending = self._pending or reason
            return
        self.scans_started += 1
        self._running = self.scans_started
        self._resent = False
        log.info("scan started (%s)", reason)
        self.scan_started.emit(reason)
        self._worker.send(Scan(self._running))

    def _finish(self) -> str | None:
        """Mark the scan done (before telling anyone); return the coalesced next request."""
        self._running = None
        pending, self._pending = self._pending, None
        return pending

    def _on_worker_event_received(self, event: Event) -> None:
        if isinstance(event, ScanFailed) and event.id == self._running:
            self._failed(FailureCause.SCAN, event.message)
            return
        if not isinstance(event, ScanReported) or event.id != self._running:
            return
        result = event.result
        self._last = result
        self._failure = None
        report = result.report
        log.info(
            "scan finished: %s in %.0f ms", report.status.value, report.duration_seconds * 1000
        )
        pending = self._finish()
        self.report_ready.emit(result)
        if pending is not None:
            self.request_scan(pending)

    def _on_worker_line_refused(self, error: ProtocolError) -> None:
        if self._running is None:
            return
        if isinstance(error, VersionMismatch):
            self._failed(FailureCause.VERSION, f"the scan worker speaks {error}")
        elif error.scan_id == self._running:
            self._failed(
                FailureCause.BAD_ANSWER,
                f"the scan worker sent an answer that cannot be read: {error}",
            )

    def _on_worker_start_failed(self, reason: str) -> None:
        if self._running is not None:
            self._failed(FailureCause.NOT_STARTED, f"the scan worker could not start: {reason}")

    def _on_worker_stopped(self, code: int) -> None:
        if self._running is None:
            return
        if code == 0 and not self._resent:
            # It left for being idle just as the command was on its way: ask a new one.
            self._resent = True
            self._worker.send(Scan(self._running))
            return
        self._failed(
            FailureCause.STOPPED,
            "the scan worker stopped before it finished"
            + (f" (exit code {code})" if code > 0 else " (it crashed or could not start)"),
        )

    def _failed(self, cause: FailureCause, detail: str) -> None:
        pending = self._finish()
        self._failure = ScanFailure(cause, detail)
        self.scan_failed.emit(self._failure)
        if pending is not None:
            self.request_scan(pending)


class PracticesWatcher(QObject):
    """Says when a file in the practices folders changes, after edits settle."""

    practices_changed = Signal()

    def __init__(self, folders: Sequence[Path] = (), files: Sequence[Path] = ()) -> None:
        super().__init__()
        self._folders = list(folders)
        self._files = list(files)
        self._watcher = QFileSystemWatcher(self)
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(FILE_CHANGE_SETTLE_MS)
        self._settle.timeout.connect(self._on_settle_timeout)
        self._watcher.fileChanged.connect(self._on_watcher_changed)
        self._watcher.directoryChanged.connect(self._on_watcher_changed)
        self._watch()

    def set_paths(self, folders: Sequence[Path], files: Sequence[Path]) -> None:
        """Watch these folders and files (the worker names them with each report)."""
        folders, files = list(folders), list(files)
        if folders == self._folders and files == self._files:
            self._watch()  # a file that appeared since is watched from now on
            return
        self._folders, self._files = folders, files
        stale = self._watcher.files() + self._watcher.directories()
        if stale:
            self._watcher.removePaths(stale)
        self._watch()

    def _watch(self) -> None:
        # Editors and installers replace files (write a new one, rename it over the old): the
        # watch on the old file ends, so watch the folders too and re-add files after a change.
        wanted = [str(f) for f in self._folders if f.is_dir()]
        wanted += [str(f) for f in self._files if f.is_file()]
        missing = [path for path in wanted if path not in self._watcher.files()
                   and path not in self._watcher.directories()]  # fmt: skip
        if missing:
            self._watcher.addPaths(missing)

    def _on_watcher_changed(self, path: str) -> None:
        log.info("practices changed: %s", path)
        self._settle.start()

    def _on_settle_timeout(self) -> None:
        self._watch()
        self.practices_changed.emit()
