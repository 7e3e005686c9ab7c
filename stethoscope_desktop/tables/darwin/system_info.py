"""osquery's `system_info` table on macOS, from `sysctl`, `scutil` and `system_profiler`.

- `sysctl hw.model hw.machine machdep.cpu.brand_string hw.physicalcpu hw.logicalcpu hw.packages
  hw.memsize kern.hostname` ("name: value" lines, so a key this Mac lacks shifts nothing);
- `scutil --get ComputerName` and `scutil --get LocalHostName`;
- `system_profiler -json SPHardwareDataType` for what only the hardware overview has: the serial
  number and the platform UUID (IOPlatformUUID, which osquery reports as uuid).
A command that fails leaves its columns NULL; the table fails only when nothing answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from stethoscope_desktop.tables._shared import SYSTEM_INFO_COLUMNS, MachineTable, run_quiet, to_int
from stethoscope_desktop.tables.base import QueryContext, Row, TableError

SYSCTL = [
    "/usr/sbin/sysctl",
    "hw.model",
    "hw.machine",
    "machdep.cpu.brand_string",
    "hw.physicalcpu",
    "hw.logicalcpu",
    "hw.packages",
    "hw.memsize",
    "kern.hostname",
]
COMPUTER_NAME = ["/usr/sbin/scutil", "--get", "ComputerName"]
LOCAL_HOSTNAME = ["/usr/sbin/scutil", "--get", "LocalHostName"]
HARDWARE = ["/usr/sbin/system_profiler", "-json", "SPHardwareDataType"]
HARDWARE_TIMEOUT_S = 15.0


def parse_sysctl(text: str) -> dict[str, str]:
    """Parse `sysctl name…` output ("hw.model: MacBookPro18,3" lines)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and " " not in key.strip():
            values[key.strip()] = value.strip()
    return values


def hardware_overview(text: str) -> dict[str, Any]:
    """Return the first SPHardwareDataType entry of `system_profiler -json` output."""
    data = json.loads(text)
    entries = data.get("SPHardwareDataType") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries or not isinstance(entries[0], dict):
        raise ValueError("no SPHardwareDataType entry")
    return entries[0]


class SystemInfo(MachineTable):
    """The Mac's names, hardware model, serial number and CPU, one row."""

    name = "system_info"
    columns = (*SYSTEM_INFO_COLUMNS,)
    platforms = ("darwin",)

    def _line(self, argv: list[str]) -> str | None:
        result = run_quiet(self._system, argv)
        if isinstance(result, str) or not result.ok:
            return None
        return result.stdout.strip() or None

    def generate(self, context: QueryContext) -> Iterable[Row]:
        sysctl_result = run_quiet(self._system, SYSCTL)
        sysctl = parse_sysctl(sysctl_result.stdout) if not isinstance(sysctl_result, str) else {}
        hardware: dict[str, Any] = {}
        profiler = run_quiet(self._system, HARDWARE, timeout=HARDWARE_TIMEOUT_S)
        if not isinstance(profiler, str) and profiler.ok:
            try:
                hardware = hardware_overview(profiler.stdout)
            except (ValueError, AttributeError):
                hardware = {}
        computer_name = self._line(COMPUTER_NAME)
        if not sysctl and not hardware and computer_name is None:
            reason = sysctl_result if isinstance(sysctl_result, str) else "sysctl printed nothing"
            raise TableError(f"cannot read this Mac's system information: {reason}")
        hostname = sysctl.get("kern.hostname")
        serial = hardware.get("serial_number")
        uuid = hardware.get("platform_UUID")
        return [
            {
                "hostname": hostname,
                "uuid": uuid if isinstance(uuid, str) else None,
                "cpu_type": sysctl.get("hw.machine"),
                "cpu_subtype": None,
                "cpu_brand": sysctl.get("machdep.cpu.brand_string")
                or _text(hardware.get("chip_type") or hardware.get("cpu_type")),
                "cpu_physical_cores": to_int(sysctl.get("hw.physicalcpu")),
                "cpu_logical_cores": to_int(sysctl.get("hw.logicalcpu")),
                "cpu_sockets": to_int(sysctl.get("hw.packages")),
                "cpu_microcode": None,
                "physical_memory": to_int(sysctl.get("hw.memsize")),
                "hardware_vendor": "Apple Inc.",
                "hardware_model": sysctl.get("hw.model") or _text(hardware.get("machine_model")),
                "hardware_version": None,
                "hardware_serial": serial if isinstance(serial, str) else None,
                "board_vendor": None,
                "board_model": None,
                "board_version": None,
                "board_serial": None,
                "computer_name": computer_name or hostname,
                "local_hostname": self._line(LOCAL_HOSTNAME) or hostname,
            }
        ]


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
