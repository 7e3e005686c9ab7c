"""Scans off the UI thread: one at a time, triggers during a scan coalesce into one more.

Triggers are the start, "Check again", the timer and a change to IT's policy files. The worker
loads the practices (so a changed file is read) and scans; results come back by signal.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QThread, QTimer, Signal, Slot

from stethoscope_desktop.core.practices import Practices, PracticesLoader
from stethoscope_desktop.core.report import Report
from stethoscope_desktop.core.scanner import Scanner

log = logging.getLogger(__name__)
FILE_CHANGE_SETTLE_MS = 500


class ScanWorker(QObject):
    """Lives in the scan thread: loads the practices and runs one scan per request."""

    scan_finished = Signal(object, object)  # Report, Practices
    scan_failed = Signal(str)

    def __init__(self, scanner: Scanner, loader: PracticesLoader) -> None:
        super().__init__()
        self._scanner = scanner
        self._loader = loader

    @Slot()
    def scan(self) -> None:
        """Load the practices and scan; never lets an exception escape the thread."""
        try:
            practices = self._loader.load()
            report = self._scanner.scan(practices)
        except Exception as error:  # a bug must not kill the scan thread
            log.exception("scan failed")
            self.scan_failed.emit(f"{type(error).__name__}: {error}")
            return
        self.scan_finished.emit(report, practices)


class ScanCoordinator(QObject):
    """Starts scans on request; at most one runs, and requests during it become one more."""

    scan_started = Signal(str)  # the reason
    report_ready = Signal(object, object)  # Report, Practices
    scan_failed = Signal(str)
    _scan_requested = Signal()

    def __init__(self, scanner: Scanner, loader: PracticesLoader) -> None:
        super().__init__()
        self._thread = QThread()
        self._thread.setObjectName("scan")
        self._worker = ScanWorker(scanner, loader)
        self._worker.moveToThread(self._thread)
        self._scan_requested.connect(self._worker.scan)
        self._worker.scan_finished.connect(self._on_worker_scan_finished)
        self._worker.scan_failed.connect(self._on_worker_scan_failed)
        self._thread.start()
        self._running = False
        self._pending: str | None = None
        self._last_report: Report | None = None
        self.scans_started = 0

    def is_scanning(self) -> bool:
        """Return True while a scan runs."""
        return self._running

    def last_report(self) -> Report | None:
        """Return the newest report, if any."""
        return self._last_report

    @Slot(str)
    def request_scan(self, reason: str) -> None:
        """Scan now, or once more after the running scan if one is running."""
        if self._running:
            self._pending = self._pending or reason
            return
        self._running = True
        self.scans_started += 1
        log.info("scan started (%s)", reason)
        self.scan_started.emit(reason)
        self._scan_requested.emit()

    def _finish(self) -> str | None:
        """Mark the scan done (before telling anyone); return the coalesced next request."""
        self._running = False
        pending, self._pending = self._pending, None
        return pending

    def _on_worker_scan_finished(self, report: Report, practices: Practices) -> None:
        self._last_report = report
        log.info(
            "scan finished: %s in %.0f ms", report.status.value, report.duration_seconds * 1000
        )
        pending = self._finish()
        self.report_ready.emit(report, practices)
        if pending is not None:
            self.request_scan(pending)

    def _on_worker_scan_failed(self, message: str) -> None:
        pending = self._finish()
        self.scan_failed.emit(message)
        if pending is not None:
            self.request_scan(pending)

    def shutdown(self) -> None:
        """Stop the scan thread (waits for a running scan to end)."""
        self._thread.quit()
        self._thread.wait()


class PracticesWatcher(QObject):
    """Says when a file in the practices folders changes, after edits settle."""

    practices_changed = Signal()

    def __init__(self, folders: list[Path], files: list[Path]) -> None:
        super().__init__()
        self._folders = folders
        self._files = files
        self._watcher = QFileSystemWatcher(self)
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(FILE_CHANGE_SETTLE_MS)
        self._settle.timeout.connect(self._on_settle_timeout)
        self._watcher.fileChanged.connect(self._on_watcher_changed)
        self._watcher.directoryChanged.connect(self._on_watcher_changed)
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
