"""The scan worker: the process that loads the practices, scans, and answers web apps.

The tray app stays near the size of a bare PySide6 tray app by leaving everything heavy to this
process: YAML and the policy code, the engines and their tables, osqueryd, GraphQL. The tray
starts it when there is work — a scan is due, or a web page connected to the API port the tray
holds — and it leaves after `idle_seconds` without work, closing its engine (and an osqueryd it
started). Nothing here imports Qt.

The tray talks to it in JSON lines: commands on stdin, events on stdout, as
`stethoscope_desktop.core.protocol` defines them. The end of stdin (the tray is gone) makes the
worker leave. Log records go to stderr, which the tray copies into its own log.
"""

from __future__ import annotations

import argparse
import logging
import os
import queue
import select
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

from stethoscope_desktop.core.practices import Practices, PracticesLoader
from stethoscope_desktop.core.protocol import (
    DEFAULT_IDLE_SECONDS,
    ApiChecked,
    Command,
    Event,
    Exit,
    LineReader,
    LineTooLong,
    PageFailed,
    PolicyServerChanged,
    ProtocolError,
    Refused,
    Scan,
    ScanFailed,
    ScanReported,
    ScanResult,
    Sockets,
    TraySettings,
    VersionMismatch,
    decode,
    encode,
)
from stethoscope_desktop.core.report import Report
from stethoscope_desktop.core.report_store import save_last_report
from stethoscope_desktop.core.scanner import Scanner
from stethoscope_desktop.core.support import Support
from stethoscope_desktop.memory import return_freed_heap

if TYPE_CHECKING:
    from stethoscope_desktop.api.attest import DeviceTrust
    from stethoscope_desktop.api.server import ApiServer
    from stethoscope_desktop.device_trust.enroll import Enroller

log = logging.getLogger(__name__)

Emit = Callable[[Event], None]
# What the command reader hands the session: a command, a command of another protocol version
# (answered with `Refused`), or None at the end of stdin.
Received = Command | VersionMismatch | None


class WorkerSession:
    """Answers the tray's commands and reports the API's events.

    No process, thread or I/O of its own, so tests drive it directly.
    """

    def __init__(
        self,
        loader: PracticesLoader,
        scanner: Scanner,
        emit: Emit,
        *,
        clock: Callable[[], float] = time.monotonic,
        fresh: Practices | None = None,
        after_scan: Callable[[Practices, Report], None] | None = None,
        save_report: Callable[[Report], object] | None = None,
    ) -> None:
        """Answer the tray's commands with `scanner`, telling events to `emit`.

        `fresh`: practices loaded after the first command came (see `scan`). `after_scan` hears
        each report after it went to the tray (the enrollment's). `save_report` writes each report
        where IT's osquery extension reads it (`core.report_store.save_last_report`).
        """
        self._save_report = save_report
        self._after_scan = after_scan
        self._loader = loader
        self._scanner = scanner
        self._emit = emit
        self._clock = clock
        self._lock = threading.Lock()
        self._fresh = fresh
        self._practices: Practices | None = None
        self._latest: Report | None = None
        self.last_activity = clock()

    def handle(self, command: Command | VersionMismatch) -> bool:
        """Carry out one command; return False when the worker should leave.

        A command of another protocol version is answered with `Refused`, a line of this one,
        so that the tray learns at once that it speaks to other code.
        """
        self.touch()
        if not isinstance(command, Scan):
            self._fresh = None  # only a first command that scans takes them
        if isinstance(command, VersionMismatch):
            log.error("refusing a command of %s", command)
            self._emit(Refused(f"{command}"))
            return True
        if isinstance(command, Exit):
            return False
        if isinstance(command, Scan):
            self.scan(command.id)
            return True
        log.warning("ignoring a command the worker has no use for now: %r", command)
        return True

    def scan(self, scan_id: int) -> None:
        """Load the practices, scan, and emit the report (or why there is none).

        When the first command is a scan, it takes the `fresh` practices instead: they were read
        after that command came, so they are what a load now would read, and the worker's start
        loads them once instead of twice.
        """
        fresh, self._fresh = self._fresh, None
        if fresh is not None:
            log.debug("scan %d: on the practices loaded at start, after it was asked", scan_id)
        try:
            practices = fresh if fresh is not None else self._loader.load()
            report = self._scanner.scan(practices)
        except Exception as error:  # a bug must not end the worker; the tray shows it failed
            log.exception("scan failed")
            self._emit(ScanFailed(scan_id, f"{error}"))
            return
        finally:
            self.touch()
        with self._lock:
            self._practices = practices
            self._latest = report
        settings = tray_settings(practices, self._loader)
        self._emit(ScanReported(scan_id, ScanResult(report, practices.instructions.ui, settings)))
        self._write_last_report(report)
        if self._after_scan is not None:
            try:
                self._after_scan(practices, report)
            except Exception:  # a bug here must not end the worker
                log.exception("after the scan")
        # The scan's freed memory (a parsed dpkg database's lines, SQLite's pages) back to the
        # system now that the report is out: the worker stays up to a minute for the next one.
        return_freed_heap()

    def _write_last_report(self, report: Report) -> None:
        """Hand the report to `save_report`; a failure is logged, never the scan's."""
        if self._save_report is None:
            return
        try:
            self._save_report(report)
        except Exception:  # save_last_report logs its own failures; this is a bug
            log.exception("could not save the last report")

    def latest(self) -> Report | None:
        """Return the report of the tray's last scan in this worker (the API reuses it)."""
        with self._lock:
            return self._latest

    def practices(self) -> Practices:
        """Return the practices of the last scan, loading them when there was none."""
        with self._lock:
            practices = self._practices
        if practices is None:
            practices = self._loader.load()
            with self._lock:
                self._practices = practices
        return practices

    def touch(self) -> None:
        """Note that there was work just now (the idle time starts again)."""
        self.last_activity = self._clock()

    # -- the API server's observer (called on its threads) -----------------------------------

    def on_checked(self, label: str) -> None:
        """A web app's check was answered."""
        self.touch()
        self._emit(ApiChecked(label))

    def on_page_failed(self, session_id: str, label: str, report: Report) -> None:
        """A web app's check failed (once per session id)."""
        self.touch()
        self._emit(PageFailed(session_id, label, len(report.critical())))

    def on_policy_server(self, url: str) -> None:
        """The policy server brought a new policy (called on its fetching thread)."""
        self._emit(PolicyServerChanged(url))


class WorkerDeviceKey:
    """The worker's one device key holder (`api.attest.DeviceTrust`), for tokens and enrollment.

    Nothing of device trust is imported until it is used: a worker that serves no token and
    enrolls nothing loads neither the API's modules nor TLS for it.
    """

    def __init__(self, key_choice: Callable[[], str]) -> None:
        """`key_choice` returns config.yaml's `deviceKey`."""
        self._key_choice = key_choice
        self._lock = threading.Lock()
        self._trust: DeviceTrust | None = None
        self._enroller: Enroller | None = None

    def trust(self) -> DeviceTrust:
        """Return the DeviceTrust (its key is opened at the first token or enrollment)."""
        with self._lock:
            if self._trust is None:
                from stethoscope_desktop.api.attest import DeviceTrust

                self._trust = DeviceTrust(self._key_choice)
            return self._trust

    def after_scan(self, practices: Practices, report: Report) -> None:
        """Enroll the key if config.yaml names an enrollmentUrl (in a thread, once)."""
        if not practices.config.enrollment_url:
            return
        with self._lock:
            if self._enroller is None:
                from stethoscope_desktop.device_trust.enroll import Enroller

                self._enroller = Enroller(lambda: self.trust().key())
            enroller = self._enroller
        enroller.after_scan(practices, report)


def tray_settings(practices: Practices, loader: PracticesLoader) -> TraySettings:
    """Return what the tray needs of the config and the practices."""
    config = practices.config
    return TraySettings(
        config.scan_interval_minutes,
        config.api_port,
        config.notifications,
        tuple(str(path) for path in loader.watched_folders()),
        tuple(str(path) for path in loader.watched_files()),
        Support(
            config.help_links,
            config.devices_url,
            config.notice if config.notice is not None and not config.notice.is_empty() else None,
        ),
    )


def serve_commands(
    session: WorkerSession,
    commands: queue.Queue[Received],
    *,
    idle_seconds: float = DEFAULT_IDLE_SECONDS,
    busy: Callable[[], bool] = lambda: False,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Carry out commands until told to leave or stdin ends (None).

    Also leave when there was no work for `idle_seconds` and nothing is `busy` (an API request,
    a policy server fetch).
    """
    while True:
        remaining = session.last_activity + idle_seconds - clock()
        if remaining <= 0:
            if not busy():
                log.info("no work for %g s: leaving", idle_seconds)
                return
            session.touch()  # wait for the request under way, then a full idle period again
            continue
        try:
            command = commands.get(timeout=remaining)
        except queue.Empty:
            continue
        if command is None or not session.handle(command):
            return


class LineWriter:
    """Writes events as JSON lines, whole lines only, from any thread."""

    def __init__(self, stream: IO[str], on_broken: Callable[[], None]) -> None:
        self._stream = stream
        self._on_broken = on_broken
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        """Write one event; a tray that went away ends the worker."""
        line = encode(event)
        with self._lock:
            try:
                self._stream.write(line)
                self._stream.flush()
            except (OSError, ValueError):
                self._on_broken()


def read_commands(lines: LineReader, commands: queue.Queue[Received]) -> None:
    """Put each command of `lines` on `commands`, then None at their end.

    A line that is no command (or too long) is logged and left out; one of another protocol
    version goes on too, for the session to answer.
    """
    for raw in lines:
        if isinstance(raw, LineTooLong):
            log.warning("ignoring a line that is no command: %s", raw)
            continue
        if not raw.strip():
            continue
        try:
            commands.put(decode(raw, Command))
        except VersionMismatch as error:
            commands.put(error)
        except ProtocolError as error:
            log.warning("ignoring a line that is no command: %s", error)
    commands.put(None)


def command_waiting(commands: queue.Queue[Received], stdin_fd: int) -> bool:
    """Return True when a command was read already or waits in the pipe to be read.

    A line the reader has taken but not yet queued counts as none: the answer may say no when
    a command came, never yes when none did (Windows' pipes cannot be asked: only the queue).
    """
    if not commands.empty():
        return True
    if sys.platform == "win32":
        return False
    readable, _, _ = select.select([stdin_fd], [], [], 0)
    return bool(readable)


def adopt_sockets(args: argparse.Namespace, stdin: LineReader) -> list[socket.socket]:
    """Return the API's listening sockets the tray handed over (none: no API in this worker)."""
    if getattr(args, "api_shared", False):
        # Windows: the tray sends the sockets, duplicated for this process, as the first line.
        try:
            line = stdin.next_line()
            if not isinstance(line, bytes):
                raise line or ProtocolError("no first line: stdin ended")
            command = decode(line, Command)
            if not isinstance(command, Sockets):
                raise ProtocolError(f"the first line is not the sockets but {command}")
            return [socket.fromshare(data) for data in command.shared]  # type: ignore[attr-defined, unused-ignore]
        except (ProtocolError, OSError) as error:
            log.error("the API sockets from the tray are unusable: %s", error)
            return []
    sockets = []
    for fd in getattr(args, "api_fd", []):
        try:
            sockets.append(socket.socket(fileno=fd))
        except OSError as error:
            log.error("the API socket %d from the tray is unusable: %s", fd, error)
    return sockets


def serve_api(
    session: WorkerSession,
    scanner: Scanner,
    sockets: list[socket.socket],
    *,
    debug: bool,
    device_trust: DeviceTrust | None = None,
) -> ApiServer:
    """Start the local API on the listening sockets the tray handed over."""
    from stethoscope_desktop.api.server import ApiServer
    from stethoscope_desktop.api.service import machine_api_service
    from stethoscope_desktop.logsetup import LOG_FILE_NAME, default_log_dir

    service = machine_api_service(scanner, session.practices, latest=session.latest)
    # The tray writes this process's log lines into its log file; /debugger shows its end.
    log_file = default_log_dir() / LOG_FILE_NAME
    server = ApiServer(
        service,
        port=0,
        observer=session,
        debug=debug,
        sockets=sockets,
        log_file=log_file,
        device_trust=device_trust,
    )
    server.start()
    return server


def run_worker(args: argparse.Namespace) -> int:
    """The worker process: the composition root of the scanning side. Returns its exit code."""
    # Only events may reach the tray through stdout: keep a copy of it for them, and send
    # anything else written to stdout (a library's print, a C library) to stderr.
    events = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    debug = bool(getattr(args, "debug", False))
    logging.getLogger().setLevel(logging.DEBUG if debug else logging.INFO)

    from stethoscope_desktop.commands import open_scanner, practices_loader

    commands: queue.Queue[Received] = queue.Queue()
    emit = LineWriter(events, on_broken=lambda: commands.put(None))
    # Commands are read from an unbuffered copy of stdin: a thread blocked in a read of the
    # buffered sys.stdin would hold its lock when the interpreter shuts down, and abort it.
    stdin_fd = os.dup(sys.stdin.fileno())
    stdin = LineReader(os.fdopen(stdin_fd, "rb", buffering=0))
    sockets = adopt_sockets(args, stdin)
    # Commands are read from the start: a scan asked before the practices load (the tray asks
    # as it starts the worker) gets these practices, read after it was asked, not a second load.
    reader = threading.Thread(
        target=read_commands, args=(stdin, commands), name="commands", daemon=True
    )
    reader.start()
    asked_before_loading = command_waiting(commands, stdin_fd)
    loader = practices_loader(args)
    practices = loader.load()
    scanner = open_scanner(args, practices)
    if isinstance(scanner, str):
        log.warning("%s; using the built-in engine", scanner)
        embedded = argparse.Namespace(**{**vars(args), "engine": "embedded"})
        scanner = open_scanner(embedded, practices)
        assert not isinstance(scanner, str), "the built-in engine is always there"
    # One device key per worker, opened at its first token or enrollment, shared by both.
    device_key = WorkerDeviceKey(lambda: session.practices().config.device_key)
    session = WorkerSession(
        loader,
        scanner,
        emit,
        fresh=practices if asked_before_loading else None,
        after_scan=device_key.after_scan,
        save_report=save_last_report,
    )
    loader.policy_server.add_listener(session.on_policy_server)
    server: ApiServer | None = None
    try:
        if sockets:
            server = serve_api(
                session, scanner, sockets, debug=debug, device_trust=device_key.trust()
            )
        api = server

        def busy() -> bool:
            fetching = not loader.policy_server.wait(0)
            # The nonce ledger is a file (device_trust.token), so a worker that signed a device
            # token leaves after its idle time like any other; only a ledger kept in memory
            # would hold it while its nonces are remembered (`remembering`).
            answering = api is not None and (api.busy() or api.device_trust.remembering())
            return fetching or answering

        serve_commands(session, commands, idle_seconds=args.idle_seconds, busy=busy)
    finally:
        if server is not None:
            server.stop()
        scanner.engine.close()
    return 0
