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
import os
import signal
import socket
import sys
from collections.abc import Sequence

from PySide6.QtCore import QByteArray, QObject, QProcess, QSocketNotifier, QTimer, Signal

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
from stethoscope_desktop.worker_launch import EarlyWorker, worker_command

__all__ = ["ApiPort", "WorkerLink", "WorkerProcess", "worker_command"]

log = logging.getLogger(__name__)
# How long a worker may take to finish its work and leave when the tray quits.
STOP_TIMEOUT_MS = 5000
# While an adopted early worker closes its pipes and exits: how often to look whether it has.
EXIT_POLL_MS = 20


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


class AdoptedProcess(QObject):
    """A worker started before Qt (`worker_launch.start_worker_early`), read as a QProcess is.

    It offers the part of QProcess's interface `WorkerProcess` uses. Its stdout and stderr are
    read through socket notifiers when data comes; the end of its stdout (its events, a
    descriptor its own children do not inherit) means it is leaving: from then on this looks
    every `EXIT_POLL_MS` whether it has exited, and says `finished`.
    """

    readyReadStandardOutput = Signal()
    readyReadStandardError = Signal()
    finished = Signal(int, QProcess.ExitStatus)
    errorOccurred = Signal(QProcess.ProcessError)  # never: it is running already

    def __init__(self, worker: EarlyWorker, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._worker = worker
        self._stdout = bytearray()
        self._stderr = bytearray()
        self._done = False
        self._notifiers: dict[int, QSocketNotifier] = {}
        for fd, buffer, ready in (
            (worker.stdout, self._stdout, self.readyReadStandardOutput),
            (worker.stderr, self._stderr, self.readyReadStandardError),
        ):
            if sys.platform != "win32":  # started early only where early_start_supported()
                os.set_blocking(fd, False)
            notifier = QSocketNotifier(fd, QSocketNotifier.Type.Read, self)
            notifier.activated.connect(
                lambda *_, fd=fd, buffer=buffer, ready=ready: self._on_readable(fd, buffer, ready)
            )
            self._notifiers[fd] = notifier
        self._exit_poll = QTimer(self)
        self._exit_poll.setInterval(EXIT_POLL_MS)
        self._exit_poll.timeout.connect(self._on_exit_poll)
        self._exit_poll_left = STOP_TIMEOUT_MS // EXIT_POLL_MS

    def processId(self) -> int:
        """Return the worker's process id."""
        return self._worker.pid

    def errorString(self) -> str:
        """Return "" (it started; nothing failed)."""
        return ""

    def write(self, data: bytes) -> int:
        """Write to the worker's stdin; -1 when it is gone (as QProcess says it)."""
        if self._worker.stdin < 0:
            return -1
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._worker.stdin, view) :]
        except OSError:
            return -1
        return len(data)

    def closeWriteChannel(self) -> None:
        """Close the worker's stdin: the end of commands."""
        if self._worker.stdin >= 0:
            os.close(self._worker.stdin)
            self._worker.stdin = -1

    def canReadLine(self) -> bool:
        """Return True when a whole line of stdout waits."""
        return b"\n" in self._stdout

    def readLine(self) -> QByteArray:
        """Return the next line of stdout, with its newline (or what there is)."""
        end = self._stdout.find(b"\n") + 1 or len(self._stdout)
        line = bytes(self._stdout[:end])
        del self._stdout[:end]
        return QByteArray(line)

    def readAllStandardOutput(self) -> QByteArray:
        """Return and forget all of stdout read so far."""
        data = bytes(self._stdout)
        self._stdout.clear()
        return QByteArray(data)

    def readAllStandardError(self) -> QByteArray:
        """Return and forget all of stderr read so far."""
        data = bytes(self._stderr)
        self._stderr.clear()
        return QByteArray(data)

    def waitForFinished(self, msecs: int) -> bool:
        """Wait up to `msecs` for the worker to exit; True (after `finished`) when it did."""
        if self._done:
            return True
        if self._worker.wait(timeout=msecs / 1000) is None:
            return False
        self._finish()
        return True

    def kill(self) -> None:
        """Kill the worker."""
        if sys.platform == "win32":  # started early only where early_start_supported()
            raise NotImplementedError("no early worker on Windows")
        self._worker.send_signal(signal.SIGKILL)

    def _read(self, fd: int, buffer: bytearray) -> bool:
        """Read what waits on `fd` into `buffer`; return False at its end."""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not chunk:
                return False
            buffer += chunk

    def _on_readable(self, fd: int, buffer: bytearray, ready: Signal) -> None:
        before = len(buffer)
        still_open = self._read(fd, buffer)
        if not still_open:
            self._notifiers[fd].setEnabled(False)
        if len(buffer) > before:
            ready.emit()  # type: ignore[attr-defined]
        if not still_open and fd == self._worker.stdout:
            self._exit_poll.start()

    def _on_exit_poll(self) -> None:
        if self._worker.poll() is not None:
            self._finish()
            return
        self._exit_poll_left -= 1
        if self._exit_poll_left <= 0:
            log.warning("the scan worker closed its events but did not exit: stopping it")
            self.kill()

    def _finish(self) -> None:
        """Read what is left, close the pipes and say `finished` (once)."""
        if self._done:
            return
        self._done = True
        self._exit_poll.stop()
        for fd, notifier in self._notifiers.items():
            notifier.setEnabled(False)
            self._read(fd, self._stdout if fd == self._worker.stdout else self._stderr)
        code = self._worker.wait(timeout=STOP_TIMEOUT_MS / 1000)
        self._worker.close_pipes()
        crashed = code is None or code < 0  # ended by a signal
        status = QProcess.ExitStatus.CrashExit if crashed else QProcess.ExitStatus.NormalExit
        self.finished.emit(0 if code is None or crashed else code, status)


class WorkerProcess(WorkerLink):
    """The scan worker as a child process of the tray.

    `early`: a worker `worker_launch.start_worker_early` started before the tray, adopted as the
    running one; the next ones start through QProcess.
    """

    def __init__(self, command: Sequence[str], *, early: EarlyWorker | None = None) -> None:
        super().__init__()
        self._command = list(command)
        self._sockets: list[socket.socket] = []
        self._process: QProcess | AdoptedProcess | None = None
        self._serves_api = False
        self._stderr_rest = b""
        if early is not None:
            self._adopt(AdoptedProcess(early, self))

    def _adopt(self, process: QProcess | AdoptedProcess) -> None:
        process.readyReadStandardOutput.connect(self._on_stdout)
        process.readyReadStandardError.connect(self._on_stderr)
        process.finished.connect(self._on_finished)
        process.errorOccurred.connect(self._on_error)
        self._process = process
        if isinstance(process, AdoptedProcess):
            self._serves_api = False
            log.info("scan worker started before the tray (process %d)", process.processId())

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
        self._adopt(process)
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
