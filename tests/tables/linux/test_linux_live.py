"""Every Linux table on this real machine: rows of the declared columns, or a TableError."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from stethoscope_desktop.tables.base import QueryContext, Row, TableError, TablePlugin
from stethoscope_desktop.tables.linux import linux_tables
from stethoscope_desktop.tables.system import LocalSystem

pytestmark = [
    pytest.mark.live_system,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux tables"),
]

PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "text": (str,),
    "integer": (int,),
    "bigint": (int,),
    "double": (float, int),
}


def generate(table: TablePlugin) -> list[Row] | TableError:
    try:
        return list(table.generate(QueryContext()))
    except TableError as error:
        return error


def check(table: TablePlugin, outcome: list[Row] | TableError) -> None:
    if isinstance(outcome, TableError):
        assert str(outcome).strip(), f"{table.name}: TableError without a message"
        return
    types = {column.name: column.type for column in table.columns}
    for row in outcome:
        assert set(row) <= set(types), f"{table.name}: undeclared columns {set(row) - set(types)}"
        for name, value in row.items():
            if value is not None:
                assert isinstance(value, PYTHON_TYPES[types[name]]), (table.name, name, value)
                assert not isinstance(value, bool), (table.name, name, value)


@pytest.mark.parametrize("table", linux_tables(LocalSystem()), ids=lambda table: table.name)
def test_table_on_this_machine(table: TablePlugin) -> None:
    check(table, generate(table))


def test_all_tables_concurrently_on_this_machine() -> None:
    """All tables at once in threads, as the engine generates them (timed only by benchmarks)."""
    tables = linux_tables(LocalSystem())
    with ThreadPoolExecutor(max_workers=len(tables)) as pool:
        outcomes = list(pool.map(generate, tables))
    for table, outcome in zip(tables, outcomes, strict=True):
        check(table, outcome)
