"""The tray menu as a real tray host reads it: IT's notice and Help, current before it opens.

A StatusNotifierItem host reads the menu over D-Bus (com.canonical.dbusmenu) and sizes it by
the layout it read; the app must export a current layout without waiting to be opened.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from stethoscope_desktop import __version__
from tests.desktop.session import VirtualDesktop, registered_app, wait_for

ROOT = Path(__file__).resolve().parents[2]
IT_CONFIG = """\
menu:
  help:
    - label: Email IT
      link: it-help@example.com
deprecationNotice:
  heading: A new checkup app is coming
"""


def send(desktop: VirtualDesktop, *argv: str) -> str:
    return subprocess.run(
        ["dbus-send", f"--bus={desktop.bus}", "--print-reply", *argv],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    ).stdout


def menu_labels(desktop: VirtualDesktop, item: str) -> list[str]:
    """Return the labels of the item's exported menu and its submenus, in order."""
    service, _, path = item.partition("/")  # a bus name alone means the usual object path
    reply = send(
        desktop,
        f"--dest={service}",
        f"/{path or 'StatusNotifierItem'}",
        "org.freedesktop.DBus.Properties.Get",
        "string:org.kde.StatusNotifierItem",
        "string:Menu",
    )
    menu = re.search(r'object path "([^"]+)"', reply)
    assert menu, reply
    layout = send(
        desktop,
        f"--dest={service}",
        menu.group(1),
        "com.canonical.dbusmenu.GetLayout",
        "int32:0",
        "int32:-1",
        "array:string:",
    )
    return re.findall(r'string "label"\s+variant\s+string "([^"]*)"', layout)


def test_the_exported_menu_has_the_notice_and_help_once_the_report_is_in(
    virtual_desktop: VirtualDesktop, tmp_path: Path
) -> None:
    practices = tmp_path / "practices"
    practices.mkdir()
    (practices / "config.yaml").write_text(IT_CONFIG)
    with registered_app(virtual_desktop, practices, tmp_path) as app:
        item = virtual_desktop.tray_items()[0]
        wait_for(lambda: "Help" in menu_labels(virtual_desktop, item), 10, "the Help menu")
        wait_for(lambda: "first verdict shown" in app.log.read_text(), 30, "the first report")
        wait_for(
            lambda: "⚠ A new checkup app is coming" in menu_labels(virtual_desktop, item),
            10,
            "the notice in the exported menu (without the menu being opened)",
        )
        labels = menu_labels(virtual_desktop, item)
        start = labels.index("Help")
        assert labels[start + 1 : start + 4] == [
            "Email IT", "Copy debug info", f"Stethoscope Desktop {__version__}",
        ]  # fmt: skip
        assert any(label.startswith("Last checked ") for label in labels)
        assert app.process.poll() is None, "the app is still running"
