"""How a notification reaches the person: a fallback chain of adapters.

1. The tray icon's `showMessage` where a tray exists (on Linux a StatusNotifierItem host turns it
   into an `org.freedesktop.Notifications.Notify` call; macOS and Windows show their own).
2. Without a tray on Linux: `org.freedesktop.Notifications.Notify` on the session bus through
   jeepney (workaround: PySide6 6.12's QtDBus cannot send the `u` (uint32) argument Notify needs
   from Python), the click coming back as `ActionInvoked` on the same connection.
3. Otherwise the notification is only logged.

Whether to notify is decided in core (`core/notify.py`); this module only shows.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QSystemTrayIcon

log = logging.getLogger(__name__)
APP_NAME = "Stethoscope"
NOTIFICATIONS_SERVICE = "org.freedesktop.Notifications"
NOTIFICATIONS_PATH = "/org/freedesktop/Notifications"
NOTIFY_TIMEOUT_S = 5
MESSAGE_TIMEOUT_MS = 15_000


class Notifier(QObject):
    """Shows notifications; `clicked` fires when the person clicks one."""

    clicked = Signal()

    def notify(self, title: str, body: str) -> bool:
        """Show a notification; return True if it was handed to the system."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the notifier holds (a D-Bus connection); it is not used afterwards."""

    @property
    def name(self) -> str:
        """Say which mechanism this is (for the log)."""
        return type(self).__name__


class TrayNotifier(Notifier):
    """Notifications through the tray icon (`QSystemTrayIcon.showMessage`).

    On Linux Qt passes the body unchanged to the freedesktop notification daemon, which may read
    it as markup (dunst, GNOME, Plasma do): the body holds IT's titles, so there it is escaped
    (`escape_body`) and shows as written.
    """

    def __init__(self, tray: QSystemTrayIcon, *, escape_body: bool = False) -> None:
        super().__init__()
        self._tray = tray
        self.escape_body = escape_body
        tray.messageClicked.connect(self.clicked)

    def notify(self, title: str, body: str) -> bool:
        """Show the message from the tray icon."""
        shown = markup_escaped(body) if self.escape_body else body
        self._tray.showMessage(
            title, shown, QSystemTrayIcon.MessageIcon.Warning, MESSAGE_TIMEOUT_MS
        )
        return True


def markup_escaped(text: str) -> str:
    """Return `text` escaped for a notification body a daemon reads as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _tray_notifier(tray: QSystemTrayIcon, platform: str) -> TrayNotifier:
    if platform != "linux":
        return TrayNotifier(tray)
    from stethoscope_desktop.ui.freedesktop_notifier import daemon_reads_body_markup

    return TrayNotifier(tray, escape_body=daemon_reads_body_markup())


class LogNotifier(Notifier):
    """The last resort: the notification goes to the log."""

    def notify(self, title: str, body: str) -> bool:
        """Log the notification."""
        log.warning("notification (no way to show it here): %s — %s", title, body)
        return False


def create_notifier(tray: QSystemTrayIcon | None, platform: str) -> Notifier:
    """Return the first notifier in the chain that works here."""
    if tray is not None and QSystemTrayIcon.isSystemTrayAvailable():
        return _tray_notifier(tray, platform)
    if platform == "linux":
        from stethoscope_desktop.ui.freedesktop_notifier import FreedesktopNotifier

        freedesktop = FreedesktopNotifier.available()
        if freedesktop is not None:
            return freedesktop
    if tray is not None and QSystemTrayIcon.supportsMessages():
        return _tray_notifier(tray, platform)
    return LogNotifier()
