"""processes, kernel_modules and system_controls against fake /proc trees, per constraint form."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stethoscope_desktop.tables.base import TableError
from stethoscope_desktop.tables.linux import processes as processes_module
from stethoscope_desktop.tables.linux.kernel_modules import KernelModules, parse_modules
from stethoscope_desktop.tables.linux.processes import (
    CLOCK_TICKS,
    Processes,
    osquery_key_value,
    parse_cgroup,
)
from stethoscope_desktop.tables.linux.system_controls import SystemControls, parse_sysctl_config
from tests.fakes import FakeSystem
from tests.tables.linux.helpers import equals, make_root, rows

BOOT = 1_733_200_000


def stat_line(pid: int, comm: str, state: str, ppid: int, *, utime: int, start: int) -> str:
    # Fields after "(comm) ": state ppid pgrp session tty tpgid flags minflt cminflt majflt
    # cmajflt utime stime cutime cstime priority nice num_threads itrealvalue starttime ...
    fields = [state, ppid, pid, pid, 0, -1, 4194560, 100, 0, 2, 0, utime, 7, 0, 0, 20, -5, 3, 0]
    return f"{pid} ({comm}) " + " ".join(str(f) for f in fields) + f" {start} 123 456\n"


def status_text(name: str, uid: str, gid: str, *, memory: bool = True) -> str:
    lines = [f"Name:\t{name}", "State:\tS (sleeping)", f"Uid:\t{uid}", f"Gid:\t{gid}"]
    if memory:
        lines += ["VmSize:\t   20480 kB", "VmRSS:\t    5120 kB"]
    return "\n".join(lines) + "\n"


def add_process(
    system: FakeSystem,
    pid: int,
    *,
    name: str,
    exe: str | None,
    cwd: str | None = None,
    uid: str = "1000\t1000\t1000\t1000",
    io: str | None = None,
    memory: bool = True,
    cmdline: bytes = b"",
) -> None:
    base = f"/proc/{pid}"
    system.write(f"{base}/stat", stat_line(pid, name, "S", 1, utime=250, start=3 * CLOCK_TICKS))
    system.write(f"{base}/status", status_text(name, uid, "100\t100\t100\t100", memory=memory))
    system.write(f"{base}/cmdline", cmdline)
    system.write(f"{base}/cgroup", "0::/user.slice/user-1000.slice/session-2.scope\n")
    folder = system.root / base.lstrip("/")
    for link, target in (("exe", exe), ("cwd", cwd), ("root", "/" if exe else None)):
        if target is not None:
            os.symlink(target, folder / link)
    if io is not None:
        system.write(f"{base}/io", io)


@pytest.fixture
def proc(tmp_path: Path) -> FakeSystem:
    system = FakeSystem(make_root(tmp_path, {"/proc/stat": f"cpu 1 2 3\nbtime {BOOT}\n"}))
    system.write("/usr/bin/bash", "")
    add_process(
        system,
        812,
        name="bash",
        exe="/usr/bin/bash",
        cwd="/home/alice",
        io="rchar: 9\nwchar: 9\nread_bytes: 4096\nwrite_bytes: 12288\ncancelled_write_bytes: 4096\n",
        cmdline=b"bash\0--login\0",
    )
    # Another user's process: its links and io are hidden from us.
    add_process(system, 1, name="systemd", exe=None, uid="0\t0\t0\t0", cmdline=b"/sbin/init\0")
    # A kernel thread: no memory lines, no command line.
    add_process(system, 2, name="kthreadd", exe=None, uid="0\t0\t0\t0", memory=False)
    # Running from a deleted binary.
    add_process(system, 95, name="old", exe="/opt/old (deleted)", cwd="/")
    system.write("/proc/self", "")  # not a pid
    system.write("/proc/stat", f"cpu 1 2 3\nbtime {BOOT}\n")
    return system


def test_processes_fills_columns_like_osquery(proc: FakeSystem) -> None:
    by_pid = {row["pid"]: row for row in rows(Processes(proc))}
    assert set(by_pid) == {1, 2, 95, 812}
    ms = 1000 // CLOCK_TICKS
    assert by_pid[812] == {
        "pid": 812,
        "name": "bash",
        "path": "/usr/bin/bash",
        "cmdline": "bash --login",
        "state": "S",
        "cwd": "/home/alice",
        "root": "/",
        "uid": 1000,
        "gid": 100,
        "euid": 1000,
        "egid": 100,
        "suid": 1000,
        "sgid": 100,
        "on_disk": 1,
        "wired_size": 0,
        "resident_size": 5120 * 1024,
        "total_size": 20480 * 1024,
        "user_time": 250 * ms,
        "system_time": 7 * ms,
        "disk_bytes_read": 4096,
        "disk_bytes_written": 8192,
        "start_time": BOOT + 3,
        "parent": 1,
        "pgroup": 812,
        "threads": 3,
        "nice": -5,
        "cgroup_path": "/user.slice/user-1000.slice/session-2.scope",
    }
    hidden = by_pid[1]
    assert (hidden["path"], hidden["cwd"], hidden["root"], hidden["on_disk"]) == ("", "", "", -1)
    assert (hidden["disk_bytes_read"], hidden["disk_bytes_written"], hidden["uid"]) == (
        None,
        None,
        0,
    )
    assert (by_pid[2]["resident_size"], by_pid[2]["total_size"], by_pid[2]["cmdline"]) == (
        None,
        None,
        "",
    )
    assert (by_pid[95]["path"], by_pid[95]["on_disk"]) == ("/opt/old", 0)


def test_processes_come_in_osquerys_text_order(proc: FakeSystem) -> None:
    assert [row["pid"] for row in rows(Processes(proc))] == [1, 2, 812, 95]


def test_pid_constraint_reads_only_those_processes(proc: FakeSystem) -> None:
    proc.denied.add("/proc")  # listing /proc would fail: only the named pids are read
    generated = rows(Processes(proc), equals("pid", "812", "4040", "../etc"))
    assert [row["pid"] for row in generated] == [812]


def test_a_process_gone_or_malformed_is_skipped(proc: FakeSystem) -> None:
    proc.write("/proc/77/stat", "77 (short) S 1\n")
    proc.write("/proc/77/status", status_text("short", "1\t1\t1\t1", "1\t1\t1\t1"))
    (proc.root / "proc/78").mkdir()
    assert 77 not in {row["pid"] for row in rows(Processes(proc))}
    assert 78 not in {row["pid"] for row in rows(Processes(proc))}


def test_no_boot_time_gives_start_time_minus_one(proc: FakeSystem) -> None:
    proc.write("/proc/stat", "cpu 1 2 3\n")
    assert {row["start_time"] for row in rows(Processes(proc))} == {-1}


def test_too_many_processes_is_a_table_error(
    proc: FakeSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(processes_module, "MAX_PROCESSES", 3)
    with pytest.raises(TableError, match="more than the 3"):
        rows(Processes(proc))
    assert len(rows(Processes(proc), equals("pid", "1", "2", "95", "812"))) == 4


def test_status_and_cgroup_parsing_follow_osquery() -> None:
    assert osquery_key_value("Name:\t a : b") == ("Name", "a:b")
    assert osquery_key_value("nothing") is None
    assert parse_cgroup("12:cpu,cpuacct:/user.slice\n11:memory:/x\n") == "/user.slice"
    assert parse_cgroup("0::/init.scope\n") == "/init.scope"
    assert parse_cgroup("garbage") == ""


MODULES = (
    "nf_tables 331776 42 nft_ct,nft_chain_nat, Live 0x0000000000000000\n"
    "usb_storage 81920 0 - Live 0x0000000000000000 (E)\n"
    "broken line\n"
    "cramfs 45056 0 - Loading 0xffffffffc0a00000\n"
)


def test_kernel_modules_parse_like_osquery() -> None:
    assert parse_modules(MODULES) == [
        {
            "name": "nf_tables",
            "size": 331776,
            "used_by": "nft_ct,nft_chain_nat",
            "status": "Live",
            "address": "0x0000000000000000",
        },
        {
            "name": "usb_storage",
            "size": 81920,
            "used_by": "-",
            "status": "Live",
            "address": "0x0000000000000000",
        },
        {
            "name": "cramfs",
            "size": 45056,
            "used_by": "-",
            "status": "Loading",
            "address": "0xffffffffc0a00000",
        },
    ]


def test_kernel_modules_missing_or_unreadable(tmp_path: Path) -> None:
    system = FakeSystem(tmp_path)
    assert rows(KernelModules(system)) == []  # no loadable-module support
    system.write("/proc/modules", MODULES)
    assert len(rows(KernelModules(system))) == 3
    system.denied.add("/proc/modules")
    with pytest.raises(TableError, match="/proc/modules: permission denied"):
        rows(KernelModules(system))


@pytest.fixture
def sysctl(tmp_path: Path) -> FakeSystem:
    system = FakeSystem(
        make_root(
            tmp_path,
            {
                "/proc/sys/net/ipv4/ip_forward": "0\n",
                "/proc/sys/net/ipv4/conf/all/rp_filter": "2\n",
                "/proc/sys/net/ipv4/tcp_syncookies": "1\n",
                "/proc/sys/kernel/randomize_va_space": "2\n",
                "/proc/sys/kernel/cad_pid": "1\n",
                "/proc/sys/fs/suid_dumpable": "0\n",
                "/proc/sys/vm/compact_memory": "",
                "/etc/sysctl.conf": "# comment\n; also\nnet.ipv4.ip_forward = 1\nbad=a=b\n",
                "/etc/sysctl.d/99-hardening.conf": "kernel.randomize_va_space=2\n"
                "net.ipv4.tcp_syncookies = 1\n",
                "/usr/lib/sysctl.d/50-default.conf": "net.ipv4.conf.all.rp_filter = 2\n"
                "net.ipv4.ip_forward = 0\n",
                "/etc/sysctl.d/README": "fs.suid_dumpable = 2\n",
            },
        )
    )
    system.denied |= {"/proc/sys/kernel/cad_pid", "/proc/sys/vm/compact_memory"}
    return system


def test_system_controls_walk_folders_first_then_files(sysctl: FakeSystem) -> None:
    generated = rows(SystemControls(sysctl))
    assert [row["name"] for row in generated] == [
        "fs.suid_dumpable",
        "kernel.cad_pid",
        "kernel.randomize_va_space",
        "net.ipv4.conf.all.rp_filter",
        "net.ipv4.ip_forward",
        "net.ipv4.tcp_syncookies",
        "vm.compact_memory",
    ]
    by_name = {row["name"]: row for row in generated}
    # osquery reads /usr/lib/sysctl.d after /etc/sysctl.conf: its value wins there.
    assert by_name["net.ipv4.ip_forward"] == {
        "name": "net.ipv4.ip_forward",
        "oid": None,
        "subsystem": "net",
        "current_value": "0",
        "config_value": "0",
        "type": "string",
    }
    assert by_name["kernel.cad_pid"]["current_value"] is None  # unreadable: still a row
    assert by_name["fs.suid_dumpable"]["config_value"] is None  # README is not a .conf file
    assert by_name["kernel.randomize_va_space"]["config_value"] == "2"


def test_system_controls_name_subsystem_and_oid_constraints(sysctl: FakeSystem) -> None:
    sysctl.denied.add("/proc/sys/net")  # a name is read directly, not found by walking
    named = rows(SystemControls(sysctl), equals("name", "net.ipv4.ip_forward", "net.ipv4"))
    assert [(r["name"], r["current_value"]) for r in named] == [("net.ipv4.ip_forward", "0")]
    missing = rows(SystemControls(sysctl), equals("name", "net.ipv4.nope", "a..b", "..x"))
    assert [(r["name"], r["current_value"], r["subsystem"]) for r in missing] == [
        ("net.ipv4.nope", None, "net")
    ]
    kernel = rows(SystemControls(sysctl), equals("subsystem", "kernel"))
    assert {r["subsystem"] for r in kernel} == {"kernel"} and len(kernel) == 2
    assert rows(SystemControls(sysctl), equals("oid", "1.2")) == []


def test_system_controls_walk_is_bounded(
    sysctl: FakeSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stethoscope_desktop.tables.linux import system_controls

    monkeypatch.setattr(system_controls, "MAX_ENTRIES", 4)
    with pytest.raises(TableError, match="more than 4 entries"):
        rows(SystemControls(sysctl))
    deep = "/proc/sys/dev/" + "/".join(f"d{i}" for i in range(14)) + "/leaf"
    sysctl.write(deep, "1\n")
    monkeypatch.setattr(system_controls, "MAX_ENTRIES", 1000)
    with pytest.raises(TableError, match="folders deep"):
        rows(SystemControls(sysctl))


def test_sysctl_config_lines_like_osquery() -> None:
    config: dict[str, str] = {}
    parse_sysctl_config(" a.b = 1 \n#c=2\n;d=3\ne.f=\n g = x y \nh==i\n-k.l = 5\n", config)
    assert config == {"a.b": "1", "g": "x y", "h": "i", "-k.l": "5"}
