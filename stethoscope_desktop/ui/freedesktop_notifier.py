"""Notifications straight to the freedesktop notification daemon over D-Bus, through jeepney.

Used on Linux wherever a daemon answers (PySide6 6.12's QtDBus cannot send the `u` (uint32)
argument Notify needs from Python). `open_session_bus` is also the tray-host watch's way onto the
bus. Imported only when needed.

An alert about critical findings, as the Desktop Notifications spec (1.2) provides for it and
dunst, GNOME Shell and KDE Plasma honour it: the hint `urgency` 2 (critical), `expire_timeout` 0
(it stays until dismissed; GNOME and Plasma also keep critical ones on screen), the app's icon
(its theme name where the icon is installed, else the bundled SVG's file URI) and the
actions `default` (a click), `open` and `snooze` with the language's labels. GNOME and Plasma
show `open` and `snooze` as buttons; dunst lists them in its context menu (`dunstctl context`),
a click being `default`. A new alert replaces the previous one while that is still shown, so
alerts that never expire do not pile up. Informational notifications have normal urgency and
the daemon's expiry.

The daemon answers with `ActionInvoked` (and `NotificationClosed`): GNOME Shell broadcasts them,
so the connection asks the bus for them (AddMatch); an action counts only when it comes from the
daemon that showed that notification (the sender of its Notify reply).

The notification spec lets a daemon read the body as markup (capability `body-markup`: dunst,
GNOME, Plasma do): the body holds IT's titles, so for such a daemon it is escaped and shows as
written. The summary is plain text by the spec.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from queue import Queue
from threading import Thread
from typing import Any

from jeepney import DBusAddress, HeaderFields, MatchRule, Message, MessageType, new_method_call
from jeepney.bus_messages import message_bus
from jeepney.io.threading import DBusConnection, DBusRouter, Proxy, open_dbus_connection
from PySide6.QtCore import Signal

from stethoscope_desktop.resources import resources_dir
from stethoscope_desktop.ui.notifier import (
    APP_NAME,
    NOTIFICATIONS_PATH,
    NOTIFICATIONS_SERVICE,
    NOTIFY_TIMEOUT_S,
    Alert,
    Notifier,
    markup_escaped,
)

log = logging.getLogger(__name__)
APP_ID = "stethoscope-desktop"
URGENCY_NORMAL = 1
URGENCY_CRITICAL = 2
NEVER_EXPIRES = 0
DAEMON_DECIDES = -1
DAEMON = DBusAddress(NOTIFICATIONS_PATH, NOTIFICATIONS_SERVICE, NOTIFICATIONS_SERVICE)


def notification_icon(data_dirs: list[Path] | None = None) -> str:
    """Return the app's icon for Notify: its theme name where installed, else the SVG's URI."""
    if data_dirs is None:
        home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        system = os.environ.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share"
        data_dirs = [Path(home), *(Path(d) for d in system.split(":") if d)]
    for folder in data_dirs:
        if any((folder / "icons" / "hicolor").glob(f"*/apps/{APP_ID}.*")):
            return APP_ID
    return (resources_dir() / "icons" / f"{APP_ID}.svg").resolve().as_uri()


class FreedesktopNotifier(Notifier):
    """Notifications straight to the desktop's notification daemon over D-Bus (jeepney).

    One connection sends `Notify` and hears the daemon's signals (some daemons send
    `ActionInvoked` only to the connection that sent `Notify`); a daemon thread waits for them
    and hands them to Qt by signal.
    """

    _signal_received = Signal(str, str, int, str)  # member, sender, notification id, action

    def __init__(
        self, router: DBusRouter, connection: DBusConnection, *, body_markup: bool = True
    ) -> None:
        super().__init__()
        self._router = router
        self._connection = connection
        self.body_markup = body_markup
        self.icon = notification_icon()
        # Notification id -> (the daemon's unique bus name, the alert's keys or None).
        self._sent: dict[int, tuple[str, tuple[str, ...] | None]] = {}
        self._shown_alert = 0  # the alert on screen, replaced by the next one
        self._signal_received.connect(self._on_signal)
        self._signals: Queue[Message | None] = Queue(maxsize=64)
        self._filters = []
        for member in ("ActionInvoked", "NotificationClosed"):
            rule = MatchRule(
                type="signal",
                interface=NOTIFICATIONS_SERVICE,
                member=member,
                path=NOTIFICATIONS_PATH,
            )
            self._filters.append(router.filter(rule, queue=self._signals))
            _add_match(router, rule)
        self._waiter = Thread(target=self._wait_for_signals, name="notifications", daemon=True)
        self._waiter.start()

    @classmethod
    def available(cls) -> FreedesktopNotifier | None:
        """Return a notifier if a notification daemon answers on the session bus."""
        opened = open_session_bus("for notifications")
        if opened is None:
            return None
        router, connection = opened
        proxy = Proxy(message_bus, router)
        try:
            (owned,) = proxy.NameHasOwner(NOTIFICATIONS_SERVICE)
        except Exception as error:  # jeepney raises its own errors for a broken bus
            log.info("cannot ask the session bus about notifications: %s", error)
            _close(router, connection)
            return None
        if not owned:
            _close(router, connection)
            return None
        return cls(router, connection, body_markup=_reads_body_markup(router))

    def notify(self, title: str, body: str) -> bool:
        """Send an informational notification: normal urgency, the daemon's expiry."""
        return (
            self._send(
                title,
                body,
                actions=["default", ""],
                urgency=URGENCY_NORMAL,
                expire_timeout=DAEMON_DECIDES,
                replaces=0,
                keys=None,
            )
            is not None
        )

    def alert(self, alert: Alert) -> bool:
        """Send an alert: critical urgency, never expires, Open and Snooze; replaces the last."""
        sent = self._send(
            alert.title,
            alert.body,
            actions=[
                "default",
                alert.open_label,
                "open",
                alert.open_label,
                "snooze",
                alert.snooze_label,
            ],
            urgency=URGENCY_CRITICAL,
            expire_timeout=NEVER_EXPIRES,
            replaces=self._shown_alert,
            keys=alert.keys,
        )
        if sent is None:
            return False
        self._shown_alert = sent
        return True

    def _send(
        self,
        title: str,
        body: str,
        *,
        actions: list[str],
        urgency: int,
        expire_timeout: int,
        replaces: int,
        keys: tuple[str, ...] | None,
    ) -> int | None:
        """Send Notify; return the notification's id, None (logged) when it was not shown."""
        hints: dict[str, tuple[str, Any]] = {
            "urgency": ("y", urgency),
            "desktop-entry": ("s", APP_ID),
        }
        message = new_method_call(
            DAEMON,
            "Notify",
            "susssasa{sv}i",
            (
                APP_NAME,
                replaces,
                self.icon,
                title,
                markup_escaped(body) if self.body_markup else body,
                actions,
                hints,
                expire_timeout,
            ),
        )
        try:
            reply = self._router.send_and_get_reply(message, timeout=NOTIFY_TIMEOUT_S)
        except Exception as error:  # a dead bus or a timeout: say so, keep running
            log.warning("notification not shown: %s", error)
            return None
        if reply.header.message_type is not MessageType.method_return:
            log.warning("notification not shown: %s", reply.body)
            return None
        notification_id = int(reply.body[0])
        self._sent[notification_id] = (str(reply.header.fields.get(HeaderFields.sender, "")), keys)
        return notification_id

    def close(self) -> None:
        """Stop listening to the daemon and close the D-Bus connection."""
        self._signals.put(None)
        self._waiter.join(timeout=5)
        _close(self._router, self._connection)

    def _wait_for_signals(self) -> None:
        while (signal := self._signals.get()) is not None:
            member = str(signal.header.fields.get(HeaderFields.member, ""))
            sender = str(signal.header.fields.get(HeaderFields.sender, ""))
            notification_id, detail = signal.body[0], signal.body[1]
            self._signal_received.emit(member, sender, int(notification_id), str(detail))

    def _on_signal(self, member: str, sender: str, notification_id: int, detail: str) -> None:
        sent = self._sent.get(notification_id)
        if sent is None or sent[0] != sender:
            return  # another app's notification, or not from the daemon that showed ours
        keys = sent[1]
        if member == "NotificationClosed":
            del self._sent[notification_id]
            if notification_id == self._shown_alert:
                self._shown_alert = 0
        elif detail in ("default", "open"):
            self.clicked.emit()
        elif detail == "snooze" and keys is not None:
            self.snooze_requested.emit(keys)
            self._router.send(new_method_call(DAEMON, "CloseNotification", "u", (notification_id,)))


def _add_match(router: DBusRouter, rule: MatchRule) -> None:
    """Ask the bus for the signals `rule` matches (a daemon may broadcast them)."""
    try:
        Proxy(message_bus, router).AddMatch(rule)
    except Exception as error:  # a broken bus: the daemon may still send them to us directly
        log.info("cannot ask the bus for the notification daemon's signals: %s", error)


def _close(router: DBusRouter, connection: DBusConnection) -> None:
    router.close()
    connection.close()


def open_session_bus(purpose: str) -> tuple[DBusRouter, DBusConnection] | None:
    """Return a router on a new session-bus connection, or None (logged: `purpose` says why)."""
    try:
        connection = open_dbus_connection(bus="SESSION")
    except (OSError, KeyError, ValueError) as error:
        log.info("no session bus %s: %s", purpose, error)
        return None
    return DBusRouter(connection), connection


def _reads_body_markup(router: DBusRouter) -> bool:
    """Return whether the daemon reads bodies as markup (True if it does not say: escape)."""
    message = new_method_call(
        DBusAddress(NOTIFICATIONS_PATH, NOTIFICATIONS_SERVICE, NOTIFICATIONS_SERVICE),
        "GetCapabilities",
    )
    try:
        reply = router.send_and_get_reply(message, timeout=NOTIFY_TIMEOUT_S)
    except Exception as error:  # a dead bus or a timeout: escaping is the safe side
        log.info("cannot ask the notification daemon its capabilities: %s", error)
        return True
    if reply.header.message_type is not MessageType.method_return or not reply.body:
        return True
    return "body-markup" in reply.body[0]
