"""The platform this process runs on, in osquery's words, and whether it runs as administrator."""

from __future__ import annotations

import os
import sys

# osquery's names of the desktop platforms this app runs on.
DESKTOP_PLATFORMS = ("darwin", "linux", "windows")


def current_platform() -> str:
    """Return osquery's name for this OS: linux, darwin or windows."""
    if sys.platform.startswith("win"):
        return "windows"
    if sys.platform == "darwin":
        return "darwin"
    return "linux"


def running_as_admin() -> bool:
    """Return True when the process runs as root or as an elevated Windows administrator."""
    if hasattr(os, "geteuid"):
        return os.geteuid() == 0
    import ctypes  # Windows only

    try:
        return bool(ctypes.windll.shell32.IsUserAnAdmin())  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return False
