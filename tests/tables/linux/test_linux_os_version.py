"""os_version (osquery's row), stethoscope_os_version (ours) and system_info on fake roots."""

from __future__ import annotations

from pathlib import Path

import pytest

from stethoscope_desktop.tables.base import TableError
from stethoscope_desktop.tables.linux.os_version import OsVersion, StethoscopeOsVersion
from stethoscope_desktop.tables.linux.system_info import SystemInfo, format_machine_id
from tests.fakes import FakeSystem, result
from tests.tables.linux.helpers import (
    WatchedSystem,
    fixture,
    make_root,
    one_row,
    replace_keeping_mtime,
)


def os_root(tmp_path: Path, name: str, **extra: str) -> FakeSystem:
    files = {"/etc/os-release": fixture(f"os-release/{name}"), "/proc/sys/kernel/arch": "x86_64\n"}
    files.update(extra)
    return FakeSystem(make_root(tmp_path, files))


DEBIAN_VERSION = {"/etc/debian_version": fixture("os-release/debian-12.debian_version")}


def test_debian_12_os_version_is_osquerys_row(tmp_path: Path) -> None:
    system = os_root(tmp_path, "debian-12", **DEBIAN_VERSION)
    assert one_row(OsVersion(system)) == {
        "name": "Debian GNU/Linux",
        "version": "12 (bookworm)",
        "major": 12,
        "minor": 0,  # VERSION_ID="12": osquery never reads /etc/debian_version
        "patch": 0,
        "build": None,  # no BUILD_ID
        "platform": "debian",
        "platform_like": None,
        "codename": "bookworm",
        "arch": "x86_64",
        "pid_with_namespace": 0,
        "mount_namespace_id": None,
    }
    assert system.calls == []  # arch came from /proc/sys/kernel/arch, no uname


def test_debian_12_stethoscope_os_version_has_the_point_release(tmp_path: Path) -> None:
    system = os_root(tmp_path, "debian-12", **DEBIAN_VERSION)
    assert one_row(StethoscopeOsVersion(system)) == {
        "name": "Debian GNU/Linux",
        "version": "12 (bookworm)",
        "major": 12,
        "minor": 7,
        "patch": 0,
        "build": "",
        "platform": "debian",
        "platform_like": None,
        "codename": "bookworm",
    }
    row = one_row(StethoscopeOsVersion(os_root(tmp_path / "bare", "debian-12")))
    assert (row["major"], row["minor"], row["patch"]) == (12, 0, 0)  # no debian_version


def test_ubuntu_24_04(tmp_path: Path) -> None:
    system = os_root(
        tmp_path,
        "ubuntu-24.04",
        **{"/etc/debian_version": fixture("os-release/ubuntu-24.04.debian_version")},
    )
    row = one_row(OsVersion(system))
    assert row["name"] == "Ubuntu"
    assert row["version"] == "24.04.1 LTS (Noble Numbat)"
    assert (row["major"], row["minor"], row["patch"]) == (24, 4, 0)
    # UBUNTU_CODENAME, a later line with CODENAME in its key, fills codename as in osquery.
    assert (row["platform"], row["platform_like"], row["codename"]) == ("ubuntu", "debian", "noble")
    ours = one_row(StethoscopeOsVersion(system))
    assert (ours["major"], ours["minor"], ours["patch"]) == (24, 4, 1)  # from VERSION


def test_fedora_41_os_version_says_rhel_like_osquery_ours_says_fedora(tmp_path: Path) -> None:
    system = os_root(
        tmp_path,
        "fedora-41",
        **{"/etc/redhat-release": fixture("os-release/fedora-41.redhat-release")},
    )
    row = one_row(OsVersion(system))
    assert row["name"] == "Fedora Linux"  # "release 41" has no minor: the line does not match
    assert row["version"] == "Fedora release 41 (Forty One)"
    assert (row["major"], row["minor"], row["patch"]) == (41, 0, 0)
    assert (row["platform"], row["platform_like"], row["codename"]) == ("rhel", "rhel", "")
    assert row["build"] == ""
    ours = one_row(StethoscopeOsVersion(system))
    assert (ours["platform"], ours["version"], ours["major"]) == (
        "fedora",
        "41 (Workstation Edition)",
        41,
    )


def test_redhat_release_line_gives_name_and_version(tmp_path: Path) -> None:
    make_root(
        tmp_path,
        {
            "/etc/os-release": 'NAME="Rocky Linux"\nVERSION_ID="9.3"\nID="rocky"\n',
            "/etc/redhat-release": "Rocky Linux release 9.3  (Blue Onyx)\n",
            "/proc/sys/kernel/arch": "x86_64\n",
        },
    )
    row = one_row(OsVersion(FakeSystem(tmp_path)))
    assert row["name"] == "Rocky Linux"
    assert row["version"] == "Rocky Linux release 9.3 (Blue Onyx)"  # whitespace runs collapsed
    assert (row["major"], row["minor"], row["patch"]) == (9, 3, 0)
    assert row["platform"] == "rhel"


def test_os_release_quirks_as_osquery_reads_them(tmp_path: Path) -> None:
    make_root(
        tmp_path,
        {
            "/etc/os-release": (
                "NAME='Single Quoted'\n"
                "  VERSION_ID = 2024.1.5.7 \n"
                "BUILD_ID=rolling\n"
                "# ID=commented\n"
                "ID=\n"
                "ID=custom\n"
            ),
            "/proc/sys/kernel/arch": "aarch64\n",
        },
    )
    row = one_row(OsVersion(FakeSystem(tmp_path)))
    assert row["name"] == "'Single Quoted'"  # only double quotes are taken off
    assert (row["major"], row["minor"], row["patch"]) == (2024, 1, None)  # "5.7" is no integer
    assert (row["build"], row["platform"], row["version"]) == ("rolling", "custom", None)


def test_arch_falls_back_to_uname_and_ours_to_usr_lib(tmp_path: Path) -> None:
    make_root(tmp_path, {"/usr/lib/os-release": 'NAME="Arch Linux"\nID=arch\nBUILD_ID=rolling\n'})
    system = FakeSystem(tmp_path, commands=dict([result(["uname", "-m"], "aarch64\n")]))
    row = one_row(OsVersion(system))  # osquery reads /etc/os-release only: its defaults
    assert row == {
        "name": "Unknown",
        "major": 0,
        "minor": 0,
        "patch": 0,
        "platform": "posix",
        "pid_with_namespace": 0,
        "arch": "aarch64",
        **dict.fromkeys(("version", "build", "platform_like", "codename", "mount_namespace_id")),
    }
    ours = one_row(StethoscopeOsVersion(system))
    assert (ours["name"], ours["version"], ours["build"]) == ("Arch Linux", None, "rolling")
    assert (ours["major"], ours["minor"], ours["patch"]) == (0, 0, 0)


def test_no_os_release_is_a_table_error_in_ours_only(tmp_path: Path) -> None:
    assert one_row(OsVersion(FakeSystem(tmp_path)))["name"] == "Unknown"
    with pytest.raises(TableError, match="/etc/os-release: not found"):
        one_row(StethoscopeOsVersion(FakeSystem(tmp_path)))


CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 140
model name\t: 11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz
microcode\t: 0xb4
physical id\t: 0
core id\t\t: 0

processor\t: 1
vendor_id\t: GenuineIntel
model\t\t: 140
model name\t: 11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz
physical id\t: 0
core id\t\t: 0

processor\t: 2
model name\t: 11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz
physical id\t: 0
core id\t\t: 1

"""


def test_system_info_from_proc_and_dmi(tmp_path: Path) -> None:
    make_root(
        tmp_path,
        {
            "/proc/sys/kernel/hostname": "laptop\n",
            "/proc/sys/kernel/arch": "x86_64\n",
            "/proc/cpuinfo": CPUINFO,
            "/proc/meminfo": "MemTotal:       16074520 kB\nMemFree:         1000000 kB\n",
            "/etc/machine-id": "3d1219c7c4c5404aaa1f6d2a48adfda4\n",
            "/sys/class/dmi/id/sys_vendor": "LENOVO\n",
            "/sys/class/dmi/id/product_name": "20XWCTO1WW\n",
            "/sys/class/dmi/id/product_version": "ThinkPad X1 Carbon Gen 9\n",
            "/sys/class/dmi/id/board_vendor": "LENOVO\n",
            "/sys/class/dmi/id/board_name": "20XWCTO1WW\n",
            "/sys/class/dmi/id/board_version": "SDK0J40697 WIN\n",
        },
    )
    # product_serial, board_serial and product_uuid are root-only: absent here, so NULL.
    row = one_row(SystemInfo(FakeSystem(tmp_path)))
    assert row == {
        "hostname": "laptop",
        "computer_name": "laptop",
        "local_hostname": "laptop",
        "uuid": "3d1219c7-c4c5-404a-aa1f-6d2a48adfda4",
        "cpu_type": "x86_64",
        "cpu_subtype": "140",
        "cpu_brand": "11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz",
        "cpu_microcode": "0xb4",
        "cpu_logical_cores": 3,
        "cpu_physical_cores": 2,
        "cpu_sockets": 1,
        "physical_memory": 16074520 * 1024,
        "hardware_vendor": "LENOVO",
        "hardware_model": "20XWCTO1WW",
        "hardware_version": "ThinkPad X1 Carbon Gen 9",
        "hardware_serial": None,
        "board_vendor": "LENOVO",
        "board_model": "20XWCTO1WW",
        "board_version": "SDK0J40697 WIN",
        "board_serial": None,
    }


def test_system_info_prefers_a_readable_product_uuid(tmp_path: Path) -> None:
    make_root(
        tmp_path,
        {
            "/sys/class/dmi/id/product_uuid": "4c4c4544-0042-3510-8051-b4c04f4e4d32\n",
            "/etc/machine-id": "3d1219c7c4c5404aaa1f6d2a48adfda4\n",
        },
    )
    assert (
        one_row(SystemInfo(FakeSystem(tmp_path)))["uuid"] == "4c4c4544-0042-3510-8051-b4c04f4e4d32"
    )


def test_machine_id_must_be_32_hex_digits() -> None:
    assert format_machine_id("not-a-machine-id") is None
    assert format_machine_id("0123456789ABCDEF0123456789abcdef") == (
        "01234567-89ab-cdef-0123-456789abcdef"
    )


# os-release is kept parsed between scans and parsed again when it changes.


def test_os_release_is_parsed_once_and_again_when_it_changes(tmp_path: Path) -> None:
    system = WatchedSystem(tmp_path, aged=True)
    target = system.write("/etc/os-release", 'NAME="Debian"\nID=debian\nVERSION_ID="12"\n')
    system.write("/proc/sys/kernel/arch", "x86_64\n")
    ours, osquerys = StethoscopeOsVersion(system), OsVersion(system)
    assert one_row(ours)["major"] == one_row(osquerys)["major"] == 12
    assert one_row(ours)["major"] == one_row(osquerys)["major"] == 12
    assert system.reads["/etc/os-release"] == 2  # once per table
    replace_keeping_mtime(target, 'NAME="Debian"\nID=debian\nVERSION_ID="13"\n')
    assert one_row(ours)["major"] == one_row(osquerys)["major"] == 13


def test_a_racy_os_release_with_an_identical_stat_is_read_again(tmp_path: Path) -> None:
    system = WatchedSystem(tmp_path)
    system.write("/etc/os-release", 'ID=debian\nVERSION_ID="12"\n')
    system.freeze("/etc/os-release")
    ours, osquerys = StethoscopeOsVersion(system), OsVersion(system)
    assert one_row(ours)["major"] == one_row(osquerys)["major"] == 12
    system.write("/etc/os-release", 'ID=debian\nVERSION_ID="13"\n')
    assert one_row(ours)["major"] == one_row(osquerys)["major"] == 13


def test_os_release_removed_emptied_and_back(tmp_path: Path) -> None:
    system = WatchedSystem(tmp_path, aged=True)
    target = system.write("/etc/os-release", 'ID=debian\nVERSION_ID="12"\n')
    ours, osquerys = StethoscopeOsVersion(system), OsVersion(system)
    assert one_row(ours)["major"] == 12
    target.unlink()
    with pytest.raises(TableError, match="/etc/os-release: not found"):
        one_row(ours)
    assert one_row(osquerys)["name"] == "Unknown"
    system.write("/etc/os-release", "\n")
    with pytest.raises(TableError, match="/etc/os-release: empty"):
        one_row(ours)
    system.write("/etc/os-release", 'ID=debian\nVERSION_ID="13"\n')
    assert one_row(ours)["major"] == one_row(osquerys)["major"] == 13
