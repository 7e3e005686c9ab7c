"""The composition root: builds the tray app from core, engines and UI, and connects them.

Nothing else creates long-lived objects or connects signals across parts; collaborators are
passed in through constructors, so tests build the same app with fakes.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import platformdirs
from PySide6.QtCore import QObject, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from stethoscope_desktop.api import ApiServer, ApiServerError, ApiService, ScannerReportSource
from stethoscope_desktop.api.network import create_network_reader
from stethoscope_desktop.autostart import Autostart, AutostartError, app_command, create_autostart
from stethoscope_desktop.core.checks import load_checks
from stethoscope_desktop.core.platforms import current_platform, running_as_admin
from stethoscope_desktop.core.practices import (
    Practices,
    PracticesLoader,
    practices_folders,
    system_language,
)
from stethoscope_desktop.core.report import Report
from stethoscope_desktop.core.scanner import Scanner
from stethoscope_desktop.core.state import StateStore
from stethoscope_desktop.engines.factory import EngineUnavailable, create_engine
from stethoscope_desktop.logsetup import configure_logging
from stethoscope_desktop.memory import limit_malloc_arenas, release_free_memory
from stethoscope_desktop.resources import checks_dir, practices_dir
from stethoscope_desktop.tables.system import LocalSystem
from stethoscope_desktop.ui.icons import app_icon
from stethoscope_desktop.ui.notifications import NotificationController
from stethoscope_desktop.ui.notifier import Notifier, create_notifier
from stethoscope_desktop.ui.scanning import PracticesWatcher, ScanCoordinator
from stethoscope_desktop.ui.theme import palette_is_dark, style_sheet
from stethoscope_desktop.ui.tray import Tray
from stethoscope_desktop.ui.window import MainWindow

log = logging.getLogger(__name__)
APP_ID = "stethoscope-desktop"
MINUTE_MS = 60_000
INSTANCE_CONNECT_MS = 300


def instance_name(env: Mapping[str, str] | None = None) -> str:
    """Return the name of the single-instance socket: one instance per user and display."""
    environment = os.environ if env is None else env
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "user"
    display = environment.get("WAYLAND_DISPLAY") or environment.get("DISPLAY") or ""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{APP_ID}-{user}-{display}".rstrip("-"))


def ask_running_instance_to_show(name: str) -> bool:
    """Return True if another instance answered (and was asked to show its window)."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(INSTANCE_CONNECT_MS):
        return False
    socket.write(b"show\n")
    socket.waitForBytesWritten(INSTANCE_CONNECT_MS)
    socket.disconnectFromServer()
    return True


class ApiBridge(QObject):
    """Hands the API server's events (on its thread) to the UI thread as signals."""

    checked = Signal(str)
    page_failed = Signal(str, str, object)

    def on_checked(self, label: str) -> None:
        """A web app's request was answered."""
        self.checked.emit(label)

    def on_page_failed(self, session_id: str, label: str, report: Report) -> None:
        """A web app's check failed (once per session id)."""
        self.page_failed.emit(session_id, label, report)


class StethoscopeApp(QObject):
    """The running tray app: window, tray, scans on triggers, notifications."""

    # A new policy from the policy server (emitted on the fetching thread, handled on the UI's).
    policy_server_updated = Signal(str)

    def __init__(
        self,
        *,
        loader: PracticesLoader,
        scanner: Scanner,
        platform: str,
        store: StateStore,
        autostart: Autostart,
        tray_available: bool,
        open_link: Callable[[QUrl], Any] = QDesktopServices.openUrl,
        notifier: Notifier | None = None,
        instance: str | None = None,
        api_port: int | None = None,
        debug: bool = False,
    ) -> None:
        super().__init__()
        self._loader = loader
        self._scanner = scanner
        self._platform = platform
        self._api_port = api_port
        self._debug = debug
        self._checked_by = ""
        self.api: ApiServer | None = None
        self.api_bridge = ApiBridge()
        self._autostart = autostart
        self._interval_minutes = 0
        self._open_link = open_link
        self._tray_available = tray_available
        self._practices: Practices | None = None
        # The window is built when first needed: an idle tray app should not carry it.
        self._window: MainWindow | None = None
        self.tray: Tray | None = None
        if tray_available:
            self.tray = Tray(
                template_icons=platform == "darwin",
                autostart_enabled=self._autostart_enabled,
                snoozed_until=lambda: self.notifications.snoozed_until(),
            )
        self.notifier = notifier or create_notifier(self.tray.icon if self.tray else None, platform)
        self.notifications = NotificationController(self.notifier, store)
        self.scans = ScanCoordinator(scanner, loader)
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.VeryCoarseTimer)
        self.watcher = PracticesWatcher(loader.watched_folders(), loader.watched_files())
        self.server: QLocalServer | None = None
        if instance is not None:
            self._listen(instance)

        self.scans.scan_started.connect(self._on_scan_started)
        self.scans.report_ready.connect(self._on_report_ready)
        self.scans.scan_failed.connect(self._on_scan_failed)
        self.timer.timeout.connect(lambda: self.scans.request_scan("timer"))
        self.watcher.practices_changed.connect(lambda: self.scans.request_scan("policy changed"))
        self.policy_server_updated.connect(self._on_policy_server_updated)
        loader.policy_server.add_listener(self.policy_server_updated.emit)
        self.notifier.clicked.connect(self.show_window)
        self.api_bridge.checked.connect(self._on_api_checked)
        self.api_bridge.page_failed.connect(self._on_api_page_failed)
        if self.tray is not None:
            self.tray.open_requested.connect(self.show_window)
            self.tray.toggle_requested.connect(self.toggle_window)
            self.tray.check_requested.connect(self._on_check_again)
            self.tray.snooze_requested.connect(self.notifications.snooze)
            self.tray.autostart_toggled.connect(self._on_autostart_toggled)
            self.tray.quit_requested.connect(self.quit)
        hints = QGuiApplication.styleHints()
        hints.colorSchemeChanged.connect(self._on_color_scheme_changed)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Show the tray (or the window where there is none) and run the first scan."""
        self._apply_style()
        first = self._loader.load()
        self._apply_practices(first)
        self._start_api()
        if self.tray is not None:
            self.tray.show()
        else:
            # No tray to come back from: the window is the app, closing it quits.
            QApplication.setQuitOnLastWindowClosed(True)
            self.window.show()
        self.scans.request_scan("start")

    def _on_policy_server_updated(self, url: str) -> None:
        log.info("new policy from the policy server %s", url)
        self.scans.request_scan("policy server")

    def quit(self) -> None:
        """Leave the app."""
        QApplication.quit()

    def shutdown(self) -> None:
        """Stop the scan thread and the instance server."""
        self.timer.stop()
        if self.api is not None:
            self.api.stop()
        self.scans.shutdown()
        self.notifier.close()
        if self.server is not None:
            self.server.close()

    # -- window ------------------------------------------------------------------------------

    @property
    def window(self) -> MainWindow:
        """Return the window, building it (with the latest report) on first use."""
        if self._window is None:
            window = MainWindow(self._open_link, quit_on_close=not self._tray_available)
            window.check_again_requested.connect(self._on_check_again)
            if self._practices is not None:
                config = self._practices.config
                window.set_instructions(self._practices.instructions, config.organization)
            window.set_scanning(self.scans.is_scanning())
            report = self.scans.last_report()
            if report is not None:
                window.show_report(report)
            window.set_checked_by(self._checked_by)
            self._window = window
        return self._window

    def show_window(self) -> None:
        """Show the window in front."""
        self.window.bring_to_front()

    def toggle_window(self) -> None:
        """Hide the window if it is shown, else show it."""
        if self._window is not None and self._window.isVisible() and not self._window.isMinimized():
            self._window.hide()
        else:
            self.show_window()

    # -- reactions ---------------------------------------------------------------------------

    def _on_check_again(self) -> None:
        self.scans.request_scan("check again")

    def _on_scan_started(self, reason: str) -> None:
        if self._window is not None:
            self._window.set_scanning(True)
        if self.tray is not None:
            self.tray.set_scanning(True)

    def _on_report_ready(self, report: Report, practices: Practices) -> None:
        self._apply_practices(practices)
        if self._window is not None:
            self._window.set_scanning(self.scans.is_scanning())
            self._window.show_report(report)
        if self.tray is not None:
            self.tray.set_scanning(False)
            self.tray.set_report(report)
        if self.scans.scans_started == 1:
            log.info("first verdict shown: %s", report.status.value)
        self.notifications.on_report(report, practices)
        release_free_memory()

    def _on_scan_failed(self, message: str) -> None:
        log.error("scan failed: %s", message)
        if self._window is not None:
            self._window.set_scanning(False)
        if self.tray is not None:
            self.tray.set_scanning(False)

    def _apply_practices(self, practices: Practices) -> None:
        self._practices = practices
        config = practices.config
        if self._window is not None:
            self._window.set_instructions(practices.instructions, config.organization)
        if self.tray is not None:
            self.tray.set_instructions(practices.instructions)
        if config.scan_interval_minutes != self._interval_minutes:
            self._interval_minutes = config.scan_interval_minutes
            self.timer.start(self._interval_minutes * MINUTE_MS)

    def _autostart_enabled(self) -> bool:
        try:
            return self._autostart.is_enabled()
        except AutostartError as error:
            log.warning("%s", error)
            return False

    def _on_autostart_toggled(self, enabled: bool) -> None:
        try:
            if enabled:
                self._autostart.enable()
            else:
                self._autostart.disable()
        except AutostartError as error:
            log.warning("start at login: %s", error)

    def _apply_style(self) -> None:
        application = QApplication.instance()
        if isinstance(application, QApplication):
            application.setStyleSheet(style_sheet(palette_is_dark()))

    def _on_color_scheme_changed(self, *_: object) -> None:
        self._apply_style()
        if self.tray is not None:
            self.tray.redraw()

    # -- the local API for web apps -----------------------------------------------------------

    def _start_api(self) -> None:
        if self._api_port is None:
            return
        service = ApiService(
            ScannerReportSource(self._scanner, latest=self.scans.last_report),
            self._current_practices,
            network=create_network_reader(self._platform, LocalSystem()),
        )
        server = ApiServer(
            service, port=self._api_port, observer=self.api_bridge, debug=self._debug
        )
        try:
            server.start()
        except ApiServerError as error:
            log.warning("the local API for web apps is off: %s", error)
            return
        self.api = server
        log.info("local API for web apps at %s", server.url)

    def _current_practices(self) -> Practices:
        assert self._practices is not None, "the API starts after the practices are loaded"
        return self._practices

    def _on_api_checked(self, label: str) -> None:
        self._checked_by = label
        if self._window is not None:
            self._window.set_checked_by(label)

    def _on_api_page_failed(self, session_id: str, label: str, report: Report) -> None:
        practices = self._practices
        if practices is None or not practices.config.notifications.enabled:
            return
        if self.notifications.snoozed_until() > time.time():
            return
        strings = practices.instructions
        self.notifier.notify(
            strings.string("pageFailedTitle", label=label),
            strings.string("pageFailedBody", count=len(report.critical())),
        )

    # -- single instance ---------------------------------------------------------------------

    def _listen(self, name: str) -> None:
        QLocalServer.removeServer(name)  # a stale socket from a crashed run
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not self.server.listen(name):
            log.warning("single-instance socket: %s", self.server.errorString())
            return
        self.server.newConnection.connect(self._on_server_new_connection)

    def _on_server_new_connection(self) -> None:
        assert self.server is not None
        while (connection := self.server.nextPendingConnection()) is not None:
            connection.readyRead.connect(self.show_window)
            connection.disconnected.connect(connection.deleteLater)


def run_app(args: argparse.Namespace) -> int:
    """Start the tray app; return its exit code."""
    limit_malloc_arenas()
    configure_logging(bool(getattr(args, "debug", False)))
    QApplication.setApplicationName("Stethoscope")
    QApplication.setDesktopFileName(APP_ID)
    application = QApplication(sys.argv[:1])
    application.setQuitOnLastWindowClosed(False)
    application.setWindowIcon(app_icon())
    name = instance_name()
    if ask_running_instance_to_show(name):
        log.info("already running: asked it to show its window")
        return 0
    platform = current_platform()
    override = getattr(args, "practices", None)
    language = getattr(args, "lang", None) or system_language()
    loader = PracticesLoader(practices_folders(practices_dir(), override), language)
    config = loader.load().config
    choice = getattr(args, "engine", None) or config.engine
    try:
        engine = create_engine(choice, platform, osquery_path=config.osquery_path)
    except EngineUnavailable as error:
        log.warning("cannot use the %s engine (%s); using the built-in engine", choice, error)
        engine = create_engine("embedded", platform)
    scanner = Scanner(
        engine, load_checks(checks_dir()), platform=platform, running_as_admin=running_as_admin()
    )
    store = StateStore(
        Path(platformdirs.user_state_dir("stethoscope", appauthor=False)) / "state.json"
    )
    app = StethoscopeApp(
        loader=loader,
        scanner=scanner,
        platform=platform,
        store=store,
        autostart=create_autostart(platform, app_command()),
        tray_available=QSystemTrayIcon.isSystemTrayAvailable(),
        instance=name,
        api_port=config.api_port,
        debug=bool(getattr(args, "debug", False)),
    )
    app.start()
    try:
        return application.exec()
    finally:
        app.shutdown()
        engine.close()
