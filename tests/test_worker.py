"""The scan worker (`stethoscope_desktop.worker`): its session, its loops, and the real process.

`WorkerSession`, `serve_commands`, `LineWriter`, `read_commands` and `adopt_sockets` are driven
directly, on canned tables and a fake clock. The end-to-end tests start
`python -m stethoscope_desktop worker` as the tray does and talk the protocol's lines to it; they
scan this machine, so they assert on the protocol, not on the verdicts.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, TypeVar

import pytest

from stethoscope_desktop.api.listen import bind_loopback, close_all
from stethoscope_desktop.api.security import RateLimiter
from stethoscope_desktop.api.server import ApiServer
from stethoscope_desktop.core.checks import load_checks
from stethoscope_desktop.core.notify import NotificationSettings
from stethoscope_desktop.core.practices import Practices, PracticesFolder, PracticesLoader
from stethoscope_desktop.core.protocol import (
    MAX_COMMAND_BYTES,
    PROTOCOL_VERSION,
    ApiChecked,
    Command,
    Event,
    Exit,
    LineReader,
    PageFailed,
    PolicyServerChanged,
    Refused,
    Scan,
    ScanFailed,
    ScanReported,
    ScanResult,
    Sockets,
    VersionMismatch,
    decode,
    encode,
)
from stethoscope_desktop.core.report import Report
from stethoscope_desktop.core.scanner import Scanner
from stethoscope_desktop.core.status import Status
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.resources import checks_dir, practices_dir
from stethoscope_desktop.worker import (
    LineWriter,
    Received,
    WorkerSession,
    adopt_sockets,
    command_waiting,
    read_commands,
    serve_commands,
)
from tests.api.helpers import ALLOWED_ORIGIN, FakeClock, make_service, post_json, request
from tests.canned import canned_linux
from tests.ui.reports import mixed_report

ROOT = Path(__file__).resolve().parents[1]
IT_CONFIG = """\
scanIntervalMinutes: 15
apiPort: 38123
notifications:
  enabled: false
  reminderHours: 4
"""
PAGE_QUERY = "query ($policy: DevicePolicy) { policy { validate(policy: $policy) { status } } }"
FAILING_PAGE = {"policy": {"firewall": "NEVER"}}  # the canned firewall is on
E = TypeVar("E", bound=Event)
API_QUERY = (
    "{ policy { validate(policy: {screenLock: IF_SUPPORTED}) { status } } device { deviceName } }"
)


# -- the session, in this process ----------------------------------------------------------------


@pytest.fixture
def it_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "it"
    folder.mkdir()
    (folder / "config.yaml").write_text(IT_CONFIG)
    (folder / "policy.yaml").write_text("firewall: ALWAYS\n")
    return folder


def make_loader(it_folder: Path, language: str = "en") -> PracticesLoader:
    """The bundled practices with IT's folder over them."""
    return PracticesLoader(
        [PracticesFolder("bundled", practices_dir()), PracticesFolder("machine", it_folder)],
        language,
    )


def canned_scanner() -> Scanner:
    return Scanner(EmbeddedEngine(canned_linux()), load_checks(checks_dir()), platform="linux")


class FailingScanner(Scanner):
    """A scanner whose scan raises, as a bug in a check would."""

    def __init__(self) -> None:
        super().__init__(
            EmbeddedEngine(canned_linux()), load_checks(checks_dir()), platform="linux"
        )

    def scan(self, practices: Practices) -> Report:
        raise RuntimeError("the engine fell over")


class Events:
    """The session's emit: records every event (from any thread)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)


def crossed(event: Event) -> Event:
    """Return an event as it arrives on the other side of the pipe."""
    return decode(encode(event), Event)


def result_of(event: Event) -> ScanResult:
    assert isinstance(event, ScanReported), event
    return event.result


def test_a_scan_emits_a_report_event_the_tray_reads_back(it_folder: Path) -> None:
    events = Events()
    loader = make_loader(it_folder, "de")
    session = WorkerSession(loader, canned_scanner(), events)
    assert session.handle(Scan(7)) is True
    assert len(events.events) == 1
    event = crossed(events.events[0])
    assert isinstance(event, ScanReported) and event.id == 7
    result = event.result
    practices = loader.load()
    assert result.report.language == "de"
    assert result.report.practice("firewall") is not None
    assert result.strings == practices.instructions.ui
    assert result.strings.language == "de" and result.strings.strings
    settings = result.settings
    assert settings.scan_interval_minutes == 15
    assert settings.api_port == 38123
    assert settings.notifications == NotificationSettings(enabled=False, reminder_hours=4.0)
    assert str(it_folder) in settings.watch_folders
    assert str(it_folder / "checks.d") in settings.watch_folders
    assert str(it_folder / "policy.yaml") in settings.watch_files
    assert str(it_folder / "config.yaml") in settings.watch_files
    assert str(it_folder / "instructions.de.yaml") in settings.watch_files
    assert not any(path.startswith(str(practices_dir())) for path in settings.watch_folders)
    assert session.latest() == result.report


def test_a_scan_reads_a_changed_policy_file(it_folder: Path) -> None:
    events = Events()
    session = WorkerSession(make_loader(it_folder), canned_scanner(), events)
    session.handle(Scan(1))
    (it_folder / "policy.yaml").write_text("firewall: NEVER\n")  # the canned firewall is on
    session.handle(Scan(2))
    first, second = (result_of(event).report for event in events.events)
    assert [event.id for event in events.events] == [1, 2]  # type: ignore[attr-defined]
    assert first.practice("firewall").status is Status.PASS  # type: ignore[union-attr]
    assert second.practice("firewall").status is Status.FAIL  # type: ignore[union-attr]


def test_a_first_scan_takes_the_practices_loaded_after_it_came_then_scans_load_again(
    it_folder: Path,
) -> None:
    # run_worker loads the practices once at start; a scan asked before that load takes them.
    events = Events()
    loader = make_loader(it_folder)
    session = WorkerSession(loader, canned_scanner(), events, fresh=loader.load())
    (it_folder / "policy.yaml").write_text("firewall: NEVER\n")  # the canned firewall is on
    session.handle(Scan(1))
    session.handle(Scan(2))
    first, second = (result_of(event).report for event in events.events)
    assert first.practice("firewall").status is Status.PASS  # type: ignore[union-attr]
    assert second.practice("firewall").status is Status.FAIL, "the second scan loads"  # type: ignore[union-attr]


@pytest.mark.allow_warnings
def test_practices_loaded_at_start_are_not_taken_after_another_first_command(
    it_folder: Path,
) -> None:
    events = Events()
    loader = make_loader(it_folder)
    session = WorkerSession(loader, canned_scanner(), events, fresh=loader.load())
    (it_folder / "policy.yaml").write_text("firewall: NEVER\n")
    session.handle(Sockets(()))  # a first command that does not scan
    session.handle(Scan(1))
    assert result_of(events.events[0]).report.practice("firewall").status is Status.FAIL  # type: ignore[union-attr]


def test_command_waiting_sees_a_queued_command_or_a_line_in_the_pipe() -> None:
    commands: queue.Queue[Received] = queue.Queue()
    read_end, write_end = os.pipe()
    try:
        assert not command_waiting(commands, read_end), "nothing sent"
        commands.put(Scan(1))
        assert command_waiting(commands, read_end), "read already"
        commands.get_nowait()
        if sys.platform != "win32":
            os.write(write_end, b'{"v":1,"op":"scan","id":1}\n')
            assert command_waiting(commands, read_end), "waiting in the pipe"
    finally:
        os.close(read_end)
        os.close(write_end)


@pytest.mark.allow_warnings
def test_a_scanner_that_raises_gives_scan_failed_with_its_message(it_folder: Path) -> None:
    events = Events()
    session = WorkerSession(make_loader(it_folder), FailingScanner(), events)
    assert session.handle(Scan(3)) is True  # the worker carries on
    assert events.events == [ScanFailed(3, "the engine fell over")]
    assert session.latest() is None


def test_exit_returns_false_and_emits_nothing(it_folder: Path) -> None:
    events = Events()
    session = WorkerSession(make_loader(it_folder), canned_scanner(), events)
    assert session.handle(Exit()) is False
    assert events.events == []


@pytest.mark.allow_warnings
@pytest.mark.parametrize(
    "command",
    [{"op": "dance"}, {"id": 1}, ["scan"], "scan", 42, None, {"op": "scan", "id": "1"}],
    ids=repr,
)
def test_an_unknown_op_or_a_non_object_is_ignored(it_folder: Path, command: object) -> None:
    events = Events()
    session = WorkerSession(make_loader(it_folder), canned_scanner(), events)
    line = json.dumps({"v": PROTOCOL_VERSION, **command} if isinstance(command, dict) else command)
    commands: queue.Queue[Received] = queue.Queue()
    read_commands(LineReader(io.BytesIO(line.encode() + b"\n")), commands)
    assert commands.get_nowait() is None, "the line was left out"
    assert session.handle(Sockets(())) is True, "a command out of place is ignored too"
    assert events.events == []


@pytest.mark.allow_warnings
def test_a_command_of_another_protocol_version_is_refused_in_this_ones_words(
    it_folder: Path,
) -> None:
    events = Events()
    session = WorkerSession(make_loader(it_folder), canned_scanner(), events)
    commands: queue.Queue[Received] = queue.Queue()
    lines = [{"v": PROTOCOL_VERSION + 1, "op": "scan", "id": 1}, {"op": "scan", "id": 2}]
    read_commands(
        LineReader(io.BytesIO(b"".join(json.dumps(x).encode() + b"\n" for x in lines))), commands
    )
    for _ in lines:
        mismatch = commands.get_nowait()
        assert isinstance(mismatch, VersionMismatch)
        assert session.handle(mismatch) is True
    assert [type(event) for event in events.events] == [Refused, Refused]
    assert "protocol version 2" in events.events[0].problem  # type: ignore[attr-defined]
    assert "no protocol version" in events.events[1].problem  # type: ignore[attr-defined]
    assert crossed(events.events[0]) == events.events[0], "a line the tray can read"


def test_every_command_restarts_the_idle_time(it_folder: Path) -> None:
    clock = FakeClock()
    session = WorkerSession(make_loader(it_folder), canned_scanner(), Events(), clock=clock)
    assert session.last_activity == clock.now
    clock.advance(30)
    session.handle(Exit())
    assert session.last_activity == clock.now


def test_practices_loads_once_when_there_was_no_scan(it_folder: Path) -> None:
    session = WorkerSession(make_loader(it_folder), canned_scanner(), Events())
    practices = session.practices()
    assert practices.config.api_port == 38123
    assert session.practices() is practices


def test_the_observer_methods_emit_their_events(it_folder: Path) -> None:
    events = Events()
    clock = FakeClock()
    session = WorkerSession(make_loader(it_folder), canned_scanner(), events, clock=clock)
    report = mixed_report()
    assert len(report.critical()) >= 1
    clock.advance(5)
    session.on_checked("Example Login")
    assert session.last_activity == clock.now
    clock.advance(5)
    session.on_page_failed("034fad3d", "Example Login", report)
    assert session.last_activity == clock.now
    session.on_policy_server("https://policy.example.com/stethoscope")
    assert events.events == [
        ApiChecked("Example Login"),
        PageFailed("034fad3d", "Example Login", len(report.critical())),
        PolicyServerChanged("https://policy.example.com/stethoscope"),
    ]
    assert [crossed(event) for event in events.events] == events.events  # they cross the pipe


def test_the_session_is_the_api_servers_observer(it_folder: Path) -> None:
    events = Events()
    session = WorkerSession(make_loader(it_folder), canned_scanner(), events)
    service, _ = make_service()
    server = ApiServer(service, port=0, rate_limiter=RateLimiter(10_000, 1000.0), observer=session)
    server.start()
    try:
        for session_id in ("s-1", "s-1"):
            answer = post_json(
                server.port,
                {"query": PAGE_QUERY, "variables": FAILING_PAGE, "sessionId": session_id},
                {"Origin": ALLOWED_ORIGIN},
            )
            assert answer.status == 200, answer.body
    finally:
        server.stop()
    assert events.events == [
        ApiChecked("Example Login"),
        PageFailed("s-1", "Example Login", 1),
        ApiChecked("Example Login"),  # one failure notice per session
    ]


def test_the_api_server_is_busy_while_it_answers() -> None:
    service, source = make_service()
    source.gate = threading.Event()
    server = ApiServer(service, port=0, rate_limiter=RateLimiter(10_000, 1000.0))
    server.start()
    try:
        assert not server.busy()
        asking = threading.Thread(
            target=post_json,
            args=(server.port, {"query": PAGE_QUERY, "variables": FAILING_PAGE}),
            kwargs={"headers": {"Origin": ALLOWED_ORIGIN}},
        )
        asking.start()
        assert source.entered.wait(5)
        assert server.busy()  # the worker must not leave for being idle now
        source.gate.set()
        asking.join(10)
        deadline = time.monotonic() + 5
        while server.busy() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not server.busy()
    finally:
        source.gate.set()
        server.stop()


# -- serve_commands: the command loop and its idle exit --------------------------------------------


class WaitingQueue(queue.Queue[Received]):
    """A command queue whose waits pass on the fake clock instead of taking real time."""

    def __init__(self, clock: FakeClock, items: list[Received] | None = None) -> None:
        super().__init__()
        self.clock = clock
        self.waits: list[float] = []
        for item in items or []:
            self.put(item)

    def get(self, block: bool = True, timeout: float | None = None) -> Received:
        if not self.empty():
            return super().get(block=False)
        assert timeout is not None and timeout > 0, "serve_commands must not block for good"
        self.waits.append(timeout)
        self.clock.advance(timeout)
        raise queue.Empty


def idle_session(it_folder: Path, clock: FakeClock) -> tuple[WorkerSession, Events]:
    events = Events()
    return WorkerSession(make_loader(it_folder), canned_scanner(), events, clock=clock), events


def test_serve_commands_leaves_after_idle_seconds_without_work(it_folder: Path) -> None:
    clock = FakeClock()
    session, _ = idle_session(it_folder, clock)
    commands = WaitingQueue(clock)
    start = clock.now
    serve_commands(session, commands, idle_seconds=60, clock=clock)
    assert commands.waits == [60]
    assert clock.now == start + 60


def test_serve_commands_leaves_at_once_when_the_idle_time_is_over_already(
    it_folder: Path,
) -> None:
    clock = FakeClock()
    session, _ = idle_session(it_folder, clock)
    clock.advance(61)
    commands = WaitingQueue(clock)
    serve_commands(session, commands, idle_seconds=60, clock=clock)
    assert commands.waits == []


def test_a_command_restarts_the_idle_time(it_folder: Path) -> None:
    clock = FakeClock()
    session, events = idle_session(it_folder, clock)
    clock.advance(40)  # 20 s of the idle time left
    commands = WaitingQueue(clock, [Scan(1)])
    serve_commands(session, commands, idle_seconds=60, clock=clock)
    assert [type(event) for event in events.events] == [ScanReported]
    assert commands.waits == [60]  # a full idle period after the scan, not the 20 s left


def test_serve_commands_waits_while_busy(it_folder: Path) -> None:
    clock = FakeClock()
    session, _ = idle_session(it_folder, clock)
    answers = iter([True, True, False])
    asked: list[float] = []

    def busy() -> bool:
        asked.append(clock.now)
        return next(answers)

    commands = WaitingQueue(clock)
    start = clock.now
    serve_commands(session, commands, idle_seconds=10, busy=busy, clock=clock)
    assert asked == [start + 10, start + 20, start + 30]  # a full idle period after each
    assert commands.waits == [10, 10, 10]


def test_serve_commands_stops_on_none_and_on_exit(it_folder: Path) -> None:
    for last in (None, Exit()):
        clock = FakeClock()
        session, events = idle_session(it_folder, clock)
        commands = WaitingQueue(clock, [Scan(1), last, Scan(2)])
        serve_commands(session, commands, idle_seconds=60, clock=clock)
        assert [event.id for event in events.events] == [1]  # type: ignore[attr-defined]
        assert commands.waits == []
        assert commands.qsize() == 1  # the command after it was never read


def test_serve_commands_on_a_real_queue_and_clock_returns_within_idle_seconds(
    it_folder: Path,
) -> None:
    session = WorkerSession(make_loader(it_folder), canned_scanner(), Events())
    commands: queue.Queue[Received] = queue.Queue()
    start = time.monotonic()
    serve_commands(session, commands, idle_seconds=0.2)
    assert 0.15 <= time.monotonic() - start < 5


# -- LineWriter, read_commands, adopt_sockets ----------------------------------------------------


def test_line_writer_writes_one_json_line_per_event() -> None:
    stream = io.StringIO()
    broken: list[bool] = []
    write = LineWriter(stream, on_broken=lambda: broken.append(True))
    write(ApiChecked("Anmeldung im Büro"))
    write(PolicyServerChanged("https://x.example/p\nq"))
    lines = stream.getvalue().split("\n")
    assert lines[-1] == "" and len(lines) == 3
    assert decode(lines[0], Event) == ApiChecked("Anmeldung im Büro")
    assert "Büro" in lines[0]  # not escaped: the pipe is UTF-8
    assert decode(lines[1], Event) == PolicyServerChanged("https://x.example/p\nq")
    assert broken == []


def test_line_writer_keeps_lines_whole_across_threads() -> None:
    stream = io.StringIO()
    write = LineWriter(stream, on_broken=lambda: None)

    def burst(n: int) -> None:
        for i in range(200):
            write(ApiChecked(f"{n}-{i}" * 50))

    threads = [threading.Thread(target=burst, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 800
    assert all(isinstance(decode(line, Event), ApiChecked) for line in lines)


def test_line_writer_calls_on_broken_on_a_closed_stream() -> None:
    stream = io.StringIO()
    stream.close()
    broken: list[bool] = []
    LineWriter(stream, on_broken=lambda: broken.append(True))(ApiChecked(""))
    assert broken == [True]


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX pipe")
def test_line_writer_calls_on_broken_when_the_reader_is_gone() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    stream = os.fdopen(write_end, "w", encoding="utf-8")
    broken: list[bool] = []
    try:
        LineWriter(stream, on_broken=lambda: broken.append(True))(ApiChecked(""))
    finally:
        with contextlib.suppress(OSError):
            stream.close()
    assert broken == [True]


@pytest.mark.allow_warnings
def test_read_commands_skips_lines_that_are_not_json_and_ends_with_none() -> None:
    stream = io.BytesIO(
        encode(Scan(1)).encode()
        + b"not json\n"
        + b"\n"
        + b'{"v": 1, "op": "dance"}\n'
        + encode(Exit()).encode()
        + encode(Scan(2)).encode().rstrip(b"\n")  # the last line without a newline
    )
    commands: queue.Queue[Received] = queue.Queue()
    read_commands(LineReader(stream), commands)
    items = [commands.get_nowait() for _ in range(commands.qsize())]
    assert items == [Scan(1), Exit(), Scan(2), None]


@pytest.mark.allow_warnings
def test_read_commands_leaves_out_a_line_too_long_and_reads_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    huge = b'{"v": 1, "op": "scan", "id": 1, "pad": "' + b"x" * (3 * MAX_COMMAND_BYTES) + b'"}\n'
    stream = io.BytesIO(huge + encode(Scan(2)).encode())
    commands: queue.Queue[Received] = queue.Queue()
    read_commands(LineReader(stream), commands)
    items = [commands.get_nowait() for _ in range(commands.qsize())]
    assert items == [Scan(2), None]
    assert f"a line of {len(huge) - 1} bytes, longer than" in caplog.text


def test_read_commands_of_an_empty_stream_is_just_none() -> None:
    commands: queue.Queue[Received] = queue.Queue()
    read_commands(LineReader(io.BytesIO(b"")), commands)
    assert commands.get_nowait() is None and commands.empty()


def test_adopt_sockets_takes_an_inherited_listening_socket() -> None:
    sockets = bind_loopback(0, ("127.0.0.1",))
    try:
        port = sockets[0].getsockname()[1]
        inherited = os.dup(sockets[0].fileno())  # what the worker finds at --api-fd
        args = argparse.Namespace(api_fd=[inherited])
        adopted = adopt_sockets(args, LineReader(io.BytesIO(b"")))
        try:
            assert len(adopted) == 1
            assert adopted[0].fileno() == inherited
            assert adopted[0].family == socket.AF_INET
            assert adopted[0].getsockname() == ("127.0.0.1", port)
            with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
                connection, _ = adopted[0].accept()
                with connection:
                    client.sendall(b"hello")
                    assert connection.recv(5) == b"hello"
        finally:
            close_all(adopted)
    finally:
        close_all(sockets)


def test_adopt_sockets_without_fds_gives_none() -> None:
    assert adopt_sockets(argparse.Namespace(), LineReader(io.BytesIO(b""))) == []
    assert adopt_sockets(argparse.Namespace(api_fd=[]), LineReader(io.BytesIO(b""))) == []


@pytest.mark.allow_warnings
def test_adopt_sockets_leaves_out_an_fd_that_is_not_a_socket(tmp_path: Path) -> None:
    with open(tmp_path / "file", "w") as file:
        adopted = adopt_sockets(
            argparse.Namespace(api_fd=[file.fileno()]), LineReader(io.BytesIO(b""))
        )
    assert adopted == []


@pytest.mark.allow_warnings
def test_adopt_sockets_with_an_unreadable_shared_line_gives_none() -> None:
    args = argparse.Namespace(api_shared=True, api_fd=[])
    assert adopt_sockets(args, LineReader(io.BytesIO(b"not json\n"))) == []
    assert adopt_sockets(args, LineReader(io.BytesIO(b'{"op": "sockets"}\n'))) == []
    assert (
        adopt_sockets(args, LineReader(io.BytesIO(b'{"v": 1, "op": "sockets", "shared": ["%"]}\n')))
        == []
    )
    assert adopt_sockets(args, LineReader(io.BytesIO(encode(Scan(1)).encode()))) == []


# -- the worker process, end to end -------------------------------------------------------------


class WorkerProcess:
    """`python -m stethoscope_desktop worker` with its stdout read line by line in a thread."""

    def __init__(self, tmp_path: Path, *args: str, pass_fds: tuple[int, ...] = ()) -> None:
        home = tmp_path / "home"
        home.mkdir(exist_ok=True)
        self.home = home
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CONFIG_DIRS": str(tmp_path / "etc-xdg"),  # no machine folder of IT's
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_STATE_HOME": str(home / ".local" / "state"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_RUNTIME_DIR": str(tmp_path / "run"),
        }
        self.stderr_path = tmp_path / "worker-stderr.log"
        self._stderr = open(self.stderr_path, "w")  # noqa: SIM115 (closed in close())
        self.process = subprocess.Popen(
            [sys.executable, "-m", "stethoscope_desktop", "worker", "--engine", "embedded", *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            pass_fds=pass_fds,
        )
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def send(self, command: Command) -> None:
        self.write(encode(command).encode())

    def write(self, line: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line)
        self.process.stdin.flush()

    def close_stdin(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()

    def next_event(self, timeout: float = 5.0) -> Event:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no event within {timeout} s; stderr:\n{self.stderr()}")
        assert line is not None, f"the worker closed stdout; stderr:\n{self.stderr()}"
        return decode(line, Event)

    def event_of(self, kind: type[E], timeout: float = 5.0) -> E:
        deadline = time.monotonic() + timeout
        while True:
            event = self.next_event(max(0.01, deadline - time.monotonic()))
            if isinstance(event, kind):
                return event

    def wait(self, timeout: float = 5.0) -> int:
        return self.process.wait(timeout=timeout)

    def stderr(self) -> str:
        self._stderr.flush()
        return self.stderr_path.read_text(errors="replace")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        self._reader.join(timeout=5)
        self._stderr.close()


class StartWorker(Protocol):
    def __call__(self, *args: str, pass_fds: tuple[int, ...] = ()) -> WorkerProcess: ...


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[StartWorker]:
    started: list[WorkerProcess] = []

    def start(*args: str, pass_fds: tuple[int, ...] = ()) -> WorkerProcess:
        worker = WorkerProcess(tmp_path, *args, pass_fds=pass_fds)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.close()


@pytest.mark.live_system
def test_the_worker_answers_a_scan_and_leaves_on_the_end_of_stdin(
    start_worker: StartWorker,
) -> None:
    worker = start_worker("--idle-seconds", "30", "--lang", "en")
    worker.send(Scan(1))
    event = worker.next_event()
    assert isinstance(event, ScanReported) and event.id == 1, event
    result = event.result
    assert result.report.practices and result.report.language == "en"
    assert result.strings.language == "en" and result.strings.strings
    assert result.settings.scan_interval_minutes > 0
    started = time.monotonic()
    worker.close_stdin()
    assert worker.wait() == 0, worker.stderr()
    assert time.monotonic() - started < 5  # not the 30 s idle time
    assert worker.lines.get(timeout=5) is None  # nothing but the event went to stdout
    # The report is kept where IT's osquery extension reads it (core.report_store).
    saved = worker.home / ".local" / "state" / "stethoscope" / "last-report.json"
    assert Report.from_dict(json.loads(saved.read_text())).practices == result.report.practices


@pytest.mark.live_system
def test_the_worker_answers_unknown_and_bad_lines_with_nothing_and_leaves_on_exit(
    start_worker: StartWorker,
) -> None:
    worker = start_worker("--idle-seconds", "30")
    worker.write(b"not json\n")
    worker.write(json.dumps({"v": PROTOCOL_VERSION, "op": "dance"}).encode() + b"\n")
    worker.write(json.dumps({"v": PROTOCOL_VERSION, "op": "scan", "id": "1"}).encode() + b"\n")
    worker.send(Scan(2))
    event = worker.next_event()
    assert isinstance(event, ScanReported) and event.id == 2
    worker.send(Exit())
    assert worker.wait() == 0, worker.stderr()
    assert "ignoring" in worker.stderr()


@pytest.mark.live_system
def test_the_worker_refuses_a_command_of_another_version_and_carries_on(
    start_worker: StartWorker,
) -> None:
    worker = start_worker("--idle-seconds", "30")
    worker.write(json.dumps({"v": PROTOCOL_VERSION + 1, "op": "scan", "id": 1}).encode() + b"\n")
    refused = worker.next_event()
    assert isinstance(refused, Refused) and f"version {PROTOCOL_VERSION + 1}" in refused.problem
    worker.send(Scan(2))
    event = worker.next_event(timeout=20)
    assert isinstance(event, ScanReported) and event.id == 2
    worker.send(Exit())
    assert worker.wait() == 0, worker.stderr()


def test_the_worker_leaves_by_itself_after_idle_seconds(start_worker: StartWorker) -> None:
    worker = start_worker("--idle-seconds", "1")
    started = time.monotonic()
    assert worker.wait(timeout=5) == 0, worker.stderr()
    assert time.monotonic() - started >= 0.9
    assert worker.process.stdin is not None and not worker.process.stdin.closed  # kept open
    assert worker.lines.get(timeout=5) is None  # no events at all


@contextlib.contextmanager
def worker_on_api_sockets(
    start_worker: StartWorker, idle_seconds: str = "30"
) -> Iterator[tuple[WorkerProcess, int]]:
    """A worker serving the API on loopback sockets bound here, as the tray binds them."""
    sockets = bind_loopback(0)
    try:
        port = sockets[0].getsockname()[1]
        fds = tuple(listening.fileno() for listening in sockets)
        for listening in sockets:
            listening.set_inheritable(True)
        fd_args = [arg for fd in fds for arg in ("--api-fd", str(fd))]
        yield start_worker("--idle-seconds", idle_seconds, *fd_args, pass_fds=fds), port
    finally:
        close_all(sockets)


@pytest.mark.live_system
@pytest.mark.skipif(sys.platform == "win32", reason="Windows hands sockets over with --api-shared")
def test_the_worker_serves_the_api_on_the_socket_the_tray_bound(start_worker: StartWorker) -> None:
    with worker_on_api_sockets(start_worker) as (worker, port):
        answer = request(
            port,
            "POST",
            headers={"Content-Type": "application/json"},
            body=json.dumps({"query": API_QUERY}).encode(),
            host=f"127.0.0.1:{port}",  # it answers only to a loopback Host naming its port
        )
        assert answer.status == 200, (answer.body, worker.stderr())
        assert "errors" not in answer.body
        assert answer.body["data"]["policy"]["validate"]["status"] in (
            "PASS", "NUDGE", "FAIL", "UNKNOWN",
        )  # fmt: skip
        assert isinstance(answer.body["data"]["device"]["deviceName"], str)
        event = worker.event_of(ApiChecked)
        assert isinstance(event.label, str) and event.label
        worker.send(Exit())
        assert worker.wait() == 0, worker.stderr()


@pytest.mark.live_system
@pytest.mark.skipif(sys.platform == "win32", reason="Windows hands sockets over with --api-shared")
def test_the_worker_signs_device_tokens_with_one_key_in_the_users_data_folder(
    start_worker: StartWorker, tmp_path: Path
) -> None:
    machine = tmp_path / "etc-xdg" / "stethoscope"
    machine.mkdir(parents=True)
    (machine / "config.yaml").write_text("deviceKey: software\n", encoding="utf-8")
    with worker_on_api_sockets(start_worker) as (worker, port):
        answers = [
            request(
                port,
                "POST",
                "/attest",
                headers={"Content-Type": "application/json"},
                body=json.dumps({"nonce": "nonce-of-the-login-server"}).encode(),
                host=f"127.0.0.1:{port}",
            )
            for _ in range(2)
        ]
        worker.send(Exit())
        assert worker.wait() == 0, worker.stderr()
    assert [answer.status for answer in answers] == [200, 200], worker.stderr()
    assert answers[0].body["keyProtection"] == "software"
    assert answers[1].body == answers[0].body  # the same nonce: the same token
    folder = tmp_path / "home" / ".local" / "share" / "stethoscope" / "device-key"
    kept = json.loads((folder / "public-key.json").read_text())
    from stethoscope_desktop.device_trust.verify import verify_token

    payload = verify_token(
        answers[0].body["token"], kept["jwk"], nonce="nonce-of-the-login-server", origin="local"
    )
    assert payload["status"] in ("PASS", "NUDGE", "FAIL")
    assert worker.stderr().count("device key ") == 1  # opened once
