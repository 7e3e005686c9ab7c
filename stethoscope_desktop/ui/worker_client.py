"""The tray's side of the scan worker: the worker process, and the API port the tray holds.

`WorkerProcess` starts `stethoscope-desktop worker` when a command needs it, writes commands to
its stdin and turns the lines of its stdout into `event_received` signals (its stderr goes into
the tray's log); `stethoscope_desktop.core.protocol` defines both. `WorkerLink` is what the rest
of the tray relies on, so tests can put a worker in a thread in its place.

`ApiPort` binds the local API's port for the whole session, so that web pages always find it,
and says when a connection waits there while no worker serves it; the app then starts one, which
inherits the listening sockets and answers (socket activation, as inetd and systemd do it).
"""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QSocketNotifier, Signal

from stethoscope_desktop.api.listen import ApiServerError, bind_loopback, close_all
from stethoscope_desktop.core.protocol import (
    Command,
    Event,
    ProtocolError,
    Sockets,
    VersionMismatch,
    decode,
    encode,
)

log = logging.getLogger(__name__)
# The folder that holds the `stethoscope_desktop` package (a checkout, site-packages, the .deb's
# library folder), and how the worker starts from it: that folder first on the path, its .pth
# files read (`site.addsitedir`, as the .deb's launcher does), then the command line.
PACKAGE_HOME = Path(__file__).resolve().parents[2]
_WORKER_MAIN = (
    "import site, sys; sys.path.insert(0, sys.argv.pop(1)); site.addsitedir(sys.path[0]); "
    "from stethoscope_desktop.cli import main; sys.exit(main())"
)
# The frozen Windows bundle's console program (packaging/stethoscope-desktop.spec).
WINDOWS_CONSOLE_PROGRAM = "stethoscope-desktop-cli.exe"
# How long a worker may take to finish its work and leave when the tray quits.
STOP_TIMEOUT_MS = 5000


def worker_command(options: Sequence[str] = ()) -> list[str]:
    """Return the command line of the scan worker for this installation (`options` appended).

    A frozen bundle is its own executable. Otherwise the worker runs on this interpreter, with
    the interpreter flags the app was started with (the .deb's launcher uses -I -S -B) and the
    folder that holds this package first on its path, so it finds the same code however the app
    was started: a checkout, a virtualenv, or the .deb's private library folder.
    """
    if getattr(sys, "frozen", False):
        # On Windows the bundle's main program is windowed (no stdin or stdout of its own); its
        # console sibling speaks the worker's protocol over the pipes.
        console = Path(sys.executable).with_name(WINDOWS_CONSOLE_PROGRAM)
        program = str(console) if sys.platform == "win32" and console.is_file() else sys.executable
        return [program, "worker", *options]
    flags = [
        flag
        for flag, on in (
            ("-I", sys.flags.isolated),
            ("-S", sys.flags.no_site),
            ("-B", sys.flags.dont_write_bytecode),
        )
        if on
    ]
    return [sys.executable, *flags, "-c", _WORKER_MAIN, str(PACKAGE_HOME), "worker", *options]


class WorkerLink(QObject):
    """A scan worker as the tray uses it: commands in, events out, started when needed."""

    event_received = Signal(object)  # an Event
    # A line of the worker's that is no event of this protocol: the ProtocolError (logged).
    line_refused = Signal(object)
    # The worker could not be started: why (`stopped` with -1 follows).
    start_failed = Signal(str)
    # The worker ended: its exit code (-1 when it crashed or could not start).
    stopped = Signal(int)

    def send(self, command: Command) -> None:
        """Send a command, starting the worker first when none runs."""
        raise NotImplementedError

    def receive(self, line: str | bytes) -> None:
        """Read a line the worker wrote: an event, or a line to log and refuse."""
        try:
            event = decode(line, Event)
        except ProtocolError as error:
            level = logging.ERROR if isinstance(error, VersionMismatch) else logging.WARNING
            log.log(level, "scan worker: refusing a line: %s", error)
            self.line_refused.emit(error)
            return
        self.event_received.emit(event)

    def start(self) -> None:
        """Start the worker if none runs."""
        raise NotImplementedError

    def is_running(self) -> bool:
        """Return True while a worker runs."""
        raise NotImplementedError

    def serves_api(self) -> bool:
        """Return True when the running worker serves the API sockets."""
        raise NotImplementedError

    def set_api_sockets(self, sockets: list[socket.socket]) -> None:
        """Hand these listening sockets to the workers started from now on."""
        raise NotImplementedError

    def stop(self) -> None:
        """Ask the worker to leave and wait for it (killed if it does not)."""
        raise NotImplementedError


class WorkerProcess(WorkerLink):
    """The scan worker as a child process of the tray."""

    def __init__(self, command: Sequence[str]) -> None:
        super().__init__()
        self._command = list(command)
        self._sockets: list[socket.socket] = []
        self._process: QProcess | None = None
        self._serves_api = False
        self._stderr_rest = b""

    def is_running(self) -> bool:
        """Return True while a worker runs."""
        return self._process is not None

    def serves_api(self) -> bool:
        """Return True when the running worker serves the API sockets."""
        return self._process is not None and self._serves_api

    def set_api_sockets(self, sockets: list[socket.socket]) -> None:
        """Hand these listening sockets to the workers started from now on."""
        self._sockets = list(sockets)

    def send(self, command: Command) -> None:
        """Send a command, starting the worker first when none runs."""
        self.start()
        assert self._process is not None
        self._process.write(encode(command).encode("utf-8"))

    def start(self) -> None:
        """Start the worker if none runs; it serves the API sockets set at this moment."""
        if self._process is not None:
            return
        process = QProcess(self)
        process.setProgram(self._command[0])
        arguments = self._command[1:]
        sockets = list(self._sockets)
        shared = sys.platform == "win32" and bool(sockets)
        if shared:
            arguments.append("--api-shared")
        else:
            arguments += [item for s in sockets for item in ("--api-fd", str(s.fileno()))]
        process.setArguments(arguments)
        process.readyReadStandardOutput.connect(self._on_stdout)
        process.readyReadStandardError.connect(self._on_stderr)
        process.finished.connect(self._on_finished)
        process.errorOccurred.connect(self._on_error)
        self._process = process
        self._serves_api = bool(sockets)
        # The child inherits the sockets (POSIX); they go back to not being inherited at once,
        # so that nothing else the tray starts (a browser for a link) holds the port.
        inherit = [] if shared else sockets
        for listening in inherit:
            listening.set_inheritable(True)
        try:
            process.start()
        finally:
            for listening in inherit:
                listening.set_inheritable(False)
        if shared and process.waitForStarted():
            pid = int(process.processId())
            handed = tuple(s.share(pid) for s in sockets)  # type: ignore[attr-defined, unused-ignore]
            process.write(encode(Sockets(handed)).encode("utf-8"))
        log.info("scan worker started%s", " (serving the local API)" if sockets else "")

    def stop(self) -> None:
        """Ask the worker to leave and wait for it (killed if it does not)."""
        process = self._process
        if process is None:
            return
        process.closeWriteChannel()  # the end of stdin: the worker leaves after its work
        if not process.waitForFinished(STOP_TIMEOUT_MS):
            log.warning("the scan worker did not leave in time: stopping it")
            process.kill()
            process.waitForFinished(STOP_TIMEOUT_MS)

    def _on_stdout(self) -> None:
        process = self._process  # the one running: a finished one was read to its end
        if process is None:
            return
        while process.canReadLine():
            self._event(bytes(process.readLine().data()))

    def _event(self, line: bytes) -> None:
        if line.strip():
            self.receive(line)

    def _on_stderr(self) -> None:
        process = self._process
        if process is None:
            return
        # readLine() and canReadLine() read the current channel, stdout: take stderr whole and
        # keep a line that has not ended yet for the next read.
        data = self._stderr_rest + bytes(process.readAllStandardError().data())
        complete, _, self._stderr_rest = data.rpartition(b"\n")
        self._log_stderr(complete)

    def _log_stderr(self, data: bytes) -> None:
        for line in data.decode("utf-8", "replace").splitlines():
            if line.strip():
                log.info("worker: %s", line.rstrip())

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self._process is not None:
            reason = self._process.errorString()
            log.error("cannot start the scan worker %s: %s", self._command, reason)
            self.start_failed.emit(reason)
            self._ended(-1)

    def _on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        process = self._process
        if process is None:
            return
        for line in bytes(process.readAllStandardOutput().data()).splitlines():
            self._event(line)  # the last events may come with the end
        self._log_stderr(self._stderr_rest + bytes(process.readAllStandardError().data()))
        self._stderr_rest = b""
        crashed = status == QProcess.ExitStatus.CrashExit
        log.log(
            logging.WARNING if crashed or code else logging.INFO,
            "scan worker ended (%s)",
            "crashed" if crashed else f"exit code {code}",
        )
        self._ended(-1 if crashed else code)

    def _ended(self, code: int) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        self._serves_api = False
        process.deleteLater()
        self.stopped.emit(code)


class ApiPort(QObject):
    """The local API's listening sockets, held by the tray; says when a connection waits."""

    connection_waiting = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.sockets: list[socket.socket] = []
        self.port: int | None = None
        self._notifiers: list[QSocketNotifier] = []

    def bind(self, port: int) -> bool:
        """Listen on `port`, replacing the sockets held; False, logged, if it cannot."""
        self.close()
        try:
            self.sockets = bind_loopback(port)
        except ApiServerError as error:
            log.warning("the local API for web apps is off: %s", error)
            return False
        self.port = int(self.sockets[0].getsockname()[1])
        for listening in self.sockets:
            notifier = QSocketNotifier(listening.fileno(), QSocketNotifier.Type.Read, self)
            notifier.activated.connect(self._on_activated)
            self._notifiers.append(notifier)
        log.info("local API for web apps on port %d", self.port)
        return True

    def watch(self, enabled: bool) -> None:
        """Watch for waiting connections (while no worker serves the sockets) or not."""
        for notifier in self._notifiers:
            notifier.setEnabled(enabled)

    def close(self) -> None:
        """Stop listening."""
        for notifier in self._notifiers:
            notifier.setEnabled(False)
            notifier.deleteLater()
        self._notifiers = []
        close_all(self.sockets)
        self.sockets = []
        self.port = None

    def _on_activated(self, *_: object) -> None:
        # Level-triggered: stop watching until a worker has taken the connection.
        self.watch(False)
        self.connection_waiting.emit()
