"""The thin adapter through which tables touch the machine: files, commands, environment.

Tables receive a `System` in their constructor and never call `open`, `subprocess` or `os.environ`
themselves, so tests hand them a fake root folder and recorded command outputs. Commands run as
argv lists (never through a shell), with a timeout, a bounded output size and `LC_ALL=C`.

Windows ignores LC_ALL: its console programs (netsh, sc) print in the display language and in the
console's OEM code page, so output that is not UTF-8 is decoded with that code page there, and
tables parse such output without relying on translated words. On Windows, commands start without
a console window.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import stat as stat_module
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Protocol

DEFAULT_TIMEOUT_S = 5.0
DEFAULT_OUTPUT_LIMIT = 4 * 1024 * 1024
DEFAULT_FILE_LIMIT = 4 * 1024 * 1024
READ_PIECE = 256 * 1024
# Symbolic links followed while resolving one path inside a fake root (as Linux allows).
MAX_SYMLINK_HOPS = 40
NETLINK_TIMEOUT_S = 2.0
NETLINK_MAX_MESSAGES = 200_000  # a dump longer than this is refused, not collected
_NLMSG_HEADER = struct.Struct("=IHHII")  # length, type, flags, sequence, port id
_NLMSG_ERROR = 2
_NLMSG_DONE = 3
_NLM_F_REQUEST_DUMP = 0x1 | 0x300  # NLM_F_REQUEST | NLM_F_ROOT | NLM_F_MATCH
STATFS_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class CommandResult:
    """What a finished command printed and how it exited."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        """Return True when the command exited with status 0."""
        return self.returncode == 0


@dataclass(frozen=True)
class FilesystemStats:
    """What statfs(2) says of a mounted filesystem: sizes in blocks of `block_size` bytes."""

    block_size: int
    blocks: int
    blocks_free: int
    blocks_available: int  # free to an unprivileged user
    inodes: int
    inodes_free: int


@dataclass(frozen=True)
class FileStat:
    """What stat(2) says of a file: the fields osquery's `file` table reports.

    `birth_time` is None where the platform keeps no creation time (Linux through os.stat);
    `flags` (BSD chflags) is None where the platform has none. `mtime_ns` and `ctime_ns` are the
    same times in nanoseconds (None where a System gives whole seconds only).
    """

    mode: int
    inode: int
    device: int
    rdev: int
    uid: int
    gid: int
    size: int
    block_size: int
    hard_links: int
    atime: int
    mtime: int
    ctime: int
    birth_time: int | None = None
    flags: int | None = None
    mtime_ns: int | None = None
    ctime_ns: int | None = None

    @property
    def is_dir(self) -> bool:
        """Return True for a directory."""
        return stat_module.S_ISDIR(self.mode)

    @property
    def is_symlink(self) -> bool:
        """Return True for a symbolic link (only an lstat can say so)."""
        return stat_module.S_ISLNK(self.mode)

    @property
    def is_regular(self) -> bool:
        """Return True for a regular file."""
        return stat_module.S_ISREG(self.mode)

    @classmethod
    def from_os(cls, result: os.stat_result) -> FileStat:
        """Convert Python's stat result."""
        birth = getattr(result, "st_birthtime", None)
        flags = getattr(result, "st_flags", None)
        return cls(
            mode=result.st_mode,
            inode=result.st_ino,
            device=result.st_dev,
            rdev=getattr(result, "st_rdev", 0),
            uid=result.st_uid,
            gid=result.st_gid,
            size=result.st_size,
            block_size=getattr(result, "st_blksize", 0),
            hard_links=result.st_nlink,
            atime=int(result.st_atime),
            mtime=int(result.st_mtime),
            ctime=int(result.st_ctime),
            birth_time=int(birth) if birth is not None else None,
            flags=int(flags) if flags is not None else None,
            mtime_ns=result.st_mtime_ns,
            ctime_ns=result.st_ctime_ns,
        )


class CommandError(Exception):
    """A command could not be run to completion: not installed, timed out, or printed too much."""


class System(Protocol):
    """What a table may ask of the machine."""

    @property
    def home(self) -> str:
        """The current user's home directory."""
        ...

    @property
    def env(self) -> Mapping[str, str]:
        """The process environment."""
        ...

    def run(self, argv: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT_S) -> CommandResult:
        """Run a command (argv list, no shell) and return its output; raise CommandError."""
        ...

    def which(self, program: str) -> str | None:
        """Return the full path of `program` on PATH, or None."""
        ...

    def read_text(self, path: str, *, limit: int = DEFAULT_FILE_LIMIT) -> str:
        """Return a text file's contents (at most `limit` bytes); raise OSError."""
        ...

    def read_bytes(self, path: str, *, limit: int = DEFAULT_FILE_LIMIT) -> bytes:
        """Return a file's bytes (at most `limit`); raise OSError."""
        ...

    def exists(self, path: str) -> bool:
        """Return True if `path` exists."""
        ...

    def list_dir(self, path: str) -> list[str]:
        """Return the sorted entry names of a directory; raise OSError."""
        ...

    def is_dir(self, path: str) -> bool:
        """Return True if `path` is a directory."""
        ...

    def filesystem_stats(self, path: str) -> FilesystemStats:
        """Return statfs(2) of the filesystem mounted at `path`; raise OSError."""
        ...

    def stat(self, path: str, *, follow_symlinks: bool = True) -> FileStat:
        """Return stat(2) (or lstat(2) without following) of `path`; raise OSError."""
        ...

    def read_link(self, path: str) -> str:
        """Return the target a symbolic link names; raise OSError."""
        ...

    def netlink_dump(self, protocol: int, message_type: int, request: bytes) -> list[bytes]:
        """Send one netlink dump request; return its answer's message payloads; raise OSError.

        OSError also where this system cannot ask the kernel (not Linux, a fake root).
        """
        ...


def decode_output(data: bytes) -> str:
    """Decode a command's output: UTF-8, else (on Windows) the console's OEM code page."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        if sys.platform == "win32":
            return data.decode("oem", "replace")
        return data.decode("utf-8", "replace")


def _read_bounded(
    stream: IO[bytes], limit: int, sink: list[bytes], overflow: threading.Event
) -> None:
    total = 0
    while chunk := stream.read(65536):
        total += len(chunk)
        if total > limit:
            overflow.set()
            break
        sink.append(chunk)
    stream.close()


_waits = threading.local()


def waits_in_this_thread() -> int:
    """Return how often this thread has waited on the machine: commands run, statfs asked.

    The embedded engine generates in a thread of their own only the tables that waited like
    this last time; the others cost less inline than a thread's start and its GIL hand-offs.
    """
    count: int = getattr(_waits, "count", 0)
    return count


def note_wait() -> None:
    """Count one wait on the machine in this thread (see `waits_in_this_thread`)."""
    _waits.count = waits_in_this_thread() + 1


class LocalSystem:
    """The real machine, optionally seen through a different root folder (for tests)."""

    def __init__(
        self,
        root: str | Path = "/",
        *,
        env: Mapping[str, str] | None = None,
        home: str | None = None,
        output_limit: int = DEFAULT_OUTPUT_LIMIT,
    ) -> None:
        self._root = Path(root)
        self._env = dict(os.environ if env is None else env)
        self._home = home if home is not None else self._env.get("HOME", os.path.expanduser("~"))
        self._output_limit = output_limit

    @property
    def home(self) -> str:
        """The current user's home directory."""
        return self._home

    @property
    def env(self) -> Mapping[str, str]:
        """The process environment."""
        return self._env

    def _path(self, path: str, *, follow_last: bool = True) -> Path:
        """Return where `path` is: as it is on the real root, else inside the fake root.

        Inside a fake root the path is resolved as in a chroot: every symbolic link on the way
        (and the last one, unless `follow_last` is False) is followed by hand, an absolute target
        from the fake root and `..` never above it, so a link the root holds (as `systemctl
        enable` makes: /etc/…/x.timer -> /usr/lib/systemd/system/x.timer) names the root's own
        file and never one of this machine. Raise OSError(ELOOP) after MAX_SYMLINK_HOPS links.
        """
        if self._root == Path("/"):
            return Path(path)
        # A rooted path may use either separator; a Windows drive path ("C:\\x") stays one name.
        rooted = path.replace("\\", "/") if path.startswith(("/", "\\")) else path
        pending = list(PurePosixPath(rooted).parts)
        resolved: list[str] = []
        hops = 0
        while pending:
            name = pending.pop(0)
            if name in ("/", "", "."):
                continue
            if name == "..":
                if resolved:
                    resolved.pop()
                continue
            candidate = self._root.joinpath(*resolved, name)
            if (pending or follow_last) and candidate.is_symlink():
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    raise OSError(errno.ELOOP, "too many levels of symbolic links", path)
                target = PurePosixPath(os.readlink(candidate))
                if target.is_absolute():
                    resolved = []
                pending = list(target.parts) + pending
                continue
            resolved.append(name)
        return self._root.joinpath(*resolved)

    def run(self, argv: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT_S) -> CommandResult:
        """Run a command (argv list, no shell) with LC_ALL=C, a timeout and bounded output."""
        if not argv:
            raise CommandError("empty command")
        program = self.which(argv[0]) if not os.path.isabs(argv[0]) else argv[0]
        if program is None:
            raise CommandError(f"{argv[0]}: not installed (not found on PATH)")
        note_wait()
        env = dict(self._env)
        env["LC_ALL"] = "C"
        env["LANG"] = "C"
        try:
            process = subprocess.Popen(
                [program, *argv[1:]],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
            )
        except OSError as error:
            raise CommandError(f"{argv[0]}: cannot run: {error.strerror or error}") from error
        out: list[bytes] = []
        err: list[bytes] = []
        overflow = threading.Event()
        readers = [
            threading.Thread(
                target=_read_bounded, args=(process.stdout, self._output_limit, out, overflow)
            ),
            threading.Thread(
                target=_read_bounded, args=(process.stderr, self._output_limit, err, overflow)
            ),
        ]
        for reader in readers:
            reader.start()
        try:
            returncode = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            for reader in readers:
                reader.join()
            raise CommandError(f"{argv[0]}: timed out after {timeout:g} s") from None
        for reader in readers:
            reader.join()
        if overflow.is_set():
            raise CommandError(f"{argv[0]}: printed more than {self._output_limit} bytes")
        return CommandResult(
            tuple(argv), returncode, decode_output(b"".join(out)), decode_output(b"".join(err))
        )

    def which(self, program: str) -> str | None:
        """Return the full path of `program` on PATH, or None."""
        return shutil.which(program, path=self._env.get("PATH", os.defpath))

    def read_bytes(self, path: str, *, limit: int = DEFAULT_FILE_LIMIT) -> bytes:
        """Return a file's bytes, at most `limit`; raise OSError.

        Read as the file's size says (one byte more, to see that it ended), else in pieces of
        READ_PIECE: asking for `limit` bytes at once makes Python allocate all of them first
        (16 MiB for /proc/net/tcp, 32 MiB for dpkg's status), which costs more than the read.
        """
        with self._path(path).open("rb", buffering=0) as handle:
            size = os.fstat(handle.fileno()).st_size
            want = size + 1 if size else READ_PIECE
            pieces: list[bytes] = []
            remaining = limit
            while remaining > 0:
                piece = handle.read(min(remaining, want))
                if not piece:
                    break
                pieces.append(piece)
                remaining -= len(piece)
                want = READ_PIECE
            return b"".join(pieces)

    def read_text(self, path: str, *, limit: int = DEFAULT_FILE_LIMIT) -> str:
        """Return a text file's contents, at most `limit` bytes, undecodable bytes replaced."""
        return self.read_bytes(path, limit=limit).decode("utf-8", "replace")

    def exists(self, path: str) -> bool:
        """Return True if `path` exists."""
        try:
            return self._path(path).exists()
        except OSError:
            return False

    def is_dir(self, path: str) -> bool:
        """Return True if `path` is a directory."""
        try:
            return self._path(path).is_dir()
        except OSError:
            return False

    def list_dir(self, path: str) -> list[str]:
        """Return the sorted entry names of a directory; raise OSError."""
        return sorted(entry.name for entry in self._path(path).iterdir())

    def filesystem_stats(self, path: str) -> FilesystemStats:
        """Return statfs(2) of the filesystem at `path`, waiting at most STATFS_TIMEOUT_S.

        A dead network mount can block statfs for minutes; the call then runs on in a daemon
        thread and this raises TimeoutError.
        """
        target = self._path(path)
        if sys.platform == "win32" or not hasattr(os, "statvfs"):  # pragma: no cover - Windows
            raise OSError(errno.ENOSYS, "statfs is not available here", path)
        note_wait()
        answer: list[os.statvfs_result | OSError] = []

        def ask() -> None:
            try:
                answer.append(os.statvfs(target))
            except OSError as error:
                answer.append(error)

        worker = threading.Thread(target=ask, name="statfs", daemon=True)
        worker.start()
        worker.join(STATFS_TIMEOUT_S)
        if not answer:
            raise TimeoutError(errno.ETIMEDOUT, f"statfs took over {STATFS_TIMEOUT_S:g} s", path)
        result = answer[0]
        if isinstance(result, OSError):
            raise result
        return FilesystemStats(
            block_size=result.f_bsize,
            blocks=result.f_blocks,
            blocks_free=result.f_bfree,
            blocks_available=result.f_bavail,
            inodes=result.f_files,
            inodes_free=result.f_ffree,
        )

    def _os_path(self, path: str, *, follow_last: bool = True) -> str:
        # pathlib drops a trailing separator, which changes what (l)stat means for a link to a
        # folder ("link/" is the folder), so it is put back.
        trailing = path.endswith(("/", "\\"))
        mapped = os.fspath(self._path(path, follow_last=follow_last or trailing))
        if trailing and not mapped.endswith(os.sep):
            mapped += os.sep
        return mapped

    def stat(self, path: str, *, follow_symlinks: bool = True) -> FileStat:
        """Return stat(2) (or lstat(2) without following) of `path`; raise OSError."""
        mapped = self._os_path(path, follow_last=follow_symlinks)
        return FileStat.from_os(os.stat(mapped, follow_symlinks=follow_symlinks))

    def read_link(self, path: str) -> str:
        """Return the target a symbolic link names; raise OSError."""
        return os.readlink(self._os_path(path, follow_last=False))

    def netlink_dump(self, protocol: int, message_type: int, request: bytes) -> list[bytes]:
        """Send one netlink dump request and return its answer's message payloads, in order.

        Only the real root can ask the kernel (a fake root raises ENOTSUP, so tables read its
        files instead). The answer is bounded: NETLINK_TIMEOUT_S for the whole dump and
        NETLINK_MAX_MESSAGES messages; an NLMSG_ERROR answer is an OSError with its errno.
        """
        if self._root != Path("/") or not hasattr(socket, "AF_NETLINK"):
            raise OSError(errno.ENOTSUP, "netlink is only asked of the real machine")
        header = _NLMSG_HEADER.pack(
            _NLMSG_HEADER.size + len(request), message_type, _NLM_F_REQUEST_DUMP, 1, 0
        )
        payloads: list[bytes] = []
        with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, protocol) as channel:
            channel.settimeout(NETLINK_TIMEOUT_S)
            deadline = time.monotonic() + NETLINK_TIMEOUT_S
            channel.sendto(header + request, (0, 0))
            while True:
                channel.settimeout(max(0.001, deadline - time.monotonic()))
                data = channel.recv(256 * 1024)
                if not data:
                    raise OSError(errno.EPROTO, "the netlink dump ended without its last message")
                offset = 0
                while offset + _NLMSG_HEADER.size <= len(data):
                    length, kind, _flags, _sequence, _port = _NLMSG_HEADER.unpack_from(data, offset)
                    if length < _NLMSG_HEADER.size or offset + length > len(data):
                        raise OSError(errno.EPROTO, "a netlink message's length is wrong")
                    body = data[offset + _NLMSG_HEADER.size : offset + length]
                    if kind == _NLMSG_DONE:
                        return payloads
                    if kind == _NLMSG_ERROR:
                        code = -struct.unpack_from("=i", body)[0] if len(body) >= 4 else errno.EIO
                        raise OSError(code, os.strerror(code) if code else "netlink error")
                    payloads.append(body)
                    if len(payloads) > NETLINK_MAX_MESSAGES:
                        raise OSError(
                            errno.E2BIG, f"over {NETLINK_MAX_MESSAGES:,} netlink messages"
                        )
                    offset += (length + 3) & ~3
