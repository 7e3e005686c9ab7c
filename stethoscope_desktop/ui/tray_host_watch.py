"""Puts the tray icon back when the desktop's tray host restarts (Linux, StatusNotifierItem).

A panel that restarts (a crash, a theme change, a new session of the shell) brings a new
`org.kde.StatusNotifierWatcher`, which knows no items. Qt registers the icon again as soon as
the watcher's name appears, but a watcher that takes the name before it serves its object
(gtk-sni-tray-standalone does, seen on the virtual desktop) loses that registration, and the
icon is gone until the app restarts. So when the watcher comes back this checks, a few times
over a few seconds, that an item of this process is among its `RegisteredStatusNotifierItems`,
and otherwise has the tray icon shown again (`reregister_needed`: the tray hides and shows it,
which makes Qt register it anew).

It listens on its own session-bus connection through jeepney (already loaded for the
notifications), in a daemon thread; nothing happens while the watcher stays.
"""

from __future__ import annotations

import logging
import os
import threading
from queue import Empty, Queue

from jeepney import DBusAddress, MatchRule, Message, Properties
from jeepney.bus_messages import message_bus
from jeepney.io.threading import DBusConnection, DBusRouter, Proxy
from PySide6.QtCore import QObject, Signal

from stethoscope_desktop.ui.freedesktop_notifier import open_session_bus

log = logging.getLogger(__name__)
WATCHER = "org.kde.StatusNotifierWatcher"
WATCHER_OBJECT = DBusAddress("/StatusNotifierWatcher", WATCHER, WATCHER)
# After the watcher comes back: look at its items after each of these pauses (seconds).
CHECK_PAUSES_S = (0.5, 1.0, 2.0, 4.0)
CALL_TIMEOUT_S = 2.0


class TrayHostWatch(QObject):
    """Watches the tray host's watcher; `reregister_needed` when our icon is not registered."""

    reregister_needed = Signal()

    def __init__(self, router: DBusRouter, connection: DBusConnection) -> None:
        super().__init__()
        self._router = router
        self._connection = connection
        self._stop = threading.Event()
        self._changes: Queue[Message | None] = Queue(maxsize=16)
        rule = MatchRule(
            type="signal",
            sender="org.freedesktop.DBus",
            interface="org.freedesktop.DBus",
            member="NameOwnerChanged",
            path="/org/freedesktop/DBus",
        )
        rule.add_arg_condition(0, WATCHER)
        self._filter = router.filter(rule, queue=self._changes)
        Proxy(message_bus, router).AddMatch(rule)
        self._thread = threading.Thread(target=self._run, name="tray-host-watch", daemon=True)
        self._thread.start()

    @classmethod
    def start(cls) -> TrayHostWatch | None:
        """Return a running watch, or None (logged) where there is no session bus."""
        opened = open_session_bus("to watch the tray host")
        if opened is None:
            return None
        router, connection = opened
        try:
            return cls(router, connection)
        except Exception as error:  # jeepney raises its own errors for a broken bus
            log.info("cannot watch the tray host: %s", error)
            router.close()
            connection.close()
            return None

    def close(self) -> None:
        """Stop watching and close the connection."""
        self._stop.set()
        self._changes.put(None)
        self._thread.join(timeout=5)
        self._router.close()
        self._connection.close()

    def _run(self) -> None:
        while (change := self._changes.get()) is not None:
            _name, _old, new_owner = change.body
            if new_owner:
                self._make_sure_registered()

    def _make_sure_registered(self) -> None:
        """Check after each pause that our item is registered; ask for it again when not."""
        for pause in CHECK_PAUSES_S:
            if self._stop.wait(pause) or self._another_change_waits():
                return
            if self._registered():
                log.info("tray host restarted: the tray icon is registered with it")
                return
            log.info("tray host restarted without our tray icon: showing it again")
            self.reregister_needed.emit()

    def _another_change_waits(self) -> bool:
        # A newer change of owner starts its own round of checks.
        try:
            change = self._changes.get_nowait()
        except Empty:
            return False
        self._changes.put(change)
        return True

    def _registered(self) -> bool:
        """Return True if an item the watcher lists belongs to this process."""
        try:
            reply = self._router.send_and_get_reply(
                Properties(WATCHER_OBJECT).get("RegisteredStatusNotifierItems"),
                timeout=CALL_TIMEOUT_S,
            )
            items = reply.body[0][1] if reply.body else []
            bus = Proxy(message_bus, self._router, timeout=CALL_TIMEOUT_S)
            for item in items:
                name = str(item).partition("/")[0]
                (pid,) = bus.GetConnectionUnixProcessID(name)
                if pid == os.getpid():
                    return True
        except Exception as error:  # the watcher not serving yet, or gone again
            log.info("cannot read the tray host's items: %s", error)
        return False
