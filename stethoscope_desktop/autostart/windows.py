r"""Starting at login on Windows: the "Stethoscope" value of the per-user Run key.

Explorer starts each command line under `HKCU\Software\Microsoft\Windows\CurrentVersion\Run`
at login. The registry is reached through `RegistryAccess`, a three-method adapter: `WinregAccess`
is the real one and imports `winreg` only when used, so this module imports anywhere and tests
give a dictionary-backed fake.

Task Manager's Startup tab switches an entry off without removing it, by a binary value under
`...\Explorer\StartupApproved\Run`; `is_enabled()` does not read that value.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Protocol

from stethoscope_desktop.autostart.abc import Autostart, AutostartError

log = logging.getLogger(__name__)

RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
VALUE_NAME = "Stethoscope"


class RegistryAccess(Protocol):
    """String values under HKEY_CURRENT_USER; every method raises OSError on failure."""

    def get_string(self, key: str, name: str) -> str | None:
        """Return the string value `name` of `key`, or None when the key or value is missing."""
        ...

    def set_string(self, key: str, name: str, value: str) -> None:
        """Set the string value `name` of `key`, creating the key when needed."""
        ...

    def delete_value(self, key: str, name: str) -> None:
        """Delete the value `name` of `key`; a missing key or value is not an error."""
        ...


class WinregAccess:
    """`RegistryAccess` on the real HKEY_CURRENT_USER, through `winreg`."""

    def get_string(self, key: str, name: str) -> str | None:
        """Return the REG_SZ or REG_EXPAND_SZ value `name` of `key`, else None."""
        if sys.platform != "win32":
            raise OSError("the Windows registry exists only on Windows")
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, key, 0, winreg.KEY_READ) as handle:
                value, kind = winreg.QueryValueEx(handle, name)
        except FileNotFoundError:
            return None
        if kind in (winreg.REG_SZ, winreg.REG_EXPAND_SZ) and isinstance(value, str):
            return value
        return None

    def set_string(self, key: str, name: str, value: str) -> None:
        """Write `value` as the REG_SZ value `name` of `key`."""
        if sys.platform != "win32":
            raise OSError("the Windows registry exists only on Windows")
        import winreg

        with winreg.CreateKeyEx(winreg.HKEY_CURRENT_USER, key, 0, winreg.KEY_SET_VALUE) as handle:
            winreg.SetValueEx(handle, name, 0, winreg.REG_SZ, value)

    def delete_value(self, key: str, name: str) -> None:
        """Delete the value `name` of `key`, if there is one."""
        if sys.platform != "win32":
            raise OSError("the Windows registry exists only on Windows")
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, key, 0, winreg.KEY_SET_VALUE) as handle:
                winreg.DeleteValue(handle, name)
        except FileNotFoundError:
            pass


def _quote_argument(argument: str) -> str:
    """Quote one argument so that CommandLineToArgvW and the C runtime read it back unchanged."""
    if argument and not any(character in argument for character in ' \t\n\v"'):
        return argument
    quoted = ['"']
    backslashes = 0
    for character in argument:
        if character == "\\":
            backslashes += 1
            continue
        if character == '"':
            quoted.append("\\" * (2 * backslashes + 1) + '"')
        else:
            quoted.append("\\" * backslashes + character)
        backslashes = 0
    quoted.append("\\" * (2 * backslashes) + '"')
    return "".join(quoted)


def command_line(argv: Sequence[str]) -> str:
    """Return `argv` as one Windows command line, each argument quoted as needed."""
    return " ".join(_quote_argument(argument) for argument in argv)


class WindowsAutostart(Autostart):
    """Starting at login through the "Stethoscope" value of HKCU's Run key."""

    def __init__(self, exec_command: Sequence[str], registry: RegistryAccess) -> None:
        if not exec_command:
            raise ValueError("exec_command must name the program to start")
        self.exec_command = list(exec_command)
        self.registry = registry

    @property
    def description(self) -> str:
        """Return the registry key and value name."""
        return f'HKCU\\{RUN_KEY} (value "{VALUE_NAME}")'

    def is_enabled(self) -> bool:
        """Return True when the Run key holds a non-empty "Stethoscope" value."""
        try:
            value = self.registry.get_string(RUN_KEY, VALUE_NAME)
        except OSError as error:
            log.warning("cannot read %s: %s", self.description, error)
            return False
        return bool(value and value.strip())

    def enable(self) -> None:
        """Write the quoted command line as the "Stethoscope" value of the Run key."""
        try:
            self.registry.set_string(RUN_KEY, VALUE_NAME, command_line(self.exec_command))
        except OSError as error:
            raise AutostartError(f"cannot write {self.description}: {error}") from error
        log.info("wrote %s", self.description)

    def disable(self) -> None:
        """Delete the "Stethoscope" value of the Run key (nothing to do when it is missing)."""
        try:
            self.registry.delete_value(RUN_KEY, VALUE_NAME)
        except OSError as error:
            raise AutostartError(f"cannot remove {self.description}: {error}") from error
        log.info("removed %s", self.description)
