"""The macOS parsers against the output formats of each macOS version, odd cases included."""

from __future__ import annotations

import plistlib
from pathlib import Path

import pytest

from stethoscope_desktop.tables.darwin._common import parse_sw_vers, plist_bool, version_parts
from stethoscope_desktop.tables.darwin.disk_encryption import parse_fdesetup_status
from stethoscope_desktop.tables.darwin.firewall import parse_global_state
from stethoscope_desktop.tables.darwin.screen_lock import (
    LockSetting,
    parse_displaysleep,
    parse_screenlock_status,
)
from stethoscope_desktop.tables.darwin.sharing import parse_print_disabled
from stethoscope_desktop.tables.darwin.updates import effective_switches
from stethoscope_desktop.tables.darwin.wifi import airport_rows, is_open, known_network_rows
from tests.tables.darwin.helpers import FIXTURES


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # macOS 12: one tab after each key.
        ("ProductName:\tmacOS\nProductVersion:\t12.7.6\nBuildVersion:\t21H1320\n", "12.7.6"),
        # macOS 13 and later: two tabs.
        ("ProductName:\t\tmacOS\nProductVersion:\t\t13.6.9\nBuildVersion:\t\t22G830\n", "13.6.9"),
        # A Rapid Security Response adds ProductVersionExtra.
        (
            "ProductName:\t\tmacOS\nProductVersion:\t\t13.4.1\n"
            "ProductVersionExtra:\t(c)\nBuildVersion:\t\t22F770820d\n",
            "13.4.1",
        ),
    ],
)
def test_sw_vers(text: str, expected: str) -> None:
    fields = parse_sw_vers(text)
    assert fields["ProductName"] == "macOS"
    assert fields["ProductVersion"] == expected


def test_version_parts_pad_and_ignore_letters() -> None:
    assert version_parts("15.0") == (15, 0, 0)
    assert version_parts("14.6.1") == (14, 6, 1)
    assert version_parts("26") == (26, 0, 0)


@pytest.mark.parametrize(
    ("text", "state"),
    [
        ("Firewall is enabled. (State = 1) \n", 1),
        ("Firewall is disabled. (State = 0) \n", 0),
        ("Firewall is enabled. (State = 2) \n", 2),  # block all incoming connections
        ("Firewall is blocking all non-essential incoming connections.\n", 2),
        ("Firewall is enabled.\n", 1),
        ("socketfilterfw: unknown option\n", None),
    ],
)
def test_socketfilterfw_global_state(text: str, state: int | None) -> None:
    assert parse_global_state(text) == state


@pytest.mark.parametrize(
    ("text", "encrypted", "words"),
    [
        ("FileVault is On.\n", 1, "FileVault is on"),
        ("FileVault is Off.\n", 0, "FileVault is off"),
        (
            "FileVault is On.\nEncryption in progress: Percent completed = 42.37\n",
            1,
            "FileVault is on; encryption of the disk is in progress (42.37 % done)",
        ),
        (
            "FileVault is On.\nDecryption in progress: Percent completed = 12.5\n",
            0,
            "FileVault is being turned off: decryption in progress (12.5 % done)",
        ),
        (
            "FileVault is Off.\nDeferred enablement appears to be active for user 'ana'.\n",
            0,
            "FileVault is off; it is set to turn on at the next login "
            "(Deferred enablement appears to be active for user 'ana'.)",
        ),
        ("Error: Unable to get status.\n", None, ""),
    ],
)
def test_fdesetup_status(text: str, encrypted: int | None, words: str) -> None:
    assert parse_fdesetup_status(text) == (encrypted, words)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "2024-08-07 14:02:11.530 sysadminctl[2231:40417] screenLock delay is immediate\n",
            LockSetting(True, 0, "screenLock delay is immediate"),
        ),
        (
            "2024-08-08 08:40:02.004 sysadminctl[812:9921] screenLock delay is 300 seconds\n",
            LockSetting(True, 300, "screenLock delay is 300 seconds"),
        ),
        (
            "2025-10-02 11:17:45.311 sysadminctl[3310:52740] screenLock is off\n",
            LockSetting(False, -1, "screenLock is off"),
        ),
        (
            "2023-03-01 10:00:00.000 sysadminctl[1:2] screenLock delay is -1.000000 seconds\n",
            LockSetting(False, -1, "screenLock delay is -1.000000 seconds"),
        ),
        ("", None),
    ],
)
def test_sysadminctl_screen_lock(text: str, expected: LockSetting | None) -> None:
    assert parse_screenlock_status(text) == expected


def test_pmset_display_sleep() -> None:
    text = (FIXTURES / "monterey-12" / "commands" / "pmset-g.out").read_text()
    assert parse_displaysleep(text) == 10
    assert parse_displaysleep(" displaysleep         0\n") == 0
    assert parse_displaysleep("System-wide power settings:\n") is None


def test_launchctl_print_disabled_in_both_formats() -> None:
    monterey = FIXTURES / "monterey-12" / "commands" / "launchctl-print-disabled-system.out"
    sequoia = FIXTURES / "sequoia-15" / "commands" / "launchctl-print-disabled-system.out"
    # macOS 12: "=> false" means not disabled, i.e. on.
    assert parse_print_disabled(monterey.read_text())["com.openssh.sshd"] is False
    assert parse_print_disabled(monterey.read_text())["com.apple.ftpd"] is True
    # macOS 13 and later: "=> enabled" / "=> disabled".
    assert parse_print_disabled(sequoia.read_text())["com.openssh.sshd"] is False
    assert parse_print_disabled(sequoia.read_text())["com.apple.ftpd"] is True


def test_software_update_switches_missing_keys_take_their_defaults() -> None:
    switches = {s.key: s for s in effective_switches({}, {})}
    assert switches["AutomaticCheckEnabled"].value is True
    assert switches["AutomaticCheckEnabled"].origin == "default"
    assert switches["AutomaticallyInstallMacOSUpdates"].value is False


def test_software_update_switches_profile_wins_over_the_file() -> None:
    switches = {
        s.key: s
        for s in effective_switches(
            {"CriticalUpdateInstall": False, "AutomaticDownload": 0},
            {"CriticalUpdateInstall": True},
        )
    }
    assert (switches["CriticalUpdateInstall"].value, switches["CriticalUpdateInstall"].origin) == (
        True,
        "managed",
    )
    assert (switches["AutomaticDownload"].value, switches["AutomaticDownload"].origin) == (
        False,
        "set",
    )


def test_plist_bool_reads_the_forms_preferences_take() -> None:
    assert [plist_bool(v) for v in (True, 0, 1, "YES", "no", "1", None, 2.5)] == [
        True,
        False,
        True,
        True,
        False,
        True,
        None,
        None,
    ]


def test_known_networks_plist_as_root_reads_it() -> None:
    path = FIXTURES / "known-networks" / "com.apple.wifi.known-networks.plist"
    binary = plistlib.dumps(plistlib.loads(path.read_bytes()), fmt=plistlib.FMT_BINARY)
    rows = {row["name"]: row for row in known_network_rows(plistlib.loads(binary))}
    assert {name: row["open"] for name, row in rows.items()} == {
        "Airport Free WiFi": 1,
        "Home": 0,
        "Hotel Lobby": 1,  # OWE: encrypted, but anyone may join, and run a look-alike
        "Office": 0,
    }
    assert rows["Office"]["security"] == "WPA2 Enterprise"


def test_airport_preferences_of_macos_12() -> None:
    path = (
        FIXTURES
        / "monterey-12"
        / "root/Library/Preferences/SystemConfiguration/com.apple.airport.preferences.plist"
    )
    rows = airport_rows(plistlib.loads(Path(path).read_bytes()))
    assert [(r["name"], r["open"]) for r in rows] == [("Cafe Guest", 1), ("Home", 0)]


def test_an_unknown_security_type_is_not_guessed() -> None:
    assert is_open("Open") == 1
    assert is_open("WPA3 Personal") == 0
    assert is_open("OWE") == 1
    assert is_open("OWE Transition") == 1
    assert is_open("Enhanced Open") == 1
    assert is_open("Unknown") is None
    assert is_open(None) is None
