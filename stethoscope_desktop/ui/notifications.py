"""Applies core's notification rules to each new report and shows what they decide.

The decision is `core.notify.decide` (pure, tested on its own); the state it needs survives
restarts in the app's state file, so a restart does not notify again, and a finding snoozed
from its notification stays snoozed.

Each notification goes out as an `Alert` (critical findings: critical urgency, stays, Open and
Snooze); its Snooze comes back as `snooze_findings` with the findings it was about.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, tzinfo

from PySide6.QtCore import QObject, Signal

from stethoscope_desktop.core.notify import (
    Notification,
    NotificationSettings,
    NotifyState,
    SnoozeChoice,
    decide,
    snooze_findings,
    snooze_until,
)
from stethoscope_desktop.core.report import Report
from stethoscope_desktop.core.state import StateStore
from stethoscope_desktop.core.strings import UiStrings
from stethoscope_desktop.ui.notifier import Alert, Notifier

log = logging.getLogger(__name__)
STATE_KEY = "notify"


def local_timezone() -> tzinfo | None:
    """Return the local time zone."""
    return datetime.now().astimezone().tzinfo


class NotificationController(QObject):
    """Decides on each report whether to notify, shows it, and remembers what it did."""

    notified = Signal(object)  # Notification

    def __init__(
        self,
        notifier: Notifier,
        store: StateStore,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self._notifier = notifier
        self._store = store
        self._clock = clock
        self._state = NotifyState.from_json(store.load().get(STATE_KEY))

    @property
    def state(self) -> NotifyState:
        """Return what the rules remember."""
        return self._state

    def snoozed_until(self) -> float:
        """Return until when notifications are snoozed (epoch seconds; 0: not snoozed)."""
        return self._state.snoozed_until

    def on_report(
        self, report: Report, settings: NotificationSettings, strings: UiStrings
    ) -> Notification | None:
        """Apply the rules to a new report; show a notification if they say so."""
        notification, self._state = decide(
            self._state, report, now=self._clock(), settings=settings, instructions=strings
        )
        self._save()
        if notification is not None:
            log.info("notifying: %s", notification.title)
            self._notifier.alert(
                Alert(
                    notification.title,
                    notification.body,
                    notification.keys,
                    open_label=strings.string("open"),
                    snooze_label=strings.string("notifySnooze"),
                )
            )
            self.notified.emit(notification)
        return notification

    def snooze_findings(self, keys: tuple[str, ...]) -> None:
        """Hold back reminders of these findings (a notification's Snooze); new ones still come."""
        self._state = snooze_findings(self._state, tuple(keys), now=self._clock())
        log.info("snoozed from a notification: %s", ", ".join(sorted(self._state.snoozed)))
        self._save()

    def snooze(self, choice: SnoozeChoice | str) -> None:
        """Snooze notifications (`""` resumes them)."""
        if choice == "":
            until = 0.0
        else:
            until = snooze_until(self._clock(), choice, local_tz=local_timezone())  # type: ignore[arg-type]
        self._state = replace(self._state, snoozed_until=until)
        self._save()

    def _save(self) -> None:
        self._store.update({STATE_KEY: self._state.to_json()})
