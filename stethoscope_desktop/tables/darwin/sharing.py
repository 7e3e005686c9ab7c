"""osquery's `sharing_preferences` on macOS: which sharing services are turned on.

The switches in Sharing settings enable or disable launchd jobs in the system domain, and
`launchctl print-disabled system` lists them for any user. macOS 12 prints
`"com.openssh.sshd" => false` (false = not disabled, i.e. on); macOS 13 and later print
`=> enabled` / `=> disabled`. A service missing from the list keeps its job's own default, which
for every sharing service is off. Beyond launchd: Remote Management (Apple Remote Desktop) is on
when /Library/Application Support/Apple/Remote Desktop/RemoteManagement.launchd says "enabled",
Internet Sharing when com.apple.nat.plist has NAT Enabled = 1, Content Caching when
com.apple.AssetCache.plist has Activated. Printer and Bluetooth sharing are not read (NULL).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from stethoscope_desktop.tables._shared import (
    MachineTable,
    PlistError,
    command_reason,
    read_optional,
    read_plist,
    run_quiet,
)
from stethoscope_desktop.tables.base import Column, QueryContext, Row, TableError
from stethoscope_desktop.tables.darwin._common import plist_bool
from stethoscope_desktop.tables.system import System

PRINT_DISABLED = ["/bin/launchctl", "print-disabled", "system"]
ARD_FILE = "/Library/Application Support/Apple/Remote Desktop/RemoteManagement.launchd"
NAT_PLIST = "/Library/Preferences/SystemConfiguration/com.apple.nat.plist"
ASSET_CACHE_PLIST = "/Library/Preferences/com.apple.AssetCache.plist"
LAUNCHD_SERVICES = {
    "remote_login": "com.openssh.sshd",
    "screen_sharing": "com.apple.screensharing",
    "file_sharing": "com.apple.smbd",
    "remote_apple_events": "com.apple.AEServer",
    "disc_sharing": "com.apple.ODSAgent",
}
_ENTRY = re.compile(r'^\s*"([^"]+)"\s*=>\s*(\w+)', re.MULTILINE)


def parse_print_disabled(text: str) -> dict[str, bool]:
    """Return {label: disabled} from `launchctl print-disabled` output (both formats)."""
    states: dict[str, bool] = {}
    for label, word in _ENTRY.findall(text):
        value = word.lower()
        if value in ("true", "disabled"):
            states[label] = True
        elif value in ("false", "enabled"):
            states[label] = False
    return states


def launchd_overrides(system: System) -> dict[str, bool]:
    """Return the system domain's disabled-service overrides; raise TableError when unreadable."""
    result = run_quiet(system, PRINT_DISABLED)
    if isinstance(result, str):
        raise TableError(f"cannot read which services are turned on: {result}")
    if not result.ok:
        raise TableError(
            f"cannot read which services are turned on: launchctl: {command_reason(result)}"
        )
    return parse_print_disabled(result.stdout)


class SharingPreferences(MachineTable):
    """Which sharing services are on, one row (1 on, 0 off, NULL unknown)."""

    name = "sharing_preferences"
    columns = (
        Column("screen_sharing", "integer"),
        Column("file_sharing", "integer"),
        Column("printer_sharing", "integer"),
        Column("remote_login", "integer"),
        Column("remote_management", "integer"),
        Column("remote_apple_events", "integer"),
        Column("internet_sharing", "integer"),
        Column("bluetooth_sharing", "integer"),
        Column("disc_sharing", "integer"),
        Column("content_caching", "integer"),
    )
    platforms = ("darwin",)

    def _plist_flag(self, path: str, *keys: str) -> int | None:
        try:
            data = read_plist(self._system, path)
        except PlistError:
            return None
        if data is None:
            return 0
        value: object = data
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        flag = plist_bool(value)
        return 0 if flag is None else int(flag)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        overrides = launchd_overrides(self._system)
        row: Row = {
            column: int(not overrides.get(label, True))
            for column, label in LAUNCHD_SERVICES.items()
        }
        ard = read_optional(self._system, ARD_FILE)
        row["remote_management"] = int(ard is not None and ard.strip().lower() == "enabled")
        row["internet_sharing"] = self._plist_flag(NAT_PLIST, "NAT", "Enabled")
        row["content_caching"] = self._plist_flag(ASSET_CACHE_PLIST, "Activated")
        row["printer_sharing"] = None
        row["bluetooth_sharing"] = None
        return [row]
