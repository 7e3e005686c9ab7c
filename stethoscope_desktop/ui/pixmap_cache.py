"""Qt's pixmap cache only while a window shows: an idle tray whose cache holds anything wakes up.

`QPixmapCache` keeps scaled icons and the style's drawings. While it holds anything, Qt ages
its entries on a timer of its own (every 30 s, then every 10 s as it shrinks): seen with gdb
on the idle tray, whose icon Qt scales for the StatusNotifierItem host, that timer was the only
thing that woke the process (twice a minute). So the cache is off (a limit of 0: nothing is
kept, so no timer starts) while no watched window is visible, and on with Qt's limit while one
is: the window draws its gradients and icons from it. When the last one hides, the cache is
emptied, which also stops the timer and frees what it held.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QPixmapCache
from PySide6.QtWidgets import QWidget

OFF = 0


class PixmapCacheWhileShown(QObject):
    """Turns Qt's pixmap cache on while a watched window is visible, off (and empty) otherwise."""

    def __init__(self) -> None:
        super().__init__()
        limit = QPixmapCache.cacheLimit()
        self.limit = limit if limit > OFF else 10240  # Qt's default, in KiB
        self._windows: list[QWidget] = []
        self._show_and_hide = (QEvent.Type.Show, QEvent.Type.Hide)
        self._apply()

    def watch(self, window: QWidget) -> None:
        """Keep the cache on while `window` is visible."""
        self._windows.append(window)
        window.installEventFilter(self)
        self._apply()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Follow the watched windows' showing and hiding; never consume the event.

        At exit PySide destroys the windows while Python shuts down: an error here then would
        reach Qt, which crashes printing it, so none leaves this method.
        """
        try:
            if event.type() in self._show_and_hide:
                self._apply()
        except Exception:  # at exit, while Python shuts down: nothing to keep
            pass
        return False

    def _apply(self) -> None:
        if any(window.isVisible() for window in self._windows):
            QPixmapCache.setCacheLimit(self.limit)
        elif QPixmapCache.cacheLimit() != OFF:
            QPixmapCache.clear()  # stops Qt's aging timer with the entries
            QPixmapCache.setCacheLimit(OFF)
