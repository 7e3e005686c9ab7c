"""`stethoscope_wifi_networks` on macOS: the Wi-Fi networks the Mac remembers, and which are open.

macOS 13 and later keep them in /Library/Preferences/com.apple.wifi.known-networks.plist, one
entry per network ("wifi.network.ssid.<name>", with SSID and SupportedSecurityTypes such as
"WPA2 Personal" or "Open"); macOS 12 and earlier in the KnownNetworks of
/Library/Preferences/SystemConfiguration/com.apple.airport.preferences.plist (SSIDString,
SecurityType). The newer file is readable by root only, so for a normal user the table says it
cannot tell rather than "no open networks" (osquery's wifi_networks returns no rows there, which
reads as a pass). A security type we do not know leaves `open` NULL. OWE ("OWE", "OWE
Transition", shown as Enhanced Open) counts as open, as on Linux and Windows: it encrypts the air
link, but anyone may join and nothing proves who runs the access point, so a look-alike network
with the same name is joined just as well.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stethoscope_desktop.tables._shared import (
    WIFI_NETWORK_COLUMNS,
    MachineTable,
    PlistError,
    read_plist,
)
from stethoscope_desktop.tables.base import QueryContext, Row, TableError
from stethoscope_desktop.tables.darwin._common import macos_major

KNOWN_NETWORKS = "/Library/Preferences/com.apple.wifi.known-networks.plist"
AIRPORT_PREFERENCES = "/Library/Preferences/SystemConfiguration/com.apple.airport.preferences.plist"
OPEN_TYPES = frozenset({"open", "none"})
ENHANCED_OPEN_MARKERS = ("owe", "enhanced open")
SECURE_MARKERS = ("wpa", "wep", "802.1x", "enterprise", "personal")
_PREFIX = "wifi.network.ssid."


def is_open(security: str | None) -> int | None:
    """Return 1 for an open network's security type, 0 for a protected one, None if unknown."""
    if not security:
        return None
    text = security.strip().lower()
    if text in OPEN_TYPES or any(marker in text for marker in ENHANCED_OPEN_MARKERS):
        return 1
    if any(marker in text for marker in SECURE_MARKERS):
        return 0
    return None


def _ssid(value: Any, fallback: str) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str) and value:
        return value
    return fallback


def known_network_rows(data: dict[str, Any]) -> list[Row]:
    """Rows from com.apple.wifi.known-networks.plist (macOS 13+)."""
    rows: list[Row] = []
    for key, entry in sorted(data.items()):
        if not isinstance(entry, dict):
            continue
        name = _ssid(entry.get("SSID"), key.removeprefix(_PREFIX))
        security = entry.get("SupportedSecurityTypes")
        security = security if isinstance(security, str) else None
        rows.append({"name": name, "uuid": key, "security": security, "open": is_open(security)})
    return rows


def airport_rows(data: dict[str, Any]) -> list[Row]:
    """Rows from com.apple.airport.preferences.plist's KnownNetworks (macOS 12 and earlier)."""
    known = data.get("KnownNetworks")
    rows: list[Row] = []
    if not isinstance(known, dict):
        return rows
    for key, entry in sorted(known.items()):
        if not isinstance(entry, dict):
            continue
        name = _ssid(entry.get("SSIDString") or entry.get("SSID"), key)
        security = entry.get("SecurityType")
        security = security if isinstance(security, str) else None
        rows.append({"name": name, "uuid": key, "security": security, "open": is_open(security)})
    return rows


class WifiNetworks(MachineTable):
    """Saved Wi-Fi networks and their security."""

    name = "stethoscope_wifi_networks"
    columns = WIFI_NETWORK_COLUMNS
    platforms = ("darwin",)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        try:
            known = read_plist(self._system, KNOWN_NETWORKS)
        except PlistError as error:
            # macOS 12 keeps the airport file up to date too, and it may be readable.
            if (macos_major(self._system) or 99) <= 12:
                try:
                    airport = read_plist(self._system, AIRPORT_PREFERENCES)
                except PlistError:
                    airport = None
                if airport is not None:
                    return airport_rows(airport)
            raise _unreadable(error) from error
        if known is not None:
            return known_network_rows(known)
        try:
            airport = read_plist(self._system, AIRPORT_PREFERENCES)
        except PlistError as error:
            raise _unreadable(error) from error
        return airport_rows(airport) if airport is not None else []


def _unreadable(error: PlistError) -> TableError:
    why = str(error)
    if "permission denied" in why:
        why += " (macOS lets only administrators read it)"
    return TableError(f"cannot read the saved Wi-Fi networks: {why}")
