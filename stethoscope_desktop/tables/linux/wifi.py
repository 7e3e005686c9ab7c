"""`stethoscope_wifi_networks`: the Wi-Fi networks NetworkManager remembers, and which are open.

NetworkManager keeps its connection files in /etc/NetworkManager/system-connections/, readable by
root only, so we ask NetworkManager itself: `nmcli -t -f NAME,UUID,TYPE connection show` lists
the saved connections, then `nmcli -g 802-11-wireless-security.key-mgmt connection show <uuid>`
gives each Wi-Fi connection's key management. nmcli prints nothing (and exits 0) for a profile
without an 802-11-wireless-security setting, which is an open network. "none" is static WEP,
"owe" is Opportunistic Wireless Encryption (encrypted, though anyone may join), the others are
WPA/WPA3 variants.
"""

from __future__ import annotations

from collections.abc import Iterable

from stethoscope_desktop.tables._shared import WIFI_NETWORK_COLUMNS
from stethoscope_desktop.tables.base import QueryContext, Row, TableError
from stethoscope_desktop.tables.linux._common import MachineTable, command_reason, run_quiet

NMCLI_MISSING = "NetworkManager's nmcli is not installed, so saved Wi-Fi networks cannot be read"
WIFI_TYPES = frozenset({"802-11-wireless", "wifi"})  # terse output names the setting type
SECURITY_NAMES = {
    "": "open",
    "none": "WEP",
    "ieee8021x": "dynamic WEP (802.1X)",
    "owe": "OWE (enhanced open)",
    "wpa-none": "WPA ad-hoc",
    "wpa-psk": "WPA-PSK",
    "sae": "WPA3-SAE",
    "wpa-eap": "WPA-Enterprise (EAP)",
    "wpa-eap-suite-b-192": "WPA3-Enterprise 192-bit",
}


def split_terse(line: str) -> list[str]:
    """Split one line of `nmcli -t` output on ':' honouring its backslash escapes."""
    fields: list[str] = []
    current: list[str] = []
    escaped = False
    for char in line:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ":":
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
    fields.append("".join(current))
    return fields


class WifiNetworks(MachineTable):
    """Saved Wi-Fi connections and their security."""

    name = "stethoscope_wifi_networks"
    columns = WIFI_NETWORK_COLUMNS
    platforms = ("linux",)

    def _nmcli(self, argv: list[str]) -> str:
        result = run_quiet(self._system, argv)
        if isinstance(result, str):
            raise TableError(f"cannot run nmcli: {result}")
        if not result.ok:
            raise TableError(f"nmcli: {command_reason(result)}")
        return result.stdout

    def generate(self, context: QueryContext) -> Iterable[Row]:
        if self._system.which("nmcli") is None:
            raise TableError(NMCLI_MISSING)
        listing = self._nmcli(["nmcli", "-t", "-f", "NAME,UUID,TYPE", "connection", "show"])
        rows: list[Row] = []
        for line in listing.splitlines():
            fields = split_terse(line)
            if len(fields) != 3 or fields[2] not in WIFI_TYPES:
                continue
            name, uuid, _ = fields
            key_mgmt = self._nmcli(
                ["nmcli", "-g", "802-11-wireless-security.key-mgmt", "connection", "show", uuid]
            ).strip()
            rows.append(
                {
                    "name": name,
                    "uuid": uuid,
                    "security": SECURITY_NAMES.get(key_mgmt, key_mgmt),
                    "open": int(key_mgmt == ""),
                }
            )
        return rows
