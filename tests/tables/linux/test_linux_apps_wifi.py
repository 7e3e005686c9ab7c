"""stethoscope_wifi_networks from recorded nmcli; stethoscope_desktop_apps from flatpak/snap."""

from __future__ import annotations

from pathlib import Path

import pytest

from stethoscope_desktop.tables.base import TableError
from stethoscope_desktop.tables.linux.desktop_apps import DesktopApps
from stethoscope_desktop.tables.linux.wifi import WifiNetworks, split_terse
from stethoscope_desktop.tables.system import CommandResult
from tests.fakes import FakeSystem, result
from tests.tables.linux.helpers import fixture, make_root, rows

LIST = ("nmcli", "-t", "-f", "NAME,UUID,TYPE,AUTOCONNECT,FILENAME", "connection", "show")
HOME_UUID = "6a5b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"
CAFE_UUID = "1e2f3a4b-5c6d-4e7f-8a9b-0c1d2e3f4a5b"


def key_mgmt(uuid: str, value: str) -> tuple[tuple[str, ...], CommandResult]:
    return result(
        ("nmcli", "-g", "802-11-wireless-security.key-mgmt", "connection", "show", uuid),
        f"{value}\n",
    )


def test_split_terse() -> None:
    assert split_terse(r"Cafe\: Free WiFi:uuid:802-11-wireless") == [
        "Cafe: Free WiFi",
        "uuid",
        "802-11-wireless",
    ]
    assert split_terse(r"back\\slash:u:t") == ["back\\slash", "u", "t"]


def test_open_and_wpa_networks(tmp_path: Path) -> None:
    commands = dict(
        [
            result(LIST, fixture("commands/nmcli/connection-show.txt")),
            key_mgmt(HOME_UUID, "wpa-psk"),
            key_mgmt(CAFE_UUID, ""),
        ]
    )
    assert rows(WifiNetworks(FakeSystem(tmp_path, commands=commands))) == [
        {
            "name": "Home WiFi",
            "uuid": HOME_UUID,
            "security": "WPA-PSK",
            "open": 0,
            "autoconnect": 1,
            "readable": 1,
        },
        {
            "name": "Cafe: Free WiFi",
            "uuid": CAFE_UUID,
            "security": "open",
            "open": 1,
            "autoconnect": 1,
            "readable": 1,
        },
    ]


def test_nmcli_missing(tmp_path: Path) -> None:
    with pytest.raises(TableError) as raised:
        rows(WifiNetworks(FakeSystem(tmp_path)))
    assert str(raised.value) == (
        "NetworkManager's nmcli is not installed, so saved Wi-Fi networks cannot be read"
    )


def test_networkmanager_not_running(tmp_path: Path) -> None:
    down = result(LIST, stderr="Error: NetworkManager is not running.\n", returncode=8)
    with pytest.raises(TableError, match=r"^nmcli: Error: NetworkManager is not running\.$"):
        rows(WifiNetworks(FakeSystem(tmp_path, commands=dict([down]))))


FLATPAK = ("flatpak", "list", "--app", "--columns=name,application,version,installation")


def test_flatpak_and_snap_apps(tmp_path: Path) -> None:
    make_root(tmp_path, {"/snap/README": "mount points of snaps\n"})
    commands = dict(
        [
            result(FLATPAK, fixture("commands/flatpak/list.txt")),
            result(("snap", "list"), fixture("commands/snap/list.txt")),
        ]
    )
    system = FakeSystem(tmp_path, commands=commands, home="/home/ada")
    assert rows(DesktopApps(system)) == [
        {
            "name": "Firefox",
            "version": "133.0",
            "source": "flatpak",
            "path": "/var/lib/flatpak/app/org.mozilla.firefox",
        },
        {
            "name": "LibreOffice",
            "version": "24.8.3.2",
            "source": "flatpak",
            "path": "/var/lib/flatpak/app/org.libreoffice.LibreOffice",
        },
        {
            "name": "Signal",
            "version": "7.36.0",
            "source": "flatpak",
            "path": "/home/ada/.local/share/flatpak/app/org.signal.Signal",
        },
        {"name": "firefox", "version": "133.0-3", "source": "snap", "path": "/snap/firefox/5437"},
        {
            "name": "spotify",
            "version": "1.2.50.335.g1c8b8f8f",
            "source": "snap",
            "path": "/snap/spotify/80",
        },
    ]


def test_snapd_not_answering_gives_no_snap_rows(tmp_path: Path) -> None:
    down = result(
        ("snap", "list"),
        stderr='error: cannot communicate with server: Get "http://localhost/v2/snaps": dial '
        "unix /run/snapd.socket: connect: no such file or directory\n",
        returncode=1,
    )
    assert rows(DesktopApps(FakeSystem(tmp_path, commands=dict([down])))) == []


def test_neither_flatpak_nor_snap(tmp_path: Path) -> None:
    system = FakeSystem(tmp_path)
    assert rows(DesktopApps(system)) == []
    assert system.calls == []


def test_flatpak_failing_alone_is_a_table_error(tmp_path: Path) -> None:
    broken = result(FLATPAK, stderr="error: No such file or directory\n", returncode=1)
    with pytest.raises(TableError, match="flatpak list failed: error: No such file"):
        rows(DesktopApps(FakeSystem(tmp_path, commands=dict([broken]))))
