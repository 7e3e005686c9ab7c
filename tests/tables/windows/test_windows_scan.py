"""Whole scans on the Windows tables over recorded machines: the full ranked report.

The real Scanner runs the shipped checks and practices on the embedded engine, whose tables are
`builtin_tables("windows", FakeSystem, registry=FakeRegistry)` reading a recorded machine:
Windows 10 22H2, Windows 11 23H2 (domain-joined), and Windows 11 24H2 in German.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from stethoscope_desktop.core.report import AppState
from stethoscope_desktop.core.status import Status
from stethoscope_desktop.tables.system import CommandResult
from tests.tables.scanning import assert_ranked, scan, statuses
from tests.tables.windows.helpers import machine_tables

P, F, N, U = Status.PASS, Status.FAIL, Status.NUDGE, Status.UNKNOWN
EXPECTED = {
    "win10-22h2": {
        "osVersion": F,  # 10.0.19045
        "firewall": P,
        "diskEncryption": P,
        "automaticUpdates": N,  # paused
        "screenLock": P,
        "screenIdle": P,  # 600 s
        "remoteLogin": P,  # RDP on in Settings, off by policy
        "openWifiConnections": F,  # "Cafe Guest"
        "stethoscopeDesktopVersion": P,
        "applications/firefox": P,
        "applications/qbittorrent": F,
        "applications/utorrent": P,
    },
    "win11-23h2": {
        "osVersion": N,  # 10.0.22631
        "firewall": F,  # public profile off by Group Policy
        "diskEncryption": F,  # BitLocker suspended
        "automaticUpdates": N,  # NoAutoUpdate = 1
        "screenLock": F,  # screen saver "(None)"
        "screenIdle": F,
        "remoteLogin": F,  # Remote Desktop on
        "openWifiConnections": U,  # WLAN service stopped
        "stethoscopeDesktopVersion": P,
        "applications/firefox": P,
        "applications/qbittorrent": P,
        "applications/utorrent": P,
    },
    "win11-24h2-de": {
        "osVersion": P,  # 10.0.26100
        "firewall": P,  # from German netsh
        "diskEncryption": P,  # encryption in progress
        "automaticUpdates": P,
        "screenLock": P,
        "screenIdle": P,  # 600 s inactivity limit
        "remoteLogin": F,  # OpenSSH server running
        "openWifiConnections": F,  # "Hotel Gast" (Offen)
        "stethoscopeDesktopVersion": P,
        "applications/firefox": P,
        "applications/qbittorrent": P,
        "applications/utorrent": P,
    },
}


@pytest.mark.parametrize("machine", sorted(EXPECTED))
def test_a_recorded_windows_machine_gets_the_full_ranked_report(
    machine: str, tmp_path: Path
) -> None:
    tables, _, _ = machine_tables(machine, tmp_path)
    report = scan("windows", tables)
    assert statuses(report) == EXPECTED[machine]
    assert_ranked(report)
    assert report.device.platform == "win32"
    assert report.device.platform_name.startswith("Microsoft Windows 1")
    assert report.status is Status.FAIL
    for practice in report.practices:
        assert practice.directions, practice.key
        if practice.status is Status.UNKNOWN:
            assert practice.reason, practice.key
        else:
            assert practice.evidence.error is None, practice.key


def test_the_device_header_of_a_recorded_windows_machine(tmp_path: Path) -> None:
    tables, _, _ = machine_tables("win11-23h2", tmp_path)
    device = scan("windows", tables).device
    assert (device.device_name, device.os_name, device.os_version, device.os_build) == (
        "LT-X1-0412",
        "Microsoft Windows 11 Pro",
        "10.0.22631",
        "22631",
    )
    assert (device.hardware_vendor, device.hardware_serial) == ("LENOVO", "PF4K8L2M")


def test_what_the_report_says_it_saw(tmp_path: Path) -> None:
    tables, _, _ = machine_tables("win11-23h2", tmp_path)
    report = scan("windows", tables)
    disk = report.practice("diskEncryption")
    assert disk is not None and "suspended" in disk.observed
    wifi = report.practice("openWifiConnections")
    assert wifi is not None and "WLAN service is not running" in wifi.reason
    firewall = report.practice("firewall")
    assert firewall is not None and "Group Policy EnableFirewall = 0" in firewall.observed


def test_a_german_machine_is_read_without_english_words(tmp_path: Path) -> None:
    tables, _, _ = machine_tables("win11-24h2-de", tmp_path)
    report = scan("windows", tables, language="de")
    assert report.language == "de"
    wifi = report.practice("openWifiConnections")
    assert wifi is not None and "Hotel Gast" in wifi.observed
    firewall = report.practice("firewall")
    assert firewall is not None
    assert [row["source"] for row in firewall.evidence.rows] == ["netsh"]


def test_a_program_with_a_non_semver_version(tmp_path: Path) -> None:
    it = tmp_path / "it"
    it.mkdir()
    (it / "policy.yaml").write_text(
        'applications:\n  - name: zoom\n    assertion: ALWAYS\n    version: ">=6.0.0"\n'
    )
    tables, _, _ = machine_tables("win10-22h2", tmp_path / "root")
    report = scan("windows", tables, it_policy=it)
    zoom = report.practice("applications/zoom")
    assert zoom is not None and zoom.application is not None
    assert (zoom.status, zoom.application.state) == (Status.PASS, AppState.INSTALLED)
    assert zoom.application.installed_version == "6.1.11 (47191)"


@pytest.mark.parametrize(
    ("machine", "language", "key", "path"),
    [
        ("win10-22h2", "en", "win32@<10.0.22000", "Settings → Update & Security → Windows Update"),
        ("win11-23h2", "en", "win32@>=10.0.22000", "Start → Settings → Windows Update)"),
        ("win11-24h2-de", "de", "win32@>=10.0.22000", "Start → Einstellungen → Windows Update)"),
    ],
)
def test_windows_10_and_11_get_their_own_directions(
    machine: str, language: str, key: str, path: str, tmp_path: Path
) -> None:
    tables, _, _ = machine_tables(machine, tmp_path)
    report = scan("windows", tables, language=language)
    updates = report.practice("automaticUpdates")
    assert updates is not None
    assert updates.directions_platform == key
    assert path in updates.directions
    in_json = {p["key"]: p for p in report.to_dict()["practices"]}
    assert in_json["automaticUpdates"]["directions_platform"] == key


def test_an_open_profile_set_to_connect_manually_passes_and_is_named(tmp_path: Path) -> None:
    # The Windows directions say to untick "Connect automatically": doing so must pass, as an
    # open network with automatic connection off does on Linux.
    tables, system, _ = machine_tables("win10-22h2", tmp_path)
    argv = ("netsh", "wlan", "show", "profile", "name=Cafe Guest")
    shown = system.commands[argv]
    assert isinstance(shown, CommandResult)
    system.commands[argv] = replace(
        shown, stdout=shown.stdout.replace("Connect automatically", "Connect manually")
    )
    wifi = scan("windows", tables).practice("openWifiConnections")
    assert wifi is not None and wifi.status is Status.PASS
    assert "joined only when picked (Connect manually): Cafe Guest" in wifi.observed
