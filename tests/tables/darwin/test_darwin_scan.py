"""Whole scans on the macOS tables over recorded Macs (12 to 15): the full ranked report.

The real Scanner runs the shipped checks and practices on the embedded engine, whose tables are
`builtin_tables("darwin", …)` reading a recorded machine. Every practice gets a verdict from a
darwin source; the ones no normal user can read (saved Wi-Fi networks on macOS 13+) say so.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stethoscope_desktop.core.report import AppState
from stethoscope_desktop.core.status import Status
from stethoscope_desktop.tables.catalog import builtin_tables
from tests.tables.darwin.helpers import load_mac
from tests.tables.scanning import assert_ranked, scan, statuses

P, F, N, U = Status.PASS, Status.FAIL, Status.NUDGE, Status.UNKNOWN
EXPECTED = {
    "monterey-12": {
        "osVersion": F,
        "firewall": P,
        "diskEncryption": P,
        "automaticUpdates": P,  # no Software Update keys: the defaults are on
        "screenLock": P,
        "screenIdle": P,  # 600 s screen saver + 5 s
        "remoteLogin": F,  # "com.openssh.sshd" => false
        "openWifiConnections": F,  # "Cafe Guest" is open
        "stethoscopeDesktopVersion": P,
        "applications/firefox": P,
        "applications/qbittorrent": P,
        "applications/utorrent": F,
    },
    "ventura-13": {
        "osVersion": F,
        "firewall": P,  # block all incoming connections
        "diskEncryption": P,  # encryption in progress
        "automaticUpdates": N,
        "screenLock": P,
        "screenIdle": F,  # screen saver never, display never sleeps
        "remoteLogin": P,
        "openWifiConnections": U,  # root-only file
        "stethoscopeDesktopVersion": P,
        "applications/firefox": P,
        "applications/qbittorrent": P,
        "applications/utorrent": P,
    },
    "sonoma-14": {
        "osVersion": F,  # 14.6.1 < 14.8
        "firewall": F,
        "diskEncryption": F,
        "automaticUpdates": P,  # a profile forces security updates on
        "screenLock": P,
        "screenIdle": P,  # default idle time, display after 600 s + 300 s = 900 s
        "remoteLogin": P,
        "openWifiConnections": U,
        "stethoscopeDesktopVersion": P,
        "applications/firefox": N,
        "applications/qbittorrent": P,
        "applications/utorrent": P,
    },
    "sequoia-15": {
        "osVersion": P,
        "firewall": P,  # no alf plist on 15: socketfilterfw
        "diskEncryption": P,
        "automaticUpdates": P,
        "screenLock": F,
        "screenIdle": F,  # no password at all
        "remoteLogin": F,
        "openWifiConnections": U,
        "stethoscopeDesktopVersion": P,
        "applications/firefox": P,
        "applications/qbittorrent": P,
        "applications/utorrent": F,  # "uTorrent Web" in ~/Applications
    },
}


@pytest.mark.parametrize("machine", sorted(EXPECTED))
def test_a_recorded_mac_gets_the_full_ranked_report(machine: str, tmp_path: Path) -> None:
    report = scan("darwin", builtin_tables("darwin", load_mac(machine, tmp_path)))
    assert statuses(report) == EXPECTED[machine]
    assert_ranked(report)
    assert report.device.platform == "darwin"
    assert report.device.platform_name == "macOS"
    assert report.device.hardware_vendor == "Apple Inc."
    expected_overall = Status.FAIL if F in EXPECTED[machine].values() else Status.NUDGE
    assert report.status is expected_overall
    for practice in report.practices:
        assert practice.directions, practice.key
        if practice.status is Status.UNKNOWN:
            assert practice.reason, practice.key
        else:
            assert practice.evidence.error is None, practice.key


def test_the_device_header_of_a_recorded_mac(tmp_path: Path) -> None:
    report = scan("darwin", builtin_tables("darwin", load_mac("sonoma-14", tmp_path)))
    device = report.device
    assert (device.device_name, device.os_version, device.os_build) == (
        "Dana's MacBook Pro",
        "14.6.1",
        "23G93",
    )
    assert (device.hardware_model, device.hardware_serial) == ("Mac15,3", "K7WQ2X9M4V")
    assert device.device_id == "1A2B3C4D-5E6F-4A7B-8C9D-0E1F2A3B4C5D"


def test_reasons_and_evidence_say_what_was_seen(tmp_path: Path) -> None:
    report = scan("darwin", builtin_tables("darwin", load_mac("ventura-13", tmp_path)))
    wifi = report.practice("openWifiConnections")
    assert wifi is not None and "permission denied" in wifi.reason
    disk = report.practice("diskEncryption")
    assert disk is not None and "in progress (42.37 % done)" in disk.observed
    firewall = report.practice("firewall")
    assert firewall is not None and "blocking all incoming connections" in firewall.observed
    assert set(firewall.evidence.tables) == {"alf", "os_version", "stethoscope_firewall"}


def test_macos_15_answers_the_firewall_from_socketfilterfw(tmp_path: Path) -> None:
    report = scan("darwin", builtin_tables("darwin", load_mac("sequoia-15", tmp_path)))
    firewall = report.practice("firewall")
    assert firewall is not None
    assert [row["source"] for row in firewall.evidence.rows] == ["socketfilterfw"]


def test_an_app_with_a_non_semver_version_is_compared_by_its_leading_numbers(
    tmp_path: Path,
) -> None:
    it = tmp_path / "it"
    it.mkdir()
    (it / "policy.yaml").write_text(
        "applications:\n"
        "  - name: zoom\n"
        "    assertion: ALWAYS\n"
        '    version: ">=5.17.0"\n'
        "  - name: zoom.us\n"
        "    exactMatch: true\n"
        "    assertion: ALWAYS\n"
        '    version: ">=6.0.0"\n'
    )
    system = load_mac("ventura-13", tmp_path / "root")
    report = scan("darwin", builtin_tables("darwin", system), it_policy=it)
    new_enough = report.practice("applications/zoom")
    assert new_enough is not None and new_enough.application is not None
    assert new_enough.status is Status.PASS
    assert new_enough.application.installed_version == "5.17.11 (31580)"
    too_old = report.practice("applications/zoom.us")
    assert too_old is not None and too_old.application is not None
    assert (too_old.status, too_old.application.state) == (Status.FAIL, AppState.OUTDATED)


@pytest.mark.parametrize(
    ("machine", "key", "pane"),
    [
        ("monterey-12", "darwin@<13", "System Preferences → Security & Privacy → Firewall"),
        ("ventura-13", "darwin@>=13", "System Settings → Network → Firewall"),
        ("sequoia-15", "darwin@>=13", "System Settings → Network → Firewall"),
    ],
)
def test_the_report_says_which_version_specific_directions_it_chose(
    machine: str, key: str, pane: str, tmp_path: Path
) -> None:
    report = scan("darwin", builtin_tables("darwin", load_mac(machine, tmp_path)))
    firewall = report.practice("firewall")
    assert firewall is not None
    assert firewall.directions_platform == key
    assert pane in firewall.directions
    # Practices whose panes are the same on every version keep their plain key.
    version = report.practice("stethoscopeDesktopVersion")
    assert version is not None and version.directions_platform == "darwin"
