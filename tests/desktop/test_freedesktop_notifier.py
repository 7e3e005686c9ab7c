"""Without a tray, notifications go straight to the notification daemon, and a click comes back."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from pytestqt.qtbot import QtBot

from tests.desktop.session import VirtualDesktop


def test_notify_reaches_the_daemon_and_its_click_comes_back(
    virtual_desktop: VirtualDesktop, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("dunstctl") is None:
        pytest.skip("dunstctl (Debian package dunst) is needed to click a notification")
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", virtual_desktop.bus)
    from stethoscope_desktop.ui.freedesktop_notifier import FreedesktopNotifier

    notifier = FreedesktopNotifier.available()
    assert notifier is not None, "the daemon answers on the private session bus"
    assert notifier.notify("Turn on your firewall", "Open Stethoscope to see how to fix it.")
    qtbot.waitUntil(lambda: bool(virtual_desktop.notifications()), timeout=5_000)
    assert virtual_desktop.notifications() == [
        ("Stethoscope", "Turn on your firewall", "Open Stethoscope to see how to fix it.")
    ]
    try:
        with qtbot.waitSignal(notifier.clicked, timeout=5_000):
            subprocess.run(
                ["dunstctl", "action", "0"],
                env={**os.environ, **virtual_desktop.env},
                check=True,
                timeout=10,
            )
    finally:
        notifier.close()
