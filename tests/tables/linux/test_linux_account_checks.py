"""IT-style checks (our own SQL, shaped like CIS Linux benchmark policies) on the embedded engine.

Each check is run on a fake root where it should pass and on one where it should fail, through
`EmbeddedEngine(builtin_tables("linux", ...))`, so the tables' constraints and SQLite's filtering
work together as they do in a scan.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stethoscope_desktop.engines.base import QueryError
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.tables.catalog import builtin_tables
from tests.fakes import FakeSystem
from tests.tables.linux.helpers import load_root

ONLY_ROOT_HAS_UID_0 = (
    "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM users WHERE uid = 0 AND username != 'root')"
)
PASSWD_GROUPS_EXIST = (
    "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM users u LEFT JOIN groups g ON g.gid = u.gid "
    "WHERE g.gid IS NULL)"
)
NO_EMPTY_PASSWORDS = (
    "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM shadow WHERE password_status = 'empty')"
)
SUDO_MEMBERS_ARE_ADMINS = (
    "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM user_groups ug JOIN users u USING (uid) "
    "WHERE ug.gid = 27 AND u.username NOT IN ('alice'))"
)
SHELL_ACCOUNTS_HAVE_HOMES = (
    "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM users WHERE shell LIKE '%sh' AND directory = '')"
)
CRAMFS_NOT_LOADED = "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM kernel_modules WHERE name = 'cramfs')"
NOT_A_ROUTER = (
    "SELECT 1 FROM system_controls WHERE name = 'net.ipv4.ip_forward' AND current_value = '0'"
)
SYNCOOKIES_CONFIGURED = (
    "SELECT 1 FROM system_controls WHERE name = 'net.ipv4.tcp_syncookies' "
    "AND current_value = '1' AND config_value = '1'"
)
NO_TELNET_RUNNING = "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM processes WHERE name = 'telnetd')"
ROOT_ON_ENCRYPTED_DISK = (
    "SELECT 1 FROM mounts m JOIN disk_encryption d ON d.name = m.device_alias "
    "WHERE m.path = '/' AND d.encrypted = 1"
)


def passes(system: FakeSystem, sql: str) -> bool:
    engine = EmbeddedEngine(builtin_tables("linux", system))
    try:
        with engine.begin_scan() as session:
            return bool(session.query(sql).rows)
    finally:
        engine.close()


@pytest.fixture
def machine(tmp_path: Path) -> FakeSystem:
    system = FakeSystem(load_root("accounts-debian", tmp_path))
    system.write("/proc/modules", "ext4 1003520 1 - Live 0x0000000000000000\n")
    system.write("/proc/sys/net/ipv4/ip_forward", "0\n")
    system.write("/proc/sys/net/ipv4/tcp_syncookies", "1\n")
    system.write("/etc/sysctl.d/60-net.conf", "net.ipv4.tcp_syncookies = 1\n")
    system.write("/proc/stat", "btime 1733200000\n")
    system.write(
        "/proc/700/stat", "700 (sshd) S 1 700 700 0 -1 0 0 0 0 0 5 1 0 0 20 0 1 0 99 1 1\n"
    )
    system.write("/proc/700/status", "Name:\tsshd\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n")
    return system


def test_account_checks(machine: FakeSystem) -> None:
    assert not passes(machine, ONLY_ROOT_HAS_UID_0)  # toor has uid 0
    assert not passes(machine, PASSWD_GROUPS_EXIST)  # ghost's primary group 2000 is missing
    assert not passes(machine, NO_EMPTY_PASSWORDS)  # toor's password is empty
    assert not passes(machine, SUDO_MEMBERS_ARE_ADMINS)  # bob is in gid 27 through wheel2
    assert passes(machine, SHELL_ACCOUNTS_HAVE_HOMES)
    machine.write(
        "/etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice:/home/alice:/bin/bash\n",
    )
    machine.write("/etc/group", "root:x:0:\nsudo:x:27:alice\nalice:x:1000:\n")
    machine.write("/etc/shadow", "root:!:19700:0:99999:7:::\nalice:$y$j9T$s$h:19800:0:99999:7:::\n")
    for check in (
        ONLY_ROOT_HAS_UID_0,
        PASSWD_GROUPS_EXIST,
        NO_EMPTY_PASSWORDS,
        SUDO_MEMBERS_ARE_ADMINS,
    ):
        assert passes(machine, check), check


def test_shadow_check_is_unknown_without_root(machine: FakeSystem) -> None:
    machine.denied.add("/etc/shadow")
    with pytest.raises(QueryError, match="only root can read"):
        passes(machine, NO_EMPTY_PASSWORDS)


def test_kernel_sysctl_and_process_checks(machine: FakeSystem) -> None:
    assert passes(machine, CRAMFS_NOT_LOADED)
    assert passes(machine, NOT_A_ROUTER)
    assert passes(machine, SYNCOOKIES_CONFIGURED)
    assert passes(machine, NO_TELNET_RUNNING)
    machine.write("/proc/modules", "cramfs 45056 0 - Live 0x0000000000000000\n")
    machine.write("/proc/sys/net/ipv4/ip_forward", "1\n")
    machine.write("/etc/sysctl.d/60-net.conf", "")
    machine.write(
        "/proc/701/stat", "701 (telnetd) S 1 701 701 0 -1 0 0 0 0 0 5 1 0 0 20 0 1 0 99 1 1\n"
    )
    machine.write("/proc/701/status", "Name:\ttelnetd\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n")
    for check in (CRAMFS_NOT_LOADED, NOT_A_ROUTER, SYNCOOKIES_CONFIGURED, NO_TELNET_RUNNING):
        assert not passes(machine, check), check


def test_root_on_encrypted_disk_joins_mounts_and_disk_encryption(machine: FakeSystem) -> None:
    machine.write("/proc/mounts", "/dev/mapper/vg-root / ext4 rw 0 0\nsysfs /sys sysfs rw 0 0\n")
    machine.write("/proc/self/mountinfo", "22 1 253:1 / / rw - ext4 /dev/mapper/vg-root rw\n")
    machine.write("/sys/dev/block/253:1/uevent", "DEVNAME=dm-1\n")
    links = machine.root / "sys/class/block"
    links.mkdir(parents=True)
    for name, files in (
        ("dm-0", {"dm/uuid": "CRYPT-LUKS2-abc-luks\n"}),
        ("dm-1", {"dm/uuid": "LVM-xyz\n", "slaves/dm-0": ""}),
    ):
        machine.write(f"/sys/devices/virtual/block/{name}/uevent", "")
        for relative, content in files.items():
            machine.write(f"/sys/devices/virtual/block/{name}/{relative}", content)
        os.symlink(f"../../devices/virtual/block/{name}", links / name)
    assert passes(machine, ROOT_ON_ENCRYPTED_DISK)
    machine.write("/sys/devices/virtual/block/dm-0/dm/uuid", "LVM-plain\n")
    assert not passes(machine, ROOT_ON_ENCRYPTED_DISK)
