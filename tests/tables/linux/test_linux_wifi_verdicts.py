"""The open Wi-Fi check's verdict and words on Linux, from recorded nmcli output and fake roots.

Three cases the check got wrong before (issue 19, item 8): an open network saved with automatic
connection off failed although the check is about networks joined by themselves; an OWE
("enhanced open") network passed although anyone may run one of that name; and an account that
NetworkManager shows only some of the saved connections to (the others are limited to other
accounts by connection.permissions) was told that no open network is saved at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from stethoscope_desktop.core.checks import load_checks
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.resources import checks_dir
from stethoscope_desktop.tables.linux.wifi import WifiNetworks
from stethoscope_desktop.tables.system import CommandResult
from tests.fakes import FakeSystem, result
from tests.tables.linux.helpers import make_root, query_rows, rows

FOLDER = "/etc/NetworkManager/system-connections"
LIST = ("nmcli", "-t", "-f", "NAME,UUID,TYPE,AUTOCONNECT,FILENAME", "connection", "show")
SQL = load_checks(checks_dir()).checks["open_wifi_connections"].sql["linux"]


def network(name: str, uuid: str, autoconnect: str = "yes") -> str:
    """One terse line of the listing for a Wi-Fi connection kept in the /etc keyfile folder."""
    escaped = name.replace("\\", "\\\\").replace(":", "\\:")
    return f"{escaped}:{uuid}:802-11-wireless:{autoconnect}:{FOLDER}/{escaped}.nmconnection\n"


def key_mgmt(uuid: str, value: str) -> tuple[tuple[str, ...], CommandResult]:
    argv = ("nmcli", "-g", "802-11-wireless-security.key-mgmt", "connection", "show", uuid)
    return result(argv, f"{value}\n")


def machine(
    root: Path, listed: Sequence[tuple[str, str, str, str]], keyfiles: Sequence[str] = ()
) -> FakeSystem:
    """A machine whose nmcli lists `listed` (name, uuid, autoconnect, key-mgmt) to this account.

    Every listed network's keyfile is in the folder, and so are `keyfiles` (names of files of
    connections this account is not shown).
    """
    files = {f"{FOLDER}/{name}.nmconnection": "[connection]\n" for name, *_ in listed}
    files.update({f"{FOLDER}/{name}": "[connection]\n" for name in keyfiles})
    make_root(root, files)
    listing = "".join(network(name, uuid, auto) for name, uuid, auto, _ in listed)
    commands = dict([result(LIST, listing)])
    commands.update(key_mgmt(uuid, mgmt) for _, uuid, _, mgmt in listed)
    return FakeSystem(root, commands=commands)


def verdict(system: FakeSystem) -> tuple[object, str]:
    engine = EmbeddedEngine([WifiNetworks(system)])
    try:
        (row,) = query_rows(engine, SQL)
    finally:
        engine.close()
    return row["enabled"], str(row["detail"])


HOME = ("Home WiFi", "6a5b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d", "yes", "wpa-psk")
LIBRARY = ("Library", "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9", "no", "")
AIRPORT = ("Airport Enhanced", "5e6f7081-92a3-44b5-86c7-d8e9fa0b1c2d", "yes", "owe")
CAFE = ("Cafe: Free", "1e2f3a4b-5c6d-4e7f-8a9b-0c1d2e3f4a5b", "yes", "")


def test_open_network_that_is_not_joined_by_itself_passes_and_is_named(tmp_path: Path) -> None:
    enabled, detail = verdict(machine(tmp_path, [HOME, LIBRARY]))
    assert enabled == 1
    assert detail == (
        "saved Wi-Fi networks this account can read: 2, none of them open and joined by itself; "
        "open but joined only when picked (automatic connection off): Library"
    )


def test_owe_enhanced_open_counts_as_open(tmp_path: Path) -> None:
    system = machine(tmp_path, [HOME, AIRPORT])
    assert [row["security"] for row in rows(WifiNetworks(system))] == [
        "WPA-PSK",
        "OWE (enhanced open)",
    ]
    assert verdict(system) == (0, "open networks it would join by itself: Airport Enhanced")


def test_open_network_joined_by_itself_fails(tmp_path: Path) -> None:
    enabled, detail = verdict(machine(tmp_path, [HOME, CAFE, LIBRARY]))
    assert enabled == 0
    assert detail == (
        "open networks it would join by itself: Cafe: Free; "
        "open but joined only when picked (automatic connection off): Library"
    )


def test_connections_limited_to_other_accounts_are_named_not_denied(tmp_path: Path) -> None:
    # The open "Lobby" is limited to root (connection.permissions=user:root): nmcli shows this
    # account Home WiFi only, and the keyfile folder still lists both files. Editors' and
    # package managers' leftovers and hidden files are not profiles NetworkManager loads.
    leftovers = ["Home WiFi.nmconnection~", ".Lobby.nmconnection.swp", "old.dpkg-old"]
    system = machine(tmp_path, [HOME], ["Lobby.nmconnection", *leftovers])
    assert rows(WifiNetworks(system))[1:] == [{"name": "Lobby", "readable": 0}]
    assert verdict(system) == (
        1,
        "saved Wi-Fi networks this account can read: 1, none of them open and joined by itself; "
        "saved connections this account cannot read without administrator rights (limited to "
        "other accounts, joined only while one of them is signed in): Lobby",
    )


def test_usr_lib_profiles_count_only_with_their_suffix(tmp_path: Path) -> None:
    make_root(
        tmp_path,
        {
            "/usr/lib/NetworkManager/system-connections/vendor.nmconnection": "[connection]\n",
            "/usr/lib/NetworkManager/system-connections/README": "not a profile\n",
        },
    )
    system = machine(tmp_path, [])
    assert rows(WifiNetworks(system)) == [{"name": "vendor", "readable": 0}]
    assert verdict(system) == (
        1,
        "no Wi-Fi networks this account can read are saved; saved connections this account "
        "cannot read without administrator rights (limited to other accounts, joined only while "
        "one of them is signed in): vendor",
    )


def test_no_networks_at_all(tmp_path: Path) -> None:
    assert verdict(machine(tmp_path, [])) == (
        1,
        "no Wi-Fi networks this account can read are saved",
    )


def test_nmcli_without_the_filename_field_still_lists_networks(tmp_path: Path) -> None:
    # NetworkManager before 1.12: the keyfiles cannot be matched, so none is named unreadable.
    old = ("nmcli", "-t", "-f", "NAME,UUID,TYPE,AUTOCONNECT", "connection", "show")
    make_root(tmp_path, {f"{FOLDER}/Lobby": "[connection]\n"})
    commands = dict(
        [
            result(
                LIST,
                stderr="Error: invalid field 'FILENAME'; allowed fields: NAME,UUID\n",
                returncode=2,
            ),
            result(old, f"{CAFE[0].replace(':', chr(92) + ':')}:{CAFE[1]}:802-11-wireless:yes\n"),
            key_mgmt(CAFE[1], ""),
        ]
    )
    assert verdict(FakeSystem(tmp_path, commands=commands)) == (
        0,
        "open networks it would join by itself: Cafe: Free",
    )
