"""The tray icon comes back when the desktop's tray host restarts.

Peers' users report tray icons that vanish for good when the panel restarts (the
StatusNotifierWatcher leaves the bus and a new one comes). Qt registers its item again as soon
as the new watcher's name appears, which gtk-sni-tray-standalone's watcher loses (it takes the
name before it serves its object): without `ui.tray_host_watch` our icon stays gone. Here the
host leaves, the app rescans and redraws meanwhile, a new host comes, and our icon (served by
the app's process) must be in it once, with a current menu.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.desktop.session import VirtualDesktop, registered_app, wait_for
from tests.desktop.test_help_menu_on_a_desktop import menu_labels, send

WATCHER = "org.kde.StatusNotifierWatcher"


def owner_pid(desktop: VirtualDesktop, item: str) -> int:
    """Return the process id of the bus connection that serves a registered item."""
    reply = send(
        desktop,
        "--dest=org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus.GetConnectionUnixProcessID",
        f"string:{item.partition('/')[0]}",
    )
    match = re.search(r"uint32 (\d+)", reply)
    assert match, reply
    return int(match.group(1))


def test_the_icon_registers_again_with_a_new_tray_host(
    virtual_desktop: VirtualDesktop, tmp_path: Path
) -> None:
    practices = tmp_path / "practices"
    practices.mkdir()
    policy = practices / "policy.yaml"
    policy.write_text('stethoscopeVersion: ">=99.0.0"\n')

    with registered_app(virtual_desktop, practices, tmp_path) as app:
        (item,) = virtual_desktop.tray_items()
        assert owner_pid(virtual_desktop, item) == app.process.pid
        host = virtual_desktop.tray_host
        assert host is not None
        host.terminate()
        host.wait(timeout=10)
        wait_for(lambda: not virtual_desktop.has_owner(WATCHER), 10, "the watcher to leave")

        # While there is no tray host, the app rescans (IT's file changed) and redraws.
        scans = app.log.read_text().count("scan finished")
        policy.write_text('stethoscopeVersion: ">=99.0.0"\n# changed while the tray was gone\n')
        wait_for(lambda: app.log.read_text().count("scan finished") > scans, 30, "the rescan")

        for _ in range(3):  # the host itself sometimes ends while it reads a new item
            virtual_desktop.restart_tray_host()
            if virtual_desktop.item_registered(20):
                break
        else:
            raise AssertionError("the new tray host ended while our icon registered, 3 times")
        # Under load Qt's own registration and the watch's may both land: one stays.
        wait_for(lambda: len(virtual_desktop.tray_items()) == 1, 30, "exactly one tray item")
        (again,) = virtual_desktop.tray_items()
        assert owner_pid(virtual_desktop, again) == app.process.pid, "our icon, once"
        labels = menu_labels(virtual_desktop, again)
        assert labels[:2] == ["Open", "Check again"], labels
        assert app.process.poll() is None
