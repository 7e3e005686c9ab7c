"""Hand-written fakes for table tests: a folder standing in for / and recorded command outputs.

`FakeSystem` is a `LocalSystem` whose root is a temporary folder, whose environment and home are
given, and whose commands (and statfs answers) come from dictionaries of recorded results instead
of the machine. Nothing is patched: tables receive the fake exactly as they would receive the real system.
"""

from __future__ import annotations

import errno
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from stethoscope_desktop.tables.system import (
    DEFAULT_TIMEOUT_S,
    CommandError,
    CommandResult,
    FilesystemStats,
    LocalSystem,
    note_wait,
)

Recorded = CommandResult | CommandError


class FakeSystem(LocalSystem):
    """A machine made of a fake root folder and recorded command results."""

    def __init__(
        self,
        root: str | Path,
        *,
        env: Mapping[str, str] | None = None,
        home: str = "/home/tester",
        commands: Mapping[tuple[str, ...], Recorded] | None = None,
        denied: Iterable[str] = (),
        filesystems: Mapping[str, FilesystemStats] | None = None,
    ) -> None:
        super().__init__(root, env=dict(env or {}), home=home)
        self.root = Path(root)
        self.commands: dict[tuple[str, ...], Recorded] = dict(commands or {})
        self.calls: list[tuple[str, ...]] = []
        # Paths (as tables see them) that exist but that this user may not read; the tests run
        # as root, so file modes cannot stand in for this.
        self.denied: set[str] = set(denied)
        # statfs(2) answers by mount path; a path not given fails as statfs would (ENOENT).
        self.filesystems: dict[str, FilesystemStats] = dict(filesystems or {})

    def run(self, argv: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT_S) -> CommandResult:
        """Return (or raise) the recorded result of `argv`; unrecorded programs are missing."""
        key = tuple(argv)
        self.calls.append(key)
        note_wait()  # a recorded command stands for a real one: its table waited on the machine
        if not key:
            raise CommandError("empty command")
        recorded = self.commands.get(key)
        if recorded is None:
            raise CommandError(f"{key[0]}: not installed (not found on PATH)")
        if isinstance(recorded, CommandError):
            raise recorded
        return recorded

    def _check_access(self, path: str) -> None:
        if path in self.denied:
            raise PermissionError(errno.EACCES, "Permission denied", path)

    def read_bytes(self, path: str, *, limit: int = 4 * 1024 * 1024) -> bytes:
        """Read a file of the fake root, unless it is one of the denied paths."""
        self._check_access(path)
        return super().read_bytes(path, limit=limit)

    def list_dir(self, path: str) -> list[str]:
        """List a folder of the fake root, unless it is one of the denied paths."""
        self._check_access(path)
        return super().list_dir(path)

    def filesystem_stats(self, path: str) -> FilesystemStats:
        """Return the statfs answer given for `path`, else fail as for a missing mount."""
        self._check_access(path)
        stats = self.filesystems.get(path)
        if stats is None:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        return stats

    def read_link(self, path: str) -> str:
        """Read a symbolic link of the fake root, unless it is one of the denied paths."""
        self._check_access(path)
        return super().read_link(path)

    def which(self, program: str) -> str | None:
        """Return /usr/bin/<program> when some recorded command runs it, else None."""
        if any(argv and argv[0] == program for argv in self.commands):
            return f"/usr/bin/{program}"
        return None

    def write(self, path: str, content: str | bytes = "") -> Path:
        """Write a file at `path` (absolute, as seen by tables) inside the fake root."""
        return write_file(self.root, path, content)


def write_file(root: str | Path, path: str, content: str | bytes = "") -> Path:
    """Create `path` (absolute, as seen by tables) under `root` with `content`, making folders."""
    target = Path(root) / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content, encoding="utf-8")
    return target


def result(
    argv: Sequence[str], stdout: str = "", *, stderr: str = "", returncode: int = 0
) -> tuple[tuple[str, ...], CommandResult]:
    """Return a `commands` entry: argv -> a finished command's recorded output."""
    key = tuple(argv)
    return key, CommandResult(key, returncode, stdout, stderr)
