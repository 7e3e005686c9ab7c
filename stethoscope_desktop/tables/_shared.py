"""Helpers every platform's tables share: the machine-reading base class and error wording.

Everything here goes through the `System` a table was given, so the fakes in the tests see every
file and command a table touches. Platform packages (`linux/`, `darwin/`, `windows/`) add their
own helpers on top; nothing here knows which platform it runs on.
"""

from __future__ import annotations

import errno
import json
import plistlib
from typing import Any

from stethoscope_desktop.tables.base import Column, TablePlugin, Value
from stethoscope_desktop.tables.system import CommandError, CommandResult, System

# Small files (sysfs, procfs, preference files) are read at most this far, so a bad file is cheap.
SMALL_FILE = 64 * 1024
# The columns of our one-row "is this feature on?" tables, the same on every platform.
FEATURE_STATE_COLUMNS = (
    Column("enabled", "integer"),
    Column("source", "text"),
    Column("detail", "text"),
)


# Our own tables that every platform serves share one schema, declared here once.
SCREEN_LOCK_COLUMNS = (
    Column("enabled", "integer"),
    Column("lock_after_seconds", "integer"),
    Column("desktop", "text"),
    Column("source", "text"),
    Column("detail", "text"),
)
DISK_ENCRYPTION_COLUMNS = (
    Column("name", "text"),
    Column("mountpoint", "text"),
    Column("encrypted", "integer"),
    Column("type", "text"),
    Column("detail", "text"),
)
# `autoconnect`: 1 when the device joins the network by itself, 0 when only on request, NULL
# where the platform's table does not say. `readable`: 1 for a network this account can read, 0
# for a saved connection it cannot (only its file's name is known: whether it is Wi-Fi, open or
# joined by itself is not), NULL where the platform's table does not say.
WIFI_NETWORK_COLUMNS = (
    Column("name", "text"),
    Column("uuid", "text"),
    Column("security", "text"),
    Column("open", "integer"),
    Column("autoconnect", "integer"),
    Column("readable", "integer"),
)
# The columns osquery's `system_info` has on every platform (Windows adds `emulated_cpu_type`).
SYSTEM_INFO_COLUMNS = (
    Column("hostname", "text"),
    Column("uuid", "text"),
    Column("cpu_type", "text"),
    Column("cpu_subtype", "text"),
    Column("cpu_brand", "text"),
    Column("cpu_physical_cores", "integer"),
    Column("cpu_logical_cores", "integer"),
    Column("cpu_sockets", "integer"),
    Column("cpu_microcode", "text"),
    Column("physical_memory", "bigint"),
    Column("hardware_vendor", "text"),
    Column("hardware_model", "text"),
    Column("hardware_version", "text"),
    Column("hardware_serial", "text"),
    Column("board_vendor", "text"),
    Column("board_model", "text"),
    Column("board_version", "text"),
    Column("board_serial", "text"),
    Column("computer_name", "text"),
    Column("local_hostname", "text"),
)
# The columns osquery's `os_version` has on every platform; each platform adds its own after them.
OS_VERSION_COLUMNS = (
    Column("name", "text"),
    Column("version", "text"),
    Column("major", "integer"),
    Column("minor", "integer"),
    Column("patch", "integer"),
    Column("build", "text"),
    Column("platform", "text"),
    Column("platform_like", "text"),
    Column("codename", "text"),
    Column("arch", "text"),
)


# The columns osquery's `users` and `groups` have on every platform; each platform adds its own.
USERS_COLUMNS = (
    Column("uid", "bigint", index=True),
    Column("gid", "bigint"),
    Column("uid_signed", "bigint"),
    Column("gid_signed", "bigint"),
    Column("username", "text"),
    Column("description", "text"),
    Column("directory", "text"),
    Column("shell", "text"),
    Column("uuid", "text", index=True),
)
GROUPS_COLUMNS = (
    Column("gid", "bigint", index=True),
    Column("gid_signed", "bigint"),
    Column("groupname", "text"),
)

# osquery's `user_groups`, the same on every platform.
USER_GROUPS_COLUMNS = (
    Column("uid", "bigint", index=True),
    Column("gid", "bigint", index=True),
)
# The columns osquery's `system_controls` has on Linux; macOS adds `field_name`.
SYSTEM_CONTROLS_COLUMNS = (
    Column("name", "text", index=True),
    Column("oid", "text"),
    Column("subsystem", "text"),
    Column("current_value", "text"),
    Column("config_value", "text"),
    Column("type", "text"),
)
# The columns osquery's `processes` has on every platform; each platform adds its own after them.
PROCESSES_COLUMNS = (
    Column("pid", "bigint", index=True),
    Column("name", "text"),
    Column("path", "text"),
    Column("cmdline", "text"),
    Column("state", "text"),
    Column("cwd", "text"),
    Column("root", "text"),
    Column("uid", "bigint"),
    Column("gid", "bigint"),
    Column("euid", "bigint"),
    Column("egid", "bigint"),
    Column("suid", "bigint"),
    Column("sgid", "bigint"),
    Column("on_disk", "integer"),
    Column("wired_size", "bigint"),
    Column("resident_size", "bigint"),
    Column("total_size", "bigint"),
    Column("user_time", "bigint"),
    Column("system_time", "bigint"),
    Column("disk_bytes_read", "bigint"),
    Column("disk_bytes_written", "bigint"),
    Column("start_time", "bigint"),
    Column("parent", "bigint"),
    Column("pgroup", "bigint"),
    Column("threads", "integer"),
    Column("nice", "integer"),
)


class MachineTable(TablePlugin):
    """A table that reads this machine through the `System` adapter it is given."""

    def __init__(self, system: System) -> None:
        self._system = system


def read_optional(system: System, path: str, *, limit: int = SMALL_FILE) -> str | None:
    """Return a text file's contents, or None when it is missing or unreadable."""
    try:
        return system.read_text(path, limit=limit)
    except OSError:
        return None


def os_error_reason(error: OSError) -> str:
    """Describe why a read failed in a few plain words ("permission denied", "not found")."""
    if error.errno in (errno.EACCES, errno.EPERM) or isinstance(error, PermissionError):
        return "permission denied"
    if error.errno == errno.ENOENT or isinstance(error, FileNotFoundError):
        return "not found"
    return error.strerror or str(error) or type(error).__name__


def command_reason(result: CommandResult) -> str:
    """Describe a failed command by its own words (last line of stderr, else of stdout)."""
    for stream in (result.stderr, result.stdout):
        lines = [line.strip() for line in stream.splitlines() if line.strip()]
        if lines:
            return lines[-1]
    return f"exited with status {result.returncode}"


def run_quiet(
    system: System, argv: list[str], *, timeout: float | None = None
) -> CommandResult | str:
    """Run a command; return its result, or the reason it could not be run at all."""
    try:
        if timeout is None:
            return system.run(argv)
        return system.run(argv, timeout=timeout)
    except CommandError as error:
        return str(error) or f"{argv[0]}: could not be run"
    except OSError as error:
        return f"{argv[0]}: {os_error_reason(error)}"


def to_int(text: str | None) -> int | None:
    """Return `text` as an integer, or None when it is not one."""
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None


def bool_value(value: bool | None) -> Value:
    """Map a three-state answer to the 1 / 0 / NULL our tables use."""
    return None if value is None else int(value)


class PlistError(Exception):
    """A property list could not be read or parsed; the message says which and why."""


def read_plist(system: System, path: str, *, limit: int = 4 * 1024 * 1024) -> dict[str, Any] | None:
    """Return a property list file (XML or binary) as a dict, None when it does not exist.

    Raise `PlistError` when it exists but cannot be read or parsed, or is not a dictionary.
    """
    try:
        data = system.read_bytes(path, limit=limit)
    except FileNotFoundError:
        return None
    except OSError as error:
        if error.errno == errno.ENOENT:
            return None
        raise PlistError(f"{path}: {os_error_reason(error)}") from error
    try:
        parsed = plistlib.loads(data)
    except (plistlib.InvalidFileException, ValueError, OverflowError) as error:
        raise PlistError(f"{path}: not a valid property list ({error})") from error
    if not isinstance(parsed, dict):
        raise PlistError(f"{path}: not a dictionary property list")
    return parsed


def parse_json_output(text: str) -> Any:
    """Parse a command's JSON output, tolerating a UTF-8 byte-order mark and blank lines."""
    cleaned = text.lstrip("\ufeff").strip()
    if not cleaned:
        raise ValueError("the command printed nothing")
    return json.loads(cleaned)


def signed32(value: int) -> int:
    """Return an unsigned 32-bit id as C's (int32_t) cast reads it: 4294967294 -> -2."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value
