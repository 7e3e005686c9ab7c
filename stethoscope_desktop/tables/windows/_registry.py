r"""The thin adapter through which Windows tables read the registry, and helpers on top of it.

Keys are written in full, as osquery writes them: `HKEY_LOCAL_MACHINE\SOFTWARE\…`,
`HKEY_CURRENT_USER\…`, `HKEY_USERS\…` (HKLM, HKCU and HKU are accepted too). Key and value names
are case-insensitive, as in Windows. `WinregRegistry` is the real adapter: it imports `winreg` only
when used, so this module imports anywhere and tests give a dictionary-backed fake. 64-bit keys
are read even from a 32-bit Python (KEY_WOW64_64KEY); WOW6432Node is named explicitly.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

RegistryData = str | int | bytes | tuple[str, ...] | None
HIVES = {
    "HKEY_LOCAL_MACHINE": "HKEY_LOCAL_MACHINE",
    "HKLM": "HKEY_LOCAL_MACHINE",
    "HKEY_CURRENT_USER": "HKEY_CURRENT_USER",
    "HKCU": "HKEY_CURRENT_USER",
    "HKEY_USERS": "HKEY_USERS",
    "HKU": "HKEY_USERS",
    "HKEY_CLASSES_ROOT": "HKEY_CLASSES_ROOT",
    "HKCR": "HKEY_CLASSES_ROOT",
}
# winreg's type numbers and osquery's names for them.
TYPE_NAMES = {
    0: "REG_NONE",
    1: "REG_SZ",
    2: "REG_EXPAND_SZ",
    3: "REG_BINARY",
    4: "REG_DWORD",
    5: "REG_DWORD_BIG_ENDIAN",
    6: "REG_LINK",
    7: "REG_MULTI_SZ",
    8: "REG_RESOURCE_LIST",
    9: "REG_FULL_RESOURCE_DESCRIPTOR",
    10: "REG_RESOURCE_REQUIREMENTS_LIST",
    11: "REG_QWORD",
}


@dataclass(frozen=True)
class RegistryValue:
    """One named value of a key: its type name (REG_DWORD, REG_SZ, …) and data."""

    name: str
    type: str
    data: RegistryData

    def as_int(self) -> int | None:
        """Return the data as a number (DWORD/QWORD, or a string of digits), else None."""
        if isinstance(self.data, bool):
            return int(self.data)
        if isinstance(self.data, int):
            return self.data
        if isinstance(self.data, str):
            text = self.data.strip()
            try:
                return int(text, 0) if text.lower().startswith("0x") else int(text)
            except ValueError:
                return None
        return None

    def as_text(self) -> str:
        """Return the data as osquery shows it in the registry table's data column."""
        if self.data is None:
            return ""
        if isinstance(self.data, bytes):
            return self.data.hex()
        if isinstance(self.data, tuple):
            return ",".join(self.data)
        return str(self.data)


class Registry(Protocol):
    """What a table may ask of the registry. Both methods raise OSError when access is denied."""

    def values(self, key: str) -> Mapping[str, RegistryValue] | None:
        """Return the values of `key` by name, or None when the key does not exist."""
        ...

    def subkeys(self, key: str) -> list[str] | None:
        """Return the names of `key`'s subkeys, or None when the key does not exist."""
        ...


def normalize_key(key: str) -> str:
    """Write a key with its hive's full name and single backslashes, without a trailing one."""
    parts = [part for part in key.replace("/", "\\").split("\\") if part]
    if not parts:
        raise ValueError("an empty registry key")
    hive = HIVES.get(parts[0].upper())
    if hive is None:
        raise ValueError(f"{parts[0]} is not a registry hive")
    return "\\".join([hive, *parts[1:]])


def value_of(values: Mapping[str, RegistryValue] | None, name: str) -> RegistryValue | None:
    """Return the value called `name` (case-insensitively) among `values`, or None."""
    if not values:
        return None
    if name in values:
        return values[name]
    folded = name.casefold()
    return next((v for k, v in values.items() if k.casefold() == folded), None)


def read_value(registry: Registry, key: str, name: str) -> RegistryValue | None:
    """Return the value `name` of `key`, or None when the key or the value is missing."""
    return value_of(registry.values(key), name)


class WinregRegistry:
    """`Registry` on this machine's registry, through `winreg` (Windows only)."""

    def values(self, key: str) -> Mapping[str, RegistryValue] | None:
        """Return the values of `key` by name, or None when the key does not exist."""
        if sys.platform != "win32":
            raise OSError("the Windows registry exists only on Windows")
        import winreg

        hive_name, _, path = normalize_key(key).partition("\\")
        try:
            handle = winreg.OpenKey(
                getattr(winreg, hive_name), path, 0, winreg.KEY_READ | winreg.KEY_WOW64_64KEY
            )
        except FileNotFoundError:
            return None
        found: dict[str, RegistryValue] = {}
        with handle:
            index = 0
            while True:
                try:
                    name, data, kind = winreg.EnumValue(handle, index)
                except OSError:
                    break
                index += 1
                value: RegistryData
                if isinstance(data, list):
                    value = tuple(str(item) for item in data)
                elif isinstance(data, (str, int, bytes)) or data is None:
                    value = data
                else:
                    value = str(data)
                found[name] = RegistryValue(name, TYPE_NAMES.get(kind, f"REG_{kind}"), value)
        return found

    def subkeys(self, key: str) -> list[str] | None:
        """Return the names of `key`'s subkeys, or None when the key does not exist."""
        if sys.platform != "win32":
            raise OSError("the Windows registry exists only on Windows")
        import winreg

        hive_name, _, path = normalize_key(key).partition("\\")
        try:
            handle = winreg.OpenKey(
                getattr(winreg, hive_name), path, 0, winreg.KEY_READ | winreg.KEY_WOW64_64KEY
            )
        except FileNotFoundError:
            return None
        names: list[str] = []
        with handle:
            index = 0
            while True:
                try:
                    names.append(winreg.EnumKey(handle, index))
                except OSError:
                    break
                index += 1
        return names
