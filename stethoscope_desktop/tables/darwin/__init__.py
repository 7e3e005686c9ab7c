"""macOS implementations of osquery tables and of our own `stethoscope_*` tables.

Each module holds one concern; `darwin_tables` instantiates every table against one `System`.
Nothing here runs a command or reads a file until a table is generated, so the tables can be
built (and their columns listed) on any platform.
"""

from __future__ import annotations

from stethoscope_desktop.tables._shared import MachineTable
from stethoscope_desktop.tables.base import TablePlugin
from stethoscope_desktop.tables.darwin.accounts import Groups, UserGroups, Users
from stethoscope_desktop.tables.darwin.apps import Apps
from stethoscope_desktop.tables.darwin.disk_encryption import DiskEncryption
from stethoscope_desktop.tables.darwin.firewall import Alf, Firewall
from stethoscope_desktop.tables.darwin.os_version import OsVersion
from stethoscope_desktop.tables.darwin.processes import Processes
from stethoscope_desktop.tables.darwin.screen_lock import ScreenLock, ScreenLockTiming
from stethoscope_desktop.tables.darwin.security_software import SecuritySoftware
from stethoscope_desktop.tables.darwin.sharing import SharingPreferences
from stethoscope_desktop.tables.darwin.system_controls import SystemControls
from stethoscope_desktop.tables.darwin.system_info import SystemInfo
from stethoscope_desktop.tables.darwin.updates import AutomaticUpdates
from stethoscope_desktop.tables.darwin.wifi import WifiNetworks
from stethoscope_desktop.tables.system import System

__all__ = [
    "OSQUERY_TABLE_CLASSES",
    "STETHOSCOPE_TABLE_CLASSES",
    "Alf",
    "Apps",
    "AutomaticUpdates",
    "DiskEncryption",
    "Firewall",
    "Groups",
    "OsVersion",
    "Processes",
    "ScreenLock",
    "ScreenLockTiming",
    "SecuritySoftware",
    "SharingPreferences",
    "SystemControls",
    "SystemInfo",
    "UserGroups",
    "Users",
    "WifiNetworks",
    "darwin_tables",
]

# The classes, for tests and documentation: the osquery-compatible ones and our own.
OSQUERY_TABLE_CLASSES: tuple[type[MachineTable], ...] = (
    OsVersion,
    SystemInfo,
    Apps,
    Alf,
    ScreenLock,
    SharingPreferences,
    Users,
    Groups,
    UserGroups,
    SystemControls,
    Processes,
)
STETHOSCOPE_TABLE_CLASSES: tuple[type[MachineTable], ...] = (
    Firewall,
    DiskEncryption,
    AutomaticUpdates,
    ScreenLockTiming,
    WifiNetworks,
    SecuritySoftware,
)


def darwin_tables(system: System) -> list[TablePlugin]:
    """Return one instance of every macOS table, all reading the machine through `system`."""
    return [cls(system) for cls in (*OSQUERY_TABLE_CLASSES, *STETHOSCOPE_TABLE_CLASSES)]
