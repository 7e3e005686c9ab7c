"""Which of our tables exist on which platform; platform modules are imported only there."""

from __future__ import annotations

from stethoscope_desktop.tables.base import TablePlugin
from stethoscope_desktop.tables.common import StethoscopeAppTable
from stethoscope_desktop.tables.system import System


def builtin_tables(platform: str, system: System) -> list[TablePlugin]:
    """Return instances of every table the embedded engine serves on `platform`."""
    tables: list[TablePlugin] = [StethoscopeAppTable()]
    if platform == "linux":
        from stethoscope_desktop.tables.linux import linux_tables

        tables += linux_tables(system)
    return tables
