"""The platform this process runs on, in osquery's words, and whether it runs as administrator."""

from __future__ import annotations

import os
import sys
from typing import Any

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
    geteuid: Any = getattr(os, "geteuid", None)
    if geteuid is not None:
        return bool(geteuid() == 0)
    import ctypes  # Windows only

    windll: Any = getattr(ctypes, "windll", None)
    if windll is None:
        return False
    try:
        return bool(windll.shell32.IsUserAnAdmin())
    except (AttributeError, OSError):
        return False
