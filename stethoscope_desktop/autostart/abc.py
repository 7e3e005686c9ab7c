"""The interface for starting the app at login, and the Null implementation for other systems.

Each OS keeps its own module (`linux`, `macos`, `windows`); `create_autostart` in the package
picks one and imports only that one. Nothing here imports Qt: the tray menu holds an `Autostart`
and calls `is_enabled()`, `enable()` and `disable()`, showing an `AutostartError`'s message as is.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

APP_ID = "stethoscope-desktop"
"""The file-name stem and icon name shared by the Linux desktop files."""


class AutostartError(Exception):
    """Starting at login could not be switched; the message names the file or registry key."""


class Autostart(ABC):
    """Whether this app starts when the user logs in, and the switch to change it."""

    supported: bool = True
    """False only for `NullAutostart`: the UI hides or greys out the switch."""

    @abstractmethod
    def is_enabled(self) -> bool:
        """Return True when the app will start at the user's next login."""

    @abstractmethod
    def enable(self) -> None:
        """Start the app at every login from now on; raise AutostartError on failure."""

    @abstractmethod
    def disable(self) -> None:
        """Stop starting the app at login; raise AutostartError on failure."""

    @property
    @abstractmethod
    def description(self) -> str:
        """Say where the setting lives, e.g. `~/.config/autostart/stethoscope-desktop.desktop`."""

    def remove_stale_temporaries(self) -> int:
        """Remove what a switch killed mid-write left; return how many files (none by default)."""
        return 0


class NullAutostart(Autostart):
    """Starting at login is not supported here: never enabled, and switching it on fails."""

    supported = False
    MESSAGE = "starting at login is not supported on this system"

    def is_enabled(self) -> bool:
        """Return False: nothing starts the app at login here."""
        return False

    def enable(self) -> None:
        """Raise AutostartError: there is nothing to switch on."""
        raise AutostartError(self.MESSAGE)

    def disable(self) -> None:
        """Raise AutostartError: there is nothing to switch off."""
        raise AutostartError(self.MESSAGE)

    @property
    def description(self) -> str:
        """Say that this system is not supported."""
        return self.MESSAGE


def display_path(path: Path, home: Path | None = None) -> str:
    """Return `path` for messages, written `~/...` when it lies inside `home` (default: $HOME)."""
    if home is None:
        try:
            home = Path.home()
        except (RuntimeError, KeyError):
            return str(path)
    try:
        relative = path.relative_to(home)
    except ValueError:
        return str(path)
    return f"~/{relative.as_posix()}" if relative.parts else "~"
