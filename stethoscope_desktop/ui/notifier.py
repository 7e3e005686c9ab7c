"""How a notification reaches the person: a fallback chain of adapters.

Two kinds: an informational one (`notify`: debug info copied, a web app's check failed) and an
`Alert` about critical findings, which uses the critical urgency and the app's icon, stays until
dismissed, and offers Open and Snooze where the system can.

1. On Linux, where a notification daemon answers on the session bus (dunst, GNOME Shell, KDE
   Plasma): `org.freedesktop.Notifications.Notify` through jeepney (workaround: PySide6 6.12's
   QtDBus cannot send the `u` (uint32) argument Notify needs from Python), with the urgency
   hint, `expire_timeout` 0 for an alert, and the actions Open and Snooze, which come back as
   `ActionInvoked` (see `freedesktop_notifier`). This comes before the tray: Qt's `showMessage`
   sends Notify without actions, with normal urgency and an expiry.
2. The tray icon's `showMessage` (macOS, Windows; Linux with a tray but no daemon): the
   system's own balloon or banner, with the app's icon. Qt gives it no actions: clicking it is
   Open, and Snooze is in the tray menu (Snooze notifications).
3. Otherwise the notification is only logged.

Whether to notify is decided in core (`core/notify.py`); this module only shows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QSystemTrayIcon

log = logging.getLogger(__name__)
APP_NAME = "Stethoscope"
NOTIFICATIONS_SERVICE = "org.freedesktop.Notifications"
NOTIFICATIONS_PATH = "/org/freedesktop/Notifications"
NOTIFY_TIMEOUT_S = 5
MESSAGE_TIMEOUT_MS = 15_000


@dataclass(frozen=True)
class Alert:
    """A notification about critical findings (`keys`), with its buttons' words."""

    title: str
    body: str
    keys: tuple[str, ...]
    open_label: str
    snooze_label: str


class Notifier(QObject):
    """Shows notifications.

    `clicked` fires when the person opens one (a click, or its Open button);
    `snooze_requested` with an alert's keys when they press its Snooze button.
    """

    clicked = Signal()
    snooze_requested = Signal(object)  # tuple[str, ...]: the findings the alert was about

    def notify(self, title: str, body: str) -> bool:
        """Show an informational notification; return True if it was handed to the system."""
        raise NotImplementedError

    def alert(self, alert: Alert) -> bool:
        """Show an alert about critical findings; True if it was handed to the system.

        A notifier without urgency or buttons shows it as a notification (click = Open).
        """
        return self.notify(alert.title, alert.body)

    def close(self) -> None:
        """Release what the notifier holds (a D-Bus connection); it is not used afterwards."""

    @property
    def name(self) -> str:
        """Say which mechanism this is (for the log)."""
        return type(self).__name__


class TrayNotifier(Notifier):
    """Notifications through the tray icon (`QSystemTrayIcon.showMessage`), with the app's icon.

    Qt offers no buttons there: clicking the message opens the window (`clicked`), and Snooze
    is the tray menu's. On Linux Qt passes the body unchanged to the freedesktop notification
    daemon, which may read it as markup (dunst, GNOME, Plasma do): the body holds IT's titles,
    so there it is escaped (`escape_body`) and shows as written.
    """

    def __init__(self, tray: QSystemTrayIcon, *, escape_body: bool = False) -> None:
        super().__init__()
        self._tray = tray
        self.escape_body = escape_body
        tray.messageClicked.connect(self.clicked)

    def notify(self, title: str, body: str) -> bool:
        """Show the message from the tray icon, with the app's icon."""
        from stethoscope_desktop.ui.icons import app_icon  # drawn only when a message shows

        shown = markup_escaped(body) if self.escape_body else body
        self._tray.showMessage(title, shown, app_icon(), MESSAGE_TIMEOUT_MS)
        return True


def markup_escaped(text: str) -> str:
    """Return `text` escaped for a notification body a daemon reads as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _tray_notifier(tray: QSystemTrayIcon, platform: str) -> TrayNotifier:
    """Return the tray's notifier; on Linux its bodies are escaped.

    On Linux it is chosen only where no notification daemon answered on the session bus, so
    there is none to ask whether it reads markup; a daemon that comes later most likely does
    (dunst, GNOME, Plasma), and escaping is the safe side.
    """
    return TrayNotifier(tray, escape_body=platform == "linux")


class LogNotifier(Notifier):
    """The last resort: the notification goes to the log."""

    def notify(self, title: str, body: str) -> bool:
        """Log the notification."""
        log.warning("notification (no way to show it here): %s — %s", title, body)
        return False


def create_notifier(tray: QSystemTrayIcon | None, platform: str) -> Notifier:
    """Return the first notifier in the chain that works here."""
    if platform == "linux":
        from stethoscope_desktop.ui.freedesktop_notifier import FreedesktopNotifier

        freedesktop = FreedesktopNotifier.available()
        if freedesktop is not None:
            return freedesktop
    if tray is not None and (
        QSystemTrayIcon.isSystemTrayAvailable() or QSystemTrayIcon.supportsMessages()
    ):
        return _tray_notifier(tray, platform)
    return LogNotifier()
