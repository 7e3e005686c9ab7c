"""Hand-written fakes for the UI tests.

A notifier that records, an autostart in memory, and the scan worker in a thread.
"""

from __future__ import annotations

import queue
import socket
import threading

from PySide6.QtCore import Qt, Signal

from stethoscope_desktop.api.server import ApiServer
from stethoscope_desktop.autostart import Autostart
from stethoscope_desktop.core.practices import PracticesLoader
from stethoscope_desktop.core.protocol import (
    DEFAULT_IDLE_SECONDS,
    Command,
    Event,
    decode,
    encode,
)
from stethoscope_desktop.core.scanner import Scanner
from stethoscope_desktop.ui.notifier import Notifier
from stethoscope_desktop.ui.worker_client import WorkerLink
from stethoscope_desktop.worker import Received, WorkerSession, serve_api, serve_commands


class RecordingNotifier(Notifier):
    """Remembers every notification instead of showing it."""

    def __init__(self) -> None:
        super().__init__()
        self.shown: list[tuple[str, str]] = []

    def notify(self, title: str, body: str) -> bool:
        self.shown.append((title, body))
        return True


class MemoryAutostart(Autostart):
    """Start at login, remembered in memory."""

    def __init__(self) -> None:
        self.enabled = False

    def is_enabled(self) -> bool:
        return self.enabled

    def enable(self) -> None:
        self.enabled = True

    def disable(self) -> None:
        self.enabled = False

    @property
    def description(self) -> str:
        return "in memory"


class ThreadWorker(WorkerLink):
    """The scan worker in a thread of the test process instead of a child process.

    It runs the real `WorkerSession` (on the scanner a test gives it, canned tables for one) and,
    when the app handed it the API's sockets, the real API server on copies of them, as the worker
    process does. Commands and events cross as the protocol's lines, as over the pipe; events
    reach the UI thread by a queued signal.
    """

    _from_thread = Signal(str)
    _ended = Signal(int)

    def __init__(
        self, loader: PracticesLoader, scanner: Scanner, idle_seconds: float = DEFAULT_IDLE_SECONDS
    ) -> None:
        super().__init__()
        self._loader = loader
        self._scanner = scanner
        self._idle_seconds = idle_seconds
        self._sockets: list[socket.socket] = []
        self._thread: threading.Thread | None = None
        self._commands: queue.Queue[Received] = queue.Queue()
        self._server: ApiServer | None = None
        self._session: WorkerSession | None = None
        self._serving_api = False
        self.starts = 0
        loader.policy_server.add_listener(self._on_policy_server)
        self._from_thread.connect(self.receive, Qt.ConnectionType.QueuedConnection)
        self._ended.connect(self._on_ended, Qt.ConnectionType.QueuedConnection)

    def is_running(self) -> bool:
        return self._thread is not None

    def serves_api(self) -> bool:
        return self._thread is not None and self._serving_api

    def set_api_sockets(self, sockets: list[socket.socket]) -> None:
        self._sockets = list(sockets)

    def send(self, command: Command) -> None:
        self.start()
        self._commands.put(decode(encode(command), Command))

    def start(self) -> None:
        if self._thread is not None:
            return
        self.starts += 1
        self._commands = queue.Queue()

        def emit(event: Event) -> None:
            self._from_thread.emit(encode(event))

        session = WorkerSession(self._loader, self._scanner, emit)
        self._session = session
        self._serving_api = bool(self._sockets)
        if self._sockets:
            copies = [listening.dup() for listening in self._sockets]
            self._server = serve_api(session, self._scanner, copies, debug=False)
        commands = self._commands

        def run() -> None:
            busy = lambda: self._server is not None and self._server.busy()  # noqa: E731
            serve_commands(session, commands, idle_seconds=self._idle_seconds, busy=busy)
            if self._server is not None:
                self._server.stop()
            self._ended.emit(0)

        self._thread = threading.Thread(target=run, name="thread-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        thread = self._thread
        if thread is None:
            return
        self._commands.put(None)
        thread.join(10)
        self._on_ended(0)

    def _on_policy_server(self, url: str) -> None:
        if self._session is not None:
            self._session.on_policy_server(url)

    def _on_ended(self, code: int) -> None:
        thread, self._thread = self._thread, None
        self._server = None
        if thread is not None:
            thread.join(10)
            self.stopped.emit(code)
