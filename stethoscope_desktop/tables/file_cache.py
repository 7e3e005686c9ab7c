"""Parsed files kept between scans, re-read only when the file changed.

A table that parses the same files on every scan (dpkg's status database, apt's configuration,
os-release) keeps one `FileCache` per kind of file: the parsed value of each path, stored with the
file's stat key (device, inode, mtime and ctime in nanoseconds, size). The next read stats the
file through the table's `System` (so fake roots work) and parses it again only when the key
changed: an edit changes mtime and size, a same-sized replacement with mtime put back still
changes ctime (nothing unprivileged can set ctime), a rename over it changes the inode.

The racy case is handled as git handles its index: a file changed within the same timestamp tick
as the moment it was read can change again without its stat key changing (coarse filesystems
keep seconds, or even two seconds on FAT). An entry whose mtime or ctime is within
`RACY_WINDOW_NS` of the time it was read is therefore not trusted on its stat key alone: it keeps
a digest of the bytes, and the next read compares the digest of the file's bytes (reading and
hashing cost a fraction of parsing) until the entry is old enough to be trusted. The digest is
BLAKE2b from the `_blake2` module, which is CPython's own code, always built, and loads no OpenSSL
(`hashlib` would load libcrypto, megabytes a process need not carry); a 32-byte digest, because a
checksum such as CRC-32 can be matched on purpose by a same-sized replacement.

`FolderCache` does the same for a folder's listing (and what a table derives from it), keyed by
the folder's own stat: adding, removing or renaming an entry changes the folder's mtime.

Errors are never kept: a missing, unreadable or non-regular file is read as the table read it
before (same OSError, so the same message), and the entry is dropped, so the file is read again
once it is back. Files of /proc and /sys are never cached: their stat says nothing of their
content. Memory is bounded: one entry per path (the latest), at most `max_entries` paths (the
least recently used go first), and a path that has gone is dropped. The cache is thread-safe;
parsing happens outside its lock, so two threads may parse the same new file at once (the
latter's entry wins, both are right).

The parsed values are shared between scans: a table must treat them as read-only and hand the
engine rows it never changes afterwards (the engine copies rows before it types them).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from stethoscope_desktop.tables.system import DEFAULT_FILE_LIMIT, FileStat, System

try:
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - CPython always builds _blake2; other Pythons have hashlib
    from hashlib import blake2b

T = TypeVar("T")

# Two seconds covers FAT's two-second mtime and one-second filesystems (ext3, HFS+, some network
# filesystems); a file whose times are this close to the moment it was read is "racy".
RACY_WINDOW_NS = 2_000_000_000
DEFAULT_MAX_ENTRIES = 1024
DIGEST_SIZE = 32
# Pseudo filesystems whose files' stat (size 0 or 4096, a fixed mtime) says nothing of their
# content; paths as tables see them.
UNCACHED_PREFIXES = ("/proc/", "/sys/")

Clock = Callable[[], int]


@dataclass(frozen=True)
class StatKey:
    """What identifies a version of a file without reading it."""

    device: int
    inode: int
    mtime_ns: int
    ctime_ns: int
    size: int

    @classmethod
    def of(cls, stat: FileStat) -> StatKey:
        """Return the key of a stat result (whole seconds where it has no nanoseconds)."""
        mtime_ns = stat.mtime_ns if stat.mtime_ns is not None else stat.mtime * 1_000_000_000
        ctime_ns = stat.ctime_ns if stat.ctime_ns is not None else stat.ctime * 1_000_000_000
        return cls(stat.device, stat.inode, mtime_ns, ctime_ns, stat.size)

    def racy_at(self, now_ns: int, window_ns: int) -> bool:
        """Return True when the file may still change without this key changing."""
        return now_ns - max(self.mtime_ns, self.ctime_ns) < window_ns


def cacheable_path(path: str) -> bool:
    """Return False for files whose stat cannot tell a change (procfs, sysfs)."""
    return not path.startswith(UNCACHED_PREFIXES)


def content_digest(data: bytes) -> bytes:
    """Return the digest that tells a racy entry's content apart."""
    return blake2b(data, digest_size=DIGEST_SIZE).digest()


E = TypeVar("E")


class _Entries(Generic[E]):
    """The latest entry of each path, at most `max_entries` (least recently used go), locked."""

    def __init__(self, max_entries: int) -> None:
        self._max_entries = max_entries
        self._entries: OrderedDict[str, E] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def get(self, path: str) -> E | None:
        with self._lock:
            entry = self._entries.get(path)
            if entry is not None:
                self._entries.move_to_end(path)
            return entry

    def store(self, path: str, entry: E) -> None:
        with self._lock:
            self._entries[path] = entry
            self._entries.move_to_end(path)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def drop(self, path: str) -> None:
        with self._lock:
            self._entries.pop(path, None)

    def keep_only(self, paths: set[str], under: str) -> None:
        with self._lock:
            for path in [p for p in self._entries if p.startswith(under) and p not in paths]:
                del self._entries[path]


class _StatKeyed:
    """What both caches share: the System, the clock, and how a path's stat is taken."""

    def __init__(self, system: System, clock: Clock, racy_window_ns: int) -> None:
        self._system = system
        self._clock = clock
        self._racy_window_ns = racy_window_ns

    def _stat(self, path: str) -> tuple[FileStat | None, int]:
        """Return the path's stat (None when it cannot be taken) and the time just before it.

        The time is taken first: a change after the stat can come within the same tick.
        """
        before_ns = self._clock()
        try:
            return self._system.stat(path), before_ns
        except OSError:
            return None, before_ns


@dataclass
class _FileEntry(Generic[T]):
    key: StatKey
    value: T
    digest: bytes | None  # set while the entry is racy; None once its stat key can be trusted


class FileCache(_StatKeyed, Generic[T]):
    """The parsed value of each file of one kind, re-parsed only when the file changed.

    `parse` turns a file's text (UTF-8, undecodable bytes replaced, at most `limit` bytes: what
    `System.read_text` gives) into the value kept. `clock` gives the wall-clock time in
    nanoseconds (the filesystem's timestamps come from the same clock).
    """

    def __init__(
        self,
        system: System,
        parse: Callable[[str], T],
        *,
        limit: int = DEFAULT_FILE_LIMIT,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Clock = time.time_ns,
        racy_window_ns: int = RACY_WINDOW_NS,
    ) -> None:
        super().__init__(system, clock, racy_window_ns)
        self._parse = parse
        self._limit = limit
        self._entries: _Entries[_FileEntry[T]] = _Entries(max_entries)

    def __len__(self) -> int:
        return len(self._entries)

    def read(self, path: str) -> T:
        """Return the parsed file; raise OSError as `System.read_text` does when unreadable."""
        if not cacheable_path(path):
            return self._parse(self._system.read_text(path, limit=self._limit))
        stat, stat_time_ns = self._stat(path)
        if stat is None or not stat.is_regular:
            # Gone, or a folder, a device…: read as before (same error), keep nothing.
            self._entries.drop(path)
            return self._parse(self._system.read_text(path, limit=self._limit))
        key = StatKey.of(stat)
        entry = self._entries.get(path)
        if entry is not None and entry.key == key and entry.digest is None:
            return entry.value
        try:
            data = self._system.read_bytes(path, limit=self._limit)
        except OSError:
            self._entries.drop(path)
            raise
        racy = key.racy_at(stat_time_ns, self._racy_window_ns)
        racy_before = entry if entry is not None and entry.key == key else None
        digest = content_digest(data) if racy or racy_before is not None else None
        if racy_before is not None and racy_before.digest == digest:
            value = racy_before.value  # a racy entry whose content did not change
        else:
            value = self._parse(data.decode("utf-8", "replace"))
        self._entries.store(path, _FileEntry(key, value, digest if racy else None))
        return value

    def read_optional(self, path: str) -> T | None:
        """Return the parsed file, or None when it is missing or unreadable."""
        try:
            return self.read(path)
        except OSError:
            return None

    def keep_only(self, paths: Iterable[str], *, under: str = "") -> None:
        """Forget the paths starting with `under` but these (files a folder no longer lists)."""
        self._entries.keep_only(set(paths), under)


@dataclass
class _FolderEntry(Generic[T]):
    key: StatKey
    value: T
    trusted: bool


class FolderCache(_StatKeyed, Generic[T]):
    """What a table derives from a folder's listing, derived again only when the folder changed.

    `derive(path, entries)` receives the folder's sorted entry names (what `System.list_dir`
    gives) and may stat the entries (whether one is a folder): an entry replaced by a folder of
    the same name changes the folder's mtime too. A folder changed within `racy_window_ns` of
    the listing is listed again on the next read until it is old enough to be trusted.
    """

    def __init__(
        self,
        system: System,
        derive: Callable[[str, list[str]], T],
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Clock = time.time_ns,
        racy_window_ns: int = RACY_WINDOW_NS,
    ) -> None:
        super().__init__(system, clock, racy_window_ns)
        self._derive = derive
        self._entries: _Entries[_FolderEntry[T]] = _Entries(max_entries)

    def __len__(self) -> int:
        return len(self._entries)

    def read(self, path: str) -> T:
        """Return what is derived from the folder; raise OSError as `System.list_dir` does."""
        if not cacheable_path(path):
            return self._derive(path, self._system.list_dir(path))
        stat, stat_time_ns = self._stat(path)
        if stat is None or not stat.is_dir:
            self._entries.drop(path)
            return self._derive(path, self._system.list_dir(path))
        key = StatKey.of(stat)
        entry = self._entries.get(path)
        if entry is not None and entry.key == key and entry.trusted:
            return entry.value
        try:
            names = self._system.list_dir(path)
        except OSError:
            self._entries.drop(path)
            raise
        trusted = not key.racy_at(stat_time_ns, self._racy_window_ns)
        value = self._derive(path, names)
        self._entries.store(path, _FolderEntry(key, value, trusted))
        return value


class FilesFingerprint:
    """What a command's output depends on, told by its files' stat keys (a package database).

    `current()` returns the files' keys now (None for a missing one) and whether that answer
    can be trusted next time: not when a file changed within the racy window, since it may
    change again within the same tick. A table keeps a command's parsed output with a trusted
    fingerprint and runs the command again when the fingerprint differs.
    """

    def __init__(
        self,
        system: System,
        paths: Iterable[str],
        *,
        clock: Clock = time.time_ns,
        racy_window_ns: int = RACY_WINDOW_NS,
    ) -> None:
        self._system = system
        self._paths = tuple(paths)
        self._clock = clock
        self._racy_window_ns = racy_window_ns

    def current(self) -> tuple[tuple[StatKey | None, ...], bool]:
        """Return the files' stat keys and whether none of them is racy."""
        now_ns = self._clock()
        keys: list[StatKey | None] = []
        for path in self._paths:
            try:
                keys.append(StatKey.of(self._system.stat(path)))
            except OSError:
                keys.append(None)
        trusted = all(key is None or not key.racy_at(now_ns, self._racy_window_ns) for key in keys)
        return tuple(keys), trusted
