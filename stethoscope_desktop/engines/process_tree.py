"""The processes descended from one process, so that an engine can end all of osqueryd's.

osqueryd runs in a process group of its own, and stopping it signals that group. A descendant
that called `setsid` (or `setpgid`) has left the group and would outlive the engine. Where the
platform lists every process's parent (Linux's `/proc`), `descendants` walks osqueryd's tree
whatever the group or session, so the engine can kill what is left of it. Each process is known
by its pid *and* its start time, so a pid reused by an unrelated process is never signalled.

A process whose parent chain to osqueryd was already broken (a daemon that double-forked, whose
middle process exited) belongs to init and can't be told apart from any other process; on macOS
and Windows only the process group (macOS) or osqueryd itself (Windows) is signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessIdentity:
    """A process: its pid and its start time (clock ticks after boot), which a reused pid lacks."""

    pid: int
    started: int


def _stat_fields(pid: int, proc: Path) -> list[str] | None:
    """Return the fields of `/proc/<pid>/stat` after the command name, or None if it's gone."""
    try:
        text = (proc / str(pid) / "stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    # The command name is in parentheses and may itself hold spaces and parentheses.
    _, separator, rest = text.rpartition(")")
    fields = rest.split()
    return fields if separator and len(fields) > 19 else None


def identity(pid: int, proc: Path = PROC) -> ProcessIdentity | None:
    """Return `pid`'s identity, or None if no such process runs (or it can't be read)."""
    fields = _stat_fields(pid, proc)
    if fields is None:
        return None
    try:
        return ProcessIdentity(pid, int(fields[19]))
    except ValueError:
        return None


def descendants(root: int, proc: Path = PROC) -> list[ProcessIdentity]:
    """Return every living process descended from `root` (not `root` itself), on Linux.

    Other systems give an empty list: they have no `/proc` to read the tree from.
    """
    if not sys.platform.startswith("linux"):
        return []
    children: dict[int, list[ProcessIdentity]] = {}
    try:
        entries = list(proc.iterdir())
    except OSError:
        return []
    for entry in entries:
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name), proc)
        if fields is None:
            continue
        try:
            parent, started = int(fields[1]), int(fields[19])
        except ValueError:
            continue
        children.setdefault(parent, []).append(ProcessIdentity(int(entry.name), started))
    found: list[ProcessIdentity] = []
    waiting = [root]
    seen = {root}
    while waiting:
        for child in children.get(waiting.pop(), []):
            if child.pid not in seen:
                seen.add(child.pid)
                found.append(child)
                waiting.append(child.pid)
    return found


def kill_if_unchanged(process: ProcessIdentity, proc: Path = PROC) -> bool:
    """SIGKILL `process` if that pid is still the same process; return True if it was signalled."""
    if sys.platform == "win32" or identity(process.pid, proc) != process:
        return False
    with contextlib.suppress(OSError):
        os.kill(process.pid, signal.SIGKILL)
        return True
    return False
