"""Without a tray, notifications go straight to the notification daemon, and a click comes back."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from tests.desktop.session import VirtualDesktop, app_env, wait_for

ROOT = Path(__file__).resolve().parents[2]


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


def test_it_titles_in_the_body_are_escaped_for_a_daemon_that_reads_markup(
    virtual_desktop: VirtualDesktop, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", virtual_desktop.bus)
    from stethoscope_desktop.ui.freedesktop_notifier import FreedesktopNotifier

    notifier = FreedesktopNotifier.available()
    assert notifier is not None
    try:
        assert notifier.body_markup, "dunst reads bodies as markup (capability body-markup)"
        assert notifier.notify("<b>Firewall</b>", "• <a href='https://evil.example/'>x</a> & co")
        qtbot.waitUntil(lambda: bool(virtual_desktop.notifications()), timeout=5_000)
        assert virtual_desktop.notifications() == [
            (
                "Stethoscope",
                "<b>Firewall</b>",  # the summary is plain text by the spec
                "• &lt;a href='https://evil.example/'&gt;x&lt;/a&gt; &amp; co",
            )
        ]
    finally:
        notifier.close()


def test_markup_escaping_keeps_the_text_and_drops_every_tag() -> None:
    from stethoscope_desktop.ui.notifier import markup_escaped

    assert (
        markup_escaped("<b>a</b> & <i>b</i>") == "&lt;b&gt;a&lt;/b&gt; &amp; &lt;i&gt;b&lt;/i&gt;"
    )
    assert markup_escaped("&amp;") == "&amp;amp;"  # escaped once, shown as written


_TRAY_NOTIFY = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QApplication, QSystemTrayIcon
from stethoscope_desktop.ui.notifier import TrayNotifier, _tray_notifier, create_notifier

app = QApplication([])
pixmap = QPixmap(16, 16)
pixmap.fill()
tray = QSystemTrayIcon(QIcon(pixmap))
tray.show()
chosen = create_notifier(tray, "linux")  # the daemon first: it takes urgency and actions
notifier = _tray_notifier(tray, "linux")  # the tray's, where no daemon answers on the bus
print(type(chosen).__name__, flush=True)
chosen.close()
print(type(notifier).__name__, isinstance(notifier, TrayNotifier) and notifier.escape_body, flush=True)
notifier.notify("<b>Firewall</b>", sys.argv[1])
QTimer.singleShot(1500, app.quit)
app.exec()
"""


def test_the_trays_own_notification_body_is_escaped_for_a_daemon_that_reads_markup(
    virtual_desktop: VirtualDesktop, tmp_path: Path
) -> None:
    # Qt hands showMessage's body to the daemon unchanged; dunst reads it as markup.
    body = "• <a href='https://evil.example/'>x</a> & co"
    env = {**app_env(virtual_desktop, tmp_path), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", _TRAY_NOTIFY, body],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.stdout.split() == ["FreedesktopNotifier", "TrayNotifier", "True"], result.stderr[
        -2000:
    ]
    wait_for(lambda: virtual_desktop.notifications(), 30, "the tray's notification")
    assert [n[2] for n in virtual_desktop.notifications()] == [
        "• &lt;a href='https://evil.example/'&gt;x&lt;/a&gt; &amp; co"
    ]
