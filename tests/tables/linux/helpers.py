"""Shared helpers for the Linux table tests: fixture files, fake roots, generating rows."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.tables.base import Constraint, Operator, QueryContext, Row, TablePlugin
from tests.fakes import write_file

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
