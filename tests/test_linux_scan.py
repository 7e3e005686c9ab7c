"""A whole scan on the real Linux tables over a fake Debian machine: flipping a fact flips a verdict.

These are the machine-level flips of the issue (SSH server on/off, unattended-upgrades with its
20auto-upgrades file on/off, a package named in an applications rule installed/removed, LUKS
root), done with a fake root and recorded outputs so they run anywhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stethoscope_desktop.core.checks import load_checks
from stethoscope_desktop.core.practices import PracticesFolder, PracticesLoader
from stethoscope_desktop.core.report import Report
from stethoscope_desktop.core.scanner import Scanner
from stethoscope_desktop.core.status import Status
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.resources import checks_dir, practices_dir
from stethoscope_desktop.tables.catalog import builtin_tables
from tests.fakes import FakeSystem
from tests.tables.linux.helpers import fixture, load_root

QBITTORRENT = """
Package: qbittorrent
Status: install ok installed
Priority: optional
Section: net
Installed-Size: 12000
Maintainer: Debian
Architecture: amd64
Version: 4.5.2-3+deb12u1
Description: bittorrent client
"""


def debian_laptop(tmp_path: Path) -> FakeSystem:
    """A Debian 12 machine with nothing turned on: plain ext4, no firewall, no updates."""
    root = load_root("plain-ext4", tmp_path / "root")
    system = FakeSystem(root, env={"PATH": "/usr/bin:/bin"})
    system.write("/etc/os-release", fixture("os-release/debian-12"))
    system.write("/etc/debian_version", fixture("os-release/debian-12.debian_version"))
    system.write("/proc/sys/kernel/hostname", "laptop-7\n")
    system.write("/etc/machine-id", "0123456789abcdef0123456789abcdef\n")
    system.write("/proc/1/comm", "systemd\n")
    system.write("/var/lib/dpkg/status", fixture("dpkg/status-without-unattended-upgrades"))
    system.write(
        "/etc/apt/apt.conf.d/01autoremove", 'APT::NeverAutoRemove { "^linux-image.*"; };\n'
    )
    for name in ("tcp", "tcp6"):
        system.write(f"/proc/net/{name}", fixture(f"net/quiet/{name}"))
    return system


def scan(system: FakeSystem) -> Report:
    practices = PracticesLoader([PracticesFolder("bundled", practices_dir())]).load()
    engine = EmbeddedEngine(builtin_tables("linux", system))
    return Scanner(engine, load_checks(checks_dir()), platform="linux").scan(practices)


def status(report: Report, key: str) -> Status:
    practice = report.practice(key)
    assert practice is not None, key
    return practice.status


def test_the_fake_debian_machine_reports_what_it_is(tmp_path: Path) -> None:
    report = scan(debian_laptop(tmp_path))
    assert report.device.device_name == "laptop-7"
    assert report.device.distribution == "debian"
    assert report.device.os_version.startswith("12.")
    assert status(report, "osVersion") is Status.NUDGE
    assert status(report, "diskEncryption") is Status.FAIL
    assert status(report, "firewall") is Status.FAIL
    assert status(report, "remoteLogin") is Status.PASS
    assert status(report, "automaticUpdates") is Status.NUDGE
    assert status(report, "screenLock") is Status.UNKNOWN
    assert status(report, "openWifiConnections") is Status.UNKNOWN


def test_starting_an_ssh_server_flips_remote_login(tmp_path: Path) -> None:
    system = debian_laptop(tmp_path)
    assert status(scan(system), "remoteLogin") is Status.PASS
    for name in ("tcp", "tcp6"):
        system.write(f"/proc/net/{name}", fixture(f"net/sshd/{name}"))
    report = scan(system)
    assert status(report, "remoteLogin") is Status.FAIL
    remote = report.practice("remoteLogin")
    assert remote is not None and ":22" in remote.observed


def test_unattended_upgrades_with_its_file_flips_automatic_updates(tmp_path: Path) -> None:
    system = debian_laptop(tmp_path)
    system.write("/etc/apt/apt.conf.d/20auto-upgrades", fixture("apt/20auto-upgrades-on"))
    # The file alone is not enough: the package must be installed too.
    assert status(scan(system), "automaticUpdates") is Status.NUDGE
    system.write("/var/lib/dpkg/status", fixture("dpkg/status"))
    # The package without its configuration allows no origin: nothing is upgraded.
    assert status(scan(system), "automaticUpdates") is Status.NUDGE
    system.write("/etc/apt/apt.conf.d/50unattended-upgrades", fixture("apt/50unattended-upgrades"))
    assert status(scan(system), "automaticUpdates") is Status.PASS
    system.write(
        "/etc/apt/apt.conf.d/51no-security",
        "#clear Unattended-Upgrade::Origins-Pattern;\n"
        'Unattended-Upgrade::Origins-Pattern:: "origin=Debian,codename=${distro_codename}";\n',
    )
    assert status(scan(system), "automaticUpdates") is Status.NUDGE
    (system.root / "etc/apt/apt.conf.d/51no-security").unlink()
    system.write("/etc/apt/apt.conf.d/20auto-upgrades", fixture("apt/20auto-upgrades-off"))
    assert status(scan(system), "automaticUpdates") is Status.NUDGE


def test_installing_a_banned_package_flips_its_rule(tmp_path: Path) -> None:
    system = debian_laptop(tmp_path)
    assert status(scan(system), "applications/qbittorrent") is Status.PASS
    status_file = system.root / "var/lib/dpkg/status"
    status_file.write_text(status_file.read_text() + QBITTORRENT)
    report = scan(system)
    assert status(report, "applications/qbittorrent") is Status.FAIL
    assert report.status is Status.FAIL
    torrent = report.practice("applications/qbittorrent")
    assert torrent is not None and torrent.application is not None
    assert torrent.application.installed_version == "4.5.2-3+deb12u1"


@pytest.mark.parametrize(
    ("tree", "expected"), [("luks-lvm", Status.PASS), ("plain-ext4", Status.FAIL)]
)
def test_a_luks_root_passes_disk_encryption(tmp_path: Path, tree: str, expected: Status) -> None:
    system = debian_laptop(tmp_path)
    load_root(tree, system.root)
    assert status(scan(system), "diskEncryption") is expected
