"""osquery's `kernel_info` and `platform_info` tables on Linux, from procfs and sysfs.

`kernel_info`, one row: version is the kernel's release (what `uname -r` prints), read from
/proc/sys/kernel/osrelease (else from `uname -r`); from the boot command line in /proc/cmdline,
path is BOOT_IMAGE's value, device is root='s, and arguments are the remaining parameters,
space-separated, as osquery splits them. The kernel's release is what Stethoscope answered as the
device's `osBuild` on Linux. Both files are readable by every user.

`platform_info`, one row: the firmware (BIOS or UEFI) from the DMI files in /sys/class/dmi/id,
which every user may read: vendor=bios_vendor, version=bios_version, date=bios_date,
revision=bios_release; firmware_type is "uefi" when the machine was booted through EFI
(/sys/firmware/efi exists), else "bios".

Where we differ from osquery, on purpose: osquery reads platform_info from the raw SMBIOS table
(/sys/firmware/dmi/tables/DMI), which only root may read, so run as a user it returns no row; the
sysfs files carry the same strings for everyone. address, size and volume_size (the ROM's
location and size) are only in the raw table and are NULL here; extra is NULL as in osquery on
Linux. A machine without DMI (most ARM boards) has no row.
"""

from __future__ import annotations

from collections.abc import Iterable

from stethoscope_desktop.tables.base import Column, QueryContext, Row
from stethoscope_desktop.tables.linux._common import (
    MachineTable,
    read_line,
    read_optional,
    uname_value,
)
from stethoscope_desktop.tables.system import System

OSRELEASE_PATH = "/proc/sys/kernel/osrelease"
CMDLINE_PATH = "/proc/cmdline"
DMI_DIR = "/sys/class/dmi/id"
EFI_DIR = "/sys/firmware/efi"
_DMI_FIRMWARE = (
    ("vendor", "bios_vendor"),
    ("version", "bios_version"),
    ("date", "bios_date"),
    ("revision", "bios_release"),
)


def kernel_release(system: System) -> str | None:
    """Return the kernel's release (uname -r), from procfs, else from `uname -r`."""
    return uname_value(system, OSRELEASE_PATH, "-r")


def parse_cmdline(text: str) -> tuple[str | None, str | None, str]:
    """Split a kernel command line into (BOOT_IMAGE path, root device, the other arguments)."""
    path: str | None = None
    device: str | None = None
    others: list[str] = []
    for argument in text.split():
        key, sep, value = argument.partition("=")
        if sep and key == "BOOT_IMAGE":
            path = value
        elif sep and key == "root":
            device = value
        else:
            others.append(argument)
    return path, device, " ".join(others)


class KernelInfo(MachineTable):
    """The running kernel: its release and how it was booted, one row."""

    name = "kernel_info"
    columns = (
        Column("version", "text"),
        Column("arguments", "text"),
        Column("path", "text"),
        Column("device", "text"),
    )
    platforms = ("linux",)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        release = kernel_release(self._system)
        cmdline = read_optional(self._system, CMDLINE_PATH)
        if release is None and cmdline is None:
            return []
        path, device, arguments = parse_cmdline(cmdline or "")
        return [
            {
                "version": release,
                "arguments": arguments if cmdline is not None else None,
                "path": path,
                "device": device,
            }
        ]


class PlatformInfo(MachineTable):
    """The machine's firmware (BIOS or UEFI): vendor, version, date, one row."""

    name = "platform_info"
    columns = (
        Column("vendor", "text"),
        Column("version", "text"),
        Column("date", "text"),
        Column("revision", "text"),
        Column("extra", "text"),
        Column("firmware_type", "text"),
        Column("address", "text"),
        Column("size", "text"),
        Column("volume_size", "integer"),
    )
    platforms = ("linux",)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        values = {
            column: read_line(self._system, f"{DMI_DIR}/{name}") or None
            for column, name in _DMI_FIRMWARE
        }
        if not any(values.values()):
            return []
        firmware_type = "uefi" if self._system.is_dir(EFI_DIR) else "bios"
        return [
            {
                **values,
                "extra": None,
                "firmware_type": firmware_type,
                "address": None,
                "size": None,
                "volume_size": None,
            }
        ]
