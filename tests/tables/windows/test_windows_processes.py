"""Windows processes from a recorded Win32_Process read, with osquery's columns and values."""

from __future__ import annotations

from pathlib import Path

import pytest

from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.tables.base import TableError
from stethoscope_desktop.tables.windows._common import powershell_argv
from stethoscope_desktop.tables.windows.processes import PROCESSES_SCRIPT, Processes
from tests.fakes import FakeSystem, result, write_file
from tests.tables.linux.helpers import rows
from tests.tables.windows.helpers import FakeRegistry, load_windows

BOOT = 1728894600
EXPLORER = "C:\\WINDOWS\\Explorer.EXE"
TEAMS = "C:\\Users\\ben.ortiz\\AppData\\Local\\Microsoft\\Teams\\current\\Teams.exe"


def _processes(tmp_path: Path) -> dict[object, dict[str, object]]:
    system, registry = load_windows("win11-23h2", tmp_path)
    # The fake root keeps a drive path as one name, backslashes and all.
    for path in (EXPLORER, TEAMS):
        write_file(tmp_path, path, b"MZ")
    return {r["pid"]: r for r in rows(Processes(system, registry))}


def test_own_process_row(tmp_path: Path) -> None:
    teams = _processes(tmp_path)[9012]
    assert teams == {
        "pid": 9012,
        "name": "Teams.exe",
        "path": TEAMS,
        "cmdline": '"C:\\Users\\ben.ortiz\\AppData\\Local\\Microsoft\\Teams\\current\\Teams.exe"'
        " --system-initiated",
        "state": "STILL_ACTIVE",
        "cwd": None,
        "root": None,
        "uid": None,
        "gid": None,
        "euid": -1,
        "egid": -1,
        "suid": -1,
        "sgid": -1,
        "on_disk": 1,
        "wired_size": None,
        "resident_size": 201326592,
        "total_size": 150994944,
        "user_time": 300625,
        "system_time": 51250,
        "disk_bytes_read": 0,
        "disk_bytes_written": 0,
        "start_time": BOOT + 120,
        "parent": 7204,
        "pgroup": -1,
        "threads": 52,
        "nice": 32768,
        "elevated_token": None,
        "secure_process": None,
        "protection_type": None,
        "virtual_process": None,
        "elapsed_time": 7080,
        "handle_count": 1501,
        "percent_processor_time": 3518750000,
    }


def test_other_users_processes_idle_process_and_missing_binaries(tmp_path: Path) -> None:
    by_pid = _processes(tmp_path)
    assert sorted(by_pid) == [0, 4, 812, 1420, 3988, 7204, 9012, 11020]
    defender = by_pid[3988]
    assert (defender["name"], defender["path"], defender["cmdline"], defender["on_disk"]) == (
        "MsMpEng.exe",
        None,
        "",
        -1,
    )
    assert (defender["resident_size"], defender["user_time"], defender["nice"]) == (
        268435456,
        184375,
        32,
    )
    idle = by_pid[0]
    assert (idle["name"], idle["state"], idle["user_time"], idle["handle_count"]) == (
        "[System Process]",
        None,
        -1,
        -1,
    )
    assert by_pid[812]["nice"] is None  # base priority 11 is no priority class's
    assert (by_pid[11020]["on_disk"], by_pid[11020]["nice"]) == (0, 16384)
    assert by_pid[7204]["on_disk"] == 1


def test_when_powershell_fails_or_prints_no_list(tmp_path: Path) -> None:
    with pytest.raises(TableError, match="cannot read the running processes"):
        rows(Processes(FakeSystem(tmp_path), FakeRegistry()))
    argv = powershell_argv(PROCESSES_SCRIPT)
    odd = FakeSystem(tmp_path, commands=dict([result(argv, '{"Now": 5}')]))
    with pytest.raises(TableError, match="no list"):
        rows(Processes(odd, FakeRegistry()))


def test_defender_running_check_on_the_engine(tmp_path: Path) -> None:
    system, registry = load_windows("win11-23h2", tmp_path)
    engine = EmbeddedEngine([Processes(system, registry)])
    try:
        with engine.begin_scan() as session:
            running = session.query(
                "SELECT 1 AS ok FROM processes WHERE name = 'MsMpEng.exe' AND state = 'STILL_ACTIVE'"
            ).rows
    finally:
        engine.close()
    assert running == ({"ok": 1},)
