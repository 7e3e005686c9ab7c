"""osquery's `file` table, stat-based and the same on every platform, and osquery's path patterns.

Rows come only for what a query names, as in osquery (osquery/tables/utility/file.cpp): without a
`path` or `directory` constraint the table is empty.

- `path = X` gives one row for X (none if X does not exist). `path LIKE P` expands P as osquery's
  glob does (osquery/filesystem/filesystem.cpp): `%` becomes `*` and matches within one path
  component, never a leading dot (POSIX glob(3)); a folder is returned with a trailing separator
  (glob's GLOB_MARK), so `/etc/%` gives `/etc/ssh/` with `filename` "." and `directory`
  "/etc/ssh" (boost::filesystem's parent_path and filename). `%%` at the end of a pattern
  (`/etc/%%`) is recursive: every entry below, dot files included, each folder entered once (a
  symbolic link loop cannot repeat it) and at most 64 levels deep; `%%` elsewhere means `%`.
  `_` is no wildcard here (osquery passes it to glob as it is; SQLite still applies the LIKE).
- `directory = D` (or `directory LIKE P`, expanded to folders only) lists every entry of D, dot
  files included, with `directory` exactly as D was given.
- Columns as osquery fills them: `mode` four octal digits ("0644", "1777"), `device` the
  st_rdev of device files, `type` of what a symbolic link points to ("regular", "directory",
  "symlink" never, "unknown" for a broken link), `symlink` 1 with `symlink_target_path` for a
  link, `btime` 0 on Linux (osquery reads no birth time there) and the birth time on macOS,
  `bsd_flags` on macOS as osquery names chflags(2) flags, `pid_with_namespace` 0 on Linux.
- Differences, because this runs as you and osquery as root: where osquery would see a file or
  list a folder that you may not (permission denied), the query fails with a reason instead of
  returning fewer rows. On Windows `mode`, `uid`, `gid` and the Windows-only columns (version
  resources, shortcuts, attributes) are NULL: osquery computes them from ACLs and file resources
  that stat does not give. A relative pattern gives no rows (osquery prefixes the daemon's working
  folder); `~` is not expanded; glob's `{a,b}` braces are not supported.
- Bounds: a pattern that expands to more than MAX_MATCHES entries fails with a reason, instead
  of returning a truncated (and so possibly wrong) answer.
"""

from __future__ import annotations

import errno
import fnmatch
import stat as stat_module
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import ClassVar

from stethoscope_desktop.tables.base import (
    Column,
    Operator,
    QueryContext,
    Row,
    TableError,
    TablePlugin,
)
from stethoscope_desktop.tables.system import FileStat, System

MAX_MATCHES = 20_000
MAX_DEPTH = 64  # osquery's kMaxRecursiveGlobs
_MAGIC = frozenset("*?[")

_COMMON_COLUMNS = (
    Column("path", "text", index=True, required=True),
    Column("directory", "text", required=True),
    Column("filename"),
    Column("inode", "bigint"),
    Column("uid", "bigint"),
    Column("gid", "bigint"),
    Column("mode"),
    Column("device", "bigint"),
    Column("size", "bigint"),
    Column("block_size", "integer"),
    Column("atime", "bigint"),
    Column("mtime", "bigint"),
    Column("ctime", "bigint"),
    Column("btime", "bigint"),
    Column("hard_links", "integer"),
    Column("symlink", "integer"),
    Column("type"),
    Column("symlink_target_path"),
)
_WINDOWS_COLUMNS = (
    Column("attributes"),
    Column("volume_serial"),
    Column("file_id"),
    Column("file_version"),
    Column("product_version"),
    Column("original_filename"),
    Column("shortcut_target_path"),
    Column("shortcut_target_type"),
    Column("shortcut_target_location"),
    Column("shortcut_start_in"),
    Column("shortcut_run"),
    Column("shortcut_comment"),
)
_DARWIN_COLUMNS = (Column("bsd_flags"),)
_LINUX_COLUMNS = (
    Column("pid_with_namespace", "integer", hidden=True),
    Column("mount_namespace_id", hidden=True),
)

# chflags(2) flags as osquery names them (osquery/filesystem/darwin/bsd_file_flags.cpp), in the
# order of their bits; SF_SUPPORTED is a mask that any system flag sets.
_BSD_FLAGS = (
    (0x00000001, "NODUMP"),
    (0x00000002, "UF_IMMUTABLE"),
    (0x00000004, "UF_APPEND"),
    (0x00000008, "OPAQUE"),
    (0x00000020, "COMPRESSED"),
    (0x00000040, "TRACKED"),
    (0x00000080, "DATAVAULT"),
    (0x00008000, "HIDDEN"),
    (0x00010000, "ARCHIVED"),
    (0x00020000, "SF_IMMUTABLE"),
    (0x00040000, "SF_APPEND"),
    (0x00080000, "SF_RESTRICTED"),
    (0x00100000, "SF_NOUNLINK"),
    (0x001F0000, "SF_SUPPORTED"),
)
_BSD_FLAG_MASK = 0
for _bit, _ in _BSD_FLAGS:
    _BSD_FLAG_MASK |= _bit


def file_columns(platform: str) -> tuple[Column, ...]:
    """Return osquery's columns of `file` on `platform`."""
    extra = {"windows": _WINDOWS_COLUMNS, "darwin": _DARWIN_COLUMNS, "linux": _LINUX_COLUMNS}
    return _COMMON_COLUMNS + extra.get(platform, ())


def describe_bsd_flags(flags: int) -> str:
    """Name chflags(2) flags as osquery does: known names, then unknown bits as 0x%08x."""
    labels = [name for bit, name in _BSD_FLAGS if flags & bit]
    unknown = flags & ~_BSD_FLAG_MASK
    if unknown:
        labels.append(f"0x{unknown:08x}")
    return ", ".join(labels)


def permission_denied(path: str, action: str = "read") -> TableError:
    """Return the error for a file osquery (as root) could read and this user cannot."""
    return TableError(
        f"cannot {action} {path}: permission denied (osquery runs as root and would see it; "
        "this app runs as you)"
    )


@dataclass(frozen=True)
class PathStyle:
    """How paths are written on a platform: the separator and whether case matters."""

    separator: str
    windows: bool

    @classmethod
    def for_platform(cls, platform: str) -> PathStyle:
        """Return the style of `platform`'s paths."""
        return cls("\\", True) if platform == "windows" else cls("/", False)

    def is_separator(self, char: str) -> bool:
        """Return True if `char` separates path components."""
        return char == "/" or (self.windows and char == "\\")

    def ends_with_separator(self, path: str) -> bool:
        """Return True if `path` ends with a separator."""
        return bool(path) and self.is_separator(path[-1])

    def join(self, folder: str, name: str) -> str:
        """Join as boost::filesystem's operator/ does: no second separator."""
        return folder + name if self.ends_with_separator(folder) else folder + self.separator + name

    def split(self, path: str) -> tuple[str, str]:
        """Return (parent_path, filename) as boost::filesystem (v3) gives them.

        "/etc/hosts" -> ("/etc", "hosts"); "/etc/ssh/" -> ("/etc/ssh", "."); "/hosts" -> ("/", ...).
        """
        if self.ends_with_separator(path):
            parent = path.rstrip("/\\" if self.windows else "/")
            return (parent or path[:1], ".")
        cut = max(path.rfind("/"), path.rfind("\\") if self.windows else -1)
        if cut < 0:
            return ("", path)
        parent = path[:cut].rstrip("/\\" if self.windows else "/")
        if not parent:
            parent = path[:1]
        elif self.windows and parent.endswith(":"):
            parent = path[: cut + 1]
        return (parent, path[cut + 1 :])


def is_folder(system: System, path: str) -> bool:
    """Return True if `path` is (or links to) a folder; False if not, or not there."""
    try:
        return system.stat(path).is_dir
    except OSError:
        return False


def list_folder(system: System, folder: str) -> list[str]:
    """Return the names in `folder` ([] where it is not there); TableError where it is denied."""
    try:
        return system.list_dir(folder)
    except PermissionError:
        raise permission_denied(folder, "list") from None
    except OSError:
        return []


def is_regular_file(system: System, path: str) -> bool:
    """Return True if `path` is (or links to) a regular file; False if not, or not there."""
    try:
        return system.stat(path).is_regular
    except OSError:
        return False


class PatternExpander:
    """Expands a LIKE pattern into the paths it names, as a glob over the machine's folders.

    `hide_dot_files` follows glob(3) (a leading dot is matched only by a leading dot; osquery's
    `file`); without it, as Go's filepath.Glob (fleetd's `file_lines`), `*` matches it too.
    `mark_folders` appends a separator to folders (glob's GLOB_MARK).
    """

    def __init__(
        self,
        system: System,
        style: PathStyle,
        *,
        hide_dot_files: bool,
        mark_folders: bool,
        max_matches: int,
    ) -> None:
        self._system = system
        self._style = style
        self._hide_dot_files = hide_dot_files
        self._mark_folders = mark_folders
        self._max_matches = max_matches

    def _bounded(self, paths: list[str], pattern: str) -> list[str]:
        if len(paths) > self._max_matches:
            raise TableError(
                f"the path pattern {pattern!r} matches more than {self._max_matches:,} files; "
                "name a narrower pattern"
            )
        return paths

    def _matches(self, name: str, component: str) -> bool:
        if self._hide_dot_files and name.startswith(".") and not component.startswith("."):
            return False
        if self._style.windows:
            return fnmatch.fnmatchcase(name.lower(), component.lower())
        return fnmatch.fnmatchcase(name, component)

    @classmethod
    def as_go_glob(cls, system: System, style: PathStyle, *, max_matches: int) -> PatternExpander:
        """Return the expander of fleetd's tables and augeas: dot files matched, folders plain."""
        return cls(system, style, hide_dot_files=False, mark_folders=False, max_matches=max_matches)

    def _list(self, folder: str) -> list[str]:
        return list_folder(self._system, folder)

    def _exists(self, path: str) -> bool:
        try:
            self._system.stat(path, follow_symlinks=False)
        except PermissionError:
            raise permission_denied(path) from None
        except OSError:
            return False
        return True

    def _anchor_and_components(self, pattern: str) -> tuple[str, list[str]] | None:
        if self._style.windows:
            parts = pattern.replace("/", "\\").split("\\")
            if len(parts) < 2 or not (parts[0] == "" or parts[0].endswith(":")):
                return None
            return parts[0] + "\\", [p for p in parts[1:] if p]
        if not pattern.startswith("/"):
            return None
        return "/", [p for p in pattern.split("/") if p]

    def glob(self, pattern: str) -> list[str]:
        """Return the paths a glob pattern (`*`, `?`, `[...]`) matches, in listing order."""
        split = self._anchor_and_components(pattern)
        if split is None:
            return []
        anchor, components = split
        current = [anchor]
        for component in components:
            following: list[str] = []
            for prefix in current:
                if not _MAGIC & set(component):
                    following.append(self._style.join(prefix, component))
                    continue
                following.extend(
                    self._style.join(prefix, name)
                    for name in self._list(prefix)
                    if self._matches(name, component)
                )
            current = self._bounded(following, pattern)
        found = [path for path in current if self._exists(path)]
        if self._style.ends_with_separator(pattern):
            found = [path for path in found if is_folder(self._system, path)]
        if self._mark_folders:
            found = [
                path + self._style.separator
                if is_folder(self._system, path) and not self._style.ends_with_separator(path)
                else path
                for path in found
            ]
        return found

    def expand(self, like: str) -> list[str]:
        """Expand a SQL LIKE pattern: `%` as `*`, and a final `%%` as a recursive walk."""
        pattern = like.replace("%", "*")
        if not pattern.endswith("**"):
            return self.glob(pattern)
        results: list[str] = []
        seen: set[tuple[int, int]] = set()
        for base in self.glob(pattern[:-1]):
            results.append(base)
            if is_folder(self._system, base):
                self._walk(base, seen, results, 0, like)
        return self._bounded(results, like)

    def expand_flat(self, like: str) -> list[str]:
        """Expand a SQL LIKE pattern as fleetd does: every `%` a `*`, no recursive walk."""
        return self.glob(like.replace("%", "*"))

    def _walk(
        self, folder: str, seen: set[tuple[int, int]], results: list[str], depth: int, like: str
    ) -> None:
        if depth >= MAX_DEPTH:
            return
        try:
            info = self._system.stat(folder)
        except OSError:
            return
        identity = (info.device, info.inode)
        if identity in seen:
            return
        seen.add(identity)
        for name in self._list(folder):
            entry = self._style.join(folder, name)
            entry_is_folder = is_folder(self._system, entry)
            if entry_is_folder:
                entry += self._style.separator
            results.append(entry)
            self._bounded(results, like)
            if entry_is_folder:
                self._walk(entry, seen, results, depth + 1, like)


def expand_constraints(
    context: QueryContext, column: str, expand: Callable[[str], Iterable[str]]
) -> list[str]:
    """Return `column`'s `=` values plus the expansion of its LIKE patterns, once each.

    Other operators on the column (the `>=`/`<` range SQLite derives from a LIKE prefix) are not
    names and are left to SQLite, which applies every term to the rows again.
    """
    values: dict[str, None] = {}
    for constraint in context.constraints:
        if constraint.column != column:
            continue
        if constraint.op is Operator.EQUALS:
            values[constraint.expr] = None
        elif constraint.op is Operator.LIKE and constraint.expr:
            values.update(dict.fromkeys(expand(constraint.expr)))
    return list(values)


def _file_type(system: System, path: str) -> str:
    """Return the type of what `path` names, following links, as boost's status() names it."""
    try:
        mode = system.stat(path).mode
    except FileNotFoundError:
        return "unknown"
    except NotADirectoryError:
        return "unknown"
    except OSError:
        return "error"
    for test, name in (
        (stat_module.S_ISREG, "regular"),
        (stat_module.S_ISDIR, "directory"),
        (stat_module.S_ISBLK, "block"),
        (stat_module.S_ISCHR, "character"),
        (stat_module.S_ISFIFO, "fifo"),
        (stat_module.S_ISSOCK, "socket"),
    ):
        if test(mode):
            return name
    return "unknown"


class File(TablePlugin):
    """osquery's `file`: stat of the files a query names by path or directory.

    Its columns differ by platform, as osquery's do: `file_table` returns the platform's class.
    """

    name = "file"
    columns: ClassVar[tuple[Column, ...]] = _COMMON_COLUMNS
    platforms: ClassVar[tuple[str, ...]] = ("linux", "darwin", "windows")
    platform: ClassVar[str] = "linux"

    def __init__(self, system: System) -> None:
        self._system = system
        self._platform = self.platform
        self._style = PathStyle.for_platform(self.platform)

    def _expander(self) -> PatternExpander:
        return PatternExpander(
            self._system,
            self._style,
            hide_dot_files=True,
            mark_folders=True,
            max_matches=MAX_MATCHES,
        )

    def generate(self, context: QueryContext) -> Iterable[Row]:
        """Yield a row per named path, then per entry of each named directory."""
        expander = self._expander()
        rows: list[Row] = []
        for path in expand_constraints(context, "path", expander.expand):
            row = self._row(path, self._style.split(path)[0])
            if row is not None:
                rows.append(row)
        folders = expand_constraints(
            context,
            "directory",
            lambda like: [p for p in expander.expand(like) if self._style.ends_with_separator(p)],
        )
        for folder in folders:
            try:
                if not self._system.stat(folder).is_dir:
                    continue
            except PermissionError:
                raise permission_denied(folder) from None
            except OSError:
                continue
            try:
                names = self._system.list_dir(folder)
            except PermissionError:
                raise permission_denied(folder, "list") from None
            except OSError:
                continue
            if len(names) > MAX_MATCHES:
                raise TableError(
                    f"the folder {folder} holds more than {MAX_MATCHES:,} entries; "
                    "name the files instead"
                )
            for name in names:
                row = self._row(self._style.join(folder, name), folder)
                if row is not None:
                    rows.append(row)
        return rows

    def _row(self, path: str, parent: str) -> Row | None:
        try:
            link = self._system.stat(path, follow_symlinks=False)
        except PermissionError:
            raise permission_denied(path) from None
        except OSError:
            return None
        row: Row = {
            "path": path,
            "directory": parent,
            "filename": self._style.split(path)[1],
            "symlink": 0,
        }
        if link.is_symlink:
            row["symlink"] = 1
            try:
                row["symlink_target_path"] = self._system.read_link(path)
            except OSError:
                row["symlink_target_path"] = None
        info: FileStat
        try:
            info = self._system.stat(path)
        except OSError:
            info = link
        windows = self._platform == "windows"
        row.update(
            {
                "inode": info.inode,
                "uid": None if windows else info.uid,
                "gid": None if windows else info.gid,
                "mode": None if windows else f"{info.mode & 0o7777:04o}",
                "device": info.rdev,
                "size": info.size,
                "block_size": info.block_size,
                "hard_links": info.hard_links,
                "atime": info.atime,
                "mtime": info.mtime,
                "ctime": info.ctime,
                "btime": 0 if self._platform == "linux" else info.birth_time,
                "type": _file_type(self._system, path),
            }
        )
        if self._platform == "linux":
            row["pid_with_namespace"] = 0
        if self._platform == "darwin":
            row["bsd_flags"] = describe_bsd_flags(info.flags or 0)
        return row


class LinuxFile(File):
    """`file` with osquery's Linux columns."""

    columns = file_columns("linux")
    platforms = ("linux",)
    platform = "linux"


class DarwinFile(File):
    """`file` with osquery's macOS columns."""

    columns = file_columns("darwin")
    platforms = ("darwin",)
    platform = "darwin"


class WindowsFile(File):
    """`file` with osquery's Windows columns."""

    columns = file_columns("windows")
    platforms = ("windows",)
    platform = "windows"


def file_table(system: System, platform: str) -> File:
    """Return the `file` table for `platform`."""
    classes: dict[str, type[File]] = {
        "linux": LinuxFile,
        "darwin": DarwinFile,
        "windows": WindowsFile,
    }
    return classes[platform](system)


def is_missing(error: OSError) -> bool:
    """Return True when an OSError says the file is not there (rather than not readable)."""
    return error.errno in (errno.ENOENT, errno.ENOTDIR)
