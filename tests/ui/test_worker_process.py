"""The tray's side of the scan worker with a real worker process.

Scans, idle exit, crashes, and the local API answered by a worker the tray started for a
waiting connection.
"""

from __future__ import annotations

import json
import logging
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from stethoscope_desktop.app import StethoscopeApp
from stethoscope_desktop.core.protocol import Scan, ScanReported
from stethoscope_desktop.core.state import StateStore
from stethoscope_desktop.ui.worker_client import ApiPort, WorkerProcess, worker_command
from stethoscope_desktop.worker_launch import (
    EarlyWorker,
    early_start_supported,
    spawn_worker,
    stop_early_worker,
)
from tests.ui.fakes import MemoryAutostart, RecordingNotifier
from tests.ui.test_app import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker (a child process) reads its environment: keep its state and caches in tmp."""
    for name, folder in (
        ("HOME", "home"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_CONFIG_HOME", "config"),
    ):
        (tmp_path / folder).mkdir()
        monkeypatch.setenv(name, str(tmp_path / folder))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.chdir(ROOT)


def worker(idle_seconds: float = 30.0) -> WorkerProcess:
    return WorkerProcess(
        worker_command(["--engine", "embedded", "--idle-seconds", str(idle_seconds)])
    )


@pytest.fixture
def process() -> Iterator[WorkerProcess]:
    link = worker()
    yield link
    link.stop()


def test_a_scan_command_comes_back_as_a_report(qtbot: QtBot, process: WorkerProcess) -> None:
    with qtbot.waitSignal(process.event_received, timeout=20_000) as event:
        process.send(Scan(7))
    assert event.args is not None
    data = event.args[0]
    assert isinstance(data, ScanReported) and data.id == 7
    result = data.result
    assert result.report.practices and result.strings.string("checkAgain") == "Check again"
    assert result.settings.scan_interval_minutes >= 5
    assert process.is_running() and not process.serves_api()


def test_the_worker_leaves_when_idle_and_says_so(
    qtbot: QtBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="stethoscope_desktop.ui.worker_client")
    link = worker(idle_seconds=0.5)
    with qtbot.waitSignal(link.stopped, timeout=20_000) as stopped:
        link.start()
    assert stopped.args == [0]
    assert not link.is_running()
    # The worker's log lines (its stderr) go into the tray's log, one record per line.
    forwarded = [r.getMessage() for r in caplog.records if r.getMessage().startswith("worker: ")]
    assert forwarded == ["worker: INFO stethoscope_desktop.worker: no work for 0.5 s: leaving"]


@pytest.mark.allow_warnings
def test_a_worker_that_cannot_start_is_reported(qtbot: QtBot) -> None:
    link = WorkerProcess([str(ROOT / "no-such-program")])
    reasons: list[str] = []
    link.start_failed.connect(reasons.append)
    with qtbot.waitSignal(link.stopped, timeout=10_000) as stopped:
        link.send(Scan(1))
    assert stopped.args == [-1]
    assert not link.is_running()
    assert len(reasons) == 1 and reasons[0], "why it could not start"


# Workers that fail as real ones can: a program that dies, one that is not there, and one that
# speaks another protocol version (a line that is no report of this version).
DIES = "import sys; sys.stdin.readline(); sys.exit(3)\n"
NEWER = (
    "import sys; sys.stdin.readline()\n"
    'print(\'{"v": 999, "event": "report", "id": 1, "shape": "unknown"}\', flush=True)\n'
    "sys.stdin.readline()\n"
)


def failing_app(qtbot: QtBot, tmp_path: Path, script: str | None) -> StethoscopeApp:
    """The app without a tray (its window shows at start) on a worker running `script`.

    None: a worker program that does not exist.
    """
    command = [str(ROOT / "no-such-program")]
    if script is not None:
        (tmp_path / "worker.py").write_text(script)
        command = [sys.executable, str(tmp_path / "worker.py")]
    return windowed_app(qtbot, tmp_path, WorkerProcess(command), api=False)


def windowed_app(
    qtbot: QtBot, tmp_path: Path, link: WorkerProcess, **api: object
) -> StethoscopeApp:
    """The app without a tray (its window shows at start) on `link`; `api`: its API options."""
    app = StethoscopeApp(
        worker=link,
        platform="linux",
        store=StateStore(tmp_path / "state.json"),
        autostart=MemoryAutostart(),
        tray_available=False,
        open_link=lambda url: None,
        notifier=RecordingNotifier(),
        **api,  # type: ignore[arg-type]
    )
    qtbot.addWidget(app.window)
    return app


@pytest.mark.allow_warnings
def test_a_worker_that_dies_makes_the_scan_fail_not_hang(qtbot: QtBot, tmp_path: Path) -> None:
    app = failing_app(qtbot, tmp_path, DIES)
    try:
        with qtbot.waitSignal(app.scans.scan_failed, timeout=20_000) as failed:
            app.start()
        assert failed.args is not None and "exit code 3" in failed.args[0].detail
        assert not app.scans.is_scanning() and app.window.check_again.isEnabled()
    finally:
        app.shutdown()


@pytest.mark.allow_warnings
@pytest.mark.parametrize(
    ("script", "words", "detail"),
    [
        (DIES, "the checker stopped unexpectedly.", "(exit code 3)"),
        (None, "the checker could not start.", "the scan worker could not start: "),
        (NEWER, "the checker belongs to another version of Stethoscope.", "protocol version 999"),
    ],
    ids=["dies", "missing", "newer"],
)
def test_a_failing_worker_is_shown_in_words_with_the_reason(
    qtbot: QtBot, tmp_path: Path, script: str | None, words: str, detail: str
) -> None:
    app = failing_app(qtbot, tmp_path, script)
    try:
        with qtbot.waitSignal(app.scans.scan_failed, timeout=20_000) as failed:
            app.start()
        assert failed.args is not None and detail in failed.args[0].detail
        assert f"Couldn't check this computer: {words}" in app.window.overall.text()
        assert detail in app.window.last_checked.text(), "the detail in the fine print"
    finally:
        app.shutdown()


def test_the_api_port_is_held_by_the_tray_and_served_by_a_worker_it_starts(
    qtbot: QtBot, tmp_path: Path
) -> None:
    app = StethoscopeApp(
        worker=worker(idle_seconds=1),
        platform="linux",
        store=StateStore(tmp_path / "state.json"),
        autostart=MemoryAutostart(),
        tray_available=False,
        open_link=lambda url: None,
        notifier=RecordingNotifier(),
        api_port=0,
    )
    qtbot.addWidget(app.window)
    try:
        with qtbot.waitSignal(app.scans.report_ready, timeout=20_000):
            app.start()
        assert isinstance(app.api, ApiPort) and app.api.port
        assert app._worker.serves_api(), "the port is bound before the first worker starts"
        # The worker leaves when idle; the tray keeps the port, and a connection that waits
        # there starts a worker that serves it.
        qtbot.waitUntil(lambda: not app._worker.is_running(), timeout=10_000)
        body = json.dumps({"query": "{ policy { validate { status } } }"}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{app.api.port}/graphql",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        answers: list[dict[str, object]] = []

        def ask() -> None:
            with urllib.request.urlopen(request, timeout=20) as response:
                answers.append(json.loads(response.read()))

        import threading

        thread = threading.Thread(target=ask)
        thread.start()
        qtbot.waitUntil(lambda: not thread.is_alive(), timeout=25_000)
        assert answers and answers[0]["data"]["policy"]["validate"]["status"] in (  # type: ignore[index]
            "PASS",
            "NUDGE",
            "FAIL",
        )
        assert app._worker.serves_api()
        qtbot.waitUntil(lambda: "Last checked by" in app.window.last_checked.text(), timeout=5_000)
    finally:
        app.shutdown()


def test_the_worker_command_runs_this_package_on_this_interpreter() -> None:
    command = worker_command(["--engine", "embedded"])
    assert command[0] == sys.executable
    code = command.index("-c")
    assert command[code + 2 :] == [str(ROOT), "worker", "--engine", "embedded"]
    assert "from stethoscope_desktop.cli import main" in command[code + 1]


def test_a_frozen_bundle_is_its_own_worker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    program = tmp_path / "stethoscope-desktop"
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(program))
    monkeypatch.setattr(sys, "platform", "linux")
    assert worker_command(["--debug"]) == [str(program), "worker", "--debug"]
    # On Windows the windowed program has no pipes of its own: its console sibling runs it.
    monkeypatch.setattr(sys, "platform", "win32")
    assert worker_command() == [str(program), "worker"], "no sibling: the program itself"
    sibling = tmp_path / "stethoscope-desktop-cli.exe"
    sibling.write_bytes(b"")
    assert worker_command() == [str(sibling), "worker"]


# -- a worker started before the tray (worker_launch.start_worker_early), adopted ---------------


def early_worker(options: list[str] | None = None, command: list[str] | None = None) -> EarlyWorker:
    """A worker started as `start_worker_early` starts it (three pipes), before the link."""
    return spawn_worker(
        command or worker_command(options or ["--engine", "embedded", "--idle-seconds", "30"])
    )


@pytest.mark.skipif(not early_start_supported(), reason="the early start is Linux's")
def test_an_early_worker_is_adopted_scans_and_the_next_starts_through_qprocess(
    qtbot: QtBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="stethoscope_desktop.ui.worker_client")
    early = early_worker()
    link = WorkerProcess(worker_command(["--engine", "embedded"]), early=early)
    try:
        assert link.is_running() and not link.serves_api()
        with qtbot.waitSignal(link.event_received, timeout=20_000) as event:
            link.send(Scan(3))
        assert event.args is not None
        assert isinstance(event.args[0], ScanReported) and event.args[0].id == 3
        with qtbot.waitSignal(link.stopped, timeout=10_000) as stopped:
            link.stop()  # the end of its stdin: it leaves
        assert stopped.args == [0] and early.returncode == 0
        assert not link.is_running()
        # The next command starts a worker of the link's own command.
        with qtbot.waitSignal(link.event_received, timeout=20_000) as event:
            link.send(Scan(4))
        assert event.args is not None and event.args[0].id == 4
        assert link.is_running()
    finally:
        link.stop()
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("scan worker started before the tray") for m in messages)
    assert "scan worker started" in messages, "the second one through QProcess"


@pytest.mark.skipif(not early_start_supported(), reason="the early start is Linux's")
def test_an_early_worker_that_leaves_idle_is_seen_to_leave_with_its_last_lines(
    qtbot: QtBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="stethoscope_desktop.ui.worker_client")
    early = early_worker(["--engine", "embedded", "--idle-seconds", "0.5"])
    link = WorkerProcess(worker_command(), early=early)
    with qtbot.waitSignal(link.stopped, timeout=20_000) as stopped:
        pass
    assert stopped.args == [0] and not link.is_running()
    forwarded = [r.getMessage() for r in caplog.records if r.getMessage().startswith("worker: ")]
    assert forwarded == ["worker: INFO stethoscope_desktop.worker: no work for 0.5 s: leaving"]
    assert early.stdout == early.stdin == early.stderr == -1, "its pipes are closed"


@pytest.mark.allow_warnings
@pytest.mark.skipif(not early_start_supported(), reason="the early start is Linux's")
def test_an_early_worker_that_dies_is_seen_to_crash(qtbot: QtBot, tmp_path: Path) -> None:
    (tmp_path / "worker.py").write_text("import os, sys; sys.stdin.readline(); os.abort()\n")
    early = early_worker(command=[sys.executable, str(tmp_path / "worker.py")])
    link = WorkerProcess(worker_command(), early=early)
    with qtbot.waitSignal(link.stopped, timeout=20_000) as stopped:
        link.send(Scan(1))
    assert stopped.args == [-1], "killed by a signal: crashed"


@pytest.mark.skipif(not early_start_supported(), reason="the early start is Linux's")
def test_an_early_worker_scans_first_then_leaves_for_one_with_the_api_sockets(
    qtbot: QtBot, tmp_path: Path
) -> None:
    port = free_port()  # known at start, as a port remembered from the last session is
    started: list[str] = []
    link = WorkerProcess(
        worker_command(["--engine", "embedded", "--idle-seconds", "30"]), early=early_worker()
    )
    app = windowed_app(qtbot, tmp_path, link, api_port=port)
    app.scans.scan_started.connect(started.append)
    try:
        with qtbot.waitSignal(app.scans.report_ready, timeout=20_000):
            app.start()
        assert started == ["start"], "the early worker did the first scan, once"
        assert app.api is not None and app.api.port == port
        # Binding the port asked it to leave after its scan; the next worker serves the API.
        qtbot.waitUntil(lambda: not app._worker.is_running(), timeout=10_000)
        with qtbot.waitSignal(app.scans.report_ready, timeout=20_000):
            app.scans.request_scan("check again")
        assert app._worker.serves_api()
    finally:
        app.shutdown()


def test_an_early_worker_not_adopted_is_ended(tmp_path: Path) -> None:
    early = early_worker(command=[sys.executable, "-c", "import time; time.sleep(60)"])
    stop_early_worker(early)
    assert early.returncode is not None and early.stdout == -1
