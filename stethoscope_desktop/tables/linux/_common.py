"""Helpers the Linux tables share: optional reads, small config formats, error wording.

The platform-neutral pieces live in `tables._shared` and are re-exported here.

Everything here goes through the `System` a table was given, so the fakes in the tests see every
file and command a table touches.
"""

from __future__ import annotations

import shlex

from stethoscope_desktop.tables._shared import (
    FEATURE_STATE_COLUMNS,
    SMALL_FILE,
    MachineTable,
    bool_value,
    command_reason,
    os_error_reason,
    read_optional,
    run_quiet,
    to_int,
)
from stethoscope_desktop.tables.base import TableError
from stethoscope_desktop.tables.system import System

__all__ = [
    "FEATURE_STATE_COLUMNS",
    "SMALL_FILE",
    "MachineTable",
    "bool_value",
    "command_reason",
    "find_program",
    "list_optional",
    "os_error_reason",
    "parse_env_file",
    "read_line",
    "read_optional",
    "root_only_read_error",
    "run_quiet",
    "to_int",
    "uname_value",
]


def root_only_read_error(table: str, path: str, error: OSError, unchecked: str) -> TableError:
    """Return why a table osquery fills as root can't read `path`; `unchecked`: what it checks."""
    if isinstance(error, PermissionError):
        return TableError(
            f"osquery's {table} table reads {path}, which only root can read; this app runs as "
            f"you, so {unchecked} cannot be checked here (osquery run as root can)"
        )
    return TableError(f"cannot read {path}: {os_error_reason(error)}")


def read_line(system: System, path: str) -> str | None:
    """Return a one-value file (sysfs style) stripped of whitespace, or None when unreadable."""
    text = read_optional(system, path, limit=4096)
    return None if text is None else text.strip()


def uname_value(system: System, proc_path: str, flag: str) -> str | None:
    """Return what `uname <flag>` prints, read from its procfs file when that has it."""
    value = read_line(system, proc_path)
    if value:
        return value
    result = run_quiet(system, ["uname", flag])
    if isinstance(result, str) or not result.ok or not result.stdout.strip():
        return None
    return result.stdout.strip()


def list_optional(system: System, path: str) -> list[str]:
    """Return a directory's sorted entries, or an empty list when it is missing or unreadable."""
    try:
        return system.list_dir(path)
    except OSError:
        return []


def find_program(system: System, name: str) -> str | None:
    """Return how to run `name`: itself when on PATH, else its path in an sbin folder, else None.

    Administration tools (zfs, ufw) live in /usr/sbin, which is not on an ordinary user's PATH
    on Debian and Ubuntu, yet many of them answer read-only questions without root.
    """
    if system.which(name) is not None:
        return name
    for folder in ("/usr/sbin", "/sbin"):
        path = f"{folder}/{name}"
        if system.exists(path):
            return path
    return None


def parse_env_file(text: str) -> dict[str, str]:
    """Parse a shell-style KEY=value file (os-release, ufw.conf, /etc/default/*).

    Values may be unquoted, 'single' or "double" quoted with backslash escapes, as os-release(5)
    allows. Lines that do not parse are skipped rather than guessed at.
    """
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, rest = line.partition("=")
        key = key.strip()
        if key.startswith("export "):
            key = key[len("export ") :].strip()
        if not key or not all(ch.isalnum() or ch == "_" for ch in key):
            continue
        try:
            parts = shlex.split(rest, comments=True, posix=True)
        except ValueError:
            continue
        values[key] = " ".join(parts)
    return values
