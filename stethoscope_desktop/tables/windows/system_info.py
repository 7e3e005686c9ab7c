r"""osquery's `system_info` table on Windows, from WMI through PowerShell, else the registry.

One PowerShell call reads Win32_ComputerSystem (names, maker, model, memory),
Win32_ComputerSystemProduct (the SMBIOS UUID), Win32_BIOS (the serial number), Win32_Processor and
Win32_BaseBoard, and prints them as JSON; a class that fails leaves its fields null. When
PowerShell cannot run, the registry still names the machine's maker, model, board and CPU
(`HKLM\HARDWARE\DESCRIPTION\System\BIOS` and `…\CentralProcessor\0`, readable by every user) and
the environment its name; the serial number and UUID then stay NULL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from stethoscope_desktop.tables._shared import SYSTEM_INFO_COLUMNS
from stethoscope_desktop.tables.base import Column, QueryContext, Row, TableError
from stethoscope_desktop.tables.windows._common import WindowsTable, powershell_json
from stethoscope_desktop.tables.windows._registry import RegistryValue, value_of

HARDWARE_SCRIPT = (
    "$s = 'SilentlyContinue'; "
    "$cs = Get-CimInstance -ClassName Win32_ComputerSystem -ErrorAction $s; "
    "$p = Get-CimInstance -ClassName Win32_ComputerSystemProduct -ErrorAction $s; "
    "$b = Get-CimInstance -ClassName Win32_BIOS -ErrorAction $s; "
    "$c = @(Get-CimInstance -ClassName Win32_Processor -ErrorAction $s); "
    "$bb = Get-CimInstance -ClassName Win32_BaseBoard -ErrorAction $s; "
    "[ordered]@{ "
    "Name = $cs.Name; DNSHostName = $cs.DNSHostName; Domain = $cs.Domain; "
    "Manufacturer = $cs.Manufacturer; Model = $cs.Model; "
    "TotalPhysicalMemory = $cs.TotalPhysicalMemory; "
    "UUID = $p.UUID; ProductVersion = $p.Version; SerialNumber = $b.SerialNumber; "
    "CpuName = $c[0].Name; CpuManufacturer = $c[0].Manufacturer; "
    "CpuArchitecture = $c[0].Architecture; CpuRevision = $c[0].Revision; "
    "Cores = ($c | Measure-Object -Property NumberOfCores -Sum).Sum; "
    "LogicalProcessors = ($c | Measure-Object -Property NumberOfLogicalProcessors -Sum).Sum; "
    "Sockets = $c.Count; "
    "BoardManufacturer = $bb.Manufacturer; BoardProduct = $bb.Product; "
    "BoardVersion = $bb.Version; BoardSerial = $bb.SerialNumber "
    "} | ConvertTo-Json -Compress"
)
BIOS_KEY = r"HKEY_LOCAL_MACHINE\HARDWARE\DESCRIPTION\System\BIOS"
CPU_KEY = r"HKEY_LOCAL_MACHINE\HARDWARE\DESCRIPTION\System\CentralProcessor\0"
# Win32_Processor.Architecture, as osquery's cpu_type names it.
CPU_TYPES = {0: "x86", 5: "ARM", 9: "x86_64", 12: "ARM64"}
# SMBIOS placeholders that mean "no serial number".
NO_SERIAL = frozenset(
    {"", "0", "none", "default string", "to be filled by o.e.m.", "system serial number"}
)


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _number(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def serial(text: str | None) -> str | None:
    """Return a serial number, or None for the placeholders firmware writes when it has none."""
    if text is None or text.strip().lower() in NO_SERIAL:
        return None
    return text.strip()


class SystemInfo(WindowsTable):
    """The computer's names, maker, model, serial number and CPU, one row."""

    name = "system_info"
    columns = (
        *SYSTEM_INFO_COLUMNS,
        Column("emulated_cpu_type", "text"),
    )
    platforms = ("windows",)

    def _from_wmi(self, data: Mapping[str, Any]) -> Row:
        name = _text(data, "Name") or self._system.env.get("COMPUTERNAME")
        dns = _text(data, "DNSHostName") or name
        domain = _text(data, "Domain")
        hostname = f"{dns}.{domain}" if dns and domain and "." in domain else dns
        architecture = _number(data, "CpuArchitecture")
        return {
            "hostname": hostname,
            "uuid": _text(data, "UUID"),
            "cpu_type": CPU_TYPES.get(architecture) if architecture is not None else None,
            "cpu_subtype": _text(data, "CpuRevision"),
            "cpu_brand": _text(data, "CpuName"),
            "cpu_physical_cores": _number(data, "Cores"),
            "cpu_logical_cores": _number(data, "LogicalProcessors"),
            "cpu_sockets": _number(data, "Sockets"),
            "cpu_microcode": None,
            "physical_memory": _number(data, "TotalPhysicalMemory"),
            "hardware_vendor": _text(data, "Manufacturer"),
            "hardware_model": _text(data, "Model"),
            "hardware_version": _text(data, "ProductVersion"),
            "hardware_serial": serial(_text(data, "SerialNumber")),
            "board_vendor": _text(data, "BoardManufacturer"),
            "board_model": _text(data, "BoardProduct"),
            "board_version": _text(data, "BoardVersion"),
            "board_serial": serial(_text(data, "BoardSerial")),
            "computer_name": name,
            "local_hostname": dns,
            "emulated_cpu_type": None,
        }

    def _from_registry(self, why: str) -> Row:
        def read(key: str) -> Mapping[str, RegistryValue] | None:
            try:
                return self._registry.values(key)
            except OSError:
                return None

        bios = read(BIOS_KEY)
        cpu = read(CPU_KEY)

        def text(values: Mapping[str, RegistryValue] | None, name: str) -> str | None:
            found = value_of(values, name)
            return found.as_text().strip() or None if found is not None else None

        name = self._system.env.get("COMPUTERNAME")
        if bios is None and cpu is None and not name:
            raise TableError(f"cannot read this computer's system information: {why}")
        return {
            "hostname": name,
            "computer_name": name,
            "local_hostname": name,
            "cpu_brand": text(cpu, "ProcessorNameString"),
            "hardware_vendor": text(bios, "SystemManufacturer"),
            "hardware_model": text(bios, "SystemProductName"),
            "hardware_version": text(bios, "SystemVersion"),
            "board_vendor": text(bios, "BaseBoardManufacturer"),
            "board_model": text(bios, "BaseBoardProduct"),
            "board_version": text(bios, "BaseBoardVersion"),
        }

    def generate(self, context: QueryContext) -> Iterable[Row]:
        try:
            data = powershell_json(self._system, HARDWARE_SCRIPT, what="the hardware (WMI)")
        except TableError as error:
            return [self._from_registry(str(error))]
        if not isinstance(data, dict):
            return [self._from_registry("PowerShell printed no object")]
        return [self._from_wmi(data)]
