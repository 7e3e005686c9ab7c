"""osquery's `system_controls` table on macOS, from `sysctl -a` (or `sysctl <name>`).

osquery walks the kernel's sysctl MIB with sysctl(3), which any user may read. Here the same
walk is what `/usr/sbin/sysctl -a` prints (it iterates the MIB the same way, in the same order),
read through `System.run` with a timeout, and each `name: value` line becomes a row:
- name and current_value as printed; subsystem is the first part of the name for the MIB's fixed
  top levels (kern, vm, vfs, net, debug, hw, machdep, user), NULL for the ones macOS numbers at
  boot (security, sysctl, …), as osquery gives them.
- The structures osquery splits into one row per field (field_name) are split the same way:
  kern.clockrate (hz, tick, tickadj, profhz, stathz), every `{ sec = …, usec = … }` time
  (kern.boottime, …: sec, usec), vm.loadavg (ldavg0-2) and vm.swapusage (xsu_total, xsu_used,
  xsu_avail in MiB, xsu_encrypted); their type is "struct", and doubles are written as
  osquery writes them ("2.050000").
- config_value comes from /etc/sysctl.conf and the sysctl.d folders, read as osquery reads them
  on every POSIX system (the Linux table's reader).
- `name = '...'` runs `sysctl <name>` for just those names (a name the kernel lacks gives no row,
  as in osquery); `subsystem = '...'` keeps that part.

What `sysctl -a` does not print, and so is NULL here: `oid` (the numeric MIB) and `type` of the
plain values (int, quad and string all print as text); a query constrained on `oid` is refused
with that reason rather than answered wrongly. osquery also stops its walk after 1024 entries
(a guard against a looping kernel iterator), so on a real Mac it lists kern, vm, vfs and part of
net; this table lists every entry. Queries by name give the same rows on both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from stethoscope_desktop.tables._shared import (
    SYSTEM_CONTROLS_COLUMNS,
    MachineTable,
    command_reason,
    run_quiet,
)
from stethoscope_desktop.tables.base import Column, QueryContext, Row, TableError, Value
from stethoscope_desktop.tables.linux.system_controls import read_sysctl_config

SYSCTL = "/usr/sbin/sysctl"
SYSCTL_ALL = [SYSCTL, "-a"]
TIMEOUT_S = 10.0
# The top levels of the MIB with fixed numbers (osquery names only these as subsystems).
FIXED_SUBSYSTEMS = ("kern", "vm", "vfs", "net", "debug", "hw", "machdep", "user")
# A new entry starts a line: a dotted name, a colon, then a space or the end of the line.
_ENTRY = re.compile(r"^([A-Za-z0-9_%-]+(?:\.[A-Za-z0-9_%.-]+)+):(?: (.*)|)$")
_TIMEVAL = re.compile(r"^\{ sec = (-?\d+), usec = (-?\d+) \}")
_CLOCKINFO_FIELDS = ("hz", "tick", "tickadj", "profhz", "stathz")
_FIELD = re.compile(r"(\w+) = (-?\d+)")
_LOADAVG = re.compile(r"^\{ ([\d.]+) ([\d.]+) ([\d.]+) \}$")
_SWAP = re.compile(r"total = ([\d.]+)M\s+used = ([\d.]+)M\s+free = ([\d.]+)M(.*)$")


def parse_sysctl_output(text: str) -> list[tuple[str, str]]:
    """Return the (name, value) pairs of `sysctl -a` output; a continuation line joins its entry."""
    entries: list[tuple[str, str]] = []
    for line in text.split("\n"):
        match = _ENTRY.match(line)
        if match:
            entries.append((match.group(1), match.group(2) or ""))
        elif entries and line:
            name, value = entries[-1]
            entries[-1] = (name, f"{value}\n{line}")
    return entries


def _double(text: str) -> str:
    return f"{float(text):f}"


def struct_fields(name: str, value: str) -> list[tuple[str, str]] | None:
    """Return the (field_name, value) rows osquery splits a structure into; None if not one."""
    if name == "kern.clockrate":
        found = dict(_FIELD.findall(value))
        if all(field in found for field in _CLOCKINFO_FIELDS):
            return [(field, found[field]) for field in _CLOCKINFO_FIELDS]
        return None
    timeval = _TIMEVAL.match(value)
    if timeval:
        return [("sec", timeval.group(1)), ("usec", timeval.group(2))]
    if name == "vm.loadavg":
        loads = _LOADAVG.match(value.strip())
        if loads:
            return [(f"ldavg{i}", _double(loads.group(i + 1))) for i in range(3)]
        return None
    if name == "vm.swapusage":
        swap = _SWAP.search(value)
        if swap:
            encrypted = "1" if "(encrypted)" in swap.group(4) else "0"
            return [
                ("xsu_total", _double(swap.group(1))),
                ("xsu_used", _double(swap.group(2))),
                ("xsu_avail", _double(swap.group(3))),
                ("xsu_encrypted", encrypted),
            ]
    return None


class SystemControls(MachineTable):
    """Kernel parameters (sysctl) and their configured values (osquery's `system_controls`)."""

    name = "system_controls"
    columns = (
        *SYSTEM_CONTROLS_COLUMNS,
        Column("field_name", "text"),
    )
    platforms = ("darwin",)

    def _read(self, argv: list[str]) -> list[tuple[str, str]]:
        result = run_quiet(self._system, argv, timeout=TIMEOUT_S)
        if isinstance(result, str):
            raise TableError(f"cannot read the kernel's settings: {result}")
        if not result.ok and not result.stdout.strip():
            if "unknown oid" in result.stderr:
                return []  # only names the kernel does not have were asked for
            raise TableError(f"cannot read the kernel's settings: sysctl: {command_reason(result)}")
        # `sysctl a b` prints what it knows and complains about unknown names on stderr.
        return parse_sysctl_output(result.stdout)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        if context.equals("oid"):
            raise TableError(
                "system_controls cannot look sysctls up by oid on the built-in engine "
                "(sysctl prints no numeric names); ask by name (WHERE name = 'kern.…')"
            )
        names = sorted(n for n in context.equals("name") if _ENTRY.match(f"{n}: "))
        if context.equals("name"):
            # `sysctl kern` would print every kern.* entry: keep just the names asked for.
            wanted = set(names)
            entries = [e for e in self._read([SYSCTL, *names]) if e[0] in wanted] if names else []
        else:
            entries = self._read(SYSCTL_ALL)
        subsystems = context.equals("subsystem")
        config = read_sysctl_config(self._system)
        rows: list[Row] = []
        for name, value in entries:
            top = name.split(".")[0]
            subsystem = top if top in FIXED_SUBSYSTEMS else None
            if subsystems and subsystem not in subsystems:
                continue
            base: dict[str, Value] = {
                "name": name,
                "oid": None,
                "subsystem": subsystem,
                "config_value": config.get(name),
            }
            fields = struct_fields(name, value)
            if fields is None:
                rows.append({**base, "current_value": value, "type": None, "field_name": None})
                continue
            rows += [
                {**base, "current_value": field_value, "type": "struct", "field_name": field}
                for field, field_value in fields
            ]
        return rows
