"""Canned tables for scanner tests: any table name, osquery's columns, rows given by the test."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

from stethoscope_desktop.resources import resources_dir
from stethoscope_desktop.tables.base import (
    Column,
    ColumnType,
    QueryContext,
    Row,
    TableError,
    TablePlugin,
)

OSQUERY_TABLES = json.loads((resources_dir() / "osquery" / "tables.json").read_text())["tables"]

STETHOSCOPE_COLUMNS: Mapping[str, Sequence[tuple[str, ColumnType]]] = {
    "stethoscope_firewall": (("enabled", "integer"), ("source", "text"), ("detail", "text")),
    "stethoscope_automatic_updates": (("enabled", "integer"), ("source", "text"), ("detail", "text")),
    "stethoscope_remote_login": (("enabled", "integer"), ("source", "text"), ("detail", "text")),
    "stethoscope_disk_encryption": (
        ("name", "text"), ("mountpoint", "text"), ("encrypted", "integer"), ("type", "text"), ("detail", "text"),
    ),
    "stethoscope_screen_lock": (
        ("enabled", "integer"), ("lock_after_seconds", "integer"), ("desktop", "text"),
        ("source", "text"), ("detail", "text"),
    ),
    "stethoscope_wifi_networks": (
        ("name", "text"), ("uuid", "text"), ("security", "text"), ("open", "integer"),
        ("autoconnect", "integer"), ("readable", "integer"),
    ),
    "stethoscope_desktop_apps": (("name", "text"), ("version", "text"), ("source", "text"), ("path", "text")),
    "stethoscope_security_software": (
        ("name", "text"), ("type", "text"), ("enabled", "integer"), ("up_to_date", "integer"),
        ("version", "text"), ("source", "text"), ("detail", "text"),
    ),
    "stethoscope_browser_extensions": (
        ("browser", "text"), ("browser_name", "text"), ("profile", "text"), ("identifier", "text"),
        ("name", "text"), ("version", "text"), ("author", "text"), ("path", "text"),
    ),
    "stethoscope_os_version": (
        ("name", "text"), ("version", "text"), ("major", "integer"), ("minor", "integer"), ("patch", "integer"),
        ("build", "text"), ("platform", "text"), ("platform_like", "text"), ("codename", "text"),
    ),
    "stethoscope_app": (("version", "text"), ("stethoscope_release", "text"), ("python_version", "text"), ("executable", "text"), ("frozen", "integer")),
}  # fmt: skip


def columns_of(name: str) -> tuple[Column, ...]:
    """Return osquery's columns for `name`, or ours for a stethoscope_* table."""
    if name in STETHOSCOPE_COLUMNS:
        return tuple(Column(n, t) for n, t in STETHOSCOPE_COLUMNS[name])
    return tuple(Column(c[0], c[1]) for c in OSQUERY_TABLES[name]["columns"])


class CannedTable(TablePlugin):
    """A table that returns the rows (or raises the error) a test gives it."""

    def __init__(self, name: str, rows: Iterable[Row] = (), error: str | None = None) -> None:
        self.name = name  # type: ignore[misc]
        self.columns = columns_of(name)  # type: ignore[misc]
        self._rows = list(rows)
        self._error = error
        self.calls = 0

    def generate(self, context: QueryContext) -> Iterable[Row]:
        self.calls += 1
        if self._error is not None:
            raise TableError(self._error)
        return self._rows


def canned_linux(**overrides: Sequence[Row] | str) -> list[TablePlugin]:
    """Return a full set of Linux tables for a healthy Debian 12 laptop; override any by name.

    `stethoscope_os_version`, unless given, has the rows (or the error) given for `os_version`.
    """
    tables: dict[str, Sequence[Row] | str] = {
        "os_version": [{"name": "Debian GNU/Linux", "version": "12 (bookworm)", "major": 12, "minor": 7,
                        "patch": 0, "platform": "debian", "build": ""}],
        "system_info": [{"computer_name": "laptop-42", "hostname": "laptop-42", "uuid": "abc-123",
                         "hardware_vendor": "LENOVO", "hardware_model": "ThinkPad T14", "hardware_serial": ""}],
        "kernel_info": [{"version": "6.1.0-28-amd64", "arguments": "ro quiet",
                         "path": "/boot/vmlinuz-6.1.0-28-amd64", "device": "/dev/mapper/root"}],
        "platform_info": [{"vendor": "LENOVO", "version": "N32ET91W (1.67 )", "date": "04/16/2024",
                           "revision": "1.67", "firmware_type": "uefi"}],
        "stethoscope_firewall": [{"enabled": 1, "source": "ufw", "detail": "ufw is active"}],
        "stethoscope_disk_encryption": [{"name": "/dev/dm-0", "mountpoint": "/", "encrypted": 1,
                                         "type": "crypt (LUKS2)", "detail": "/ is on LUKS2"}],
        "stethoscope_automatic_updates": [{"enabled": 1, "source": "apt", "detail": "unattended-upgrades on"}],
        "stethoscope_screen_lock": [{"enabled": 1, "lock_after_seconds": 300, "desktop": "GNOME",
                                     "source": "gsettings", "detail": "locks after 300 s"}],
        "stethoscope_remote_login": [{"enabled": 0, "source": "none", "detail": "nothing listens on 22"}],
        "stethoscope_wifi_networks": [{"name": "Home", "uuid": "u1", "security": "wpa-psk", "open": 0}],
        "deb_packages": [{"name": "firefox-esr", "version": "128.5.0esr-1~deb12u1", "status": "install ok installed"},
                         {"name": "bash", "version": "5.2.15-2+b7", "status": "install ok installed"}],
        "rpm_packages": [],
        "stethoscope_desktop_apps": [],
        "stethoscope_app": [{"version": "0.1.0", "stethoscope_release": "5.0.6"}],
        "stethoscope_security_software": [{"name": "ClamAV", "type": "antivirus", "enabled": 1, "up_to_date": None,
                                           "version": None, "source": "systemd",
                                           "detail": "ClamAV is running (clamav-daemon.service is active)"}],
        "stethoscope_browser_extensions": [
            {"browser": "firefox", "browser_name": "Firefox", "profile": "abcd1234.default-esr",
             "identifier": "uBlock0@raymondhill.net", "name": "uBlock Origin", "version": "1.61.2",
             "author": "Raymond Hill", "path": "/home/tester/.mozilla/firefox/abcd1234.default-esr/extensions/uBlock0@raymondhill.net.xpi"},
            {"browser": "chrome", "browser_name": "Google Chrome", "profile": "Default",
             "identifier": "nngceckbapebfimnlniiiahkandclblb", "name": "Bitwarden Password Manager",
             "version": "2024.12.0", "author": "",
             "path": "/home/tester/.config/google-chrome/Default/Extensions/nngceckbapebfimnlniiiahkandclblb/2024.12.0_0"},
        ],
    }  # fmt: skip
    tables.update(overrides)
    # Our stethoscope_os_version (what the checks read) says what os_version says unless given.
    tables.setdefault("stethoscope_os_version", tables["os_version"])
    return [
        CannedTable(name, error=spec) if isinstance(spec, str) else CannedTable(name, spec)
        for name, spec in tables.items()
    ]
