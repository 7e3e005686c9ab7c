"""osquery's `system_controls` table on Linux: every sysctl in /proc/sys, with its configured value.

As osquery does it:
- name is the file's path under /proc/sys with `/` turned into `.` (net/ipv4/ip_forward is
  net.ipv4.ip_forward), subsystem its first part, type always "string", oid NULL (Linux has no
  numeric names); the walk takes each folder's subfolders first, then its files.
- current_value is the file's content, trimmed. Files this user may not read (kernel secrets,
  write-only triggers such as vm.compact_memory) still get a row, with current_value NULL, as
  osquery gives them; a file that may be read but fails to read gives ''.
- config_value comes from /etc/sysctl.conf, then every *.conf of /run/sysctl.d, /etc/sysctl.d,
  /usr/local/lib/sysctl.d, /usr/lib/sysctl.d and /lib/sysctl.d in that order, a later file
  overriding an earlier one (osquery's order, not systemd-sysctl's). A line is `key = value`
  with exactly one `=`; lines starting with `#` or `;` are comments.
- `name = '...'` reads just that entry; a name that does not exist still gives one row with
  current_value NULL, as osquery's does. `subsystem = '...'` walks only that folder. `oid`
  constraints give no rows on Linux.

The walk is bounded: at most MAX_ENTRIES entries, MAX_DEPTH folders deep.
"""

from __future__ import annotations

from collections.abc import Iterable

from stethoscope_desktop.tables._shared import SYSTEM_CONTROLS_COLUMNS
from stethoscope_desktop.tables.base import QueryContext, Row, TableError
from stethoscope_desktop.tables.linux._common import MachineTable, list_optional, read_optional
from stethoscope_desktop.tables.system import System

SYSCTL_ROOT = "/proc/sys"
CONFIG_FILES = ("/etc/sysctl.conf",)
CONFIG_DIRS = (
    "/run/sysctl.d",
    "/etc/sysctl.d",
    "/usr/local/lib/sysctl.d",
    "/usr/lib/sysctl.d",
    "/lib/sysctl.d",
)
MAX_ENTRIES = 65536
MAX_DEPTH = 12
_VALUE_LIMIT = 64 * 1024
_CONFIG_LIMIT = 1024 * 1024


def parse_sysctl_config(text: str, into: dict[str, str]) -> None:
    """Add the `key = value` lines of a sysctl.conf-style file to `into`, as osquery reads them."""
    for raw in text.split("\n"):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        parts = [part.strip() for part in line.split("=") if part != ""]
        if len(parts) == 2:
            into[parts[0]] = parts[1]


def read_sysctl_config(system: System) -> dict[str, str]:
    """Return the configured values of every sysctl config file osquery reads, later wins."""
    config: dict[str, str] = {}
    paths = list(CONFIG_FILES)
    for folder in CONFIG_DIRS:
        paths += [
            f"{folder}/{name}" for name in list_optional(system, folder) if name.endswith(".conf")
        ]
    for path in paths:
        text = read_optional(system, path, limit=_CONFIG_LIMIT)
        if text is not None:
            parse_sysctl_config(text, config)
    return config


class SystemControls(MachineTable):
    """Kernel parameters (sysctl) and their configured values (osquery's `system_controls`)."""

    name = "system_controls"
    columns = SYSTEM_CONTROLS_COLUMNS
    platforms = ("linux",)

    def _leaf(self, relative: str, config: dict[str, str]) -> Row:
        name = relative.replace("/", ".")
        value: str | None
        try:
            value = self._system.read_text(f"{SYSCTL_ROOT}/{relative}", limit=_VALUE_LIMIT).strip()
        except PermissionError:
            value = None
        except FileNotFoundError:
            value = None
        except OSError:
            value = ""
        return {
            "name": name,
            "oid": None,
            "subsystem": name.split(".")[0],
            "current_value": value,
            "config_value": config.get(name),
            "type": "string",
        }

    def _walk(self, relative: str, config: dict[str, str], rows: list[Row], depth: int) -> None:
        if depth > MAX_DEPTH:
            raise TableError(
                f"{SYSCTL_ROOT}/{relative} lies more than {MAX_DEPTH} folders deep; "
                "that is not a sysctl tree"
            )
        folders: list[str] = []
        files: list[str] = []
        for entry in list_optional(self._system, f"{SYSCTL_ROOT}/{relative}"):
            child = f"{relative}/{entry}"
            (folders if self._system.is_dir(f"{SYSCTL_ROOT}/{child}") else files).append(child)
        if len(rows) + len(files) > MAX_ENTRIES:
            raise TableError(
                f"{SYSCTL_ROOT} holds more than {MAX_ENTRIES} entries; ask for one by name "
                "(WHERE name = ...)"
            )
        for folder in folders:
            self._walk(folder, config, rows, depth + 1)
        rows += [self._leaf(path, config) for path in files]

    def _named(self, name: str, config: dict[str, str]) -> list[Row]:
        parts = name.split(".")
        if any(part in ("", "..") or "/" in part for part in parts):
            return []
        relative = "/".join(parts)
        if self._system.is_dir(f"{SYSCTL_ROOT}/{relative}"):
            return []  # a folder: no entry is named so
        return [self._leaf(relative, config)]

    def generate(self, context: QueryContext) -> Iterable[Row]:
        config = read_sysctl_config(self._system)
        names = context.equals("name")
        if names:
            return [row for name in sorted(names) for row in self._named(name, config)]
        if context.equals("oid"):
            return []
        subsystems = context.equals("subsystem")
        rows: list[Row] = []
        for subsystem in list_optional(self._system, SYSCTL_ROOT):
            if subsystems and subsystem not in subsystems:
                continue
            if self._system.is_dir(f"{SYSCTL_ROOT}/{subsystem}"):
                self._walk(subsystem, config, rows, 1)
        return rows
