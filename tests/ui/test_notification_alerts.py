"""The notification controller (`ui.notifications`) and its alerts.

Alerts carry Open and Snooze; a Snooze that comes back from the notifier snoozes those findings
in the state file.
"""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from stethoscope_desktop.core.notify import FINDING_SNOOZE_SECONDS, NotificationSettings
from stethoscope_desktop.core.state import StateStore
from stethoscope_desktop.ui.notifications import NotificationController
from stethoscope_desktop.ui.notifier import Alert, Notifier
from tests.core.test_notify import FAIL, T0, english, report_of


class AlertRecorder(Notifier):
    def __init__(self) -> None:
        super().__init__()
        self.alerts: list[Alert] = []

    def notify(self, title: str, body: str) -> bool:
        raise AssertionError("a critical finding is an alert, not information")

    def alert(self, alert: Alert) -> bool:
        self.alerts.append(alert)
        return True


def test_a_new_critical_finding_is_an_alert_whose_snooze_is_kept(
    qtbot: QtBot, tmp_path: Path
) -> None:
    now = [T0]
    store = StateStore(tmp_path / "state.json")
    notifier = AlertRecorder()
    controller = NotificationController(notifier, store, clock=lambda: now[0])
    notifier.snooze_requested.connect(controller.snooze_findings)
    settings = NotificationSettings(reminder_hours=1)

    controller.on_report(report_of(firewall=FAIL), settings, english())
    (alert,) = notifier.alerts
    assert alert.keys == ("firewall",)
    assert (alert.open_label, alert.snooze_label) == ("Open", "Snooze for 4 hours")

    notifier.snooze_requested.emit(alert.keys)
    assert store.load()["notify"]["snoozed"] == {"firewall": T0 + FINDING_SNOOZE_SECONDS}
    # A restart reads the snooze back: no reminder before it ends, a new finding still alerts.
    again = NotificationController(notifier, store, clock=lambda: now[0])
    now[0] += 2 * 3600
    assert again.on_report(report_of(firewall=FAIL), settings, english()) is None
    new = again.on_report(report_of(firewall=FAIL, screenLock=FAIL), settings, english())
    assert new is not None and new.keys == ("screenLock",)
    assert [a.keys for a in notifier.alerts] == [("firewall",), ("screenLock",)]
