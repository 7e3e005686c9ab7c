"""What `/raw` and `/debugger` answer: the device's facts, and a debug report, bounded in size.

Stethoscope served both: `/raw`, the merged output of every check it ran, as JSON; `/debugger`,
a text with its version, its log and the same device data. Ours, as pure functions of the facts
every check gathered (`Scanner.gather_every_check`), the network facts and the app's files:

- `raw_facts`: `{device, engine, gatheredAt, durationSeconds, checks: {id: {rows, error}},
  network: {ipAddresses, macAddresses}, truncated}` as JSON. For a caller that may not see the
  device's identifiers (`security.may_see_identifiers`), the identifier fields are null, the
  network lists empty, every known identifier value (hardware UUID, serial number, IP and MAC
  addresses) in the rows is withheld, and in the free texts (`detail` columns, errors) anything
  shaped like an IP or MAC address too.
- `debug_text`: versions, engine, platform, the policy files in force and their problems, the
  end of the app's log (only for a program on this computer: the log names the pages that asked)
  and the device data as `/raw` gives it to that caller.

Both are bounded: a text cell is cut at `MAX_CELL_CHARS`, the rows are cut (largest list first,
said in `truncated`) until the JSON fits `MAX_RAW_BYTES`, the log is its last `MAX_LOG_BYTES`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from stethoscope_desktop.api.network import NetworkFacts, address_entries, interface_entries
from stethoscope_desktop.core.facts import Facts
from stethoscope_desktop.core.report import DeviceFacts
from stethoscope_desktop.tables.values import Row

MAX_RAW_BYTES = 2 * 1024 * 1024
MAX_CELL_CHARS = 2048
MAX_LOG_BYTES = 64 * 1024
WITHHELD = "[withheld]"
SEPARATOR = "=" * 20
# Columns of free text, in which a check may mention an address.
FREE_TEXT_COLUMNS = frozenset({"detail"})
# Columns that carry an identifier, whatever their value.
IDENTIFIER_COLUMNS = frozenset(
    {"deviceId", "hardwareSerial", "uuid", "hardware_serial", "board_serial", "mac", "address"}
)
_IPV4 = r"\b(?:\d{1,3}\.){3}\d{1,3}\b"
_MAC = r"\b(?:[0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}\b"
_IPV6 = r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])"
ADDRESS_PATTERN = re.compile(f"{_MAC}|{_IPV4}|{_IPV6}")


def device_fields(device: DeviceFacts, osquery_version: str, identifiers: bool) -> dict[str, Any]:
    """Return who the device is, in the API's names (identifiers null unless allowed)."""
    return {
        "deviceId": (device.device_id or None) if identifiers else None,
        "deviceName": device.device_name or None,
        "platform": device.platform or None,
        "platformName": device.platform_name or None,
        "osName": device.os_name or None,
        "osVersion": device.os_version or None,
        "osBuild": device.os_build or None,
        "firmwareVersion": device.firmware_version or None,
        "hardwareVendor": device.hardware_vendor or None,
        "hardwareModel": device.hardware_model or None,
        "hardwareSerial": (device.hardware_serial or None) if identifiers else None,
        "stethoscopeVersion": device.stethoscope_version or None,
        "stethoscopeDesktopVersion": device.app_version or None,
        "osqueryVersion": osquery_version,
    }


def _network(network: NetworkFacts) -> dict[str, list[dict[str, Any]]]:
    return {"ipAddresses": address_entries(network), "macAddresses": interface_entries(network)}


def known_identifiers(device: DeviceFacts, network: NetworkFacts) -> frozenset[str]:
    """Return the identifier values of this device: UUID, serial, IP and MAC addresses."""
    values = {device.device_id, device.hardware_serial}
    values |= {address.address for address in network.ip_addresses}
    values |= {interface.mac for interface in network.interfaces}
    return frozenset(value for value in values if value and len(value) >= 4)


def withhold(text: str, known: Iterable[str], *, free_text: bool = False) -> str:
    """Return `text` with each known identifier withheld, and in free text any address too."""
    for value in sorted(known, key=len, reverse=True):
        text = re.sub(re.escape(value), WITHHELD, text, flags=re.IGNORECASE)
    return ADDRESS_PATTERN.sub(WITHHELD, text) if free_text else text


def _cell(column: str, value: Any, known: frozenset[str] | None) -> Any:
    if isinstance(value, bytes):
        value = value.hex()
    if known is not None and value is not None:
        if column in IDENTIFIER_COLUMNS:
            return None
        if isinstance(value, str):
            value = withhold(value, known, free_text=column in FREE_TEXT_COLUMNS)
    if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
        return value[:MAX_CELL_CHARS] + "…"
    return value


def _rows(rows: Sequence[Row], known: frozenset[str] | None) -> list[dict[str, Any]]:
    return [{column: _cell(column, value, known) for column, value in row.items()} for row in rows]


def _size(data: Any) -> int:
    return len(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())


def _fit(checks: dict[str, dict[str, Any]], room: int) -> dict[str, str]:
    """Cut the longest row lists in half until the checks fit `room` bytes; say what was cut."""
    totals = {check_id: len(entry["rows"]) for check_id, entry in checks.items()}
    while _size(checks) > room:
        longest = max(checks, key=lambda check_id: len(checks[check_id]["rows"]))
        rows = checks[longest]["rows"]
        if not rows:
            break
        del rows[len(rows) // 2 :]
    return {
        check_id: f"{len(checks[check_id]['rows'])} of {total} rows"
        for check_id, total in totals.items()
        if len(checks[check_id]["rows"]) < total
    }


def raw_facts(
    facts: Facts,
    network: NetworkFacts,
    *,
    identifiers: bool,
    osquery_version: str,
    max_bytes: int = MAX_RAW_BYTES,
) -> dict[str, Any]:
    """Return what `/raw` answers (see the module docstring)."""
    known = None if identifiers else known_identifiers(facts.device, network)
    checks = {
        check_id: {
            "rows": _rows(fact.rows, known),
            "error": withhold(fact.evidence.error, known, free_text=True)
            if fact.evidence.error is not None and known is not None
            else fact.evidence.error,
        }
        for check_id, fact in sorted(facts.checks.items())
    }
    body: dict[str, Any] = {
        "device": device_fields(facts.device, osquery_version, identifiers),
        "engine": {
            "name": facts.engine.name,
            "version": facts.engine.version,
            "reason": facts.engine.reason,
        },
        "gatheredAt": facts.started_at,
        "durationSeconds": facts.duration_seconds,
        "checks": checks,
        "network": _network(network) if identifiers else {"ipAddresses": [], "macAddresses": []},
        "truncated": {},
    }
    body["truncated"] = _fit(checks, max(0, max_bytes - _size(body) + _size(checks)))
    return body


def log_tail(path: Path | None, limit: int = MAX_LOG_BYTES) -> str:
    """Return the last `limit` bytes of the log (from a line's start), or why there is none."""
    if path is None:
        return "(this process writes no log file)"
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            data = handle.read(limit)
    except OSError as error:
        return f"(the log {path} cannot be read: {error.strerror or error})"
    if size > limit and b"\n" in data:
        data = data.split(b"\n", 1)[1]
    return data.decode("utf-8", "replace")


def debug_text(
    *,
    app_version: str,
    raw: Mapping[str, Any],
    policy_files: Sequence[str],
    problems: Sequence[str],
    log: str | None,
) -> str:
    """Return the `/debugger` text: versions, engine, policy files, log, device data."""
    device = raw["device"]
    engine = raw["engine"]
    lines = [
        f"Stethoscope Desktop version: {app_version} (the API and policies of Stethoscope"
        f" {raw['device']['stethoscopeVersion']})",
        f"Engine: {engine['name']} {engine['version']}".rstrip()
        + (f" ({engine['reason']})" if engine["reason"] else ""),
        f"Platform: {device['platform']} {device['osName'] or ''} {device['osVersion'] or ''}"
        f" (build {device['osBuild'] or '?'})",
        "Policy files, in layer order: " + (", ".join(policy_files) or "none"),
        "Problems in them: " + ("; ".join(problems) if problems else "none"),
        f"LOGS\n{SEPARATOR}",
        log if log is not None else "(the log is only for programs on this computer)",
        f"DEVICE DATA\n{SEPARATOR}",
        json.dumps(raw, indent=2, ensure_ascii=False),
    ]
    return "\n".join(lines) + "\n"
