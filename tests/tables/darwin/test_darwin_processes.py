"""macOS processes from recorded `ps` outputs, as osquery fills the columns ps can tell."""

from __future__ import annotations

from pathlib import Path

import pytest

from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.tables.base import TableError
from stethoscope_desktop.tables.catalog import builtin_tables
from stethoscope_desktop.tables.darwin.processes import (
    PS_ARGS,
    PS_FIELDS,
    Processes,
    cpu_milliseconds,
    start_seconds,
)
from tests.fakes import FakeSystem, result, write_file
from tests.tables.darwin.helpers import load_mac
from tests.tables.linux.helpers import equals, rows

ON_DISK = (
    "/sbin/launchd",
    "/System/Library/CoreServices/Finder.app/Contents/MacOS/Finder",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    "/bin/zsh",
)


def _mac(tmp_path: Path) -> FakeSystem:
    system = load_mac("sonoma-14", tmp_path)
    for path in ON_DISK:
        write_file(tmp_path, path, b"\xcf\xfa\xed\xfe")
    return system


def test_own_process_with_osquerys_columns(tmp_path: Path) -> None:
    by_pid = {r["pid"]: r for r in rows(Processes(_mac(tmp_path)))}
    assert sorted(by_pid) == [1, 329, 412, 587, 901, 1204, 2210, 2299, 2301, 2350]
    assert by_pid[901] == {
        "pid": 901,
        "name": "Google Chrome",
        "path": "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
        "cmdline": "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
        "state": "R",
        "cwd": None,
        "root": None,
        "uid": 501,
        "gid": 20,
        "euid": 501,
        "egid": 20,
        "suid": 501,
        "sgid": 20,
        "on_disk": 1,
        "wired_size": None,
        "resident_size": 412672 * 1024,
        "total_size": None,
        "user_time": 3662500,
        "system_time": 250070,
        "disk_bytes_read": None,
        "disk_bytes_written": None,
        "start_time": 1733209845,
        "parent": 1,
        "pgroup": 901,
        "threads": None,
        "nice": 0,
        "upid": None,
        "uppid": None,
        "cpu_type": None,
        "cpu_subtype": None,
        "translated": None,
    }


def test_other_users_processes_zombies_and_states(tmp_path: Path) -> None:
    by_pid = {r["pid"]: r for r in rows(Processes(_mac(tmp_path)))}
    launchd = by_pid[1]
    # Another user's process: no task information, as osquery's failed proc_pid_rusage.
    assert (launchd["name"], launchd["on_disk"], launchd["uid"]) == ("launchd", 1, 0)
    assert [launchd[c] for c in ("resident_size", "total_size", "user_time", "system_time")] == [
        -1,
        -1,
        -1,
        -1,
    ]
    assert by_pid[412]["name"] == "softwareupdated"
    assert by_pid[412]["on_disk"] == 0  # not in this fake root
    helper = by_pid[1204]
    assert helper["name"] == "Google Chrome Helper (Renderer)"
    assert helper["cmdline"].endswith("(Renderer) --type=renderer --lang=en-US")
    assert (helper["nice"], helper["parent"], helper["pgroup"]) == (10, 901, 901)
    assert by_pid[2210]["cmdline"] == "-zsh"
    assert by_pid[2299]["state"] == "T"
    sudo = by_pid[2301]
    assert (sudo["uid"], sudo["euid"], sudo["suid"]) == (501, 0, 501)
    zombie = by_pid[2350]
    assert (zombie["state"], zombie["name"], zombie["path"], zombie["cmdline"]) == (
        "Z",
        "helper",
        "",
        "",
    )
    assert zombie["on_disk"] == -1


def test_pid_constraint(tmp_path: Path) -> None:
    chosen = rows(Processes(_mac(tmp_path)), equals("pid", "587", "4242", "x"))
    assert [(r["pid"], r["name"]) for r in chosen] == [(587, "Finder")]


def test_when_ps_fails(tmp_path: Path) -> None:
    with pytest.raises(TableError, match="cannot list the running processes"):
        rows(Processes(FakeSystem(tmp_path)))
    failing = FakeSystem(
        tmp_path,
        commands=dict([result(PS_FIELDS, stderr="ps: lstart: keyword not found", returncode=1)]),
    )
    with pytest.raises(TableError, match="keyword not found"):
        rows(Processes(failing))
    no_args = FakeSystem(tmp_path, commands=dict([result(PS_FIELDS, "")]))
    with pytest.raises(TableError, match="cannot list"):
        rows(Processes(no_args))
    assert PS_ARGS[-1] == "pid=,args="


def test_time_formats() -> None:
    assert cpu_milliseconds("0:00.03") == 30
    assert cpu_milliseconds("125:01.50") == 7501500
    assert cpu_milliseconds("1:02:03.00") == 3723000
    assert cpu_milliseconds("-") is None
    assert start_seconds(["Thu", "Jan", "1", "00:00:10", "1970"]) == 10
    assert start_seconds(["yesterday"]) is None


def test_a_fleet_style_process_check_on_the_engine(tmp_path: Path) -> None:
    engine = EmbeddedEngine(builtin_tables("darwin", _mac(tmp_path)))
    try:
        with engine.begin_scan() as session:
            running = session.query(
                "SELECT p.name, u.username FROM processes p JOIN users u ON u.uid = p.uid "
                "WHERE p.name = 'Finder'"
            ).rows
            missing_binaries = session.query(
                "SELECT pid FROM processes WHERE on_disk = 0 ORDER BY pid"
            ).rows
    finally:
        engine.close()
    assert running == ({"name": "Finder", "username": "dana"},)
    assert missing_binaries == (
        {"pid": 329},
        {"pid": 412},
        {"pid": 1204},
        {"pid": 2299},
        {"pid": 2301},
    )
