"""Helpers the macOS tables share: `sw_vers`, property-list values, Apple's command outputs.

Property lists are read with plistlib through the `System` adapter (binary and XML alike), never
through `defaults`, except where only `defaults -currentHost` knows the file's name. Apple's tools
are run by their full paths: they never move, and an app started by launchd may not have /usr/sbin
on its PATH.
"""

from __future__ import annotations

from typing import Any

from stethoscope_desktop.tables._shared import command_reason, run_quiet
from stethoscope_desktop.tables.base import TableError
from stethoscope_desktop.tables.system import System

SW_VERS = ["/usr/bin/sw_vers"]


def parse_sw_vers(text: str) -> dict[str, str]:
    """Parse `sw_vers` output ("ProductName:", a tab or two, "macOS") into a dict."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            fields[key.strip()] = value.strip()
    return fields


def version_parts(version: str) -> tuple[int, int, int]:
    """Return (major, minor, patch) of a dotted version, missing or odd parts as 0."""
    parts: list[int] = []
    for piece in version.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    while len(parts) < 3:
        parts.append(0)
    return parts[0], parts[1], parts[2]


def read_sw_vers(system: System) -> dict[str, str]:
    """Run `sw_vers` and return its fields; raise TableError when it cannot be read.

    `sw_vers` is used rather than SystemVersion.plist because macOS shows processes built against
    an old SDK a compatibility copy of that file that says 10.16.
    """
    result = run_quiet(system, SW_VERS)
    if isinstance(result, str):
        raise TableError(f"cannot tell the macOS version: {result}")
    if not result.ok:
        raise TableError(f"cannot tell the macOS version: sw_vers: {command_reason(result)}")
    fields = parse_sw_vers(result.stdout)
    if not fields.get("ProductVersion"):
        raise TableError("cannot tell the macOS version: sw_vers printed no ProductVersion")
    return fields


def macos_major(system: System) -> int | None:
    """Return the major macOS version (12, 13, …), or None when sw_vers cannot tell."""
    try:
        return version_parts(read_sw_vers(system)["ProductVersion"])[0]
    except TableError:
        return None


def plist_bool(value: Any) -> bool | None:
    """Read a preference value as a boolean (true/false, 1/0, "YES"/"NO"); None if it is not one."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("1", "true", "yes"):
            return True
        if text in ("0", "false", "no"):
            return False
    return None


def plist_text(value: Any) -> str | None:
    """Return a preference value as text for a table column (bools as 1/0), None when absent."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (str, int, float)):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return None
