"""Shared helpers for the Linux table tests: fixture files, fake roots, generating rows."""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.tables.base import Constraint, Operator, QueryContext, Row, TablePlugin
from stethoscope_desktop.tables.system import FileStat
from tests.fakes import FakeSystem, write_file

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> str:
    """Return the text of a fixture file (path relative to fixtures/)."""
    return (FIXTURES / name).read_text(encoding="utf-8")


def fixture_bytes(name: str) -> bytes:
    """Return the bytes of a fixture file (path relative to fixtures/)."""
    return (FIXTURES / name).read_bytes()


def make_root(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """Fill `root` with files given as {absolute path as tables see it: content}."""
    for path, content in files.items():
        write_file(root, path, content)
    return root


def parse_tree(text: str) -> dict[str, str]:
    """Parse a `.tree` fixture: '>>> /path' lines start files whose content runs to the next."""
    files: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith(">>> "):
            current = files.setdefault(line[4:].strip(), [])
        elif current is not None:
            current.append(line)
    return {path: "".join(f"{line}\n" for line in lines) for path, lines in files.items()}


def load_root(name: str, root: Path) -> Path:
    """Write the fake root fixtures/roots/<name>.tree into `root` (tests may add files after)."""
    return make_root(root, parse_tree(fixture(f"roots/{name}.tree")))


def rows(table: TablePlugin, context: QueryContext | None = None) -> list[Row]:
    """Generate a table's rows as a list."""
    return list(table.generate(context or QueryContext()))


def one_row(table: TablePlugin) -> Row:
    """Generate a table expected to give exactly one row, and return it."""
    generated = rows(table)
    assert len(generated) == 1, generated
    return generated[0]


def equals(column: str, *values: str) -> QueryContext:
    """Return the context of `WHERE column IN (values...)`: one EQUALS constraint per value."""
    return QueryContext(tuple(Constraint(column, Operator.EQUALS, value) for value in values))


def query_rows(engine: EmbeddedEngine, sql: str) -> list[dict[str, object]]:
    """Run `sql` in a scan of its own on the embedded engine and return its rows."""
    session = engine.begin_scan()
    try:
        return [dict(row) for row in session.query(sql).rows]
    finally:
        session.close()


class WatchedSystem(FakeSystem):
    """A fake root that counts the files read and can answer a file's stat as it was before.

    `reads` counts read_bytes calls by path (read_text goes through read_bytes), so a test sees
    whether a table parsed a file again. `frozen` maps paths to the stat to answer instead of
    the real one: the racy case where a file changed and its stat key did not. With `aged`, every
    file's times look an hour older than they are (differences kept), so caches trust their
    stat keys at once instead of treating files the test just wrote as racy.
    """

    def __init__(self, root: Path, *, aged: bool = False, **kwargs: Any) -> None:
        super().__init__(root, **kwargs)
        self.reads: Counter[str] = Counter()
        self.frozen: dict[str, FileStat] = {}
        self.age_ns = 3600 * 1_000_000_000 if aged else 0

    def read_bytes(self, path: str, *, limit: int = 4 * 1024 * 1024) -> bytes:
        """Read a file of the fake root and count it."""
        self.reads[path] += 1
        return super().read_bytes(path, limit=limit)

    def stat(self, path: str, *, follow_symlinks: bool = True) -> FileStat:
        """Return the frozen stat of `path` when there is one, else the file's own (aged)."""
        frozen = self.frozen.get(path)
        if frozen is not None:
            return frozen
        real = super().stat(path, follow_symlinks=follow_symlinks)
        if not self.age_ns or real.mtime_ns is None or real.ctime_ns is None:
            return real
        return dataclasses.replace(
            real, mtime_ns=real.mtime_ns - self.age_ns, ctime_ns=real.ctime_ns - self.age_ns
        )

    def freeze(self, path: str) -> FileStat:
        """From now on answer `path`'s current stat, whatever happens to the file."""
        self.frozen[path] = self.stat(path)
        return self.frozen[path]


def replace_keeping_mtime(target: Path, content: str | bytes) -> None:
    """Write `content` over `target` and put its mtime back, as a careful replacement would.

    The change time cannot be put back; before writing, the file's attributes are touched until
    the kernel's clock has ticked, so the new ctime differs from the old one (no sleeping).
    """
    before = os.stat(target)
    while os.stat(target).st_ctime_ns == before.st_ctime_ns:
        os.chmod(target, before.st_mode & 0o7777)
    if isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content, encoding="utf-8")
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))


def far_future_clock() -> int:
    """A clock long after any file's times: every cache entry is trusted on its stat key."""
    return 4_000_000_000 * 1_000_000_000
