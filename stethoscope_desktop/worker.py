"""The scan worker: the process that loads the practices, scans, and answers web apps.

The tray app stays near the size of a bare PySide6 tray app by leaving everything heavy to this
process: YAML and the policy code, the engines and their tables, osqueryd, GraphQL. The tray
starts it when there is work — a scan is due, or a web page connected to the API port the tray
holds — and it leaves after `idle_seconds` without work, closing its engine (and an osqueryd it
started). Nothing here imports Qt.

**Protocol**: one JSON object per line. The tray writes commands to the worker's stdin:

- `{"op": "scan", "id": N}`: load the practices (so a changed file is read) and scan; answered
  by a `report` or a `scan-failed` event with the same id.
- `{"op": "exit"}`: leave once the work under way is done.
- `{"op": "sockets", "shared": [...]}`: Windows only, the first line when the worker was started
  with `--api-shared`: the API's listening sockets as `socket.share` gave them (base64). On
  other systems the sockets are inherited and named by `--api-fd`.

The end of stdin (the tray is gone) makes the worker leave. Events go to stdout:

- `{"event": "report", "id": N, "report": {...}, "strings": {...}, "settings": {...}}`: the
  report, the UI strings of its language, and what the tray needs of the config and practices
  (scan interval, API port, notification settings, files to watch); see `core.handover`.
- `{"event": "scan-failed", "id": N, "message": "..."}`.
- `{"event": "api-checked", "label": "..."}`: a web app's check was answered.
- `{"event": "page-failed", "session_id": "...", "label": "...", "critical": N}`: once per
  session id, a page's check failed.
- `{"event": "policy-server", "url": "..."}`: the policy server brought a new policy.

Log records go to stderr, which the tray copies into its own log.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import logging
import os
import queue
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import IO, TYPE_CHECKING, Any

from stethoscope_desktop.core.handover import TraySettings, scan_event
from stethoscope_desktop.core.practices import Practices, PracticesLoader
from stethoscope_desktop.core.report import Report
from stethoscope_desktop.core.scanner import Scanner

if TYPE_CHECKING:
    from stethoscope_desktop.api.server import ApiServer

log = logging.getLogger(__name__)

Emit = Callable[[dict[str, Any]], None]
# How long the worker stays after its last piece of work, by default (`--idle-seconds`).
DEFAULT_IDLE_SECONDS = 60.0


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
    ) -> None:
        self._loader = loader
        self._scanner = scanner
        self._emit = emit
        self._clock = clock
        self._lock = threading.Lock()
        self._practices: Practices | None = None
        self._latest: Report | None = None
        self.last_activity = clock()

    def handle(self, command: object) -> bool:
        """Carry out one command; return False when the worker should leave."""
        self.touch()
        if not isinstance(command, Mapping):
            log.warning("ignoring a command that is not a JSON object: %r", command)
            return True
        op = command.get("op")
        if op == "exit":
            return False
        if op == "scan":
            self.scan(command.get("id"))
            return True
        log.warning("ignoring an unknown command %r", op)
        return True

    def scan(self, scan_id: object) -> None:
        """Load the practices, scan, and emit the report (or why there is none)."""
        try:
            practices = self._loader.load()
            report = self._scanner.scan(practices)
        except Exception as error:  # a bug must not end the worker; the tray shows it failed
            log.exception("scan failed")
            self._emit({"event": "scan-failed", "id": scan_id, "message": f"{error}"})
            return
        finally:
            self.touch()
        with self._lock:
            self._practices = practices
            self._latest = report
        self._emit(
            scan_event(
                scan_id, report, practices.instructions.ui, tray_settings(practices, self._loader)
            )
        )

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
        self._emit({"event": "api-checked", "label": label})

    def on_page_failed(self, session_id: str, label: str, report: Report) -> None:
        """A web app's check failed (once per session id)."""
        self.touch()
        self._emit(
            {
                "event": "page-failed",
                "session_id": session_id,
                "label": label,
                "critical": len(report.critical()),
            }
        )

    def on_policy_server(self, url: str) -> None:
        """The policy server brought a new policy (called on its fetching thread)."""
        self._emit({"event": "policy-server", "url": url})


def tray_settings(practices: Practices, loader: PracticesLoader) -> TraySettings:
    """Return what the tray needs of the config and the practices."""
    config = practices.config
    return TraySettings(
        config.scan_interval_minutes,
        config.api_port,
        config.notifications,
        tuple(str(path) for path in loader.watched_folders()),
        tuple(str(path) for path in loader.watched_files()),
    )


def serve_commands(
    session: WorkerSession,
    commands: queue.Queue[object],
    *,
    idle_seconds: float,
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

    def __call__(self, event: dict[str, Any]) -> None:
        """Write one event; a tray that went away ends the worker."""
        line = json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n"
        with self._lock:
            try:
                self._stream.write(line)
                self._stream.flush()
            except (OSError, ValueError):
                self._on_broken()


def read_commands(stream: IO[bytes], commands: queue.Queue[object]) -> None:
    """Put each JSON line of `stream` on `commands`, then None at its end."""
    for raw in stream:
        try:
            commands.put(json.loads(raw))
        except ValueError:
            log.warning("ignoring a line that is not JSON: %r", raw[:200])
    commands.put(None)


def adopt_sockets(args: argparse.Namespace, stdin: IO[bytes]) -> list[socket.socket]:
    """Return the API's listening sockets the tray handed over (none: no API in this worker)."""
    if getattr(args, "api_shared", False):
        # Windows: the tray sends the sockets, duplicated for this process, as the first line.
        try:
            command = json.loads(stdin.readline())
            shared = [base64.b64decode(item) for item in command["shared"]]
            return [socket.fromshare(data) for data in shared]  # type: ignore[attr-defined, unused-ignore]
        except (ValueError, KeyError, TypeError, OSError, binascii.Error) as error:
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
    session: WorkerSession, scanner: Scanner, sockets: list[socket.socket], *, debug: bool
) -> ApiServer:
    """Start the local API on the listening sockets the tray handed over."""
    from stethoscope_desktop.api.server import ApiServer
    from stethoscope_desktop.api.service import machine_api_service

    service = machine_api_service(scanner, session.practices, latest=session.latest)
    server = ApiServer(service, port=0, observer=session, debug=debug, sockets=sockets)
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

    commands: queue.Queue[object] = queue.Queue()
    emit = LineWriter(events, on_broken=lambda: commands.put(None))
    # Commands are read from an unbuffered copy of stdin: a thread blocked in a read of the
    # buffered sys.stdin would hold its lock when the interpreter shuts down, and abort it.
    stdin = os.fdopen(os.dup(sys.stdin.fileno()), "rb", buffering=0)
    sockets = adopt_sockets(args, stdin)
    loader = practices_loader(args)
    practices = loader.load()
    scanner = open_scanner(args, practices)
    if isinstance(scanner, str):
        log.warning("%s; using the built-in engine", scanner)
        embedded = argparse.Namespace(**{**vars(args), "engine": "embedded"})
        scanner = open_scanner(embedded, practices)
        assert not isinstance(scanner, str), "the built-in engine is always there"
    session = WorkerSession(loader, scanner, emit)
    loader.policy_server.add_listener(session.on_policy_server)
    server: ApiServer | None = None
    try:
        if sockets:
            server = serve_api(session, scanner, sockets, debug=debug)
        reader = threading.Thread(
            target=read_commands, args=(stdin, commands), name="commands", daemon=True
        )
        reader.start()
        api = server

        def busy() -> bool:
            fetching = not loader.policy_server.wait(0)
            return fetching or (api is not None and api.busy())

        serve_commands(session, commands, idle_seconds=args.idle_seconds, busy=busy)
    finally:
        if server is not None:
            server.stop()
        scanner.engine.close()
    return 0
