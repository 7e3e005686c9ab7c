"""Linux implementations of osquery tables and of our own `stethoscope_*` tables.

Each module holds one concern; `linux_tables` instantiates every table against one `System`.
"""

from __future__ import annotations

from stethoscope_desktop.tables.base import TablePlugin
from stethoscope_desktop.tables.linux.accounts import Groups, UserGroups, Users
from stethoscope_desktop.tables.linux.dconf_read import DconfRead
from stethoscope_desktop.tables.linux.desktop_apps import DesktopApps
from stethoscope_desktop.tables.linux.disk_encryption import DiskEncryption
from stethoscope_desktop.tables.linux.firewall import Firewall
from stethoscope_desktop.tables.linux.interface_details import InterfaceDetails
from stethoscope_desktop.tables.linux.kernel import KernelInfo, PlatformInfo
from stethoscope_desktop.tables.linux.kernel_modules import KernelModules
from stethoscope_desktop.tables.linux.language_packages import NpmPackages, PythonPackages
from stethoscope_desktop.tables.linux.mounts import Mounts
from stethoscope_desktop.tables.linux.network import ListeningPorts
from stethoscope_desktop.tables.linux.os_version import OsVersion, StethoscopeOsVersion
from stethoscope_desktop.tables.linux.osquery_disk_encryption import OsqueryDiskEncryption
from stethoscope_desktop.tables.linux.packages import DebPackages, RpmPackages
from stethoscope_desktop.tables.linux.processes import Processes
from stethoscope_desktop.tables.linux.remote_login import RemoteLogin
from stethoscope_desktop.tables.linux.root_only import Iptables, Sudoers
from stethoscope_desktop.tables.linux.screen_lock import ScreenLock
from stethoscope_desktop.tables.linux.secureboot import SecureBoot
from stethoscope_desktop.tables.linux.security_software import SecuritySoftware
from stethoscope_desktop.tables.linux.shadow import Shadow
from stethoscope_desktop.tables.linux.ssh_configs import SshConfigs
from stethoscope_desktop.tables.linux.system_controls import SystemControls
from stethoscope_desktop.tables.linux.system_info import SystemInfo
from stethoscope_desktop.tables.linux.systemd import SystemdUnits
from stethoscope_desktop.tables.linux.updates import AutomaticUpdates
from stethoscope_desktop.tables.linux.wifi import WifiNetworks
from stethoscope_desktop.tables.system import System

__all__ = [
    "OSQUERY_TABLE_CLASSES",
    "STETHOSCOPE_TABLE_CLASSES",
    "AutomaticUpdates",
    "DconfRead",
    "DebPackages",
    "DesktopApps",
    "DiskEncryption",
    "Firewall",
    "Groups",
    "InterfaceDetails",
    "Iptables",
    "KernelInfo",
    "KernelModules",
    "ListeningPorts",
    "Mounts",
    "NpmPackages",
    "OsVersion",
    "OsqueryDiskEncryption",
    "PlatformInfo",
    "Processes",
    "PythonPackages",
    "RemoteLogin",
    "RpmPackages",
    "ScreenLock",
    "SecureBoot",
    "SecuritySoftware",
    "Shadow",
    "SshConfigs",
    "StethoscopeOsVersion",
    "Sudoers",
    "SystemControls",
    "SystemInfo",
    "SystemdUnits",
    "UserGroups",
    "Users",
    "WifiNetworks",
    "linux_tables",
]

# The classes, for tests and documentation: the osquery-compatible ones and our own.
OSQUERY_TABLE_CLASSES: tuple[type[TablePlugin], ...] = (
    OsVersion,
    SystemInfo,
    DebPackages,
    RpmPackages,
    ListeningPorts,
    Mounts,
    SecureBoot,
    SystemdUnits,
    KernelInfo,
    PlatformInfo,
    Users,
    Groups,
    UserGroups,
    Processes,
    KernelModules,
    SystemControls,
    Shadow,
    OsqueryDiskEncryption,
    InterfaceDetails,
    Sudoers,
    Iptables,
    PythonPackages,
    NpmPackages,
    SshConfigs,
    DconfRead,  # fleetd's
)
STETHOSCOPE_TABLE_CLASSES: tuple[type[TablePlugin], ...] = (
    Firewall,
    DiskEncryption,
    AutomaticUpdates,
    ScreenLock,
    RemoteLogin,
    WifiNetworks,
    DesktopApps,
    SecuritySoftware,
    StethoscopeOsVersion,
)


def linux_tables(system: System) -> list[TablePlugin]:
    """Return one instance of every Linux table, all reading the machine through `system`."""
    return [
        OsVersion(system),
        SystemInfo(system),
        DebPackages(system),
        RpmPackages(system),
        ListeningPorts(system),
        Mounts(system),
        SecureBoot(system),
        SystemdUnits(system),
        KernelInfo(system),
        PlatformInfo(system),
        DconfRead(system),
        Firewall(system),
        DiskEncryption(system),
        AutomaticUpdates(system),
        ScreenLock(system),
        RemoteLogin(system),
        WifiNetworks(system),
        DesktopApps(system),
        SecuritySoftware(system),
        StethoscopeOsVersion(system),
        Users(system),
        Groups(system),
        UserGroups(system),
        Processes(system),
        KernelModules(system),
        SystemControls(system),
        Shadow(system),
        OsqueryDiskEncryption(system),
        InterfaceDetails(system),
        Sudoers(system),
        Iptables(system),
        PythonPackages(system),
        NpmPackages(system),
        SshConfigs(system),
    ]
