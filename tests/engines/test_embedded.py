"""The embedded engine: constraint push-down, once-per-scan generation, errors as reasons."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

import pytest

from stethoscope_desktop.engines import embedded
from stethoscope_desktop.engines.base import QueryError
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.tables.base import (
    Column,
    Operator,
    QueryContext,
    Row,
    TableError,
    TablePlugin,
    Value,
)
from stethoscope_desktop.tables.system import note_wait, waits_in_this_thread
from tests.fakes import FakeSystem, result


class FileTable(TablePlugin):
    """Like osquery's `file`: path is required and pushed down."""

    name = "file"
    columns = (
        Column("path", "text", index=True, required=True),
        Column("size", "bigint"),
        Column("hidden_note", "text", hidden=True),
    )

    def __init__(self) -> None:
        self.contexts: list[QueryContext] = []

    def generate(self, context: QueryContext) -> Iterable[Row]:
        self.contexts.append(context)
        for path in sorted(context.equals("path")):
            yield {"path": path, "size": str(len(path)), "hidden_note": "x"}


class CountingTable(TablePlugin):
    """A table without key columns that counts how often it is generated."""

    name = "os_version"
    columns = (Column("name"), Column("major", "integer"), Column("ratio", "double"))

    def __init__(self) -> None:
        self.calls = 0
        self.threads: set[str] = set()

    def generate(self, context: QueryContext) -> Iterable[Row]:
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        return [{"name": "Debian GNU/Linux", "major": "12", "ratio": 0.5}]


class BrokenTable(TablePlugin):
    name = "broken"
    columns = (Column("x"),)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        raise TableError("cannot read /etc/broken: permission denied")


class BuggyTable(TablePlugin):
    name = "buggy"
    columns = (Column("x"),)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        raise ZeroDivisionError("oops")


def test_equality_constraints_reach_generate_like_osquery() -> None:
    files = FileTable()
    engine = EmbeddedEngine([files])
    with engine.begin_scan() as session:
        rows = session.query("SELECT path, size FROM file WHERE path IN ('/a', '/bb')").rows
    assert rows == ({"path": "/a", "size": 2}, {"path": "/bb", "size": 3})
    assert {c.op for ctx in files.contexts for c in ctx.constraints} == {Operator.EQUALS}
    assert sorted(e for ctx in files.contexts for e in ctx.equals("path")) == ["/a", "/bb"]


def test_join_pushes_the_joined_value_down() -> None:
    files = FileTable()
    engine = EmbeddedEngine([files, CountingTable()])
    with engine.begin_scan() as session:
        rows = session.query(
            "SELECT f.path FROM os_version AS o JOIN file AS f ON f.path = '/etc/' || o.major"
        ).rows
    assert rows == ({"path": "/etc/12"},)


class PathOrDirectoryTable(TablePlugin):
    """Like osquery's `file`: path and directory are both required, either one is enough."""

    name = "file"
    columns = (
        Column("path", "text", index=True, required=True),
        Column("directory", "text", required=True),
        Column("uid", "bigint"),
    )

    def generate(self, context: QueryContext) -> Iterable[Row]:
        for path in sorted(context.equals("path")):
            yield {"path": path, "directory": path.rpartition("/")[0] or "/", "uid": 1000}


class HomesTable(TablePlugin):
    """Like osquery's `users`: no key column SQLite could be asked for."""

    name = "users"
    columns = (Column("username"), Column("uid", "bigint", index=True), Column("directory"))

    def generate(self, context: QueryContext) -> Iterable[Row]:
        return [
            {"username": "alice", "uid": 1000, "directory": "/home/alice"},
            {"username": "bob", "uid": 1001, "directory": "/home/bob"},
        ]


def test_a_join_gives_one_of_several_required_columns_its_value() -> None:
    # As in osquery, one required column constrained is enough: the planner must read users
    # first and hand file each home folder, not scan file unconstrained (no rows) first.
    engine = EmbeddedEngine([PathOrDirectoryTable(), HomesTable()])
    with engine.begin_scan() as session:
        rows = session.query(
            "SELECT u.username, f.uid FROM users u JOIN file f ON f.path = u.directory "
            "WHERE u.uid >= 1000 AND f.uid != u.uid"
        ).rows
    assert rows == ({"username": "bob", "uid": 1000},)


def test_hidden_columns_are_left_out_of_star_but_selectable() -> None:
    engine = EmbeddedEngine([FileTable()])
    with engine.begin_scan() as session:
        star = session.query("SELECT * FROM file WHERE path = '/x'").rows
        hidden = session.query("SELECT hidden_note FROM file WHERE path = '/x'").rows
    assert star == ({"path": "/x", "size": 2},)
    assert hidden == ({"hidden_note": "x"},)


def test_values_are_typed_by_the_column_declaration() -> None:
    engine = EmbeddedEngine([CountingTable()])
    with engine.begin_scan() as session:
        (row,) = session.query("SELECT name, major, ratio FROM os_version").rows
    assert row == {"name": "Debian GNU/Linux", "major": 12, "ratio": 0.5}


def test_a_table_is_generated_at_most_once_per_scan_and_again_next_scan() -> None:
    table = CountingTable()
    engine = EmbeddedEngine([table])
    with engine.begin_scan() as session:
        session.prepare(["SELECT * FROM os_version"])
        for _ in range(3):
            session.query("SELECT name FROM os_version WHERE major > 1")
        assert table.calls == 1
        assert session.table_timings()["os_version"].rows == 1
    with engine.begin_scan() as session:
        session.query("SELECT name FROM os_version")
    assert table.calls == 2


class WaitingTable(CountingTable):
    """A table that waits on the machine (runs a command) while `waits` is True."""

    name = "waiting"

    def __init__(self) -> None:
        super().__init__()
        self.waits = True

    def generate(self, context: QueryContext) -> Iterable[Row]:
        if self.waits:
            note_wait()
        return super().generate(context)


class OtherCountingTable(CountingTable):
    name = "kernel_info"


def test_prepare_gives_threads_only_to_tables_that_wait_on_the_machine() -> None:
    waiting, reading, other = WaitingTable(), CountingTable(), OtherCountingTable()
    engine = EmbeddedEngine([waiting, reading, other, FileTable()])
    queries = [f"SELECT * FROM {t.name}" for t in (waiting, reading, other)]
    queries.append("SELECT * FROM file WHERE path = '/a'")  # needs constraints: not prefetched
    with engine.begin_scan() as session:
        session.prepare(queries)  # nothing known yet: each table on a thread of its own
    assert [t.calls for t in (waiting, reading, other)] == [1, 1, 1]
    assert all(name.startswith("table") for t in (waiting, reading, other) for name in t.threads)
    for table in (waiting, reading, other):
        table.threads.clear()
    with engine.begin_scan() as session:
        session.prepare(queries)
    main = threading.current_thread().name
    assert [name.startswith("table") for name in waiting.threads] == [True]
    assert reading.threads == other.threads == {main}
    # A table that stopped waiting (its command went away) runs inline from the next scan on.
    waiting.waits = False
    for _ in range(2):
        for table in (waiting, reading, other):
            table.threads.clear()
        with engine.begin_scan() as session:
            session.prepare(queries)
    assert waiting.threads == reading.threads == other.threads == {main}


def test_one_table_to_prefetch_gets_no_thread() -> None:
    table = CountingTable()
    engine = EmbeddedEngine([table])
    with engine.begin_scan() as session:
        session.prepare(["SELECT * FROM os_version"])
    assert table.threads == {threading.current_thread().name}


def test_a_table_recorded_command_counts_as_waiting(tmp_path: Path) -> None:
    machine = FakeSystem(tmp_path, commands=dict([result(["nmcli", "-v"], "1.42")]))
    before = waits_in_this_thread()
    machine.run(["nmcli", "-v"])
    assert waits_in_this_thread() == before + 1


class ChangingTable(TablePlugin):
    name = "os_version"
    columns = (Column("name"), Column("major", "integer"))

    def __init__(self) -> None:
        self.major = "12"

    def generate(self, context: QueryContext) -> Iterable[Row]:
        return [{"name": "Debian", "major": self.major}, {"name": "other", "major": "1"}]


def test_typed_rows_are_reused_only_while_the_rows_are_equal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    typed: list[str] = []
    real = embedded._typed_rows

    def counting(table: TablePlugin, rows: list[Row]) -> list[tuple[Value, ...]]:
        typed.append(table.name)
        return real(table, rows)

    monkeypatch.setattr(embedded, "_typed_rows", counting)
    table = ChangingTable()
    engine = EmbeddedEngine([table])

    def majors() -> list[object]:
        with engine.begin_scan() as session:
            session.prepare(["SELECT * FROM os_version"])
            return [row["major"] for row in session.query("SELECT major FROM os_version").rows]

    assert majors() == [12, 1]
    assert majors() == [12, 1]
    assert typed == ["os_version"]  # the second scan's equal rows were not typed again
    table.major = "13"
    assert majors() == [13, 1]
    assert typed == ["os_version", "os_version"]


def test_the_tables_a_query_reads_are_found_once_per_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = EmbeddedEngine([CountingTable(), OtherCountingTable()])
    explained: list[str] = []
    real = engine._find_tables_read_by

    def counting(sql: str) -> list[str]:
        explained.append(sql)
        return real(sql)

    monkeypatch.setattr(engine, "_find_tables_read_by", counting)
    first, second = "SELECT * FROM os_version", "SELECT * FROM kernel_info, os_version"
    for _ in range(3):
        with engine.begin_scan() as session:
            session.prepare([first, second])
            session.query(first)
    assert explained == [first, second]
    assert engine.tables_read_by(second) == ["kernel_info", "os_version"]
    monkeypatch.setattr(embedded, "MAX_REMEMBERED_QUERIES", 2)
    engine.tables_read_by("SELECT 1 FROM os_version")  # a third text: the others are forgotten
    engine.tables_read_by(first)
    assert explained == [first, second, "SELECT 1 FROM os_version", first]


def test_a_failing_table_gives_its_reason_and_other_queries_still_run() -> None:
    engine = EmbeddedEngine([BrokenTable(), CountingTable()])
    with engine.begin_scan() as session:
        session.prepare(["SELECT * FROM broken", "SELECT * FROM os_version"])
        with pytest.raises(QueryError) as failure:
            session.query("SELECT x FROM broken")
        assert failure.value.message == "cannot read /etc/broken: permission denied"
        assert failure.value.tables == ("broken",)
        assert session.query("SELECT major FROM os_version").rows == ({"major": 12},)
        assert session.table_timings()["broken"].error == failure.value.message


@pytest.mark.allow_warnings
def test_a_bug_in_a_table_is_a_reason_not_a_crash() -> None:
    engine = EmbeddedEngine([BuggyTable()])
    with engine.begin_scan() as session, pytest.raises(QueryError) as failure:
        session.query("SELECT * FROM buggy")
    assert "ZeroDivisionError: oops" in failure.value.message


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT nope FROM os_version", "`os_version` has no column `nope` (its columns: name,"),
        ("SELECT * FROM missing_table", "`missing_table` is not an osquery table"),
        (
            "SELECT 1 FROM no_such_column_here WHERE",
            "the query is not valid SQL (incomplete input); osquery cannot run it either",
        ),
        ("SELEC 1", 'not valid SQL (near "SELEC": syntax error)'),
    ],
)
def test_sql_errors_are_query_errors_with_the_sqlite_message(sql: str, message: str) -> None:
    engine = EmbeddedEngine([CountingTable()])
    with engine.begin_scan() as session, pytest.raises(QueryError) as failure:
        session.query(sql)
    assert message in failure.value.message


def test_osquery_context_round_trips_through_its_json_shape() -> None:
    context = QueryContext.from_osquery(
        {
            "constraints": [
                {"name": "path", "list": [{"op": 2, "expr": "/etc/hosts"}], "affinity": "TEXT"},
                {"name": "size", "list": [{"op": 4, "expr": "10"}, {"op": 99, "expr": "?"}]},
            ]
        }
    )
    assert context.equals("path") == frozenset({"/etc/hosts"})
    assert QueryContext.from_osquery(context.to_osquery()) == context


def test_engine_info_names_the_engine_and_its_tables() -> None:
    engine = EmbeddedEngine([CountingTable()], reason="because")
    assert engine.info.name == "embedded"
    assert engine.info.reason == "because"
    assert engine.info.tables == ("os_version",)
    assert engine.available_tables() == frozenset({"os_version"})


def test_a_runaway_query_is_stopped_at_the_time_limit() -> None:
    engine = EmbeddedEngine([CountingTable()], query_time_limit=0.2)
    runaway = (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
    )
    with engine.begin_scan() as session:
        with pytest.raises(QueryError) as failure:
            session.query(runaway)
        assert "ran longer than 0.2 s and was stopped" in failure.value.message
        assert session.query("SELECT major FROM os_version").rows == ({"major": 12},)


class PackagesTable(TablePlugin):
    """Many rows, no key columns: SQLite filters them; the cursor gives it only possible ones."""

    name = "deb_packages"
    columns = (Column("name"), Column("revision", "integer"), Column("arch"))

    def generate(self, context: QueryContext) -> Iterable[Row]:
        rows: list[Row] = [
            {"name": f"pkg{i}", "revision": i % 3, "arch": "amd64"} for i in range(50)
        ]
        rows += [{"name": "Dup", "revision": 1, "arch": None}, {"name": "dup", "revision": 1}]
        return rows


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("name = 'pkg7'", ["pkg7"]),
        ("name = 'dup'", ["dup"]),  # BINARY: case counts, as in SQLite
        ("name = 'DUP' COLLATE NOCASE", ["Dup", "dup"]),
        ("name = 'pkg7' OR name = 'pkg9'", ["pkg7", "pkg9"]),
        ("name IN ('pkg1', 'pkg2', 'nope')", ["pkg1", "pkg2"]),
        ("revision = 2 AND name = 'pkg8'", ["pkg8"]),
        ("revision = '2' AND name LIKE 'pkg1%'", ["pkg11", "pkg14", "pkg17"]),  # affinity
        ("revision = 2.0 AND name = 'pkg5'", ["pkg5"]),
        ("name = 7", []),
        ("arch = NULL", []),
        ("arch IS NULL", ["Dup", "dup"]),
    ],
)
def test_equality_filters_give_what_sqlite_gives(where: str, expected: list[str]) -> None:
    engine = EmbeddedEngine([PackagesTable()])
    session = engine.begin_scan()
    try:
        rows = session.query(f"SELECT name FROM deb_packages WHERE {where} ORDER BY name").rows
    finally:
        session.close()
    assert sorted(str(row["name"]) for row in rows) == sorted(expected)


@pytest.fixture
def filters(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tables SQLite asked rows of (each Filter call), in order."""
    asked: list[str] = []
    real = embedded._Cursor.Filter

    def counting(
        cursor: embedded._Cursor, indexnum: int, indexname: str | None, args: tuple[object, ...]
    ) -> None:
        asked.append(cursor._vtable.table.name)
        real(cursor, indexnum, indexname, args)

    monkeypatch.setattr(embedded._Cursor, "Filter", counting)
    return asked


def scan_answers(engine: EmbeddedEngine, sql: str) -> tuple[Row, ...]:
    with engine.begin_scan() as session:
        session.prepare([sql])
        return session.query(sql).rows


def test_a_repeatable_query_over_unchanged_rows_answers_from_memory(filters: list[str]) -> None:
    table = ChangingTable()
    engine = EmbeddedEngine([table, OtherCountingTable()])
    sql = "SELECT upper(name) AS name, major FROM os_version WHERE major > 5"
    first = scan_answers(engine, sql)
    assert first == ({"name": "DEBIAN", "major": 12},)
    assert filters == ["os_version"]
    first[0]["name"] = "changed by the first caller"  # not the remembered answer's row
    answer = scan_answers(engine, sql)
    assert answer == ({"name": "DEBIAN", "major": 12},)
    assert filters == ["os_version"]  # not run again: the same rows, a repeatable query
    answer[0]["name"] = "changed by a caller"  # a copy: the next answer is intact
    assert scan_answers(engine, sql) == ({"name": "DEBIAN", "major": 12},)
    table.major = "13"  # the table's rows changed: the query runs again
    assert scan_answers(engine, sql) == ({"name": "DEBIAN", "major": 13},)
    assert filters == ["os_version", "os_version"]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT name, random() AS r FROM os_version",
        "SELECT name, datetime('now') AS t FROM os_version",
        "SELECT path FROM file WHERE path = '/a'",  # rows generated for a key column's value
    ],
)
def test_queries_whose_answer_may_change_always_run(filters: list[str], sql: str) -> None:
    engine = EmbeddedEngine([ChangingTable(), FileTable()])
    for _ in range(3):
        scan_answers(engine, sql)
    assert len(filters) == 3


class FlakyTable(ChangingTable):
    def __init__(self) -> None:
        super().__init__()
        self.broken = False

    def generate(self, context: QueryContext) -> Iterable[Row]:
        if self.broken:
            raise TableError("cannot read /etc/os-release: permission denied")
        return super().generate(context)


def test_a_table_that_fails_later_is_reported_not_answered_from_memory() -> None:
    table = FlakyTable()
    engine = EmbeddedEngine([table])
    sql = "SELECT name FROM os_version"
    assert len(scan_answers(engine, sql)) == 2
    table.broken = True
    with pytest.raises(QueryError, match="permission denied"):
        scan_answers(engine, sql)
