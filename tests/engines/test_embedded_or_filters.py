"""The embedded engine answers an OR that SQLite splits into one filter per branch correctly.

SQLite drops a row whose rowid an earlier branch already gave; rowids that were row positions
lost the second branch's first rows. A table with an index column is filtered per branch rather
than scanned whole, as osquery's planner costs it.
"""

from __future__ import annotations

from collections.abc import Iterable

from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.tables.base import (
    Column,
    Constraint,
    Operator,
    QueryContext,
    Row,
    TablePlugin,
)


class Lines(TablePlugin):
    """Two lines per `path =`, one per `path LIKE`; nothing without a path (as file_lines)."""

    name = "lines"
    columns = (Column("path", "text", index=True), Column("line"))

    def __init__(self) -> None:
        self.contexts: list[tuple[Constraint, ...]] = []

    def generate(self, context: QueryContext) -> Iterable[Row]:
        self.contexts.append(context.constraints)
        rows: list[Row] = []
        for constraint in context.constraints:
            if constraint.column != "path":
                continue
            if constraint.op is Operator.EQUALS:
                rows += [
                    {"path": constraint.expr, "line": "a"},
                    {"path": constraint.expr, "line": "a"},
                ]
            elif constraint.op is Operator.LIKE:
                rows.append({"path": constraint.expr.replace("%", "x"), "line": "b"})
        return rows


def run(sql: str) -> tuple[list[dict[str, object]], Lines]:
    table = Lines()
    engine = EmbeddedEngine([table])
    session = engine.begin_scan()
    try:
        return [dict(row) for row in session.query(sql).rows], table
    finally:
        session.close()
        engine.close()


def test_every_branch_of_an_or_keeps_its_rows() -> None:
    rows, table = run("SELECT path, line FROM lines WHERE path = '/a' OR path LIKE '/b/%'")
    # Two equal rows of one branch both stay; the other branch's row is not taken for row 0.
    assert sorted((r["path"], r["line"]) for r in rows) == [
        ("/a", "a"),
        ("/a", "a"),
        ("/b/x", "b"),
    ]
    assert len(table.contexts) == 2  # one filter per branch, no unconstrained scan


def test_a_row_both_branches_give_is_counted_once() -> None:
    rows, _ = run("SELECT COUNT(*) AS n FROM lines WHERE path = '/a' OR path = '/a' || ''")
    assert rows == [{"n": 2}]
