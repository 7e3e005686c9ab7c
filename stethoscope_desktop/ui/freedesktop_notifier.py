"""Notifications straight to the freedesktop notification daemon over D-Bus, through jeepney.

Used on Linux where there is no tray (PySide6 6.12's QtDBus cannot send the `u` (uint32)
argument Notify needs from Python), and to ask the daemon whether it reads markup for the tray's
own notifications. Imported only when needed.

The notification spec lets a daemon read the body as markup (capability `body-markup`: dunst,
GNOME, Plasma do): the body holds IT's titles, so for such a daemon it is escaped and shows as
written. The summary is plain text by the spec.
"""

from __future__ import annotations

import logging
from queue import Queue
from threading import Thread

from jeepney import DBusAddress, MatchRule, Message, MessageType, new_method_call
from jeepney.bus_messages import message_bus
from jeepney.io.threading import DBusConnection, DBusRouter, Proxy, open_dbus_connection
from PySide6.QtCore import Signal

from stethoscope_desktop.ui.notifier import (
    APP_NAME,
    NOTIFICATIONS_PATH,
    NOTIFICATIONS_SERVICE,
    NOTIFY_TIMEOUT_S,
    Notifier,
    markup_escaped,
)

log = logging.getLogger(__name__)


class FreedesktopNotifier(Notifier):
    """Notifications straight to the desktop's notification daemon over D-Bus (jeepney).

    The daemon sends `ActionInvoked` only to the connection that sent `Notify`, so one
    connection does both; a daemon thread waits for the clicks and hands them to Qt by signal.
    """

    _action_invoked = Signal(int, str)

    def __init__(
        self, router: DBusRouter, connection: DBusConnection, *, body_markup: bool = True
    ) -> None:
        super().__init__()
        self._router = router
        self._connection = connection
        self.body_markup = body_markup
        self._sent: set[int] = set()
        self._action_invoked.connect(self._on_action_invoked)
        self._clicks: Queue[Message | None] = Queue(maxsize=64)
        rule = MatchRule(
            type="signal",
            interface=NOTIFICATIONS_SERVICE,
            member="ActionInvoked",
            path=NOTIFICATIONS_PATH,
        )
        self._filter = router.filter(rule, queue=self._clicks)
        self._waiter = Thread(target=self._wait_for_clicks, name="notification-clicks", daemon=True)
        self._waiter.start()

    @classmethod
    def available(cls) -> FreedesktopNotifier | None:
        """Return a notifier if a notification daemon answers on the session bus."""
        try:
            connection = open_dbus_connection(bus="SESSION")
        except (OSError, KeyError, ValueError) as error:
            log.info("no session bus for notifications: %s", error)
            return None
        router = DBusRouter(connection)
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
        """Send Notify(app, 0, icon, summary, body, ["default", "Open"], hints, timeout)."""
        message = new_method_call(
            DBusAddress(NOTIFICATIONS_PATH, NOTIFICATIONS_SERVICE, NOTIFICATIONS_SERVICE),
            "Notify",
            "susssasa{sv}i",
            (
                APP_NAME,
                0,
                "stethoscope-desktop",
                title,
                markup_escaped(body) if self.body_markup else body,
                ["default", "Open"],
                {"urgency": ("y", 2), "desktop-entry": ("s", "stethoscope-desktop")},
                -1,
            ),
        )
        try:
            reply = self._router.send_and_get_reply(message, timeout=NOTIFY_TIMEOUT_S)
        except Exception as error:  # a dead bus or a timeout: say so, keep running
            log.warning("notification not shown: %s", error)
            return False
        if reply.header.message_type is not MessageType.method_return:
            log.warning("notification not shown: %s", reply.body)
            return False
        self._sent.add(int(reply.body[0]))
        return True

    def close(self) -> None:
        """Stop listening for clicks and close the D-Bus connection."""
        self._clicks.put(None)
        self._waiter.join(timeout=5)
        _close(self._router, self._connection)

    def _wait_for_clicks(self) -> None:
        while (signal := self._clicks.get()) is not None:
            notification_id, action = signal.body
            self._action_invoked.emit(int(notification_id), str(action))

    def _on_action_invoked(self, notification_id: int, action: str) -> None:
        if notification_id in self._sent and action == "default":
            self.clicked.emit()


def _close(router: DBusRouter, connection: DBusConnection) -> None:
    router.close()
    connection.close()


def daemon_reads_body_markup() -> bool:
    """Return whether the session's notification daemon reads bodies as markup.

    For the tray's own notifications: on Linux Qt hands `showMessage`'s body to the same daemon
    unchanged. True (escape) where the daemon can't be asked.
    """
    try:
        connection = open_dbus_connection(bus="SESSION")
    except (OSError, KeyError, ValueError) as error:
        log.info("no session bus to ask the notification daemon: %s", error)
        return True
    router = DBusRouter(connection)
    try:
        return _reads_body_markup(router)
    finally:
        _close(router, connection)


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
