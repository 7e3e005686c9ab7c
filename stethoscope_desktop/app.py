"""The tray process's composition root: builds the tray app from its UI parts and connects them.

Nothing else creates long-lived objects or connects signals across parts; collaborators are
passed in through constructors, so tests build the same app with fakes (a worker in a thread).
Scanning, the practices and the local API's answers live in the scan worker process
(`stethoscope_desktop.worker`, its own composition root); this process imports none of that code.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs
from PySide6.QtCore import QObject, Qt, QTimer, QUrl, qVersion
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from stethoscope_desktop import __version__
from stethoscope_desktop.autostart import (
    Autostart,
    AutostartError,
    app_command,
    create_autostart,
)
from stethoscope_desktop.core.debug_info import debug_info
from stethoscope_desktop.core.platforms import current_platform
from stethoscope_desktop.core.protocol import (
    DEFAULT_SCAN_INTERVAL_MINUTES,
    ApiChecked,
    Event,
    Exit,
    PageFailed,
    PolicyServerChanged,
    Refused,
    ScanResult,
)
from stethoscope_desktop.core.state import StateStore
from stethoscope_desktop.core.strings import ENGLISH
from stethoscope_desktop.logsetup import configure_logging
from stethoscope_desktop.memory import limit_malloc_arenas, release_free_memory
from stethoscope_desktop.ui.icons import app_icon
from stethoscope_desktop.ui.notifications import NotificationController
from stethoscope_desktop.ui.notifier import Notifier, create_notifier
from stethoscope_desktop.ui.pixmap_cache import PixmapCacheWhileShown
from stethoscope_desktop.ui.scanning import PracticesWatcher, ScanCoordinator, ScanFailure
from stethoscope_desktop.ui.single_instance import (
    InstanceServer,
    ask_running_instance_to_show,
    create_instance_server,
)
from stethoscope_desktop.ui.theme import palette_is_dark, style_sheet
from stethoscope_desktop.ui.tray import Tray
from stethoscope_desktop.ui.worker_client import ApiPort, WorkerLink, WorkerProcess
from stethoscope_desktop.worker_launch import (
    EarlyWorker,
    stop_early_worker,
    worker_command,
    worker_options,
)

if TYPE_CHECKING:
    from stethoscope_desktop.ui.tray_host_watch import TrayHostWatch
    from stethoscope_desktop.ui.window import MainWindow

log = logging.getLogger(__name__)
APP_ID = "stethoscope-desktop"
MINUTE_MS = 60_000
# After a worker that served the API crashed, wait this long before starting another for a
# connection that still waits (a broken installation must not start workers in a loop).
API_RESTART_DELAY_MS = 5000
# The state file remembers the API port of the last report, to listen on it from the start.
API_PORT_KEY = "api_port"


def instance_name(env: Mapping[str, str] | None = None) -> str:
    """Return the name of the single-instance socket: one instance per user and display."""
    environment = os.environ if env is None else env
    # Not getpass.getuser(): the same answer, without loading termios and pwd into the tray.
    user = next(
        (
            environment[key]
            for key in ("LOGNAME", "USER", "LNAME", "USERNAME")
            if environment.get(key)
        ),
        str(os.getuid()) if hasattr(os, "getuid") else "user",
    )
    display = environment.get("WAYLAND_DISPLAY") or environment.get("DISPLAY") or ""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{APP_ID}-{user}-{display}".rstrip("-"))


class StethoscopeApp(QObject):
    """The running tray app: window, tray, scans on triggers, notifications, the API's port."""

    def __init__(
        self,
        *,
        worker: WorkerLink,
        platform: str,
        store: StateStore,
        autostart: Autostart,
        tray_available: bool,
        open_link: Callable[[QUrl], Any] = QDesktopServices.openUrl,
        notifier: Notifier | None = None,
        instance: str | None = None,
        instance_server: InstanceServer | None = None,
        api: bool = True,
        api_port: int | None = None,
    ) -> None:
        """Wire the app; `start` shows it.

        `api`: hold the local API's port for web apps (the port from config.yaml, or
        `api_port` when given: 0 picks a free one). `instance`: listen for later starts under
        this name; or `instance_server`, already listening (what `run_app` passes).
        """
        super().__init__()
        self._worker = worker
        self._platform = platform
        self._store = store
        self._api_port_override = api_port
        self._checked_by = ""
        self.api: ApiPort | None = ApiPort() if api else None
        self._autostart = autostart
        self._interval_minutes = 0
        self._open_link = open_link
        self._tray_available = tray_available
        # The window is built when first needed: an idle tray app should not carry it.
        self._window: MainWindow | None = None
        # Qt's pixmap cache wakes the process every 10-30 s while it holds anything: on only
        # while the window shows.
        self.pixmap_cache = PixmapCacheWhileShown()
        self.tray: Tray | None = None
        if tray_available:
            self.tray = Tray(
                template_icons=platform == "darwin",
                autostart_enabled=self._autostart_enabled,
                snoozed_until=lambda: self.notifications.snoozed_until(),
                autostart_supported=self._autostart.supported,
            )
        self.notifier = notifier or create_notifier(self.tray.icon if self.tray else None, platform)
        self.notifications = NotificationController(self.notifier, store)
        self.scans = ScanCoordinator(worker)
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.VeryCoarseTimer)
        self.watcher = PracticesWatcher()
        self.tray_host_watch: TrayHostWatch | None = None
        self.server: InstanceServer | None = None
        if instance_server is not None:
            self._serve(instance_server)
        elif instance is not None:
            self._listen(instance)

        self.scans.scan_started.connect(self._on_scan_started)
        self.scans.report_ready.connect(self._on_report_ready)
        self.scans.scan_failed.connect(self._on_scan_failed)
        self.timer.timeout.connect(lambda: self.scans.request_scan("timer"))
        self.watcher.practices_changed.connect(lambda: self.scans.request_scan("policy changed"))
        worker.event_received.connect(self._on_worker_event_received)
        worker.stopped.connect(self._on_worker_stopped)
        if self.api is not None:
            self.api.connection_waiting.connect(self._on_api_connection_waiting)
        self.notifier.clicked.connect(self.show_window)
        self.notifier.snooze_requested.connect(self.notifications.snooze_findings)
        if self.tray is not None:
            self.tray.open_requested.connect(self.show_window)
            self.tray.toggle_requested.connect(self.toggle_window)
            self.tray.check_requested.connect(self._on_check_again)
            self.tray.snooze_requested.connect(self.notifications.snooze)
            self.tray.autostart_toggled.connect(self._on_autostart_toggled)
            self.tray.link_requested.connect(self._on_link_requested)
            self.tray.copy_debug_info_requested.connect(self._on_tray_copy_debug_info)
            self.tray.quit_requested.connect(self.quit)
        hints = QGuiApplication.styleHints()
        hints.colorSchemeChanged.connect(self._on_color_scheme_changed)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Show the tray (or the window where there is none) and run the first scan.

        A worker that runs already (started before the tray) gets the first scan before the
        API's port is bound: it has no API sockets, and binding them asks it to leave, which
        it then does after that scan.
        """
        started_early = self._worker.is_running()
        if started_early:
            self.scans.request_scan("start")
        self._bind_api(self._remembered_api_port())
        if self.tray is not None:
            self.tray.show()
            self._watch_tray_host(self.tray)
        else:
            # No tray to come back from: the window is the app, closing it quits.
            QApplication.setQuitOnLastWindowClosed(True)
            self.window.show()
        # The timer runs before the first report too, so a first scan that fails is tried again;
        # each report sets the interval IT's config asks for.
        self._scan_every(DEFAULT_SCAN_INTERVAL_MINUTES)
        if not started_early:
            self.scans.request_scan("start")

    def _scan_every(self, minutes: int) -> None:
        if minutes != self._interval_minutes or not self.timer.isActive():
            self._interval_minutes = minutes
            self.timer.start(minutes * MINUTE_MS)

    def quit(self) -> None:
        """Leave the app."""
        QApplication.quit()

    def shutdown(self) -> None:
        """Stop the worker, close the API's port and the instance server."""
        self.timer.stop()
        self._worker.stop()
        if self.api is not None:
            self.api.close()
        self.notifier.close()
        if self.tray_host_watch is not None:
            self.tray_host_watch.close()
        if self.server is not None:
            self.server.close()

    def _watch_tray_host(self, tray: Tray) -> None:
        """On Linux, put the icon back when the desktop's tray host restarts without it."""
        if self._platform != "linux":
            return
        from stethoscope_desktop.ui.tray_host_watch import TrayHostWatch

        self.tray_host_watch = TrayHostWatch.start()
        if self.tray_host_watch is not None:
            self.tray_host_watch.reregister_needed.connect(tray.show_again)

    # -- window ------------------------------------------------------------------------------

    @property
    def window(self) -> MainWindow:
        """Return the window, building it (with the latest report) on first use."""
        if self._window is None:
            from stethoscope_desktop.ui.window import MainWindow

            # The app icon (up to 512 pixels) is drawn only now: the idle tray does not need it.
            QApplication.setWindowIcon(app_icon())
            window = MainWindow(self._open_link, quit_on_close=not self._tray_available)
            window.check_again_requested.connect(self._on_check_again)
            window.copy_debug_info_requested.connect(self.copy_debug_info)
            window.set_scanning(self.scans.is_scanning())
            result = self.scans.last_result()
            if result is not None:
                window.set_instructions(result.strings, result.report.organization)
                window.set_support(result.settings.support)
                window.show_report(result.report)
            window.show_failure(self.scans.last_failure())
            window.set_checked_by(self._checked_by)
            self._window = window
            self.pixmap_cache.watch(window)
            self._show_device_key()
            self._apply_style()
        return self._window

    def _show_device_key(self) -> None:
        """Show the device key's thumbprint in the window's About line.

        Read from the public part the worker (or device-key) keeps beside the key: the tray
        loads no cryptography. Read again after each scan: the key may be new since.
        """
        from stethoscope_desktop.device_trust.public_key import read_public_key_info

        info = read_public_key_info()
        if self._window is not None:
            self._window.set_device_key(info.kid if info else None, info.protection if info else "")

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

    def _on_report_ready(self, result: ScanResult) -> None:
        report, settings = result.report, result.settings
        if self._window is not None:
            self._window.set_instructions(result.strings, report.organization)
            self._window.set_support(settings.support)
            self._window.set_scanning(self.scans.is_scanning())
            self._window.show_report(report)
            self._show_device_key()
        if self.tray is not None:
            self.tray.set_instructions(result.strings)
            self.tray.set_support(settings.support)
            self.tray.set_scanning(False)
            self.tray.set_report(report)
        if self.scans.scans_started == 1:
            log.info("first verdict shown: %s", report.status.value)
        self._scan_every(settings.scan_interval_minutes)
        self.watcher.set_paths(
            [Path(p) for p in settings.watch_folders], [Path(p) for p in settings.watch_files]
        )
        self._bind_api(settings.api_port)
        self.notifications.on_report(report, settings.notifications, result.strings)
        release_free_memory()

    def _on_scan_failed(self, failure: ScanFailure) -> None:
        log.error("scan failed: %s", failure.detail)
        if self._window is not None:
            self._window.set_scanning(False)
            self._window.show_failure(failure)
        if self.tray is not None:
            self.tray.set_scanning(False)
            self.tray.set_failure(failure)
        release_free_memory()

    def _on_worker_event_received(self, event: Event) -> None:
        if isinstance(event, ApiChecked):
            self._on_api_checked(event.label)
        elif isinstance(event, PageFailed):
            self._on_api_page_failed(event.label, event.critical)
        elif isinstance(event, PolicyServerChanged):
            log.info("new policy from the policy server %s", event.url)
            self.scans.request_scan("policy server")
        elif isinstance(event, Refused):
            log.error("the scan worker refused a command: %s", event.problem)

    # -- help ---------------------------------------------------------------------------------

    def debug_info(self) -> str:
        """Return the debug info text of the last report (or of none yet)."""
        failure = self.scans.last_failure()
        return debug_info(
            self.scans.last_result(),
            app_version=__version__,
            runtime=runtime_versions(),
            now=datetime.now().astimezone(),
            failure=failure.detail if failure is not None else "",
        )

    def copy_debug_info(self) -> None:
        """Put the debug info on the clipboard, and say so in the window if it is built."""
        QGuiApplication.clipboard().setText(self.debug_info())
        log.info("debug info copied to the clipboard")
        if self._window is not None:
            self._window.show_debug_info_copied()

    def _on_tray_copy_debug_info(self) -> None:
        # From the tray the person sees no window: a notification says it is done.
        self.copy_debug_info()
        last = self.scans.last_result()
        strings = last.strings if last is not None else ENGLISH
        self.notifier.notify(
            strings.string("debugInfoCopied"), strings.string("debugInfoCopiedBody")
        )

    def _on_link_requested(self, url: str) -> None:
        self._open_link(QUrl(url))

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
        # The style sheet is the window's alone (the tray's menu keeps the system's style), so
        # an idle tray whose window was never opened does not carry it.
        if self._window is not None:
            self._window.setStyleSheet(style_sheet(palette_is_dark()))

    def _on_color_scheme_changed(self, *_: object) -> None:
        self._apply_style()
        if self.tray is not None:
            self.tray.redraw()

    # -- the local API for web apps: its port here, its answers in the worker -----------------

    def _remembered_api_port(self) -> int | None:
        port = self._store.load().get(API_PORT_KEY)
        return port if isinstance(port, int) and 0 < port < 65536 else None

    def _bind_api(self, configured: int | None) -> None:
        """Listen on the API's port; a worker without the sockets leaves, to be started anew."""
        api = self.api
        port = configured if self._api_port_override is None else self._api_port_override
        if api is None or port is None:
            return
        if api.port is not None and port in (0, api.port):
            return
        if not api.bind(port):
            return
        if self._api_port_override is None:
            self._store.update({API_PORT_KEY: api.port})
        self._worker.set_api_sockets(api.sockets)
        if self._worker.is_running():
            # It cannot take the new sockets: let it finish its work and leave.
            self._worker.send(Exit())
        api.watch(True)

    def _on_api_connection_waiting(self) -> None:
        if self._worker.serves_api():
            return
        if self._worker.is_running():
            self._worker.send(Exit())  # started without the sockets: make way
        else:
            self._worker.start()

    def _on_worker_stopped(self, code: int) -> None:
        api = self.api
        if api is None or not api.sockets:
            return
        if code == 0:
            api.watch(True)
        else:
            QTimer.singleShot(
                API_RESTART_DELAY_MS, lambda: api.watch(not self._worker.serves_api())
            )

    def _on_api_checked(self, label: str) -> None:
        self._checked_by = label
        if self._window is not None:
            self._window.set_checked_by(label)

    def _on_api_page_failed(self, label: str, critical: int) -> None:
        last = self.scans.last_result()
        if last is not None and not last.settings.notifications.enabled:
            return
        if self.notifications.snoozed_until() > time.time():
            return
        strings = last.strings if last is not None else ENGLISH
        self.notifier.notify(
            strings.string("pageFailedTitle", label=label),
            strings.plural("pageFailedFound", critical),
        )

    # -- single instance ---------------------------------------------------------------------

    def _listen(self, name: str) -> None:
        server = create_instance_server(name)
        if server.listen():
            self._serve(server)

    def _serve(self, server: InstanceServer) -> None:
        server.show_requested.connect(self.show_window)
        self.server = server


def runtime_versions() -> dict[str, str]:
    """Return the tray's Python and Qt versions and the system, for the debug info."""
    import platform  # only when asked: the idle tray does not need it

    import PySide6

    return {
        "Python": platform.python_version(),
        "Qt": qVersion(),
        "PySide6": PySide6.__version__,
        "system": platform.platform(),
    }


def run_app(args: argparse.Namespace, early_worker: EarlyWorker | None = None) -> int:
    """Start the tray app; return its exit code.

    `early_worker`: the scan worker `worker_launch.start_worker_early` started before Qt loaded,
    which this adopts (or ends, when another instance runs).
    """
    limit_malloc_arenas()
    # What loading the modules left (argparse's patterns, garbage of the imports) is freed
    # before the UI is built, so the UI reuses that memory instead of growing the heap: about
    # 1 MiB less at idle, measured.
    release_free_memory()
    configure_logging(bool(getattr(args, "debug", False)))
    QApplication.setApplicationName("Stethoscope")
    QApplication.setDesktopFileName(APP_ID)
    application = QApplication(sys.argv[:1])
    application.setQuitOnLastWindowClosed(False)
    name = instance_name()
    # Listening decides, under the instance lock, whether this start is the instance: one that
    # finds another alive (however busy) asks it to show and leaves, never taking its place.
    server = create_instance_server(name)
    listening = server.listen()
    if not listening and server.held_elsewhere:
        if early_worker is not None:
            stop_early_worker(early_worker)
        ask_running_instance_to_show(name)
        log.info("already running: asked it to show its window")
        return 0
    platform = current_platform()
    store = StateStore(
        Path(platformdirs.user_state_dir("stethoscope", appauthor=False)) / "state.json"
    )
    store.remove_stale_temporaries()  # left by a save killed mid-write
    autostart = create_autostart(platform, app_command())
    autostart.remove_stale_temporaries()  # left by a switch killed mid-write
    app = StethoscopeApp(
        worker=WorkerProcess(worker_command(worker_options(args)), early=early_worker),
        platform=platform,
        store=store,
        autostart=autostart,
        tray_available=QSystemTrayIcon.isSystemTrayAvailable(),
        instance_server=server if listening else None,  # else logged: run without it
    )
    app.start()
    try:
        return application.exec()
    finally:
        app.shutdown()
