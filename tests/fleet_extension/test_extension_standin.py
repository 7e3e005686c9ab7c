"""End to end: a user's `scan --save`, then IT's osqueryd (the stand-in) autoloads the extension.

The stand-in knows nothing of this extension: it autoloads whatever its `--extensions_autoload`
file lists, as osqueryd does (`<path> --socket S --timeout T --interval I`), and answers SQL over
the tables extensions register. The extension runs as osqueryd would start it, on a fake machine
(`--root`, a hidden option): its passwd, utmp and homes.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from osquery.extensions import Extension
from thrift.protocol import TBinaryProtocol
from thrift.transport import TSocket, TTransport

import stethoscope_desktop
from stethoscope_desktop.engines.osquery import ManagerClient, OsqueryFailure
from stethoscope_desktop.fleet_extension.reading import MAX_REPORT_BYTES
from stethoscope_desktop.fleet_extension.service import EXTENSION_NAME
from stethoscope_desktop.fleet_extension.tables import PRACTICES_COLUMNS, STATUS_COLUMNS
from tests.engines.osquery_helpers import short_dir, wait_until
from tests.fleet_extension.machine import FakeMachine
from tests.osquery_standin import STANDIN, standin_env

REPO = Path(stethoscope_desktop.__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX users and files")
SECRET = "SECRET-CONTENT-THAT-MUST-NOT-LEAK"


def query(socket_path: str, sql: str) -> list[dict[str, str]]:
    """Run `sql` on the stand-in, as IT's osquery would (a distributed query, say)."""
    client = ManagerClient(socket_path, 30)
    try:
        response = client.call("query", sql)
    finally:
        client.close()
    assert response.status.code == 0, response.status.message
    return list(response.response)


def extension_argv(root: Path) -> list[str]:
    return [sys.executable, "-m", "stethoscope_desktop", "osquery-extension", "--root", str(root)]


def extension_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def write_launcher(folder: Path, root: Path) -> Path:
    """Write the executable an autoload file lists (osquery wants `.ext` files)."""
    launcher = folder / "stethoscope_desktop.ext"
    command = " ".join(f"'{part}'" for part in extension_argv(root))
    launcher.write_text(f"#!/bin/sh\nPYTHONPATH='{REPO}' exec {command} \"$@\"\n")
    launcher.chmod(0o755)
    return launcher


def registered(socket_path: str, count: int = 2) -> bool:
    """Return True once the stand-in answers and lists `count` extensions (core included)."""
    try:
        rows = query(socket_path, "SELECT name FROM osquery_extensions")
    except (OSError, OsqueryFailure):
        return False
    return len(rows) >= count and any(row["name"] == EXTENSION_NAME for row in rows)


def pids_in(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def gone(pid: int) -> bool:
    """Return True if `pid` has exited (a zombie its dead parent left counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


@dataclass
class Fleet:
    """A stand-in osqueryd that autoloaded the extension over a fake machine."""

    socket: str
    machine: FakeMachine
    standin: subprocess.Popen[bytes]
    extension_pids: list[int]
    alice_report: dict[str, Any]


def scan_and_save(machine: FakeMachine, name: str) -> Path:
    """Run `scan --save` as the user `name` would (their HOME); return the report written."""
    user = next(u for u in machine.users if u.name == name)
    env = {k: v for k, v in extension_env().items() if not k.startswith("XDG_")}
    env["HOME"] = str(user.home)
    done = subprocess.run(
        [sys.executable, "-m", "stethoscope_desktop", "scan", "--save", "--engine", "embedded"],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 1, 2), done.stderr.decode()
    written = machine.report_path(user)
    assert written.is_file(), done.stderr.decode()
    assert f"saved the report to {written}" in done.stderr.decode()
    assert oct(written.stat().st_mode & 0o777) == "0o600"
    assert oct(written.parent.stat().st_mode & 0o777) == "0o700"
    for path in (written, *[p for p in written.parents if user.home in p.parents]):
        machine.own(user, path)  # the user's scan made them (the test runs as someone else)
    return written


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    with short_dir() as folder:
        machine = FakeMachine(folder / "root")
        for name in ("alice", "bob", "carol", "dave", "eve", "frank"):
            machine.add_user(name)
        alice = machine.users[0]
        written = scan_and_save(machine, "alice")
        alice_report = json.loads(written.read_text())
        stale = dict(alice_report)
        stale["started_at"] = (datetime.now(UTC) - timedelta(days=3)).isoformat(timespec="seconds")
        machine.put_report(machine.users[1], json.dumps(stale).encode())
        machine.put_report(machine.users[2], b'{"status": "' + SECRET.encode() + b'"')
        link = machine.state_folder(machine.users[4]) / "last-report.json"
        link.symlink_to("/etc/passwd")
        machine.own(machine.users[4], link)
        machine.put_report(machine.users[5], b"{" + b" " * MAX_REPORT_BYTES + b"}")
        machine.log_in("dave", "alice")
        autoload = folder / "extensions.load"
        autoload.write_text(f"# IT's extensions\n{write_launcher(folder, machine.root)}\n")
        socket_path = str(folder / "em")
        pidfile = folder / "autoloaded.pids"
        standin = subprocess.Popen(
            [
                str(STANDIN),
                f"--extensions_socket={socket_path}",
                f"--extensions_autoload={autoload}",
                "--extensions_timeout=5",
                "--extensions_interval=1",
            ],
            env=standin_env("linux", STANDIN_AUTOLOAD_PIDFILE=str(pidfile)),
        )
        try:
            assert wait_until(
                lambda: (
                    os.path.exists(socket_path)
                    and any(
                        row["name"] == EXTENSION_NAME
                        for row in query(socket_path, "SELECT name FROM osquery_extensions")
                    )
                ),
                timeout=20,
            ), "the extension did not register"
            yield Fleet(socket_path, machine, standin, pids_in(pidfile), alice_report)
        finally:
            standin.terminate()
            standin.wait(10)
            for pid in pids_in(pidfile):
                if not gone(pid):
                    os.kill(pid, signal.SIGTERM)
            assert alice.name == "alice"


def test_the_practices_table_answers_the_verdicts_of_the_users_last_scan(fleet: Fleet) -> None:
    uid = fleet.machine.users[0].uid
    rows = query(fleet.socket, f"SELECT key, status FROM stethoscope_practices WHERE uid = {uid}")
    practices = fleet.alice_report["practices"]
    assert isinstance(practices, list) and practices
    assert sorted((r["key"], r["status"]) for r in rows) == sorted(
        (p["key"], p["status"]) for p in practices
    )


def test_the_status_table_has_a_row_per_user_with_a_report_or_logged_in(fleet: Fleet) -> None:
    rows = {
        row["username"]: row
        for row in query(
            fleet.socket,
            "SELECT username, status, stale, logged_in, error, app_version, policy_sha256, "
            "pass_count, fail_count FROM stethoscope_status",
        )
    }
    assert set(rows) == {"alice", "bob", "carol", "dave", "eve", "frank"}
    alice = rows["alice"]
    assert alice["status"] == fleet.alice_report["status"]
    assert alice["stale"] == "0" and alice["logged_in"] == "1" and alice["error"] == ""
    assert alice["app_version"] == stethoscope_desktop.__version__
    assert alice["policy_sha256"] == fleet.alice_report["policy_sha256"]
    assert int(alice["pass_count"]) == sum(
        1 for p in fleet.alice_report["practices"] if p["status"] == "PASS"
    )
    assert rows["bob"]["stale"] == "1" and rows["bob"]["status"] == alice["status"]
    assert rows["dave"]["status"] == "NO_REPORT" and rows["dave"]["logged_in"] == "1"
    for name, why in (
        ("carol", "not JSON"),
        ("eve", "symbolic link"),
        ("frank", "larger than 4 MiB"),
    ):
        assert rows[name]["status"] == "UNREADABLE", name
        assert why in rows[name]["error"], rows[name]["error"]
        assert rows[name]["pass_count"] == "", "an unreadable report has no counts"
    assert not any(SECRET in str(row) for row in rows.values())


def test_sql_filters_on_the_columns_work_through_osquery(fleet: Fleet) -> None:
    rows = query(
        fleet.socket,
        "SELECT u.username FROM stethoscope_status u WHERE u.status NOT IN "
        "('NO_REPORT', 'UNREADABLE') AND u.stale = 0",
    )
    assert [row["username"] for row in rows] == ["alice"]


def test_the_tables_have_the_agreed_columns(fleet: Fleet) -> None:
    agreed_status = (
        "uid BIGINT, username TEXT, status TEXT, pass_count INTEGER, nudge_count INTEGER, "
        "fail_count INTEGER, unknown_count INTEGER, checked_at TEXT, checked_at_unix BIGINT, "
        "age_seconds BIGINT, stale INTEGER, engine TEXT, app_version TEXT, policy_sha256 TEXT, "
        "sources TEXT, logged_in INTEGER, error TEXT, report_path TEXT"
    )
    agreed_practices = (
        "uid BIGINT, username TEXT, key TEXT, status TEXT, rating TEXT, title TEXT, "
        "observed TEXT, reason TEXT, checked_at TEXT, checked_at_unix BIGINT"
    )
    for columns, agreed in ((STATUS_COLUMNS, agreed_status), (PRACTICES_COLUMNS, agreed_practices)):
        assert ", ".join(f"{c.name} {c.type.upper()}" for c in columns) == agreed
    for table, columns in (
        ("stethoscope_status", STATUS_COLUMNS),
        ("stethoscope_practices", PRACTICES_COLUMNS),
    ):
        rows = query(fleet.socket, f"SELECT name, type FROM pragma_table_info('{table}')")
        assert [(r["name"], r["type"]) for r in rows] == [(c.name, c.type.upper()) for c in columns]


@dataclass
class Running:
    """A stand-in osqueryd and the extension started as osqueryd starts it."""

    folder: Path
    socket: str
    standin: subprocess.Popen[bytes]
    extension: subprocess.Popen[bytes]

    def uuid(self) -> int:
        rows = query(self.socket, "SELECT uuid, name FROM osquery_extensions")
        return int(next(row["uuid"] for row in rows if row["name"] == EXTENSION_NAME))

    def exit_status(self, within: float) -> tuple[int, bytes]:
        """Return the extension's exit status and stderr, failing if it runs past `within` s."""
        started = time.monotonic()
        status = self.extension.wait(within + 10)
        assert time.monotonic() - started < within, "the extension took too long to leave"
        _, err = self.extension.communicate()
        return status, err


@contextmanager
def running_extension() -> Iterator[Running]:
    with short_dir() as folder:
        machine = FakeMachine(folder / "root")
        machine.add_user("alice")
        socket_path = str(folder / "em")
        standin = subprocess.Popen(
            [str(STANDIN), f"--extensions_socket={socket_path}"], env=standin_env("linux")
        )
        extension: subprocess.Popen[bytes] | None = None
        try:
            # As osqueryd starts it, and with a flag it does not know (ignored, not fatal).
            extension = subprocess.Popen(
                [
                    *extension_argv(machine.root),
                    *("--socket", socket_path, "--timeout", "5", "--interval", "0.5"),
                    *("--verbose", "--some_future_flag=1"),
                ],
                env=extension_env(),
                stderr=subprocess.PIPE,
            )
            assert wait_until(lambda: registered(socket_path), timeout=20)
            yield Running(folder, socket_path, standin, extension)
        finally:
            for process in (standin, extension):
                if process is not None and process.poll() is None:
                    process.kill()
                    process.wait()
                if process is not None and process.stderr is not None:
                    process.stderr.close()


def test_osqueryd_going_away_ends_the_extension_within_its_interval() -> None:
    with running_extension() as running:
        running.standin.send_signal(signal.SIGTERM)
        running.standin.wait(10)
        status, err = running.exit_status(within=5)
        assert status == 0, err
        assert b"osqueryd has gone away" in err
        assert not list(running.folder.glob("em.*")), "the extension's socket is removed"


def test_osqueryd_asking_it_to_shut_down_ends_it() -> None:
    with running_extension() as running:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(10)
        sock.connect(f"{running.socket}.{running.uuid()}")
        raw = TSocket.TSocket()
        raw.setHandle(sock)
        transport = TTransport.TBufferedTransport(raw)
        client = Extension.Client(TBinaryProtocol.TBinaryProtocol(transport))
        assert client.ping().code == 0  # osqueryd's health check of the extension
        client.shutdown()  # osqueryd's way to stop it; answered with nothing
        transport.close()
        status, err = running.exit_status(within=5)
        assert status == 0 and b"asked to stop" in err


def test_an_extension_osqueryd_no_longer_lists_leaves_to_be_started_again() -> None:
    with running_extension() as running:
        client = ManagerClient(running.socket, 10)
        assert client.call("deregisterExtension", running.uuid()).code == 0
        client.close()
        status, err = running.exit_status(within=5)
        assert status == 1 and b"no longer lists this extension" in err


def test_sigterm_deregisters_and_ends_it() -> None:
    with running_extension() as running:
        running.extension.send_signal(signal.SIGTERM)
        status, err = running.exit_status(within=5)
        assert status == 0, err
        rows = query(running.socket, "SELECT name FROM osquery_extensions")
        assert [row["name"] for row in rows] == ["core"]


def test_without_osqueryd_the_extension_gives_up_after_its_timeout(tmp_path: Path) -> None:
    started = time.monotonic()
    done = subprocess.run(
        [
            *extension_argv(tmp_path),
            "--socket",
            str(tmp_path / "nothing.em"),
            "--timeout",
            "0.5",
        ],
        env=extension_env(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert b"did not answer within 0.5 s" in done.stderr
    assert time.monotonic() - started < 30


def test_a_second_copy_is_refused_by_osqueryd_and_exits(fleet: Fleet) -> None:
    done = subprocess.run(
        [*extension_argv(fleet.machine.root), "--socket", fleet.socket, "--timeout", "5"],
        env=extension_env(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert b"Duplicate extension registered" in done.stderr
    assert query(fleet.socket, "SELECT count(*) AS n FROM stethoscope_status")[0]["n"] == "6"
