"""Hand-written fakes for the UI tests: a notifier that records, an autostart in memory."""

from __future__ import annotations

from stethoscope_desktop.autostart import Autostart
from stethoscope_desktop.ui.notifier import Notifier


class RecordingNotifier(Notifier):
    """Remembers every notification instead of showing it."""

    def __init__(self) -> None:
        super().__init__()
        self.shown: list[tuple[str, str]] = []

    def notify(self, title: str, body: str) -> bool:
        self.shown.append((title, body))
        return True


class MemoryAutostart(Autostart):
    """Start at login, remembered in memory."""

    def __init__(self) -> None:
        self.enabled = False

    def is_enabled(self) -> bool:
        return self.enabled

    def enable(self) -> None:
        self.enabled = True

    def disable(self) -> None:
        self.enabled = False

    @property
    def description(self) -> str:
        return "in memory"
