"""What the Linux tables can learn about systemd units, mostly without running `systemctl`.

"Is systemd the init system" is `/run/systemd/system` existing (what sd_booted(3) checks).
"Is a unit enabled" is a symlink named after it in a `*.wants/` or `*.requires/` folder of the
system unit directories, which any user can list. "Is a unit masked" is an empty file or a link to
/dev/null in /etc or /run (both read as empty). Only "is a unit active" needs systemd itself:
one `systemctl is-active a b c` call answers for several units at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stethoscope_desktop.tables.linux._common import (
    command_reason,
    list_optional,
    read_line,
    run_quiet,
)
from stethoscope_desktop.tables.system import System

SYSTEMD_RUNTIME_DIR = "/run/systemd/system"

# Where system units and their enablement links live, in systemd's search order.
UNIT_DIRS = (
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
)
_MASK_DIRS = ("/etc/systemd/system", "/run/systemd/system")


def systemd_running(system: System) -> bool:
    """Return True when systemd is PID 1 (the check sd_booted(3) makes)."""
    return system.is_dir(SYSTEMD_RUNTIME_DIR)


def pid1_name(system: System) -> str:
    """Return the command name of PID 1, or a note that it could not be read."""
    name = read_line(system, "/proc/1/comm")
    return name if name else "unknown: /proc/1/comm is unreadable"


def not_running_reason(system: System) -> str:
    """Explain that systemd is not the init system, naming what is."""
    return f"systemd is not running (PID 1 is {pid1_name(system)})"


def unit_file(system: System, unit: str) -> str | None:
    """Return the path of the unit's file in the first unit directory holding it, or None."""
    for directory in UNIT_DIRS:
        path = f"{directory}/{unit}"
        if system.exists(path):
            return path
    return None


def unit_masked(system: System, unit: str) -> str | None:
    """Return the path that masks the unit (empty file or /dev/null link), or None."""
    for directory in _MASK_DIRS:
        path = f"{directory}/{unit}"
        if not system.exists(path) or system.is_dir(path):
            continue
        try:
            if system.read_bytes(path, limit=1) == b"":
                return path
        except OSError:
            continue
    return None


def enablement_links(system: System, *units: str) -> dict[str, list[str]]:
    """Return, for each of `units` that is enabled, the `*.wants/` / `*.requires/` links to it.

    Each unit directory and each of its wants folders is listed once, however many units are
    asked about. Dangling links (to a unit file that is gone) do not count.
    """
    wanted = set(units)
    links: dict[str, list[str]] = {}
    for directory in UNIT_DIRS[:2]:
        for entry in list_optional(system, directory):
            if not entry.endswith((".wants", ".requires")):
                continue
            for unit in wanted.intersection(list_optional(system, f"{directory}/{entry}")):
                link = f"{directory}/{entry}/{unit}"
                if system.exists(link):
                    links.setdefault(unit, []).append(link)
    return {unit: links[unit] for unit in units if unit in links}


@dataclass(frozen=True)
class ActiveStates:
    """The answer of one `systemctl is-active` call: unit -> state, or why there is none."""

    states: dict[str, str]
    error: str | None = None


def active_states(system: System, units: Sequence[str]) -> ActiveStates:
    """Ask systemd for the active state of several units in one process.

    `systemctl is-active` prints one state per unit ("active", "inactive", "failed",
    "activating", ...) and exits non-zero when any is not active, which is not an error here.
    """
    if not units:
        return ActiveStates({})
    result = run_quiet(system, ["systemctl", "is-active", *units])
    if isinstance(result, str):
        return ActiveStates({}, result)
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    if len(lines) != len(units):
        return ActiveStates({}, f"systemctl is-active: {command_reason(result)}")
    return ActiveStates(dict(zip(units, lines, strict=True)))
