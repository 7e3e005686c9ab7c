"""osquery's `processes` table on Linux: what /proc shows this user of every running process.

Each column is filled as osquery's Linux reader fills it:
- /proc/PID/stat: state, parent, pgroup, nice, threads, user_time and system_time (clock ticks
  turned into milliseconds), start_time (seconds since the epoch: /proc/stat's btime plus the
  start tick; -1 when btime is missing);
- /proc/PID/status: name, the real, effective and saved uid and gid, resident_size (VmRSS) and
  total_size (VmSize) in bytes. Kernel threads have no memory lines: those two are NULL;
- /proc/PID/cmdline with its NUL separators as spaces; the first line of /proc/PID/cgroup;
- the exe, cwd and root links: another user's processes hide them from an unprivileged reader,
  and osquery then gives '' (and on_disk -1), as here;
- /proc/PID/io, readable only for one's own processes: disk_bytes_read and disk_bytes_written
  (written less cancelled), NULL where it cannot be read;
- on_disk: 1 when the executable's path exists, 0 when not (a " (deleted)" suffix is dropped),
  -1 when the path is unknown. When a file named with the " (deleted)" suffix exists, osquery
  compares inodes, which `System` cannot read: -1 then.
- wired_size is 0: Linux has no such counter.

A `pid = N` constraint reads only those processes. At most MAX_PROCESSES are read; a machine with
more gets an error saying so rather than a partial list.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field

from stethoscope_desktop.tables._shared import PROCESSES_COLUMNS
from stethoscope_desktop.tables.base import Column, QueryContext, Row, TableError
from stethoscope_desktop.tables.linux._common import MachineTable, os_error_reason
from stethoscope_desktop.tables.system import System

MAX_PROCESSES = 32768
_SMALL = 64 * 1024
_CMDLINE_LIMIT = 256 * 1024
_DELETED = " (deleted)"


def _clock_ticks() -> int:
    if sys.platform == "win32":  # pragma: no cover - Linux's table; typed as Windows sees it too
        return 100
    try:
        ticks = os.sysconf("SC_CLK_TCK")
    except (AttributeError, OSError, ValueError):
        return 100
    return ticks if ticks > 0 else 100


CLOCK_TICKS = _clock_ticks()


def osquery_split(text: str, delimiter: str) -> list[str]:
    """Split as osquery's split(): drop empty pieces, trim each."""
    return [piece.strip() for piece in text.split(delimiter) if piece != ""]


def osquery_key_value(line: str) -> tuple[str, str] | None:
    """Split a `Key: value` line as osquery's split(line, ':', 1) does, or None."""
    pieces = [piece for piece in osquery_split(line, ":")]
    if len(pieces) < 2:
        return None
    return pieces[0], ":".join(pieces[1:])


def _int(text: str | None) -> int | None:
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        return None


@dataclass
class ProcStat:
    """What /proc/PID/stat and /proc/PID/status say of one process."""

    stat: list[str] = field(default_factory=list)
    status: dict[str, str] = field(default_factory=dict)
    uids: list[str] = field(default_factory=list)
    gids: list[str] = field(default_factory=list)
    resident_size: int | None = None
    total_size: int | None = None


def parse_stat(text: str) -> list[str] | None:
    """Return the fields of /proc/PID/stat after the command name, or None when malformed."""
    start = text.rfind(")")
    if start < 0 or len(text) <= start + 2:
        return None
    details = osquery_split(text[start + 2 :], " ")
    return details if len(details) > 19 else None


def _kilobytes(value: str) -> int | None:
    number = value[:-3] if value.endswith("kB") else value
    try:
        return int(number.strip()) * 1024
    except ValueError:
        return None


def parse_status(text: str, into: ProcStat) -> bool:
    """Fill `into` from /proc/PID/status; return False when a memory line does not parse."""
    for line in text.split("\n"):
        pair = osquery_key_value(line)
        if pair is None:
            continue
        key, value = pair
        if key == "Name":
            into.status["name"] = value
        elif key in ("VmRSS", "VmSize"):
            size = _kilobytes(value)
            if size is None:
                return False
            if key == "VmRSS":
                into.resident_size = size
            else:
                into.total_size = size
        elif key in ("Uid", "Gid"):
            ids = osquery_split(value, "\t")
            if len(ids) == 4:
                if key == "Uid":
                    into.uids = ids[:3]
                else:
                    into.gids = ids[:3]
    return True


def parse_cgroup(text: str) -> str:
    """Return the cgroup path of the first line of /proc/PID/cgroup ('' when there is none)."""
    first_line = text.split("\n", 1)[0]
    parts = first_line.split(":", 2)
    return parts[2] if len(parts) == 3 else ""


def boot_time(system: System) -> int:
    """Return the boot time in seconds since the epoch from /proc/stat's btime, 0 if unknown."""
    try:
        text = system.read_text("/proc/stat", limit=1024 * 1024)
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("btime "):
            value = _int(line[len("btime ") :].strip())
            return value if value is not None and value > 0 else 0
    return 0


class Processes(MachineTable):
    """Running processes as /proc shows them to this user (osquery's `processes`)."""

    name = "processes"
    columns = (
        *PROCESSES_COLUMNS,
        Column("cgroup_path", "text"),
    )
    platforms = ("linux",)

    def _read(self, path: str, limit: int = _SMALL) -> str | None:
        try:
            return self._system.read_text(path, limit=limit)
        except OSError:
            return None

    def _link(self, path: str) -> str:
        try:
            return self._system.read_link(path)
        except OSError:
            return ""

    def _pids(self, context: QueryContext) -> list[str]:
        wanted = context.equals("pid")
        if wanted:
            return sorted(
                pid for pid in wanted if pid.isdigit() and self._system.is_dir(f"/proc/{pid}")
            )
        try:
            entries = self._system.list_dir("/proc")
        except OSError as error:
            raise TableError(f"cannot list /proc: {os_error_reason(error)}") from error
        pids = [entry for entry in entries if entry.isdigit() and int(entry) > 0]
        if len(pids) > MAX_PROCESSES:
            raise TableError(
                f"/proc lists {len(pids)} processes, more than the {MAX_PROCESSES} this table "
                "reads; ask for some by pid (WHERE pid = ...)"
            )
        # osquery keeps pids in a set of strings: they come out in text order.
        return sorted(pid for pid in pids if self._system.is_dir(f"/proc/{pid}"))

    def _on_disk(self, path: str) -> tuple[int, str]:
        if not path:
            return -1, path
        if not path.endswith(_DELETED):
            return (1 if self._system.exists(path) else 0), path
        if not self._system.exists(path):
            return 0, path[: -len(_DELETED)]
        return -1, path

    def _row(self, pid: str, boot: int) -> Row | None:
        base = f"/proc/{pid}"
        proc = ProcStat()
        stat_text = self._read(f"{base}/stat")
        if stat_text is not None:
            stat = parse_stat(stat_text)
            if stat is None:
                return None
            proc.stat = stat
        status_text = self._read(f"{base}/status")
        if status_text is None or not parse_status(status_text, proc):
            return None
        stat = proc.stat
        ms_per_tick = 1000 // CLOCK_TICKS

        def stat_field(index: int) -> str | None:
            return stat[index] if len(stat) > index else None

        user_ticks = _int(stat_field(11)) or 0
        system_ticks = _int(stat_field(12)) or 0
        start_ticks = _int(stat_field(19))
        start_time = boot + start_ticks // CLOCK_TICKS if start_ticks is not None and boot else -1
        on_disk, path = self._on_disk(self._link(f"{base}/exe"))
        cmdline = self._read(f"{base}/cmdline", _CMDLINE_LIMIT) or ""
        uids = proc.uids or ["", "", ""]
        gids = proc.gids or ["", "", ""]
        row: Row = {
            "pid": int(pid),
            "name": proc.status.get("name", ""),
            "path": path,
            "cmdline": cmdline.replace("\0", " ").strip(),
            "state": stat_field(0) or "",
            "cwd": self._link(f"{base}/cwd"),
            "root": self._link(f"{base}/root"),
            "uid": _int(uids[0]),
            "gid": _int(gids[0]),
            "euid": _int(uids[1]),
            "egid": _int(gids[1]),
            "suid": _int(uids[2]),
            "sgid": _int(gids[2]),
            "on_disk": on_disk,
            "wired_size": 0,
            "resident_size": proc.resident_size,
            "total_size": proc.total_size,
            "user_time": user_ticks * ms_per_tick,
            "system_time": system_ticks * ms_per_tick,
            "disk_bytes_read": None,
            "disk_bytes_written": None,
            "start_time": start_time,
            "parent": _int(stat_field(1)),
            "pgroup": _int(stat_field(2)),
            "threads": _int(stat_field(17)),
            "nice": _int(stat_field(16)),
            "cgroup_path": parse_cgroup(self._read(f"{base}/cgroup") or ""),
        }
        io_text = self._read(f"{base}/io")
        if io_text is not None:
            io: dict[str, str] = {}
            for line in io_text.split("\n"):
                pair = osquery_key_value(line)
                if pair is not None:
                    io[pair[0]] = pair[1]
            row["disk_bytes_read"] = _int(io.get("read_bytes"))
            written = _int(io.get("write_bytes")) or 0
            cancelled = _int(io.get("cancelled_write_bytes")) or 0
            row["disk_bytes_written"] = written - cancelled
        return row

    def generate(self, context: QueryContext) -> Iterable[Row]:
        pids = self._pids(context)
        boot = boot_time(self._system)
        rows: list[Row] = []
        for pid in pids:
            row = self._row(pid, boot)
            if row is not None:
                rows.append(row)
        return rows
