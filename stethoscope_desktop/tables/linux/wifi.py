"""`stethoscope_wifi_networks`: the Wi-Fi networks NetworkManager remembers, and which are open.

NetworkManager keeps its connection files in /etc/NetworkManager/system-connections/, readable by
root only, so we ask NetworkManager itself over D-Bus through nmcli, which needs no privileges:
`nmcli -t -f NAME,UUID,TYPE,AUTOCONNECT,FILENAME connection show` lists the saved connections this
account may see (FILENAME since NetworkManager 1.12), then
`nmcli -g 802-11-wireless-security.key-mgmt connection show <uuid>` gives each Wi-Fi connection's
key management without its secrets. nmcli prints nothing (and exits 0) for a profile without an
802-11-wireless-security setting, which is an open network. "none" is static WEP, the others are
WPA/WPA3 variants.

OWE ("owe", Wi-Fi Enhanced Open) counts as open: it encrypts the air link, but anyone may join
and nothing proves who runs the access point, so a look-alike network named like a café's is
joined just as well; that is the danger this practice is about.

`autoconnect` is NetworkManager's connection.autoconnect: a network saved with autoconnect=no is
joined only when the person picks it, so it is not one the device "would join again on its own".

A connection whose connection.permissions name only other accounts is invisible to this one:
nmcli does not list it, and NetworkManager joins it only while one of those accounts has a
session. Its keyfile still shows in the folder listing (the folders are readable, the files are
not), so every keyfile that no listed connection came from is a row with `readable` 0 and its
file's name: this account can't tell whether it is Wi-Fi, or open. Profiles in /run (in memory
only) and the old ifcfg files are not counted, nor is anything where the folder cannot be listed
or nmcli is older than 1.12 (no FILENAME): the check's words say "this account can read" always.
"""

from __future__ import annotations

from collections.abc import Iterable

from stethoscope_desktop.tables._shared import WIFI_NETWORK_COLUMNS
from stethoscope_desktop.tables.base import QueryContext, Row, TableError
from stethoscope_desktop.tables.linux._common import (
    MachineTable,
    command_reason,
    list_optional,
    run_quiet,
)

NMCLI_MISSING = "NetworkManager's nmcli is not installed, so saved Wi-Fi networks cannot be read"
LIST_ARGV = ("nmcli", "-t", "-f", "NAME,UUID,TYPE,AUTOCONNECT,FILENAME", "connection", "show")
# nmcli before NetworkManager 1.12 has no FILENAME field ("invalid field 'FILENAME'").
LIST_WITHOUT_FILENAME = ("nmcli", "-t", "-f", "NAME,UUID,TYPE,AUTOCONNECT", "connection", "show")
WIFI_TYPES = frozenset({"802-11-wireless", "wifi"})  # terse output names the setting type
OPEN_KEY_MGMT = frozenset({"", "owe"})
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
# The keyfile folders NetworkManager loads saved profiles from: /etc takes any file name that
# keyfile does not ignore, /usr/lib only *.nmconnection.
KEYFILE_FOLDERS = (
    ("/etc/NetworkManager/system-connections", False),
    ("/usr/lib/NetworkManager/system-connections", True),
)
KEYFILE_SUFFIX = ".nmconnection"
# keyfile ignores backups, editors' and package managers' leftovers and hidden files.
IGNORED_SUFFIXES = (
    "~", ".bak", ".orig", ".rej", ".swp", ".tmp", ".rpmnew", ".rpmsave", ".rpmorig",
    ".dpkg-old", ".dpkg-new", ".dpkg-dist", ".dpkg-bak", ".dpkg-tmp", ".nmmeta",
)  # fmt: skip


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


def keyfile_name_shown(name: str, *, suffix_required: bool) -> bool:
    """Return True when NetworkManager's keyfile plugin would load a file of this name."""
    if name.startswith(".") or name.endswith(IGNORED_SUFFIXES):
        return False
    return name.endswith(KEYFILE_SUFFIX) or not suffix_required


class WifiNetworks(MachineTable):
    """Saved Wi-Fi connections, their security, whether they are joined by themselves."""

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
        try:
            listing = self._nmcli(list(LIST_ARGV))
            with_files = True
        except TableError as error:
            if "FILENAME" not in str(error):
                raise
            listing = self._nmcli(list(LIST_WITHOUT_FILENAME))
            with_files = False
        rows: list[Row] = []
        seen_files: set[str] = set()
        for line in listing.splitlines():
            fields = split_terse(line)
            if len(fields) != (5 if with_files else 4):
                continue
            name, uuid, kind, autoconnect = fields[:4]
            filename = fields[4] if with_files else ""
            if filename:
                seen_files.add(filename)
            if kind not in WIFI_TYPES:
                continue
            key_mgmt = self._nmcli(
                ["nmcli", "-g", "802-11-wireless-security.key-mgmt", "connection", "show", uuid]
            ).strip()
            rows.append(
                {
                    "name": name,
                    "uuid": uuid,
                    "security": SECURITY_NAMES.get(key_mgmt, key_mgmt),
                    "open": int(key_mgmt in OPEN_KEY_MGMT),
                    "autoconnect": {"yes": 1, "no": 0}.get(autoconnect),
                    "readable": 1,
                }
            )
        if with_files:
            rows.extend(self._unreadable(seen_files))
        return rows

    def _unreadable(self, seen_files: set[str]) -> list[Row]:
        """Rows for the keyfiles no connection this account can see came from."""
        rows: list[Row] = []
        for folder, suffix_required in KEYFILE_FOLDERS:
            for entry in list_optional(self._system, folder):
                path = f"{folder}/{entry}"
                if path in seen_files or not keyfile_name_shown(
                    entry, suffix_required=suffix_required
                ):
                    continue
                if self._system.is_dir(path):
                    continue
                name = entry[: -len(KEYFILE_SUFFIX)] if entry.endswith(KEYFILE_SUFFIX) else entry
                rows.append({"name": name, "readable": 0})
        return rows
