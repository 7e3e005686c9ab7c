"""osquery's `kernel_modules` table on Linux: the loaded modules, one row per line of /proc/modules.

Each line reads `name size refcount used_by status address`; as in osquery, a line with fewer
than six fields is skipped, and a trailing comma is dropped from every field (so used_by
`ext4,jbd2,` becomes `ext4,jbd2`, and `-` when nothing uses the module). The kernel shows
addresses as 0x0000000000000000 to readers without CAP_SYSLOG, as osquery shows them when not
run as root. A kernel built without loadable-module support has no /proc/modules: no rows.
"""

from __future__ import annotations

from collections.abc import Iterable

from stethoscope_desktop.tables.base import Column, QueryContext, Row, TableError
from stethoscope_desktop.tables.linux._common import MachineTable, os_error_reason

MODULES_PATH = "/proc/modules"
# A few thousand modules at ~100 bytes a line; more than this is not a module list.
_MODULES_LIMIT = 4 * 1024 * 1024


def parse_modules(text: str) -> list[Row]:
    """Parse /proc/modules into rows of osquery's columns."""
    rows: list[Row] = []
    for line in text.split("\n"):
        fields = line.split()
        if len(fields) < 6:
            continue
        fields = [field[:-1] if field.endswith(",") else field for field in fields]
        try:
            size: int | None = int(fields[1])
        except ValueError:
            size = None
        rows.append(
            {
                "name": fields[0],
                "size": size,
                "used_by": fields[3],
                "status": fields[4],
                "address": fields[5],
            }
        )
    return rows


class KernelModules(MachineTable):
    """Loaded Linux kernel modules (osquery's `kernel_modules`)."""

    name = "kernel_modules"
    columns = (
        Column("name", "text"),
        Column("size", "bigint"),
        Column("used_by", "text"),
        Column("status", "text"),
        Column("address", "text"),
    )
    platforms = ("linux",)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        try:
            text = self._system.read_text(MODULES_PATH, limit=_MODULES_LIMIT)
        except FileNotFoundError:
            return []
        except OSError as error:
            raise TableError(f"cannot read {MODULES_PATH}: {os_error_reason(error)}") from error
        return parse_modules(text)
