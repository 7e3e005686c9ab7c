"""osquery's `system_info` table on Linux, read from procfs and the DMI files in sysfs.

hostname, computer_name and local_hostname come from /proc/sys/kernel/hostname (osquery puts the
resolver's FQDN in hostname; resolving names is a network lookup we do not make). CPU facts come
from /proc/cpuinfo, memory from /proc/meminfo (MemTotal, which is what sysconf(_SC_PHYS_PAGES) x
page size gives osquery). Hardware and board names come from /sys/class/dmi/id; serial numbers
and product_uuid are readable by root only on most systems, and are left NULL then.

uuid: product_uuid when readable; otherwise /etc/machine-id written as a UUID (osquery instead
invents a random UUID and stores it in its database, which we do not have). The machine-id is a
stable identifier of this installation, not of the hardware.
"""

from __future__ import annotations

from collections.abc import Iterable

from stethoscope_desktop.tables._shared import SYSTEM_INFO_COLUMNS
from stethoscope_desktop.tables.base import QueryContext, Row
from stethoscope_desktop.tables.linux._common import MachineTable, read_line, read_optional, to_int
from stethoscope_desktop.tables.linux.os_version import machine_arch

DMI_DIR = "/sys/class/dmi/id"
_DMI_COLUMNS = (
    ("hardware_vendor", "sys_vendor"),
    ("hardware_model", "product_name"),
    ("hardware_version", "product_version"),
    ("hardware_serial", "product_serial"),
    ("board_vendor", "board_vendor"),
    ("board_model", "board_name"),
    ("board_version", "board_version"),
    ("board_serial", "board_serial"),
)


def format_machine_id(machine_id: str) -> str | None:
    """Write a 32-hex-digit machine-id as a UUID (8-4-4-4-12), or None if it is not one."""
    text = machine_id.strip().lower()
    if len(text) != 32 or any(ch not in "0123456789abcdef" for ch in text):
        return None
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def parse_cpuinfo(text: str) -> Row:
    """Return the CPU columns of system_info from /proc/cpuinfo's text."""
    logical = 0
    cores: set[tuple[str, str]] = set()
    sockets: set[str] = set()
    first: dict[str, str] = {}
    physical_id = ""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip()
        value = value.strip()
        if key == "processor":
            logical += 1
            physical_id = ""
        elif key == "physical id":
            physical_id = value
            sockets.add(value)
        elif key == "core id":
            cores.add((physical_id, value))
        if logical <= 1 and key not in first:
            first[key] = value
    return {
        "cpu_brand": first.get("model name"),
        "cpu_subtype": first.get("model", "0"),
        "cpu_microcode": first.get("microcode"),
        "cpu_logical_cores": logical or None,
        "cpu_physical_cores": len(cores) or logical or None,
        "cpu_sockets": len(sockets) or None,
    }


def parse_memtotal(text: str) -> int | None:
    """Return MemTotal from /proc/meminfo's text, in bytes."""
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            parts = line.split()
            amount = to_int(parts[1]) if len(parts) >= 2 else None
            if amount is None:
                return None
            unit = parts[2].lower() if len(parts) >= 3 else ""
            return amount * 1024 if unit == "kb" else amount
    return None


class SystemInfo(MachineTable):
    """Hostname, CPU, memory and hardware identity, one row."""

    name = "system_info"
    columns = (*SYSTEM_INFO_COLUMNS,)
    platforms = ("linux",)

    def _uuid(self) -> str | None:
        product_uuid = read_line(self._system, f"{DMI_DIR}/product_uuid")
        if product_uuid:
            return product_uuid
        machine_id = read_line(self._system, "/etc/machine-id")
        return format_machine_id(machine_id) if machine_id else None

    def generate(self, context: QueryContext) -> Iterable[Row]:
        hostname = read_line(self._system, "/proc/sys/kernel/hostname") or None
        row: Row = {
            "hostname": hostname,
            "computer_name": hostname,
            "local_hostname": hostname,
            "uuid": self._uuid(),
            "cpu_type": machine_arch(self._system),
        }
        cpuinfo = read_optional(self._system, "/proc/cpuinfo", limit=4 * 1024 * 1024)
        if cpuinfo is not None:
            row.update(parse_cpuinfo(cpuinfo))
        meminfo = read_optional(self._system, "/proc/meminfo")
        if meminfo is not None:
            row["physical_memory"] = parse_memtotal(meminfo)
        for column, filename in _DMI_COLUMNS:
            value = read_line(self._system, f"{DMI_DIR}/{filename}")
            row[column] = value if value else None
        return [row]
