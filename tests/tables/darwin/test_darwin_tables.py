"""The macOS tables over recorded Macs (12 to 15): rows, fallbacks, and what they never touch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stethoscope_desktop.resources import resources_dir
from stethoscope_desktop.tables.base import (
    Column,
    Constraint,
    Operator,
    QueryContext,
    Row,
    TableError,
)
from stethoscope_desktop.tables.catalog import builtin_tables
from stethoscope_desktop.tables.darwin import (
    OSQUERY_TABLE_CLASSES,
    STETHOSCOPE_TABLE_CLASSES,
    Alf,
    Apps,
    AutomaticUpdates,
    DiskEncryption,
    Firewall,
    OsVersion,
    ScreenLock,
    ScreenLockTiming,
    SecuritySoftware,
    SharingPreferences,
    SystemInfo,
    WifiNetworks,
    darwin_tables,
)
from stethoscope_desktop.tables.darwin.disk_encryption import FDESETUP_ISACTIVE, FDESETUP_STATUS
from stethoscope_desktop.tables.darwin.screen_lock import PMSET
from stethoscope_desktop.tables.darwin.security_software import (
    SYSTEM_EXTENSIONS,
    SystemExtension,
    parse_system_extensions,
)
from stethoscope_desktop.tables.darwin.system_info import HARDWARE
from stethoscope_desktop.tables.system import CommandResult
from tests.canned import STETHOSCOPE_COLUMNS
from tests.fakes import FakeSystem
from tests.tables.darwin.helpers import MACHINES, load_mac
from tests.tables.linux.helpers import one_row, rows

SCHEMAS: dict[str, Any] = json.loads(
    (resources_dir() / "osquery" / "tables.json").read_text("utf-8")
)["tables"]


def osquery_darwin_columns(table: str) -> tuple[Column, ...]:
    columns = []
    for entry in SCHEMAS[table]["columns"]:
        options: dict[str, Any] = entry[2] if len(entry) > 2 else {}
        if "darwin" not in options.get("platforms", ["darwin"]):
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
def test_osquery_tables_have_osquerys_darwin_columns(cls: type[Any]) -> None:
    assert "darwin" in SCHEMAS[cls.name]["platforms"]
    assert cls.columns == osquery_darwin_columns(cls.name)


@pytest.mark.parametrize("cls", STETHOSCOPE_TABLE_CLASSES, ids=lambda cls: cls.name)
def test_our_tables_have_the_columns_the_checks_use(cls: type[Any]) -> None:
    assert cls.platforms == ("darwin",)
    assert tuple((c.name, c.type) for c in cls.columns) == tuple(STETHOSCOPE_COLUMNS[cls.name])


def test_building_the_tables_touches_nothing(tmp_path: Path) -> None:
    system = FakeSystem(tmp_path)
    tables = builtin_tables("darwin", system)
    assert len({t.name for t in tables}) == len(tables)
    assert len(tables) == 8 + len(OSQUERY_TABLE_CLASSES) + len(
        STETHOSCOPE_TABLE_CLASSES
    )  # with file, file_lines, parse_json(l), augeas, user_ssh_keys
    assert system.calls == []


@pytest.fixture(params=MACHINES)
def mac(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, FakeSystem]:
    return request.param, load_mac(request.param, tmp_path)


EXPECTED_VERSIONS = {
    "monterey-12": ("12.7.6", "21H1320", "x86_64"),
    "ventura-13": ("13.6.9", "22G830", "arm64"),
    "sonoma-14": ("14.6.1", "23G93", "arm64"),
    "sequoia-15": ("15.7.1", "24G231", "arm64"),
}


def test_os_version(mac: tuple[str, FakeSystem]) -> None:
    name, system = mac
    row = one_row(OsVersion(system))
    version, build, arch = EXPECTED_VERSIONS[name]
    assert (row["name"], row["version"], row["build"], row["arch"]) == (
        "macOS",
        version,
        build,
        arch,
    )
    assert (row["major"], row["platform"]) == (int(version.split(".")[0]), "darwin")


def test_system_info_on_intel_and_apple_silicon(tmp_path: Path) -> None:
    intel = one_row(SystemInfo(load_mac("monterey-12", tmp_path / "a")))
    assert intel["hardware_model"] == "MacBookPro16,1"
    assert intel["hardware_serial"] == "C02ZW1ABMD6M"
    assert intel["uuid"] == "5B1C8E2A-6F3D-5A4B-9C7E-1D2F3A4B5C6D"
    assert intel["computer_name"] == "Ben\u2019s MacBook Pro"
    assert intel["physical_memory"] == 34359738368
    arm = one_row(SystemInfo(load_mac("ventura-13", tmp_path / "b")))
    assert (arm["hardware_model"], arm["cpu_brand"], arm["hostname"]) == (
        "MacBookAir10,1",
        "Apple M1",
        "carla-air.local",
    )


def test_system_info_without_system_profiler_keeps_what_sysctl_says(tmp_path: Path) -> None:
    system = load_mac("sonoma-14", tmp_path)
    del system.commands[tuple(HARDWARE)]
    row = one_row(SystemInfo(system))
    assert row["hardware_serial"] is None
    assert row["hardware_model"] == "Mac15,3"


def test_the_stored_plists_are_binary(tmp_path: Path) -> None:
    system = load_mac("ventura-13", tmp_path)
    data = system.read_bytes("/Library/Preferences/com.apple.alf.plist")
    assert data.startswith(b"bplist00")


def test_apps_reads_info_plists_and_keeps_odd_versions(tmp_path: Path) -> None:
    system = load_mac("ventura-13", tmp_path)
    found = {row["name"]: row for row in rows(Apps(system))}
    assert set(found) == {"Firefox.app", "zoom.us.app"}
    assert found["zoom.us.app"]["bundle_short_version"] == "5.17.11 (31580)"
    assert found["Firefox.app"]["bundle_identifier"] == "org.mozilla.firefox"
    assert found["Firefox.app"]["path"] == "/Applications/Firefox.app"
    assert system.calls == []  # no process is started


def test_apps_finds_the_users_own_applications_folder(tmp_path: Path) -> None:
    found = [row["path"] for row in rows(Apps(load_mac("sequoia-15", tmp_path)))]
    assert "/Users/eli/Applications/uTorrent Web.app" in found


def test_apps_with_a_path_reads_only_that_bundle(tmp_path: Path) -> None:
    system = load_mac("monterey-12", tmp_path)
    context = QueryContext((Constraint("path", Operator.EQUALS, "/Applications/uTorrent.app"),))
    assert [(r["name"], r["bundle_short_version"]) for r in rows(Apps(system), context)] == [
        ("uTorrent.app", "1.8.7")
    ]


@pytest.mark.parametrize(
    ("machine", "expected"),
    [
        ("monterey-12", {"global_state": 1, "stealth_enabled": 0, "version": "1.6"}),
        ("ventura-13", {"global_state": 2, "stealth_enabled": 1}),  # block all
        ("sonoma-14", {"global_state": 0}),
        # macOS 15 has no com.apple.alf.plist: socketfilterfw answers global_state.
        ("sequoia-15", {"global_state": 1, "stealth_enabled": None, "version": None}),
    ],
)
def test_alf(machine: str, expected: Row, tmp_path: Path) -> None:
    row = one_row(Alf(load_mac(machine, tmp_path)))
    assert {key: row.get(key) for key in expected} == expected


@pytest.mark.parametrize(
    ("machine", "enabled", "words"),
    [
        ("monterey-12", 1, "is on (socketfilterfw: Firewall is enabled. (State = 1))"),
        ("ventura-13", 1, "is on, blocking all incoming connections"),
        ("sonoma-14", 0, "is off"),
        ("sequoia-15", 1, "is on"),
    ],
)
def test_firewall_from_socketfilterfw(
    machine: str, enabled: int, words: str, tmp_path: Path
) -> None:
    row = one_row(Firewall(load_mac(machine, tmp_path)))
    assert row["enabled"] == enabled
    assert words in str(row["detail"])


def test_firewall_unknown_when_socketfilterfw_says_nothing_useful(tmp_path: Path) -> None:
    system = load_mac("sequoia-15", tmp_path)
    key = ("/usr/libexec/ApplicationFirewall/socketfilterfw", "--getglobalstate")
    system.commands[key] = CommandResult(key, 1, "", "socketfilterfw: must be root\n")
    row = one_row(Firewall(system))
    assert row["enabled"] is None
    assert "must be root" in str(row["detail"])
    with pytest.raises(TableError):
        rows(Alf(system))


@pytest.mark.parametrize(
    ("machine", "encrypted", "words"),
    [
        ("monterey-12", 1, "FileVault is on (fdesetup status)"),
        ("ventura-13", 1, "encryption of the disk is in progress (42.37 % done)"),
        ("sonoma-14", 0, "FileVault is off"),
        ("sequoia-15", 1, "FileVault is on"),
    ],
)
def test_filevault(machine: str, encrypted: int, words: str, tmp_path: Path) -> None:
    row = one_row(DiskEncryption(load_mac(machine, tmp_path)))
    assert (row["encrypted"], row["mountpoint"], row["type"]) == (encrypted, "/", "FileVault")
    assert words in str(row["detail"])


def test_filevault_falls_back_to_isactive(tmp_path: Path) -> None:
    system = load_mac("sonoma-14", tmp_path)
    status = tuple(FDESETUP_STATUS)
    system.commands[status] = CommandResult(status, 0, "Something unexpected.\n", "")
    isactive = tuple(FDESETUP_ISACTIVE)
    system.commands[isactive] = CommandResult(isactive, 1, "false\n", "")
    row = one_row(DiskEncryption(system))
    assert row["encrypted"] == 0
    assert row["detail"] == "FileVault is off (fdesetup isactive: false)"


def test_filevault_unknown_when_nothing_answers(tmp_path: Path) -> None:
    system = load_mac("sonoma-14", tmp_path)
    del system.commands[tuple(FDESETUP_STATUS)]
    row = one_row(DiskEncryption(system))
    assert row["encrypted"] is None
    assert "cannot tell whether FileVault is on" in str(row["detail"])


@pytest.mark.parametrize(
    ("machine", "enabled", "grace"),
    [("monterey-12", 1, 5), ("ventura-13", 1, 0), ("sonoma-14", 1, 300), ("sequoia-15", 0, -1)],
)
def test_screenlock(machine: str, enabled: int, grace: int, tmp_path: Path) -> None:
    assert one_row(ScreenLock(load_mac(machine, tmp_path))) == {
        "enabled": enabled,
        "grace_period": grace,
    }


@pytest.mark.parametrize(
    ("machine", "enabled", "after", "words"),
    [
        ("monterey-12", 1, 605, "the screen saver starts after 600 s"),
        # Screen saver never and display never: the screen never locks by itself.
        ("ventura-13", 0, None, "the screen never locks by itself"),
        # idleTime missing: the default 1200 s; the display sleeps sooner (600 s) + 300 s delay.
        ("sonoma-14", 1, 900, "idleTime not set: macOS's default"),
        ("sequoia-15", 0, None, "no password is asked"),
    ],
)
def test_screen_lock_timing(
    machine: str, enabled: int, after: int | None, words: str, tmp_path: Path
) -> None:
    row = one_row(ScreenLockTiming(load_mac(machine, tmp_path)))
    assert (row["enabled"], row["lock_after_seconds"], row["desktop"]) == (enabled, after, "macOS")
    assert words in str(row["detail"])


def test_screen_lock_timing_unknown_when_nothing_can_be_read(tmp_path: Path) -> None:
    system = load_mac("ventura-13", tmp_path)
    del system.commands[tuple(PMSET)]
    row = one_row(ScreenLockTiming(system))
    assert row["enabled"] is None  # "never" would be a guess


@pytest.mark.parametrize(
    ("machine", "remote_login", "screen_sharing"),
    [("monterey-12", 1, 0), ("ventura-13", 0, 0), ("sonoma-14", 0, 0), ("sequoia-15", 1, 1)],
)
def test_sharing_preferences(
    machine: str, remote_login: int, screen_sharing: int, tmp_path: Path
) -> None:
    row = one_row(SharingPreferences(load_mac(machine, tmp_path)))
    assert (row["remote_login"], row["screen_sharing"]) == (remote_login, screen_sharing)
    assert row["printer_sharing"] is None


@pytest.mark.parametrize(
    ("machine", "enabled", "source"),
    [
        ("monterey-12", 1, "SoftwareUpdate"),  # no keys at all: every default is on
        ("ventura-13", 0, "SoftwareUpdate"),
        ("sonoma-14", 1, "managed profile"),  # the profile turns security updates back on
        ("sequoia-15", 1, "SoftwareUpdate"),
    ],
)
def test_automatic_updates(machine: str, enabled: int, source: str, tmp_path: Path) -> None:
    row = one_row(AutomaticUpdates(load_mac(machine, tmp_path)))
    assert (row["enabled"], row["source"]) == (enabled, source)


def test_automatic_updates_says_which_values_are_defaults(tmp_path: Path) -> None:
    row = one_row(AutomaticUpdates(load_mac("monterey-12", tmp_path)))
    assert "check for updates: on (AutomaticCheckEnabled, default)" in str(row["detail"])


def test_wifi_on_macos_12_reads_the_airport_preferences(tmp_path: Path) -> None:
    found = rows(WifiNetworks(load_mac("monterey-12", tmp_path)))
    assert [(r["name"], r["security"], r["open"]) for r in found] == [
        ("Cafe Guest", "Open", 1),
        ("Home", "WPA2 Personal", 0),
    ]


@pytest.mark.parametrize("machine", ["ventura-13", "sonoma-14", "sequoia-15"])
def test_wifi_on_macos_13_and_later_is_root_only(machine: str, tmp_path: Path) -> None:
    with pytest.raises(TableError, match=r"permission denied \(macOS lets only administrators"):
        rows(WifiNetworks(load_mac(machine, tmp_path)))


def test_every_table_answers_on_every_recorded_mac(mac: tuple[str, FakeSystem]) -> None:
    name, system = mac
    for table in darwin_tables(system):
        if table.name == "stethoscope_wifi_networks" and name != "monterey-12":
            continue
        assert rows(table), table.name


@pytest.mark.parametrize(
    ("machine", "xprotect", "gatekeeper"),
    [("monterey-12", "2165", 1), ("sonoma-14", "2200", 0), ("sequoia-15", "5323", 1)],
)
def test_security_software(machine: str, xprotect: str, gatekeeper: int, tmp_path: Path) -> None:
    found = {row["name"]: row for row in rows(SecuritySoftware(load_mac(machine, tmp_path)))}
    assert (found["XProtect"]["enabled"], found["XProtect"]["version"]) == (1, xprotect)
    assert found["XProtect"]["up_to_date"] is None  # the newest version is not known here
    assert found["Gatekeeper"]["enabled"] == gatekeeper


def product_rows(machine: str, tmp_path: Path) -> dict[str, tuple[Any, ...]]:
    """The antivirus and endpoint protection rows of a recorded Mac, but XProtect."""
    return {
        str(row["name"]): (row["enabled"], row["version"], row["source"], row["detail"])
        for row in rows(SecuritySoftware(load_mac(machine, tmp_path)))
        if row["type"] == "antivirus" and row["name"] != "XProtect"
    }


def test_an_endpoint_security_extension_that_runs(tmp_path: Path) -> None:
    # The terminated older version waiting for a reboot does not hide the running one.
    assert product_rows("sonoma-14", tmp_path) == {
        "CrowdStrike Falcon": (
            1,
            "7.14",
            "systemextensionsctl",
            "CrowdStrike Falcon is running: its endpoint security extension is active "
            "(com.crowdstrike.falcon.Agent, [activated enabled])",
        ),
    }


def test_an_extension_waiting_for_the_user_is_not_running(tmp_path: Path) -> None:
    assert product_rows("ventura-13", tmp_path) == {
        "Microsoft Defender": (
            0,
            "101.24092.0004",
            "systemextensionsctl",
            "Microsoft Defender is not running: its endpoint security extension waits for the "
            "user to allow it (com.microsoft.wdav.epsext, [activated waiting for user])",
        ),
    }


def test_an_unknown_vendors_extension_counts_by_its_own_name(tmp_path: Path) -> None:
    # Sequoia's headings carry a note; a VPN's network extension is no security product.
    found = product_rows("sequoia-15", tmp_path)
    assert {name: enabled for name, (enabled, *_) in found.items()} == {
        "Jamf Protect": 1,
        "Example Guard": 1,
    }
    assert found["Example Guard"][1] == "3.1"


def test_a_known_app_without_an_extension_is_installed_but_not_running(tmp_path: Path) -> None:
    assert product_rows("monterey-12", tmp_path) == {
        "CrowdStrike Falcon": (
            0,
            "7.05",
            "Applications",
            "CrowdStrike Falcon is installed (/Applications/Falcon.app) but has no endpoint "
            "security extension",
        ),
    }


def test_when_the_extensions_cannot_be_listed_an_app_is_unknown(tmp_path: Path) -> None:
    system = load_mac("sonoma-14", tmp_path)
    key = tuple(SYSTEM_EXTENSIONS)
    system.commands[key] = CommandResult(key, 1, "", "systemextensionsctl: XPC error\n")
    found = {
        row["name"]: row
        for row in rows(SecuritySoftware(system))
        if row["name"] == "CrowdStrike Falcon"
    }
    assert found["CrowdStrike Falcon"]["enabled"] is None
    assert found["CrowdStrike Falcon"]["detail"] == (
        "CrowdStrike Falcon is installed (/Applications/Falcon.app); cannot tell whether it "
        "runs: systemextensionsctl: systemextensionsctl: XPC error"
    )


def test_system_extensions_parser_reads_both_heading_forms() -> None:
    text = (
        "1 extension(s)\n--- com.apple.system_extension.endpoint_security (Go to 'System "
        "Settings' to modify these system extension(s))\n"
        "enabled\tactive\tteamID\tbundleID (version)\tname\t[state]\n"
        "*\t*\tX9E956P446\tcom.crowdstrike.falcon.Agent (7.14/18410.0)\tFalcon Sensor\t"
        "[activated enabled]\n"
    )
    (extension,) = parse_system_extensions(text)
    assert extension == SystemExtension(
        "com.apple.system_extension.endpoint_security",
        "X9E956P446",
        "com.crowdstrike.falcon.Agent",
        "7.14",
        "Falcon Sensor",
        "activated enabled",
    )
    assert extension.running and extension.product == "CrowdStrike Falcon"
