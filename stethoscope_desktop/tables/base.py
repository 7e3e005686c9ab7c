"""The shape every table has, osquery's TablePlugin shape: a name, typed columns and `generate`.

The embedded engine serves these classes as SQLite virtual tables; the osquery engine registers the
same classes into a real osqueryd as an extension. `generate(context)` receives the query's
constraints exactly as osquery hands them to a table, so `WHERE path = '/etc/hosts'` reaches the
table and it can read only what is asked for.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

# Re-exported: tables name their rows' type from here.
from stethoscope_desktop.tables.values import Row as Row
from stethoscope_desktop.tables.values import Value as Value

ColumnType = Literal["text", "integer", "bigint", "double"]


class Operator(enum.IntEnum):
    """Constraint operators, numbered as osquery numbers them (osquery/core/tables.h)."""

    EQUALS = 2
    GREATER_THAN = 4
    LESS_THAN_OR_EQUALS = 8
    LESS_THAN = 16
    GREATER_THAN_OR_EQUALS = 32
    MATCH = 64
    LIKE = 65
    GLOB = 66
    REGEXP = 67


@dataclass(frozen=True)
class Column:
    """One column of a table, with osquery's type name and options."""

    name: str
    type: ColumnType = "text"
    index: bool = False
    required: bool = False
    hidden: bool = False


@dataclass(frozen=True)
class Constraint:
    """One `column <op> expr` term of a query's WHERE clause, as given to `generate`."""

    column: str
    op: Operator
    expr: str


@dataclass(frozen=True)
class QueryContext:
    """The constraints a query puts on a table, as osquery's QueryContext carries them."""

    constraints: tuple[Constraint, ...] = ()

    def equals(self, column: str) -> frozenset[str]:
        """Return every value the query requires `column` to equal (osquery's getAll(EQUALS))."""
        return frozenset(
            c.expr for c in self.constraints if c.column == column and c.op is Operator.EQUALS
        )

    def to_osquery(self) -> dict[str, Any]:
        """Return the context in the JSON shape osqueryd sends to an extension's table."""
        by_column: dict[str, list[dict[str, Any]]] = {}
        for constraint in self.constraints:
            by_column.setdefault(constraint.column, []).append(
                {"op": int(constraint.op), "expr": constraint.expr}
            )
        return {
            "constraints": [
                {"name": name, "list": terms, "affinity": "TEXT"}
                for name, terms in by_column.items()
            ]
        }

    @classmethod
    def from_osquery(cls, context: Mapping[str, Any]) -> QueryContext:
        """Build a context from the JSON shape osqueryd sends; unknown operators are ignored."""
        constraints: list[Constraint] = []
        for entry in context.get("constraints", []) or []:
            for term in entry.get("list", []) or []:
                try:
                    op = Operator(int(term["op"]))
                except (KeyError, ValueError):
                    continue
                constraints.append(Constraint(str(entry["name"]), op, str(term.get("expr", ""))))
        return cls(tuple(constraints))


class TableError(Exception):
    """A table could not produce its rows; the message says why in words a person can act on."""


class TablePlugin(ABC):
    """A table in osquery's TablePlugin shape.

    Subclasses set `name`, `columns` and `platforms` and implement `generate`. Rows map column
    names to Python values of the column's type (or None); columns left out are NULL. `generate`
    raises `TableError` when the fact cannot be read at all.
    """

    name: ClassVar[str]
    columns: ClassVar[tuple[Column, ...]]
    platforms: ClassVar[tuple[str, ...]] = ("linux", "darwin", "windows")

    @abstractmethod
    def generate(self, context: QueryContext) -> Iterable[Row]:
        """Yield the table's rows for a query with the given constraints."""

    def key_columns(self) -> tuple[str, ...]:
        """Return the columns whose constraints change what `generate` reads (index/required)."""
        return tuple(c.name for c in self.columns if c.index or c.required)
