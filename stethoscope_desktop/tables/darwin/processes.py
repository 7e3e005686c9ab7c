"""osquery's `processes` table on macOS, from what `ps` shows an unprivileged user.

osquery asks the kernel with proc_pidinfo/proc_pid_rusage/sysctl(KERN_PROCARGS2). Here two runs
of /bin/ps (through `System.run`, with a timeout) give the same facts for every process:
`ps -axww -o pid=,ppid=,pgid=,ruid=,uid=,svuid=,rgid=,gid=,svgid=,nice=,state=,rss=,vsz=,
utime=,stime=,lstart=,comm=` and `ps -axww -o pid=,args=`, each ending in the one column that may
hold spaces. They run under `env LC_ALL=C TZ=UTC0`, so lstart is a UTC date in English.

- parent, pgroup, nice; uid/euid/suid and gid/egid/sgid are the real, effective and saved ids.
- state: the kernel's process status as osquery maps it. macOS keeps every live process in
  SRUN, so osquery says R for them all, T for a stopped one and Z for a zombie; ps's first
  state letter gives exactly that (T and Z kept, every other letter is R).
- path: the executable's full path (ps's comm on macOS); name its last part (osquery also uses
  the path's basename, as proc_name stops at 16 bytes); a zombie, or a process whose path ps
  cannot see, shows "(name)": name from it, path ''. on_disk: 1 when the path exists, 0 when
  not, -1 when it is unknown.
- cmdline: the arguments joined by spaces, '' when ps cannot read them.
- resident_size in bytes (rss), user_time and system_time in milliseconds, start_time in
  seconds since the epoch. For another user's process the kernel tells an unprivileged reader
  no task information; ps then prints 0 for rss and vsz, and, as osquery does when
  proc_pid_rusage fails, wired_size, resident_size, total_size, user_time and system_time
  are -1.

NULL, because no unprivileged command prints them: cwd and root (osquery reads them only
for one's own processes), wired_size and total_size (the physical footprint) of readable
processes, disk_bytes_read/written, threads, upid/uppid, cpu_type/cpu_subtype and translated.
`ps` does not list kernel_task (pid 0), which osquery does. At most MAX_PROCESSES rows are read;
more is an error saying so, not a partial list.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Iterable

from stethoscope_desktop.tables._shared import (
    PROCESSES_COLUMNS,
    MachineTable,
    command_reason,
    run_quiet,
)
from stethoscope_desktop.tables.base import Column, QueryContext, Row, TableError, Value

PS = ["/usr/bin/env", "LC_ALL=C", "TZ=UTC0", "/bin/ps", "-axww", "-o"]
PS_FIELDS = [
    *PS,
    "pid=,ppid=,pgid=,ruid=,uid=,svuid=,rgid=,gid=,svgid=,nice=,state=,rss=,vsz=,utime=,stime=,"
    "lstart=,comm=",
]
PS_ARGS = [*PS, "pid=,args="]
TIMEOUT_S = 15.0
MAX_PROCESSES = 32768
_NUMBERS = 10  # pid … svgid and nice come first, as integers
_LSTART_WORDS = 5  # "Tue Dec  3 06:52:13 2024"


def cpu_milliseconds(text: str) -> int | None:
    """Return ps's utime/stime ("[hh:]mm:ss.cc", minutes may pass 59) in milliseconds."""
    parts = text.split(":")
    try:
        seconds = float(parts[-1])
        minutes = int(parts[-2]) if len(parts) >= 2 else 0
        hours = int(parts[-3]) if len(parts) >= 3 else 0
    except ValueError:
        return None
    return round(((hours * 60 + minutes) * 60 + seconds) * 1000)


def start_seconds(words: list[str]) -> int | None:
    """Return ps's lstart in the C locale and UTC ("Tue Dec  3 06:52:13 2024") as epoch seconds."""
    try:
        parsed = time.strptime(" ".join(words), "%a %b %d %H:%M:%S %Y")
    except ValueError:
        return None
    return calendar.timegm(parsed)


def osquery_state(ps_state: str) -> str:
    """Map ps's state letters to osquery's macOS state (the kernel's p_stat)."""
    first = ps_state[:1]
    return first if first in ("T", "Z") else "R"


def parse_ps_fields(text: str) -> dict[int, dict[str, Value]]:
    """Parse the first `ps` run into rows by pid (comm kept under "comm")."""
    parsed: dict[int, dict[str, Value]] = {}
    for line in text.splitlines():
        words = line.split()
        fixed = _NUMBERS + 5 + _LSTART_WORDS
        if len(words) < fixed + 1:
            continue
        try:
            numbers = [int(word) for word in words[:_NUMBERS]]
            rss, vsz = int(words[_NUMBERS + 1]), int(words[_NUMBERS + 2])
        except ValueError:
            continue
        pid, ppid, pgid, ruid, uid, svuid, rgid, gid, svgid, nice = numbers
        # The comm column is the rest of the line, spaces and all.
        comm = line.split(None, fixed)[fixed].strip()
        readable = rss != 0 or vsz != 0
        user_time = cpu_milliseconds(words[_NUMBERS + 3]) if readable else -1
        system_time = cpu_milliseconds(words[_NUMBERS + 4]) if readable else -1
        parsed[pid] = {
            "pid": pid,
            "parent": ppid,
            "pgroup": pgid,
            "uid": ruid,
            "euid": uid,
            "suid": svuid,
            "gid": rgid,
            "egid": gid,
            "sgid": svgid,
            "nice": nice,
            "state": osquery_state(words[_NUMBERS]),
            "resident_size": rss * 1024 if readable else -1,
            "wired_size": None if readable else -1,
            "total_size": None if readable else -1,
            "user_time": user_time,
            "system_time": system_time,
            "start_time": start_seconds(words[_NUMBERS + 5 : fixed]),
            "comm": comm,
        }
    return parsed


def parse_ps_args(text: str) -> dict[int, str]:
    """Parse the second `ps` run: each pid's command line."""
    found: dict[int, str] = {}
    for line in text.splitlines():
        pid_text, _, args = line.strip().partition(" ")
        try:
            found[int(pid_text)] = args.strip()
        except ValueError:
            continue
    return found


def _hidden(text: str) -> bool:
    return text.startswith("(") and text.endswith(")")


class Processes(MachineTable):
    """Running processes as ps shows them to this user (osquery's `processes` on macOS)."""

    name = "processes"
    columns = (
        *PROCESSES_COLUMNS,
        Column("upid", "bigint"),
        Column("uppid", "bigint"),
        Column("cpu_type", "integer"),
        Column("cpu_subtype", "integer"),
        Column("translated", "integer"),
    )
    platforms = ("darwin",)

    def _ps(self, argv: list[str]) -> str:
        result = run_quiet(self._system, argv, timeout=TIMEOUT_S)
        if isinstance(result, str):
            raise TableError(f"cannot list the running processes: {result}")
        if not result.ok:
            raise TableError(f"cannot list the running processes: ps: {command_reason(result)}")
        return result.stdout

    def _name_path(self, comm: str) -> tuple[str, str, int]:
        if _hidden(comm) or not comm.startswith("/"):
            return comm.strip("()"), "", -1
        on_disk = 1 if self._system.exists(comm) else 0
        return comm.rsplit("/", 1)[-1], comm, on_disk

    def generate(self, context: QueryContext) -> Iterable[Row]:
        fields = parse_ps_fields(self._ps(PS_FIELDS))
        if len(fields) > MAX_PROCESSES:
            raise TableError(
                f"more than {MAX_PROCESSES} processes are running; ask for some by pid "
                "(WHERE pid = ...)"
            )
        args = parse_ps_args(self._ps(PS_ARGS))
        wanted: set[int] = set()
        for text in context.equals("pid"):
            try:
                wanted.add(int(text.strip()))
            except ValueError:
                continue
        rows: list[Row] = []
        for pid, facts in sorted(fields.items()):
            if context.equals("pid") and pid not in wanted:
                continue
            name, path, on_disk = self._name_path(str(facts.pop("comm")))
            cmdline = args.get(pid, "")
            rows.append(
                {
                    **facts,
                    "name": name,
                    "path": path,
                    "on_disk": on_disk,
                    "cmdline": "" if _hidden(cmdline) else cmdline,
                    "cwd": None,
                    "root": None,
                    "disk_bytes_read": None,
                    "disk_bytes_written": None,
                    "threads": None,
                    "upid": None,
                    "uppid": None,
                    "cpu_type": None,
                    "cpu_subtype": None,
                    "translated": None,
                }
            )
        return rows
