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
    from stethoscope_desktop.ui.freedesktop_notifier import markup_escaped

    assert (
        markup_escaped("<b>a</b> & <i>b</i>") == "&lt;b&gt;a&lt;/b&gt; &amp; &lt;i&gt;b&lt;/i&gt;"
    )
    assert markup_escaped("&amp;") == "&amp;amp;"  # escaped once, shown as written
