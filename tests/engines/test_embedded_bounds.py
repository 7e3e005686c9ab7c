"""IT's SQL on the built-in engine is bounded: one query's failure is that query's, never the scan's.

A NUL character, a value past SQLite's length limit, a recursive CTE without end (in time and in
rows), a time limit shorter than the engine's: each is a QueryError with a reason a person can
read, and the next query of the same scan runs.
"""

from __future__ import annotations

from collections.abc import Iterable

import apsw
import pytest

from stethoscope_desktop.engines import embedded
from stethoscope_desktop.engines.base import QueryError
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.tables.base import Column, QueryContext, Row, TablePlugin


class OsVersion(TablePlugin):
    name = "os_version"
    columns = (Column("name"), Column("major", "integer"))

    def generate(self, context: QueryContext) -> Iterable[Row]:
        return [{"name": "Debian GNU/Linux", "major": "12"}]


def _failure(sql: str, **options: float) -> QueryError:
    engine = EmbeddedEngine([OsVersion()])
    with engine.begin_scan() as session:
        with pytest.raises(QueryError) as failure:
            session.query(sql, **options)
        # The scan goes on: the next query answers.
        assert session.query("SELECT major FROM os_version").rows == ({"major": 12},)
    engine.close()
    return failure.value


def test_a_nul_character_fails_that_query_only() -> None:
    failure = _failure("SELECT 1 FROM os_version\x00; SELECT 2")
    assert "NUL character" in failure.message
    assert failure.query_mistake


def test_a_huge_value_fails_at_once_with_the_limit() -> None:
    failure = _failure("SELECT length(randomblob(1000000000)) AS n")
    assert "grew beyond 16 MB" in failure.message


def test_a_recursive_cte_without_end_is_stopped_at_the_given_time_limit() -> None:
    runaway = (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
    )
    failure = _failure(runaway, time_limit=0.2)
    assert "ran longer than 0.2 s and was stopped" in failure.message


def test_a_recursive_cte_returning_rows_without_end_stops_at_the_row_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(embedded, "MAX_RESULT_ROWS", 1_000)
    failure = _failure(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c"
    )
    assert "more than 1,000 rows" in failure.message


def test_the_engine_sets_sqlite_limits_and_a_heap_limit() -> None:
    engine = EmbeddedEngine([OsVersion()])
    assert apsw.hard_heap_limit(-1) >= embedded.HARD_HEAP_LIMIT_BYTES
    assert apsw.soft_heap_limit(-1) >= embedded.SOFT_HEAP_LIMIT_BYTES
    long_sql = "SELECT 1" + " " * embedded.MAX_SQL_BYTES
    with engine.begin_scan() as session, pytest.raises(QueryError) as failure:
        session.query(long_sql)
    assert failure.value.message == "the query is longer than 1024 KB"
    engine.close()


def test_tables_read_by_a_query_with_a_nul_is_nothing_rather_than_a_crash() -> None:
    engine = EmbeddedEngine([OsVersion()])
    assert engine.tables_read_by("SELECT * FROM os_version\x00") == []
    with engine.begin_scan() as session:
        session.prepare(["SELECT * FROM os_version\x00"])  # never raises
    engine.close()
