"""Windows implementations of osquery tables and of our own `stethoscope_*` tables.

Each module holds one concern; `windows_tables` instantiates every table against one `System`
(commands, environment) and one `Registry`. Nothing here runs a command or opens a key until a
table is generated, so the tables can be built (and their columns listed) on any platform;
`winreg` is imported only inside `WinregRegistry`, on Windows.
"""

from __future__ import annotations

from stethoscope_desktop.tables.base import TablePlugin
from stethoscope_desktop.tables.system import System
from stethoscope_desktop.tables.windows._accounts import Accounts, NetApiAccounts
from stethoscope_desktop.tables.windows._common import WindowsTable
from stethoscope_desktop.tables.windows._registry import Registry, WinregRegistry
from stethoscope_desktop.tables.windows.accounts import Groups, UserGroups, Users
from stethoscope_desktop.tables.windows.disk_encryption import DiskEncryption
from stethoscope_desktop.tables.windows.firewall import Firewall
from stethoscope_desktop.tables.windows.os_version import OsVersion
from stethoscope_desktop.tables.windows.patches import Patches
from stethoscope_desktop.tables.windows.processes import Processes
from stethoscope_desktop.tables.windows.programs import Programs
from stethoscope_desktop.tables.windows.registry import RegistryTable
from stethoscope_desktop.tables.windows.remote_login import RemoteLogin
from stethoscope_desktop.tables.windows.screen_lock import ScreenLock
from stethoscope_desktop.tables.windows.security_software import SecuritySoftware
from stethoscope_desktop.tables.windows.system_info import SystemInfo
from stethoscope_desktop.tables.windows.updates import AutomaticUpdates
from stethoscope_desktop.tables.windows.wifi import WifiNetworks

__all__ = [
    "ACCOUNT_TABLE_CLASSES",
    "OSQUERY_TABLE_CLASSES",
    "STETHOSCOPE_TABLE_CLASSES",
    "Accounts",
    "AutomaticUpdates",
    "DiskEncryption",
    "Firewall",
    "Groups",
    "NetApiAccounts",
    "OsVersion",
    "Patches",
    "Processes",
    "Programs",
    "Registry",
    "RegistryTable",
    "RemoteLogin",
    "ScreenLock",
    "SecuritySoftware",
    "SystemInfo",
    "UserGroups",
    "Users",
    "WifiNetworks",
    "WinregRegistry",
    "windows_tables",
]

# The classes, for tests and documentation: the osquery-compatible ones and our own.
OSQUERY_TABLE_CLASSES: tuple[type[WindowsTable], ...] = (
    OsVersion,
    SystemInfo,
    Programs,
    RegistryTable,
    Patches,
    Processes,
)
STETHOSCOPE_TABLE_CLASSES: tuple[type[WindowsTable], ...] = (
    Firewall,
    DiskEncryption,
    AutomaticUpdates,
    ScreenLock,
    RemoteLogin,
    WifiNetworks,
    SecuritySoftware,
)


# The tables that also read the local account database (through an `Accounts` adapter).
ACCOUNT_TABLE_CLASSES = (Users, Groups, UserGroups)


def windows_tables(
    system: System, registry: Registry | None = None, accounts: Accounts | None = None
) -> list[TablePlugin]:
    """Return one instance of every Windows table, reading through `system` and `registry`."""
    reader = registry if registry is not None else WinregRegistry()
    account_reader = accounts if accounts is not None else NetApiAccounts()
    tables: list[TablePlugin] = [
        cls(system, reader) for cls in (*OSQUERY_TABLE_CLASSES, *STETHOSCOPE_TABLE_CLASSES)
    ]
    return tables + [cls(system, reader, account_reader) for cls in ACCOUNT_TABLE_CLASSES]
