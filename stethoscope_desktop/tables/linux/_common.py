"""Helpers the Linux tables share: optional reads, small config formats, error wording.

Everything here goes through the `System` a table was given, so the fakes in the tests see every
file and command a table touches.
"""

from __future__ import annotations

import errno
import shlex

from stethoscope_desktop.tables.base import Column, TablePlugin, Value
from stethoscope_desktop.tables.system import CommandError, CommandResult, System

# sysfs and procfs files are small; reading at most this much keeps a bad file from costing time.
SMALL_FILE = 64 * 1024
# The columns of our one-row "is this feature on?" tables.
FEATURE_STATE_COLUMNS = (
    Column("enabled", "integer"),
    Column("source", "text"),
    Column("detail", "text"),
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


def read_line(system: System, path: str) -> str | None:
    """Return a one-value file (sysfs style) stripped of whitespace, or None when unreadable."""
    text = read_optional(system, path, limit=4096)
    return None if text is None else text.strip()


def list_optional(system: System, path: str) -> list[str]:
    """Return a directory's sorted entries, or an empty list when it is missing or unreadable."""
    try:
        return system.list_dir(path)
    except OSError:
        return []


def os_error_reason(error: OSError) -> str:
    """Describe why a read failed in a few plain words ("permission denied", "not found")."""
    if error.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if error.errno == errno.ENOENT:
        return "not found"
    return error.strerror or str(error) or type(error).__name__


def command_reason(result: CommandResult) -> str:
    """Describe a failed command by its own words (last line of stderr, else of stdout)."""
    for stream in (result.stderr, result.stdout):
        lines = [line.strip() for line in stream.splitlines() if line.strip()]
        if lines:
            return lines[-1]
    return f"exited with status {result.returncode}"


def run_quiet(system: System, argv: list[str]) -> CommandResult | str:
    """Run a command; return its result, or the reason it could not be run at all."""
    try:
        return system.run(argv)
    except CommandError as error:
        return str(error) or f"{argv[0]}: could not be run"
    except OSError as error:
        return f"{argv[0]}: {os_error_reason(error)}"


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
