"""Starting the app at login: `create_autostart` picks this OS's way, `app_command` what to start.

The interface and the Null implementation are in `abc`; `linux`, `macos` and `windows` are
imported only by the factory branch that needs them.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from stethoscope_desktop.autostart.abc import Autostart, AutostartError, NullAutostart

__all__ = [
    "Autostart",
    "AutostartError",
    "NullAutostart",
    "app_command",
    "create_autostart",
]

SCRIPT_NAME = "stethoscope-desktop"


def create_autostart(platform: str, exec_command: list[str]) -> Autostart:
    """Return the Autostart for `platform` (osquery's name) that starts `exec_command`.

    linux: an XDG autostart Desktop Entry; darwin: a LaunchAgent; windows: the HKCU Run key;
    anything else: NullAutostart.
    """
    if platform == "linux":
        from stethoscope_desktop.autostart.linux import LinuxAutostart

        return LinuxAutostart(exec_command)
    if platform == "darwin":
        from stethoscope_desktop.autostart.macos import MacAutostart

        return MacAutostart(Path.home(), exec_command)
    if platform == "windows":
        from stethoscope_desktop.autostart.windows import WindowsAutostart, WinregAccess

        return WindowsAutostart(exec_command, WinregAccess())
    return NullAutostart()


def app_command(
    *,
    executable: str | None = None,
    frozen: bool | None = None,
    script_dirs: Sequence[str] | None = None,
) -> list[str]:
    """Return the command line that starts this app as it runs now.

    A frozen bundle is its own executable; else the `stethoscope-desktop` console script installed
    for this interpreter (beside `sys.executable`, or in its scripts folder) when there is one;
    else `python -m stethoscope_desktop`. The keywords replace `sys` in tests.
    """
    python = sys.executable if executable is None else executable
    is_frozen = bool(getattr(sys, "frozen", False)) if frozen is None else frozen
    if is_frozen:
        return [python]
    if script_dirs is None:
        # The interpreter's scripts folder, as sysconfig's default schemes name it (sysconfig
        # itself would load its data tables into the idle tray app).
        scripts = Path(sys.prefix) / ("Scripts" if os.name == "nt" else "bin")
        script_dirs = [str(Path(python).parent), str(scripts)]
    script = shutil.which(SCRIPT_NAME, path=os.pathsep.join(script_dirs))
    if script:
        return [str(Path(script).absolute())]
    return [python, "-m", "stethoscope_desktop"]
