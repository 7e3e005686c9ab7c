"""osquery's `processes` table on Windows, from WMI's Win32_Process as an unprivileged user sees it.

osquery walks a Toolhelp snapshot and opens each process. Here one PowerShell run (JSON, with
a timeout) reads Win32_Process, whose counters come from the kernel's process list and so are
there for every process; each column is filled as osquery fills it:
- pid, parent, name (the image file name), threads, handle_count;
- path: the executable's full path, cmdline: the command line. WMI gives both only for the
  processes this user may read (its own): NULL path (on_disk -1) and '' cmdline for the others,
  as osquery gives '' for a command line it cannot read;
- user_time and system_time in milliseconds, percent_processor_time their sum in 100 ns ticks,
  start_time in seconds since the epoch and elapsed_time since then (the script's clock);
- resident_size (working set), total_size (private bytes), disk_bytes_read/written (I/O
  transfer counts), all in bytes; nice is the priority class osquery's GetPriorityClass gives
  (32 normal, 64 idle, 128 high, 256 realtime, 16384 below normal, 32768 above normal), read
  from WMI's base priority;
- state STILL_ACTIVE (the process was running when listed); pgroup and the effective and saved
  ids are -1, as osquery always gives them on Windows. pid 0 is "[System Process]" with every
  counter -1 and state NULL, as osquery's row for it.

NULL, because WMI does not tell them without opening each process's token or memory: uid, gid
and elevated_token (the owner's SID needs a WMI call per process), cwd and root (osquery reads
the process's memory), wired_size, secure_process, protection_type and virtual_process.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stethoscope_desktop.tables._shared import PROCESSES_COLUMNS
from stethoscope_desktop.tables.base import Column, QueryContext, Row, TableError, Value
from stethoscope_desktop.tables.windows._common import WindowsTable, powershell_json

PROCESSES_SCRIPT = (
    "$list = @(Get-CimInstance -ClassName Win32_Process | ForEach-Object { [ordered]@{ "
    "ProcessId = $_.ProcessId; ParentProcessId = $_.ParentProcessId; Name = $_.Name; "
    "ExecutablePath = $_.ExecutablePath; CommandLine = $_.CommandLine; "
    "ThreadCount = $_.ThreadCount; HandleCount = $_.HandleCount; Priority = $_.Priority; "
    "WorkingSetSize = $_.WorkingSetSize; PrivatePageCount = $_.PrivatePageCount; "
    "UserModeTime = $_.UserModeTime; KernelModeTime = $_.KernelModeTime; "
    "ReadTransferCount = $_.ReadTransferCount; WriteTransferCount = $_.WriteTransferCount; "
    "StartTime = $(if ($_.CreationDate) "
    "{ ([DateTimeOffset]$_.CreationDate).ToUnixTimeSeconds() } else { $null }) } }); "
    "ConvertTo-Json -Compress -Depth 3 -InputObject ([ordered]@{ "
    "Now = [DateTimeOffset]::UtcNow.ToUnixTimeSeconds(); Processes = $list })"
)
# WMI's base priority -> the priority class GetPriorityClass returns.
PRIORITY_CLASSES = {4: 64, 6: 16384, 8: 32, 10: 32768, 13: 128, 24: 256}
MAX_PROCESSES = 65536


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class Processes(WindowsTable):
    """Running processes as WMI shows them to this user (osquery's `processes` on Windows)."""

    name = "processes"
    columns = (
        *PROCESSES_COLUMNS,
        Column("elevated_token", "integer"),
        Column("secure_process", "integer"),
        Column("protection_type", "text"),
        Column("virtual_process", "integer"),
        Column("elapsed_time", "bigint"),
        Column("handle_count", "bigint"),
        Column("percent_processor_time", "bigint"),
    )
    platforms = ("windows",)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        found = powershell_json(self._system, PROCESSES_SCRIPT, what="the running processes")
        listed = found.get("Processes") if isinstance(found, dict) else None
        if not isinstance(listed, list):
            raise TableError("cannot read the running processes: PowerShell printed no list")
        if len(listed) > MAX_PROCESSES:
            raise TableError(f"more than {MAX_PROCESSES} processes are running")
        now = _int(found.get("Now"))
        rows = [self._row(entry, now) for entry in listed if isinstance(entry, dict)]
        return [row for row in rows if row["pid"] is not None]

    def _row(self, entry: dict[str, Any], now: int | None) -> Row:
        pid = _int(entry.get("ProcessId"))
        row: dict[str, Value] = {column.name: None for column in self.columns}
        row.update(
            {
                "pid": pid,
                "parent": _int(entry.get("ParentProcessId")),
                "name": _text(entry.get("Name")),
                "threads": _int(entry.get("ThreadCount")),
                "pgroup": -1,
                "euid": -1,
                "suid": -1,
                "egid": -1,
                "sgid": -1,
            }
        )
        if pid == 0:
            counters = ("user_time", "system_time", "start_time", "elapsed_time", "nice")
            sizes = ("resident_size", "total_size", "disk_bytes_read", "disk_bytes_written")
            row.update({column: -1 for column in (*counters, *sizes)})
            row.update({"name": "[System Process]", "handle_count": -1, "on_disk": -1})
            row.update({"uid": -1, "gid": -1, "percent_processor_time": -1})
            return row
        path = _text(entry.get("ExecutablePath")) or None
        user_ticks, kernel_ticks = (
            _int(entry.get("UserModeTime")),
            _int(entry.get("KernelModeTime")),
        )
        start = _int(entry.get("StartTime"))
        priority = _int(entry.get("Priority"))
        row.update(
            {
                "path": path,
                "on_disk": -1 if path is None else int(self._system.exists(path)),
                "cmdline": _text(entry.get("CommandLine")) or "",
                "state": "STILL_ACTIVE",
                "handle_count": _int(entry.get("HandleCount")),
                "nice": PRIORITY_CLASSES.get(priority) if priority is not None else None,
                "resident_size": _int(entry.get("WorkingSetSize")),
                "total_size": _int(entry.get("PrivatePageCount")),
                "disk_bytes_read": _int(entry.get("ReadTransferCount")),
                "disk_bytes_written": _int(entry.get("WriteTransferCount")),
                "user_time": user_ticks // 10000 if user_ticks is not None else None,
                "system_time": kernel_ticks // 10000 if kernel_ticks is not None else None,
                "percent_processor_time": (
                    user_ticks + kernel_ticks
                    if user_ticks is not None and kernel_ticks is not None
                    else None
                ),
                "start_time": start,
                "elapsed_time": now - start if now is not None and start is not None else None,
            }
        )
        return row
