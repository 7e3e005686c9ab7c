"""Helpers the Windows tables share: the table base class, PowerShell, netsh's wording.

Windows tables receive the `System` (commands, environment) and a `Registry`. PowerShell runs with
`-NoProfile -NonInteractive`, its output set to UTF-8 and every result converted to JSON, so no
localised text is parsed from it. netsh's output is localised; its parsers rely on layout and on
words that are the same in every language where they can, and say "unknown" otherwise.
"""

from __future__ import annotations

from typing import Any

from stethoscope_desktop.tables._shared import (
    MachineTable,
    command_reason,
    parse_json_output,
    run_quiet,
)
from stethoscope_desktop.tables.base import TableError
from stethoscope_desktop.tables.system import System
from stethoscope_desktop.tables.windows._registry import Registry

POWERSHELL = "powershell.exe"
POWERSHELL_PRELUDE = (
    "[Console]::OutputEncoding = [System.Text.Encoding]::UTF8; $ErrorActionPreference = 'Stop'; "
)
POWERSHELL_TIMEOUT_S = 30.0


class WindowsTable(MachineTable):
    """A table that reads this Windows machine through `System` and a `Registry`."""

    def __init__(self, system: System, registry: Registry) -> None:
        super().__init__(system)
        self._registry = registry


def powershell_argv(script: str) -> list[str]:
    """Return the argv that runs `script` in Windows PowerShell, printing UTF-8."""
    return [POWERSHELL, "-NoProfile", "-NonInteractive", "-Command", POWERSHELL_PRELUDE + script]


def powershell_json(system: System, script: str, *, what: str) -> Any:
    """Run a PowerShell script that prints JSON and return the parsed value.

    Raise TableError naming `what` was being read when PowerShell cannot be run, fails, or prints
    something that is not JSON.
    """
    argv = powershell_argv(script)
    result = run_quiet(system, argv, timeout=POWERSHELL_TIMEOUT_S)
    if isinstance(result, str):
        raise TableError(f"cannot read {what}: {result}")
    if not result.ok:
        raise TableError(f"cannot read {what}: PowerShell: {command_reason(result)}")
    try:
        return parse_json_output(result.stdout)
    except ValueError as error:
        raise TableError(f"cannot read {what}: PowerShell printed no JSON ({error})") from error
