"""fleetd's `file_lines` (from the macadmins osquery extension): a text file, one row per line.

As fleetd reads it (macadmins osquery-extension, tables/fileline):
- `path = X` reads X; `path LIKE P` turns every `%` into `*` and expands P with Go's
  filepath.Glob, so `/etc/modprobe.d/%.conf` reads every `.conf` file there. Go's `*` matches
  within one path component and, unlike osquery's glob, also a leading dot; `%%` is no recursive
  walk (it means `%`). Several constraints on `path` (an `IN` list, an `OR` SQLite splits, `=`
  with `LIKE`) are all read; SQLite applies every term to the rows again.
- Lines are split as Go's bufio.ScanLines splits them: at each newline, a carriage return
  before it dropped, the text after the last newline a line of its own, an empty file no rows.
  Bytes that are not UTF-8 are replaced.
- A missing file gives no rows (fleetd ignores it); so does a folder or any file that is not a
  regular file (a FIFO would never end), and no `path` constraint at all.
- Differences, because this runs as you and fleetd as root: a file you may not read fails the
  query with that reason (fleetd, as root, would read it; it returns no rows only when even root
  cannot). fleetd declares the columns `line, path`; this table has Fleet's documented order
  `path, line` (resources/osquery/tables.json), which only `SELECT *` can tell apart.
- Bounds: a file larger than MAX_FILE_BYTES or with more than MAX_LINES lines, or a pattern that
  matches more than MAX_MATCHES files, fails with a reason rather than being cut short (a cut
  file could turn a "no such line" check into a false pass).
"""

from __future__ import annotations

from collections.abc import Iterable

from stethoscope_desktop.tables.base import Column, QueryContext, Row, TableError, TablePlugin
from stethoscope_desktop.tables.file import (
    PathStyle,
    PatternExpander,
    expand_constraints,
    permission_denied,
)
from stethoscope_desktop.tables.system import System

MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_LINES = 200_000
MAX_MATCHES = 1_000


def split_lines(data: bytes) -> list[str]:
    """Split a file's bytes into lines as Go's bufio.ScanLines does."""
    if not data:
        return []
    pieces = data.split(b"\n")
    if pieces[-1] == b"":
        pieces.pop()
    return [piece.removesuffix(b"\r").decode("utf-8", "replace") for piece in pieces]


class FileLines(TablePlugin):
    """fleetd's `file_lines`: the lines of the files a query names by `path`."""

    name = "file_lines"
    columns = (
        Column("path", "text", index=True, required=True),
        Column("line"),
    )
    platforms = ("linux", "darwin", "windows")

    def __init__(self, system: System, platform: str) -> None:
        self._system = system
        self._style = PathStyle.for_platform(platform)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        """Yield one row per line of every file the `path` constraints name."""
        expander = PatternExpander.as_go_glob(self._system, self._style, max_matches=MAX_MATCHES)
        rows: list[Row] = []
        for path in expand_constraints(context, "path", expander.expand_flat):
            rows.extend({"path": path, "line": line} for line in self._read_lines(path))
        return rows

    def _read_lines(self, path: str) -> list[str]:
        try:
            if not self._system.stat(path).is_regular:
                return []
            data = self._system.read_bytes(path, limit=MAX_FILE_BYTES + 1)
        except PermissionError:
            raise permission_denied(path) from None
        except OSError:
            return []
        if len(data) > MAX_FILE_BYTES:
            raise TableError(
                f"{path} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; file_lines reads "
                "only files up to that size"
            )
        lines = split_lines(data)
        if len(lines) > MAX_LINES:
            raise TableError(
                f"{path} has more than {MAX_LINES:,} lines; file_lines reads only files up to "
                "that many"
            )
        return lines
