"""The macOS application firewall: osquery's `alf` table and our `stethoscope_firewall`.

`alf` reads /Library/Preferences/com.apple.alf.plist (world-readable) as osquery does:
globalstate 0 = off, 1 = on, 2 = on and blocking all incoming connections. macOS 15 moved the
setting out of that file; there (no file) `alf` asks socketfilterfw for global_state and leaves
the other columns NULL, much as osquery 5.13+ asks system_profiler.

`stethoscope_firewall` asks `/usr/libexec/ApplicationFirewall/socketfilterfw --getglobalstate`,
which answers any user on every version: "Firewall is enabled. (State = 1)",
"Firewall is disabled. (State = 0)", and "(State = 2)" when it blocks all incoming connections.
The number is read first; the words only when there is no number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from stethoscope_desktop.tables._shared import (
    FEATURE_STATE_COLUMNS,
    MachineTable,
    PlistError,
    command_reason,
    read_plist,
    run_quiet,
)
from stethoscope_desktop.tables.base import Column, QueryContext, Row, TableError
from stethoscope_desktop.tables.system import System

ALF_PLIST = "/Library/Preferences/com.apple.alf.plist"
SOCKETFILTERFW = "/usr/libexec/ApplicationFirewall/socketfilterfw"
GLOBAL_STATE = [SOCKETFILTERFW, "--getglobalstate"]
_STATE = re.compile(r"\(\s*State\s*=\s*(\d+)\s*\)", re.IGNORECASE)
STATE_WORDS = {
    0: "off",
    1: "on",
    2: "on, blocking all incoming connections",
}


def parse_global_state(text: str) -> int | None:
    """Return the state number socketfilterfw printed (0, 1, 2), or None if it printed none."""
    match = _STATE.search(text)
    if match:
        return int(match.group(1))
    lowered = text.lower()
    if "firewall is disabled" in lowered:
        return 0
    if "blocking all" in lowered or "block all" in lowered:
        return 2
    if "firewall is enabled" in lowered:
        return 1
    return None


def socketfilterfw_state(system: System) -> tuple[int, str]:
    """Return (state, the line socketfilterfw printed); raise TableError when it cannot tell."""
    result = run_quiet(system, GLOBAL_STATE)
    if isinstance(result, str):
        raise TableError(f"cannot ask the application firewall: {result}")
    output = (result.stdout + "\n" + result.stderr).strip()
    state = parse_global_state(output)
    if state is None:
        reason = command_reason(result) if not result.ok else repr(output[:200])
        raise TableError(f"socketfilterfw --getglobalstate gave no state: {reason}")
    line = next(
        (ln.strip() for ln in output.splitlines() if _STATE.search(ln) or "Firewall" in ln),
        output.splitlines()[0].strip() if output else "",
    )
    return state, line


class Alf(MachineTable):
    """osquery's `alf`: the application firewall's settings, one row."""

    name = "alf"
    columns = (
        Column("allow_signed_enabled", "integer"),
        Column("firewall_unload", "integer"),
        Column("global_state", "integer"),
        Column("logging_enabled", "integer"),
        Column("logging_option", "integer"),
        Column("stealth_enabled", "integer"),
        Column("version", "text"),
    )
    platforms = ("darwin",)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        try:
            prefs = read_plist(self._system, ALF_PLIST)
        except PlistError as error:
            raise TableError(f"cannot read the firewall settings: {error}") from error
        if prefs is None:
            state, _ = socketfilterfw_state(self._system)
            return [{"global_state": state}]

        def number(key: str) -> int | None:
            value = prefs.get(key)
            return int(value) if isinstance(value, (int, bool)) else None

        version = prefs.get("version")
        return [
            {
                "allow_signed_enabled": number("allowsignedenabled"),
                "firewall_unload": number("firewallunload"),
                "global_state": number("globalstate"),
                "logging_enabled": number("loggingenabled"),
                "logging_option": number("loggingoption"),
                "stealth_enabled": number("stealthenabled"),
                "version": version if isinstance(version, str) else None,
            }
        ]


class Firewall(MachineTable):
    """Whether the application firewall is on, as socketfilterfw says, one row."""

    name = "stethoscope_firewall"
    columns = FEATURE_STATE_COLUMNS
    platforms = ("darwin",)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        try:
            state, line = socketfilterfw_state(self._system)
        except TableError as error:
            return [{"enabled": None, "source": "socketfilterfw", "detail": str(error)}]
        words = STATE_WORDS.get(state, f"in an unknown state ({state})")
        return [
            {
                "enabled": None if state not in STATE_WORDS else int(state > 0),
                "source": "socketfilterfw",
                "detail": f"the application firewall is {words} (socketfilterfw: {line})",
            }
        ]
