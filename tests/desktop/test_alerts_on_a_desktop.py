"""Alerts about critical findings on a real (virtual) desktop, under dunst.

What the daemon receives (critical urgency, never expires, the app's icon, Open and Snooze), that
Open and Snooze chosen in dunst come back (a click: `dunstctl action`; a button: its context
menu), and, with the whole app: Open shows the window, and Snooze holds back the reminders of
those findings, kept in the state file.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from tests.desktop.session import VirtualDesktop, registered_app, wait_for

OPEN, SNOOZE = "Open", "Snooze for 4 hours"


def test_an_alert_is_critical_stays_and_its_open_and_snooze_come_back(
    virtual_desktop: VirtualDesktop, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", virtual_desktop.bus)
    from stethoscope_desktop.ui.freedesktop_notifier import FreedesktopNotifier
    from stethoscope_desktop.ui.notifier import Alert

    notifier = FreedesktopNotifier.available()
    assert notifier is not None
    try:
        assert notifier.alert(Alert("Turn on your firewall", "body", ("firewall",), OPEN, SNOOZE))
        wait_for(virtual_desktop.notify_calls, 10, "the alert")
        (call,) = virtual_desktop.notify_calls()
        assert call.summary == "Turn on your firewall"
        assert call.hints["urgency"] == "byte 2", "critical"
        assert call.expire_timeout == 0, "stays until dismissed"
        assert call.icon != "dialog-warning"
        assert call.icon == "stethoscope-desktop" or call.icon.endswith(
            "/icons/stethoscope-desktop.svg"
        )
        assert call.actions == ("default", OPEN, "open", OPEN, "snooze", SNOOZE)

        with qtbot.waitSignal(notifier.clicked, timeout=5_000):
            virtual_desktop.click_notification()

        keys = ("diskEncryption", "firewall")
        assert notifier.alert(Alert("2 new critical problems", "body", keys, OPEN, SNOOZE))
        with qtbot.waitSignal(notifier.snooze_requested, timeout=5_000) as snoozed:
            virtual_desktop.choose_action(SNOOZE)
        assert snoozed.args == [keys]
        assert [action for _, action in virtual_desktop.action_invoked()] == ["default", "snooze"]
    finally:
        notifier.close()


def test_a_new_alert_replaces_the_one_on_screen_and_information_is_not_critical(
    virtual_desktop: VirtualDesktop, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", virtual_desktop.bus)
    from stethoscope_desktop.ui.freedesktop_notifier import FreedesktopNotifier
    from stethoscope_desktop.ui.notifier import Alert

    notifier = FreedesktopNotifier.available()
    assert notifier is not None
    try:
        assert notifier.alert(Alert("First", "body", ("a",), OPEN, SNOOZE))
        assert notifier.alert(Alert("Second", "body", ("b",), OPEN, SNOOZE))
        assert notifier.notify("Debug info copied to the clipboard", "Paste it.")
        wait_for(lambda: len(virtual_desktop.notify_calls()) == 3, 10, "three notifications")
        first, second, info = virtual_desktop.notify_calls()
        assert first.replaces_id == 0
        assert second.replaces_id != 0, "replaces the first, still on screen"
        assert info.replaces_id == 0
        assert info.hints["urgency"] == "byte 1" and info.expire_timeout == -1
        assert "snooze" not in info.action_ids()
    finally:
        notifier.close()


IT_CONFIG = """\
notifications:
  reminderHours: 0.0005  # about 2 seconds, so that a reminder is due at every later scan
"""


def test_the_apps_alert_opens_the_window_and_its_snooze_holds_the_reminders(
    virtual_desktop: VirtualDesktop, tmp_path: Path
) -> None:
    practices = tmp_path / "practices"
    practices.mkdir()
    policy = practices / "policy.yaml"
    policy.write_text('stethoscopeVersion: ">=99.0.0"\n')
    (practices / "config.yaml").write_text(IT_CONFIG)

    with registered_app(virtual_desktop, practices, tmp_path) as app:

        def calls() -> list[object]:
            return virtual_desktop.notify_calls()[app.notifications_before :]

        def scans() -> int:
            return app.log.read_text().count("scan finished")

        def scan_again(note: str) -> None:
            done = scans()
            policy.write_text(f'stethoscopeVersion: ">=99.0.0"\n# {note}\n')
            wait_for(lambda: scans() > done, 30, f"the scan after {note}")

        wait_for(calls, 30, "the alert")
        alert = virtual_desktop.notify_calls()[-1]
        assert alert.hints["urgency"] == "byte 2" and alert.expire_timeout == 0
        assert alert.action_ids() == ("default", "open", "snooze")
        assert not virtual_desktop.window_shown("Stethoscope")
        virtual_desktop.click_notification()
        wait_for(lambda: virtual_desktop.window_shown("Stethoscope"), 20, "the window to open")

        # With reminders this frequent, the next scan reminds...
        time.sleep(2.5)
        scan_again("a reminder is due")
        wait_for(lambda: len(calls()) == 2, 10, "the reminder")
        # ...until the reminder's Snooze: then later scans say nothing.
        virtual_desktop.choose_action("Snooze")
        state_file = app.log.parent / "home/.local/state/stethoscope/state.json"

        def snoozed() -> dict[str, float]:
            notify = json.loads(state_file.read_text()).get("notify", {})
            return dict(notify.get("snoozed", {}))

        wait_for(snoozed, 10, "the snooze in the state file")
        assert all(until > time.time() + 3 * 3600 for until in snoozed().values())
        for note in ("snoozed 1", "snoozed 2"):
            time.sleep(2.5)
            scan_again(note)
        time.sleep(1.0)
        assert len(calls()) == 2, [c.summary for c in virtual_desktop.notify_calls()]
        assert app.process.poll() is None
