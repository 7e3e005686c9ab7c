"""The Windows tables over recorded machines (10 22H2, 11 23H2, German 11 24H2) and odd cases."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from stethoscope_desktop.resources import resources_dir
from stethoscope_desktop.tables.base import Column, Constraint, Operator, QueryContext, TableError
from stethoscope_desktop.tables.catalog import builtin_tables
from stethoscope_desktop.tables.system import CommandResult, LocalSystem
from stethoscope_desktop.tables.windows import (
    OSQUERY_TABLE_CLASSES,
    STETHOSCOPE_TABLE_CLASSES,
    AutomaticUpdates,
    DiskEncryption,
    Firewall,
    OsVersion,
    Patches,
    Programs,
    RegistryTable,
    RemoteLogin,
    ScreenLock,
    SecuritySoftware,
    SystemInfo,
    WifiNetworks,
    WinregRegistry,
)
from stethoscope_desktop.tables.windows._common import powershell_argv
from stethoscope_desktop.tables.windows.firewall import NETSH
from stethoscope_desktop.tables.windows.patches import HOTFIXES_SCRIPT
from stethoscope_desktop.tables.windows.wifi import SHOW_PROFILES
from tests.canned import STETHOSCOPE_COLUMNS
from tests.fakes import FakeSystem
from tests.tables.linux.helpers import one_row, rows
from tests.tables.windows.helpers import COMMANDS, RECORDED_AT, FakeRegistry, load_windows

SCHEMAS: dict[str, Any] = json.loads(
    (resources_dir() / "osquery" / "tables.json").read_text("utf-8")
)["tables"]
WINDOWS = {"windows", "win32", "cygwin"}
HKLM = "HKEY_LOCAL_MACHINE"
FIREWALL_KEY = rf"{HKLM}\SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy"


def osquery_windows_columns(table: str) -> tuple[Column, ...]:
    columns = []
    for entry in SCHEMAS[table]["columns"]:
        options: dict[str, Any] = entry[2] if len(entry) > 2 else {}
        if "platforms" in options and not WINDOWS & set(options["platforms"]):
            continue
        columns.append(
            Column(
                entry[0],
                entry[1],
                index=bool(options.get("index")),
                required=bool(options.get("required")),
                hidden=bool(options.get("hidden")),
            )
        )
    return tuple(columns)


@pytest.mark.parametrize("cls", OSQUERY_TABLE_CLASSES, ids=lambda cls: cls.name)
def test_osquery_tables_have_osquerys_windows_columns(cls: type[Any]) -> None:
    assert "windows" in SCHEMAS[cls.name]["platforms"]
    assert cls.columns == osquery_windows_columns(cls.name)


@pytest.mark.parametrize("cls", STETHOSCOPE_TABLE_CLASSES, ids=lambda cls: cls.name)
def test_our_tables_have_the_columns_the_checks_use(cls: type[Any]) -> None:
    assert cls.platforms == ("windows",)
    assert tuple((c.name, c.type) for c in cls.columns) == tuple(STETHOSCOPE_COLUMNS[cls.name])


def test_building_the_tables_on_linux_touches_nothing(tmp_path: Path) -> None:
    system = FakeSystem(tmp_path)
    registry = FakeRegistry()
    tables = builtin_tables("windows", system, registry=registry)
    assert (
        len({t.name for t in tables}) == len(tables) == 22
    )  # with file, file_lines, parse_json, parse_jsonl, users, groups, user_groups, processes
    assert system.calls == [] and registry.reads == []
    # Without a registry adapter the real one is used; it imports winreg only when read.
    assert builtin_tables("windows", LocalSystem(tmp_path))


def test_the_real_registry_says_it_exists_only_on_windows() -> None:
    with pytest.raises(OSError, match="only on Windows"):
        WinregRegistry().values(rf"{HKLM}\SOFTWARE")


def machine(name: str, tmp_path: Path) -> tuple[FakeSystem, FakeRegistry]:
    return load_windows(name, tmp_path)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("win10-22h2", ("Microsoft Windows 10 Pro", "10.0.19045", "19045", 4780)),
        ("win11-23h2", ("Microsoft Windows 11 Pro", "10.0.22631", "22631", 4037)),
        ("win11-24h2-de", ("Microsoft Windows 11 Pro", "10.0.26100", "26100", 2033)),
    ],
)
def test_os_version(name: str, expected: tuple[str, str, str, int], tmp_path: Path) -> None:
    row = one_row(OsVersion(*machine(name, tmp_path)))
    assert (row["name"], row["version"], row["build"], row["revision"]) == expected
    assert (row["major"], row["minor"], row["platform"], row["arch"]) == (
        10,
        0,
        "windows",
        "64-bit",
    )


def test_os_version_cannot_be_read_without_the_registry(tmp_path: Path) -> None:
    with pytest.raises(TableError, match="cannot tell the Windows version"):
        rows(OsVersion(FakeSystem(tmp_path), FakeRegistry()))


def test_system_info_from_wmi(tmp_path: Path) -> None:
    row = one_row(SystemInfo(*machine("win11-23h2", tmp_path)))
    assert row["hostname"] == "LT-X1-0412.corp.example.com"
    assert row["computer_name"] == "LT-X1-0412"
    assert (row["hardware_vendor"], row["hardware_model"]) == ("LENOVO", "21HMCTO1WW")
    assert (row["hardware_serial"], row["uuid"]) == (
        "PF4K8L2M",
        "8F2D4A1C-3B7E-11B2-A85C-D1E6F2A3B4C5",
    )
    assert (row["cpu_type"], row["cpu_physical_cores"], row["cpu_logical_cores"]) == (
        "x86_64",
        10,
        12,
    )


def test_system_info_falls_back_to_the_registry_without_powershell(tmp_path: Path) -> None:
    system, registry = machine("win10-22h2", tmp_path)
    del system.commands[tuple(COMMANDS["powershell-hardware"])]
    row = one_row(SystemInfo(system, registry))
    assert (row["computer_name"], row["hardware_vendor"], row["hardware_model"]) == (
        "DESKTOP-7K2M",
        "Dell Inc.",
        "Latitude 5490",
    )
    assert row["cpu_brand"] == "Intel(R) Core(TM) i5-8350U CPU @ 1.70GHz"
    assert row.get("hardware_serial") is None  # only WMI knows it


def test_programs_from_every_uninstall_key(tmp_path: Path) -> None:
    found = {row["name"]: row for row in rows(Programs(*machine("win10-22h2", tmp_path)))}
    assert set(found) == {
        "7-Zip 23.01 (x64)",
        "Mozilla Firefox (x64 en-US)",
        "Office 16 Click-to-Run Extensibility Component",
        "qBittorrent",  # the 32-bit view (WOW6432Node)
        "Zoom Workplace",  # the user's own key
    }
    assert found["Zoom Workplace"]["version"] == "6.1.11 (47191)"  # not semver
    assert found["qBittorrent"]["install_location"] == "C:\\Program Files (x86)\\qBittorrent"
    office = found["Office 16 Click-to-Run Extensibility Component"]
    assert office["identifying_number"] == "{90160000-008C-0000-1000-0000000FF1CE}"
    assert office["uninstall_string"] == "MsiExec.exe /X"


@pytest.mark.parametrize(
    ("name", "encrypted", "words"),
    [
        ("win10-22h2", 1, "BitLocker is on (C:, System.Volume.BitLockerProtection = 1)"),
        ("win11-23h2", 0, "BitLocker is suspended"),
        ("win11-24h2-de", 1, "encryption of the drive is in progress"),
    ],
)
def test_bitlocker(name: str, encrypted: int, words: str, tmp_path: Path) -> None:
    row = one_row(DiskEncryption(*machine(name, tmp_path)))
    assert (row["encrypted"], row["name"], row["mountpoint"], row["type"]) == (
        encrypted,
        "C:",
        "C:\\",
        "BitLocker",
    )
    assert words in str(row["detail"])


def test_bitlocker_unknown_when_powershell_fails(tmp_path: Path) -> None:
    system, registry = machine("win10-22h2", tmp_path)
    key = tuple(COMMANDS["powershell-bitlocker"])
    system.commands[key] = CommandResult(
        key, 1, "", "New-Object : Retrieving the COM class factory failed\n"
    )
    row = one_row(DiskEncryption(system, registry))
    assert row["encrypted"] is None
    assert "COM class factory" in str(row["detail"])


@pytest.mark.parametrize(
    ("name", "enabled", "source", "words"),
    [
        ("win10-22h2", 1, "registry", "on for the domain, private and public profiles"),
        # Group Policy turns the public profile off, whatever the local switch says.
        ("win11-23h2", 0, "registry", "public: off (Group Policy EnableFirewall = 0)"),
        # The registry keys cannot be read: German netsh answers.
        ("win11-24h2-de", 1, "netsh", "public: on (netsh: on)"),
    ],
)
def test_firewall(name: str, enabled: int, source: str, words: str, tmp_path: Path) -> None:
    row = one_row(Firewall(*machine(name, tmp_path)))
    assert (row["enabled"], row["source"]) == (enabled, source)
    assert words in str(row["detail"])


def test_firewall_unknown_when_neither_registry_nor_netsh_answers(tmp_path: Path) -> None:
    system, registry = machine("win11-24h2-de", tmp_path)
    system.commands[tuple(NETSH)] = CommandResult(tuple(NETSH), 1, "Zugriff verweigert\n", "")
    row = one_row(Firewall(system, registry))
    assert row["enabled"] is None
    assert "cannot tell" in str(row["detail"])


def test_firewall_off_in_netsh_is_off(tmp_path: Path) -> None:
    system, registry = machine("win11-24h2-de", tmp_path)
    key = tuple(NETSH)
    text = system.commands[key]
    assert isinstance(text, CommandResult)
    changed = text.stdout.replace("EIN\n\nÖffentliches", "AUS\n\nÖffentliches")
    system.commands[key] = CommandResult(key, 0, changed, "")
    row = one_row(Firewall(system, registry))
    assert row["enabled"] == 0
    assert "off for the private network profile" in str(row["detail"])


@pytest.mark.parametrize(
    ("name", "enabled", "source", "words"),
    [
        ("win10-22h2", 0, "pause", "paused until 2024-09-19 07:41 UTC"),
        ("win11-23h2", 0, "policy", "turned off by policy (NoAutoUpdate = 1)"),
        # A pause that ended before the recording does not count.
        ("win11-24h2-de", 1, "registry", "installs updates automatically"),
    ],
)
def test_automatic_updates(
    name: str, enabled: int, source: str, words: str, tmp_path: Path
) -> None:
    system, registry = machine(name, tmp_path)
    row = one_row(AutomaticUpdates(system, registry, now=lambda: RECORDED_AT[name]))
    assert (row["enabled"], row["source"]) == (enabled, source)
    assert words in str(row["detail"])


@pytest.mark.parametrize(("options", "enabled"), [(2, 0), (3, 0), (4, 1), (5, 1), (7, 0)])
def test_automatic_updates_au_options(options: int, enabled: int, tmp_path: Path) -> None:
    system, registry = machine("win11-24h2-de", tmp_path)
    registry.set(
        rf"{HKLM}\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate\AU", "AUOptions", options
    )
    row = one_row(AutomaticUpdates(system, registry, now=lambda: datetime(2024, 11, 5, tzinfo=UTC)))
    assert row["enabled"] == enabled


def test_automatic_updates_with_the_service_disabled(tmp_path: Path) -> None:
    system, registry = machine("win11-24h2-de", tmp_path)
    registry.set(rf"{HKLM}\SYSTEM\CurrentControlSet\Services\wuauserv", "Start", 4)
    row = one_row(AutomaticUpdates(system, registry))
    assert (row["enabled"], row["source"]) == (0, "service")


@pytest.mark.parametrize(
    ("name", "enabled", "after", "words"),
    [
        ("win10-22h2", 1, 600, "a secure screen saver starts after 600 s (user setting)"),
        # "(None)" chosen: the screen saver never starts, so the screen never locks by itself.
        ("win11-23h2", 0, None, "no screen saver is chosen"),
        # Policy: secure after 900 s; the machine's inactivity limit (600 s) comes first.
        ("win11-24h2-de", 1, 600, "InactivityTimeoutSecs"),
    ],
)
def test_screen_lock(
    name: str, enabled: int, after: int | None, words: str, tmp_path: Path
) -> None:
    row = one_row(ScreenLock(*machine(name, tmp_path)))
    assert (row["enabled"], row["lock_after_seconds"], row["desktop"]) == (
        enabled,
        after,
        "Windows",
    )
    assert words in str(row["detail"])


def test_screen_saver_that_asks_no_password_does_not_lock(tmp_path: Path) -> None:
    system, registry = machine("win10-22h2", tmp_path)
    registry.set(r"HKEY_CURRENT_USER\Control Panel\Desktop", "ScreenSaverIsSecure", "0", "REG_SZ")
    row = one_row(ScreenLock(system, registry))
    assert (row["enabled"], row["lock_after_seconds"]) == (0, None)
    assert "does not ask for the password" in str(row["detail"])


def test_screen_saver_never_starts(tmp_path: Path) -> None:
    system, registry = machine("win10-22h2", tmp_path)
    registry.set(r"HKEY_CURRENT_USER\Control Panel\Desktop", "ScreenSaveActive", "0", "REG_SZ")
    row = one_row(ScreenLock(system, registry))
    assert row["enabled"] == 0
    assert "ScreenSaveActive = 0" in str(row["detail"])


@pytest.mark.parametrize(
    ("name", "enabled", "words"),
    [
        # Settings says on (fDenyTSConnections = 0), Group Policy says off: off.
        ("win10-22h2", 0, "Remote Desktop is turned off by policy (fDenyTSConnections = 1)"),
        ("win11-23h2", 1, "Remote Desktop is on (fDenyTSConnections = 0)"),
        ("win11-24h2-de", 1, "the OpenSSH server (sshd) starts by hand and is running"),
    ],
)
def test_remote_login(name: str, enabled: int, words: str, tmp_path: Path) -> None:
    row = one_row(RemoteLogin(*machine(name, tmp_path)))
    assert row["enabled"] == enabled
    assert words in str(row["detail"])


def test_remote_login_with_ssh_starting_at_boot(tmp_path: Path) -> None:
    system, registry = machine("win10-22h2", tmp_path)
    registry.set(rf"{HKLM}\SYSTEM\CurrentControlSet\Services\sshd", "Start", 2)
    row = one_row(RemoteLogin(system, registry))
    assert row["enabled"] == 1
    assert "starts automatically" in str(row["detail"])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("win10-22h2", [("Home-5G", 0), ("Cafe Guest", 1), ("Office (2nd floor)", 0)]),
        ("win11-24h2-de", [("FRITZ!Box 7590 XY", 0), ("Müller-WLAN", 0), ("Hotel Gast", 1)]),
    ],
)
def test_wifi_profiles(name: str, expected: list[tuple[str, int]], tmp_path: Path) -> None:
    found = rows(WifiNetworks(*machine(name, tmp_path)))
    assert [(r["name"], r["open"]) for r in found] == expected


def test_wifi_with_the_wlan_service_stopped(tmp_path: Path) -> None:
    with pytest.raises(TableError, match="WLAN service is not running"):
        rows(WifiNetworks(*machine("win11-23h2", tmp_path)))


def test_wifi_profile_that_cannot_be_shown_is_unknown(tmp_path: Path) -> None:
    system, registry = machine("win10-22h2", tmp_path)
    key = ("netsh", "wlan", "show", "profile", "name=Cafe Guest")
    system.commands[key] = CommandResult(
        key, 1, 'Profile "Cafe Guest" is not found on the system.\n', ""
    )
    found = {r["name"]: r["open"] for r in rows(WifiNetworks(system, registry))}
    assert found["Cafe Guest"] is None


def test_wifi_without_netsh(tmp_path: Path) -> None:
    system, registry = machine("win10-22h2", tmp_path)
    del system.commands[tuple(SHOW_PROFILES)]
    with pytest.raises(TableError, match="cannot list saved Wi-Fi networks"):
        rows(WifiNetworks(system, registry))


def registry_rows(registry: FakeRegistry, op: Operator, path: str) -> list[dict[str, Any]]:
    table = RegistryTable(FakeSystem(Path("/nonexistent")), registry)
    return [dict(r) for r in rows(table, QueryContext((Constraint("path", op, path),)))]


def test_registry_table_reads_one_value(tmp_path: Path) -> None:
    _, registry = machine("win11-23h2", tmp_path)
    found = registry_rows(
        registry,
        Operator.EQUALS,
        r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Terminal Server\fDenyTSConnections",
    )
    assert [(r["name"], r["type"], r["data"]) for r in found] == [
        ("fDenyTSConnections", "REG_DWORD", "0")
    ]


def test_registry_table_expands_a_wildcard_key(tmp_path: Path) -> None:
    _, registry = machine("win10-22h2", tmp_path)
    found = registry_rows(
        registry,
        Operator.LIKE,
        r"HKEY_LOCAL_MACHINE\SOFTWARE\%\Windows\CurrentVersion\Uninstall\7-Zip\Display%",
    )
    assert sorted((r["name"], r["data"]) for r in found) == [
        ("DisplayName", "7-Zip 23.01 (x64)"),
        ("DisplayVersion", "23.01"),
    ]


def test_registry_table_lists_subkeys(tmp_path: Path) -> None:
    _, registry = machine("win10-22h2", tmp_path)
    found = registry_rows(registry, Operator.LIKE, rf"{FIREWALL_KEY}\%")
    assert sorted(r["name"] for r in found if r["type"] == "subkey") == [
        "DomainProfile",
        "PublicProfile",
        "StandardProfile",
    ]


def test_registry_table_needs_a_path(tmp_path: Path) -> None:
    _, registry = machine("win10-22h2", tmp_path)
    with pytest.raises(TableError, match="WHERE path"):
        rows(RegistryTable(FakeSystem(tmp_path), registry))


def test_registry_table_skips_keys_it_may_not_read(tmp_path: Path) -> None:
    _, registry = machine("win11-24h2-de", tmp_path)
    assert registry_rows(registry, Operator.LIKE, rf"{FIREWALL_KEY}\PublicProfile\%") == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("win10-22h2", {"Windows Defender": (1, 1)}),
        # A third-party antivirus is on; Defender steps back (off).
        ("win11-23h2", {"CrowdStrike Falcon Sensor": (1, 1), "Windows Defender": (0, 1)}),
        ("win11-24h2-de", {"Windows Defender": (1, 0)}),  # definitions out of date
    ],
)
def test_security_software(name: str, expected: dict[str, tuple[int, int]], tmp_path: Path) -> None:
    found = rows(SecuritySoftware(*machine(name, tmp_path)))
    assert {r["name"]: (r["enabled"], r["up_to_date"]) for r in found} == expected
    assert all(r["type"] == "antivirus" for r in found)


def test_security_software_on_windows_server(tmp_path: Path) -> None:
    system, registry = machine("win10-22h2", tmp_path)
    key = tuple(COMMANDS["powershell-security-center"])
    system.commands[key] = CommandResult(
        key,
        0,
        '[{"class":"AntiVirusProduct","error":"Invalid namespace "},'
        '{"class":"FirewallProduct","error":"Invalid namespace "}]\n',
        "",
    )
    with pytest.raises(TableError, match="there is none on Windows Server"):
        rows(SecuritySoftware(system, registry))


def test_patches_lists_the_installed_updates_as_wmi_writes_them(tmp_path: Path) -> None:
    system, registry = machine("win11-23h2", tmp_path)
    key = tuple(powershell_argv(HOTFIXES_SCRIPT))
    # The shape of the script's output: one object per update, every property as text.
    printed = [
        {"csname": "LT-X1-0412", "hotfix_id": "KB5034467", "caption": "", "description": "Update",
         "fix_comments": "", "installed_by": "NT AUTHORITY\\SYSTEM", "install_date": "",
         "installed_on": "1/10/2024"},
        {"csname": "LT-X1-0412", "hotfix_id": "KB5034441",
         "caption": "https://support.microsoft.com/help/5034441", "description": "Security Update",
         "fix_comments": "", "installed_by": "", "install_date": "", "installed_on": "1/9/2024"},
    ]  # fmt: skip
    system.commands[key] = CommandResult(key, 0, json.dumps(printed), "")
    found = rows(Patches(system, registry))
    assert [row["hotfix_id"] for row in found] == ["KB5034467", "KB5034441"]
    assert found[1] == {
        "csname": "LT-X1-0412",
        "hotfix_id": "KB5034441",
        "caption": "https://support.microsoft.com/help/5034441",
        "description": "Security Update",
        "fix_comments": None,
        "installed_by": None,
        "install_date": None,
        "installed_on": "1/9/2024",
    }


def test_patches_cannot_be_read_without_powershell(tmp_path: Path) -> None:
    system, registry = machine("win10-22h2", tmp_path)
    with pytest.raises(TableError, match="installed updates"):
        rows(Patches(system, registry))
