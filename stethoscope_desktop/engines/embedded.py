"""The embedded engine: osquery SQL on SQLite, with our tables as virtual tables (through APSW).

Every table is an eponymous virtual table, so `SELECT … FROM os_version` works as in osquery.
SQLite's planner hands each usable `WHERE` term to `BestIndexObject`; we pass them on to the
table's `generate(context)` as osquery does (SQLite still applies every term itself, so a table
may ignore what it cannot use). Within one scan a table is generated at most once per set of
constraints on its index/required columns, and the tables a scan needs are generated concurrently
up front.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import apsw

from stethoscope_desktop.engines.base import (
    QueryEngine,
    QueryError,
    QueryResult,
    ScanSession,
    TableCache,
    sql_text_problem,
)
from stethoscope_desktop.engines.info import EngineInfo, TableTiming
from stethoscope_desktop.engines.osquery_schema import (
    SqlErrorReason,
    explain_sql_failure,
    host_platform,
)
from stethoscope_desktop.engines.sql_functions import (
    SCALAR_FUNCTIONS,
    query_deadline,
    register_osquery_functions,
)
from stethoscope_desktop.tables.base import (
    Column,
    Constraint,
    Operator,
    QueryContext,
    Row,
    TableError,
    TablePlugin,
    Value,
)
from stethoscope_desktop.tables.system import waits_in_this_thread

log = logging.getLogger(__name__)

_SQLITE_TO_OSQUERY: dict[int, Operator] = {
    apsw.SQLITE_INDEX_CONSTRAINT_EQ: Operator.EQUALS,
    apsw.SQLITE_INDEX_CONSTRAINT_GT: Operator.GREATER_THAN,
    apsw.SQLITE_INDEX_CONSTRAINT_LE: Operator.LESS_THAN_OR_EQUALS,
    apsw.SQLITE_INDEX_CONSTRAINT_LT: Operator.LESS_THAN,
    apsw.SQLITE_INDEX_CONSTRAINT_GE: Operator.GREATER_THAN_OR_EQUALS,
    apsw.SQLITE_INDEX_CONSTRAINT_MATCH: Operator.MATCH,
    apsw.SQLITE_INDEX_CONSTRAINT_LIKE: Operator.LIKE,
    apsw.SQLITE_INDEX_CONSTRAINT_GLOB: Operator.GLOB,
    apsw.SQLITE_INDEX_CONSTRAINT_REGEXP: Operator.REGEXP,
}

_SQL_TYPES = {"text": "TEXT", "integer": "INTEGER", "bigint": "BIGINT", "double": "DOUBLE"}

MAX_PREFETCH_WORKERS = 8
# A query (an IT check with a runaway recursive CTE, say) is stopped after this long. Time spent
# in our tables' own code counts too; their commands have their own, shorter timeouts.
QUERY_TIME_LIMIT_S = 30.0
PROGRESS_STEPS = 10_000
# SQLite's limits on every query of the connection (IT's SQL included): no text or blob value
# grows beyond MAX_VALUE_BYTES (`randomblob(1000000000)` fails at once rather than allocating a
# gigabyte), no statement is longer than MAX_SQL_BYTES (IT's are at most 20,000 characters, ours
# far less), and no query returns more than MAX_RESULT_ROWS rows (a recursive CTE without end
# would otherwise fill memory with rows for the whole time limit).
MAX_VALUE_BYTES = 16 * 1024 * 1024
MAX_SQL_BYTES = 1024 * 1024
MAX_RESULT_ROWS = 200_000
# The tables each query reads, kept between scans: our checks and IT's (at most 500) fit.
MAX_REMEMBERED_QUERIES = 2048
MAX_REMEMBERED_QUERY_CHARS = 8 * 1024 * 1024
# Answers of repeatable queries kept between scans (each at most this many rows).
MAX_REMEMBERED_RESULTS = 256
MAX_REMEMBERED_RESULT_ROWS = 50_000
# Functions whose result depends on their arguments only: SQLite's core scalar, aggregate, JSON
# and math functions (not random, the date and time ones, nor the connection's counters), and
# osquery's functions as registered here.
REPEATABLE_FUNCTIONS = frozenset(
    """
    abs char coalesce concat concat_ws format glob hex ifnull iif instr length like likelihood
    likely lower ltrim max min nullif octet_length printf quote replace round rtrim sign soundex
    substr substring trim typeof unhex unicode unlikely upper zeroblob
    avg count group_concat string_agg sum total
    json json_array json_array_length json_extract json_insert json_object json_patch json_quote
    json_remove json_replace json_set json_type json_valid json_group_array json_group_object
    """.split()  # noqa: SIM905 - a list of words, read as one
) | frozenset(SCALAR_FUNCTIONS)
# SQLite's own memory (sorting, DISTINCT, a CTE's queue; our tables' rows live in Python) is
# bounded process-wide: past the soft limit SQLite frees caches, past the hard one an allocation
# fails and the query reports it. Far above what our checks use (a few MB), so only a runaway
# query meets them. Raised, never lowered, if something else in the process set one already.
SOFT_HEAP_LIMIT_BYTES = 256 * 1024 * 1024
HARD_HEAP_LIMIT_BYTES = 1024 * 1024 * 1024


@dataclass(frozen=True)
class QueryReads:
    """What preparing a query found: the tables it reads, and whether its answer repeats.

    Repeatable: it calls only functions whose result depends on their arguments alone (no
    time, no randomness), so the same rows give the same answer.
    """

    tables: tuple[str, ...]
    repeatable: bool


def _typed_rows(table: TablePlugin, rows: list[Row]) -> list[tuple[Value, ...]]:
    """Return rows as tuples in column order, each value of its column's type."""
    return [tuple(_coerce(row.get(c.name), c) for c in table.columns) for row in rows]


def _declaration(table: type[TablePlugin] | TablePlugin) -> str:
    columns = ", ".join(
        f'"{c.name}" {_SQL_TYPES[c.type]}{" HIDDEN" if c.hidden else ""}' for c in table.columns
    )
    return f"CREATE TABLE x({columns})"


def _coerce(value: Value, column: Column) -> Value:
    """Turn a generated value into the column's SQLite type, as osquery's typed columns do."""
    if value is None:
        return None
    try:
        if column.type in ("integer", "bigint"):
            if isinstance(value, bool):
                return int(value)
            if isinstance(value, int):
                return value
            if isinstance(value, float):
                return int(value)
            text = str(value).strip()
            return int(text) if text else None
        if column.type == "double":
            text = str(value).strip()
            return float(value) if not isinstance(value, str) else (float(text) if text else None)
    except ValueError:
        return None
    return value if isinstance(value, str) else str(value)


def _at_most_rows(cursor: apsw.Cursor) -> Iterable[tuple[Any, ...]]:
    """Yield the cursor's rows; raise QueryError past MAX_RESULT_ROWS."""
    for count, values in enumerate(cursor, start=1):
        if count > MAX_RESULT_ROWS:
            raise QueryError(
                f"the query returned more than {MAX_RESULT_ROWS:,} rows and was stopped"
            )
        yield values


def _bound_sqlite(connection: apsw.Connection) -> None:
    """Set SQLite's limits on `connection` and its process-wide heap limits (see the constants)."""
    connection.limit(apsw.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    connection.limit(apsw.SQLITE_LIMIT_SQL_LENGTH, MAX_SQL_BYTES)
    soft = apsw.soft_heap_limit(-1)
    if soft == 0 or soft < SOFT_HEAP_LIMIT_BYTES:
        apsw.soft_heap_limit(SOFT_HEAP_LIMIT_BYTES)
    hard = apsw.hard_heap_limit(-1)
    if hard == 0 or hard < HARD_HEAP_LIMIT_BYTES:
        apsw.hard_heap_limit(HARD_HEAP_LIMIT_BYTES)


class _RowIds:
    """Rowids that name a row by its content, the same in every Filter of one statement.

    SQLite answers `WHERE (path = 'a' OR path LIKE 'b%')` by filtering once per branch and drops
    a row whose rowid an earlier branch already gave; with the row's position as rowid, row 0 of
    the second branch was lost. Here a rowid stands for (row, its occurrence among equal rows),
    so a row both branches give is kept once and distinct rows are never confused.
    """

    def __init__(self) -> None:
        self._ids: dict[tuple[tuple[Value, ...], int], int] = {}

    def for_rows(self, rows: list[tuple[Value, ...]]) -> list[int]:
        """Return the rowid of each of `rows`."""
        seen: dict[tuple[Value, ...], int] = {}
        ids: list[int] = []
        for row in rows:
            occurrence = seen.get(row, 0)
            seen[row] = occurrence + 1
            ids.append(self._ids.setdefault((row, occurrence), len(self._ids)))
        return ids


class EmbeddedScanSession(ScanSession):
    """One scan on the embedded engine: a cache of generated tables and their timings."""

    def __init__(self, engine: EmbeddedEngine) -> None:
        self._engine = engine
        self._tables: TableCache[list[tuple[Value, ...]]] = TableCache(engine.typed_rows)
        self._row_ids: dict[str, _RowIds] = {}
        self._filter_log: list[tuple[str, list[tuple[Value, ...]]]] = []
        self._keyed_filter = False

    def start_filter_log(self) -> None:
        """Begin noting the rows each Filter of the next query gets (see `note_filtered`)."""
        self._filter_log = []
        self._keyed_filter = False

    def note_filtered(
        self, table: TablePlugin, constraints: list[Constraint], rows: list[tuple[Value, ...]]
    ) -> None:
        """Note that a Filter of the running query read `rows` of `table`."""
        key_columns = table.key_columns()
        if any(constraint.column in key_columns for constraint in constraints):
            self._keyed_filter = True
        if all(rows is not seen for _, seen in self._filter_log):
            self._filter_log.append((table.name, rows))

    def filter_log(self) -> tuple[tuple[str, list[tuple[Value, ...]]], ...] | None:
        """Return the tables and rows the query read, or None if a key column was constrained.

        Rows generated for a key column's value depend on the query; only rows generated
        without one are the table's whole, as the next scan generates it to compare.
        """
        return None if self._keyed_filter else tuple(self._filter_log)

    def row_ids_for(self, table: TablePlugin) -> _RowIds:
        """Return the rowids of `table`'s rows in this scan."""
        return self._row_ids.setdefault(table.name, _RowIds())

    def rows_for(self, table: TablePlugin, context: QueryContext) -> list[tuple[Value, ...]]:
        """Return the table's rows for this context, generating them at most once per scan."""
        return self._tables.rows_for(table, context)

    def tables_read_by(self, sql: str) -> list[str]:
        """Return the tables `sql` reads (the engine finds them once per distinct query)."""
        return self._engine.tables_read_by(sql)

    # -- ScanSession ---------------------------------------------------------------------------

    def prepare(self, queries: Sequence[str]) -> None:
        """Generate, concurrently, every table the queries read that needs no constraints."""
        needed: dict[str, TablePlugin] = {}
        for sql in queries:
            for name in self.tables_read_by(sql):
                table = self._engine.table(name)
                if table is not None and not table.key_columns():
                    needed[name] = table
        if not needed:
            return
        # Threads only where they win: a table that waited on the machine when it was last
        # generated (ran a command, asked statfs), or was never generated, gets a thread of its
        # own; the others, which only read files, are generated here meanwhile, since a thread's
        # start and the GIL passed back and forth cost them more than they would save.
        waiting = [t for t in needed.values() if self._engine.waits_on_machine(t.name)]
        inline = [t for t in needed.values() if not self._engine.waits_on_machine(t.name)]
        if not waiting or (len(waiting) == 1 and not inline):
            for table in needed.values():
                self._prefetch_one(table)
            return
        workers = min(MAX_PREFETCH_WORKERS, len(waiting))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="table") as pool:
            futures = [pool.submit(self._prefetch_one, table) for table in waiting]
            for table in inline:
                self._prefetch_one(table)
            for future in futures:
                future.result()

    def _prefetch_one(self, table: TablePlugin) -> None:
        waits_before = waits_in_this_thread()
        # A failure is remembered in the cache; the query that needs the table reports it.
        with contextlib.suppress(TableError):
            self.rows_for(table, QueryContext())
        self._engine.note_waits_on_machine(table.name, waits_in_this_thread() > waits_before)

    def query(self, sql: str, *, time_limit: float | None = None) -> QueryResult:
        """Run one query against this scan's tables, stopped after `time_limit` if given."""
        return self._engine.run_query(self, sql, time_limit=time_limit)

    def table_timings(self) -> Mapping[str, TableTiming]:
        """Return the time each table took to generate in this scan."""
        return self._tables.timings()

    def close(self) -> None:
        """End the scan, letting the next one begin."""
        self._engine.end_scan(self)


def _rows_equal_to(
    rows: list[tuple[Value, ...]],
    columns: tuple[Column, ...],
    indexname: str | None,
    values: tuple[Any, ...],
) -> list[tuple[Value, ...]]:
    """Return the rows that meet the filter's `column = value` terms SQLite would check anyway.

    SQLite tests every term itself on every row the cursor gives (nothing is omitted); giving it
    only the rows that can match makes `deb_packages WHERE name = 'x'` cost a list scan instead
    of a trip through SQLite per row. Only terms whose outcome Python computes exactly as SQLite
    does are used: a text column against a text value under BINARY collation, an integer column
    against an integer.
    """
    if not indexname:
        return rows
    tests: list[tuple[int, Value]] = []
    for term, value in zip(indexname.split(","), values, strict=True):
        column_index, op, collation = term.split(":")
        if int(op) != Operator.EQUALS or collation != "b":
            continue
        column = columns[int(column_index)]
        if (column.type == "text" and isinstance(value, str)) or (
            column.type in ("integer", "bigint")
            and isinstance(value, int)
            and not isinstance(value, bool)
        ):
            tests.append((int(column_index), value))
    for index, value in tests:
        rows = [row for row in rows if row[index] == value]
    return rows


class _Cursor:
    """An APSW virtual-table cursor over one table's generated rows."""

    def __init__(self, vtable: _VirtualTable) -> None:
        self._vtable = vtable
        self._rows: list[tuple[Value, ...]] = []
        self._index = 0
        self._rowids: list[int] | None = None

    def Filter(self, indexnum: int, indexname: str | None, constraintargs: tuple[Any, ...]) -> None:
        columns = self._vtable.table.columns
        constraints: list[Constraint] = []
        if indexname:
            for term, value in zip(indexname.split(","), constraintargs, strict=True):
                column_index, op, _ = term.split(":")
                if value is None:
                    continue
                constraints.append(
                    Constraint(columns[int(column_index)].name, Operator(int(op)), str(value))
                )
        session = self._vtable.engine.active_session()
        rows = session.rows_for(self._vtable.table, QueryContext(tuple(constraints)))
        session.note_filtered(self._vtable.table, constraints, rows)
        self._rows = _rows_equal_to(rows, columns, indexname, constraintargs)
        self._index = 0
        self._rowids = None

    def Eof(self) -> bool:
        return self._index >= len(self._rows)

    def Rowid(self) -> int:
        # Asked for only when SQLite needs it (an OR split into several filters); computed then.
        if self._rowids is None:
            session = self._vtable.engine.active_session()
            self._rowids = session.row_ids_for(self._vtable.table).for_rows(self._rows)
        return self._rowids[self._index]

    def Column(self, number: int) -> Value:
        if number == -1:
            return self.Rowid()
        return self._rows[self._index][number]

    def Next(self) -> None:
        self._index += 1

    def Close(self) -> None:
        self._rows = []


class _VirtualTable:
    """An APSW virtual table that serves one TablePlugin."""

    def __init__(self, engine: EmbeddedEngine, table: TablePlugin) -> None:
        self.engine = engine
        self.table = table

    def BestIndexObject(self, info: apsw.IndexInfo) -> bool:
        terms: list[str] = []
        for i in range(info.nConstraint):
            op = _SQLITE_TO_OSQUERY.get(info.get_aConstraint_op(i))
            column = info.get_aConstraint_iColumn(i)
            if not info.get_aConstraint_usable(i) or op is None or column < 0:
                continue
            # A term under another collation than BINARY is never pre-filtered by the cursor.
            binary = info.get_aConstraint_collation(i).upper() == "BINARY"
            terms.append(f"{column}:{int(op)}:{'b' if binary else 'c'}")
            info.set_aConstraintUsage_argvIndex(i, len(terms))
            info.set_aConstraintUsage_omit(i, False)
        info.idxStr = ",".join(terms) if terms else None
        required = {c.name for c in self.table.columns if c.required}
        used = {self.table.columns[int(t.split(":")[0])].name for t in terms}
        # Plans that give a required column a value are far cheaper, as in osquery, where one
        # of them is enough (file's path or directory); so are, by far, plans that constrain a
        # column the table reads by (osquery: cost 1, else its max), so that an OR of such
        # constraints is split into filters rather than scanned whole, and a join hands a
        # required column its value from the other table (file f ON f.path = u.directory).
        missing_required = 1 if required and not required & used else 0
        keyed = 1.0 if used & set(self.table.key_columns()) else 100.0
        info.estimatedCost = keyed + 1_000_000.0 * missing_required - 0.01 * len(terms)
        return True

    def Open(self) -> _Cursor:
        return _Cursor(self)

    def Disconnect(self) -> None:
        pass

    Destroy = Disconnect


class _Module:
    """The APSW module that connects a virtual table name to its TablePlugin."""

    def __init__(self, engine: EmbeddedEngine, table: TablePlugin) -> None:
        self._engine = engine
        self._table = table

    def Connect(
        self,
        connection: apsw.Connection,
        modulename: str,
        databasename: str,
        tablename: str,
        *args: str,
    ) -> tuple[str, _VirtualTable]:
        return _declaration(self._table), _VirtualTable(self._engine, self._table)

    Create = Connect


class EmbeddedEngine(QueryEngine):
    """Runs osquery SQL on SQLite with our Python tables as virtual tables."""

    def __init__(
        self,
        tables: Iterable[TablePlugin],
        *,
        reason: str = "",
        query_time_limit: float = QUERY_TIME_LIMIT_S,
        platform: str = "",
    ) -> None:
        self._query_time_limit = query_time_limit
        self._platform = platform or host_platform()  # osquery's name, for error reasons
        self._tables = {table.name: table for table in tables}
        self._reason = reason
        self._connection = apsw.Connection(":memory:")
        for name, table in self._tables.items():
            self._connection.create_module(
                name,
                _Module(self, table),  # type: ignore[arg-type]  # APSW's protocol is structural
                use_bestindex_object=True,
                eponymous=True,
            )
        # osquery's own SQL functions (regex_match, split, concat_ws…), so the same SQL gives
        # the same answer here as on osquery: see engines/sql_functions.py.
        register_osquery_functions(self._connection)
        _bound_sqlite(self._connection)
        self._scan_lock = threading.Lock()
        self._session: EmbeddedScanSession | None = None
        self._query_lock = threading.Lock()
        self._tables_read: dict[str, QueryReads] = {}
        # A repeatable query's last answer, with the tables' rows it was computed from.
        self._results: dict[
            str, tuple[tuple[tuple[str, list[tuple[Value, ...]]], ...], QueryResult]
        ] = {}
        self._tables_read_chars = 0
        # Per table: whether its last generation waited on the machine (see
        # EmbeddedScanSession.prepare), and its last generated rows with their typed tuples.
        self._waited: dict[str, bool] = {}
        self._typed: dict[str, tuple[list[Row], list[tuple[Value, ...]]]] = {}

    @property
    def info(self) -> EngineInfo:
        """Describe the engine for the report."""
        return EngineInfo(
            name="embedded",
            version=f"SQLite {apsw.sqlite_lib_version()}",
            reason=self._reason,
            tables=tuple(sorted(self._tables)),
        )

    def waits_on_machine(self, table: str) -> bool:
        """Return True if `table` waited on the machine when last generated, or never was."""
        return self._waited.get(table, True)

    def note_waits_on_machine(self, table: str, waited: bool) -> None:
        """Remember whether `table`'s generation just now waited on the machine."""
        self._waited[table] = waited

    def typed_rows(self, table: TablePlugin, rows: list[Row]) -> list[tuple[Value, ...]]:
        """Return `_typed_rows(table, rows)`, reusing the last scan's where the rows are equal.

        Typing is most of a big table's cost once its file is cached (deb_packages: 3.2 ms for
        770 rows here; comparing them, 0.3 ms). The last generation of each table is kept (a
        table generated for several constraints keeps its last); the same list is handed out
        again, and nothing changes it, so a query's answer can be known to repeat (see
        `_repeated_result`).
        """
        remembered = self._typed.get(table.name)
        if remembered is not None and remembered[0] == rows:
            return remembered[1]
        typed = _typed_rows(table, rows)
        self._typed[table.name] = (rows, typed)
        return typed

    def available_tables(self) -> frozenset[str]:
        """Return the names of the tables served on this machine."""
        return frozenset(self._tables)

    def table(self, name: str) -> TablePlugin | None:
        """Return the table plugin called `name`, if served."""
        return self._tables.get(name)

    def begin_scan(self) -> EmbeddedScanSession:
        """Open a scan; scans run one at a time, a second waits for the first to close."""
        self._scan_lock.acquire()
        self._session = EmbeddedScanSession(self)
        return self._session

    def end_scan(self, session: EmbeddedScanSession) -> None:
        """Close `session` if it is the active scan."""
        if self._session is session:
            self._session = None
            self._scan_lock.release()

    def active_session(self) -> EmbeddedScanSession:
        """Return the scan in progress (SQLite calls back into it while a query runs)."""
        if self._session is None:
            raise TableError("no scan in progress")
        return self._session

    def tables_read_by(self, sql: str) -> list[str]:
        """Return the names of our tables that `sql` reads, found by preparing it (not running).

        Found once per distinct text and kept (at most MAX_REMEMBERED_QUERIES texts of
        MAX_REMEMBERED_QUERY_CHARS in all, then forgotten at once): the tables are the engine's
        for its lifetime, so the answer never changes.
        """
        return list(self._reads_of(sql).tables)

    def _reads_of(self, sql: str) -> QueryReads:
        known = self._tables_read.get(sql)
        if known is None:
            known = self._find_tables_read_by(sql)
            if (
                len(self._tables_read) >= MAX_REMEMBERED_QUERIES
                or self._tables_read_chars + len(sql) > MAX_REMEMBERED_QUERY_CHARS
            ):
                self._tables_read.clear()
                self._results.clear()
                self._tables_read_chars = 0
            self._tables_read[sql] = known
            self._tables_read_chars += len(sql)
        return known

    def _find_tables_read_by(self, sql: str) -> QueryReads:
        names: list[str] = []
        functions: set[str] = set()

        def note_reads(code: int, table: str | None, function: str | None, *_: str | None) -> int:
            if code == apsw.SQLITE_READ and table in self._tables and table not in names:
                names.append(table)
            elif code == apsw.SQLITE_FUNCTION and function is not None:
                functions.add(function.casefold())
            return apsw.SQLITE_OK

        with self._query_lock:
            self._connection.authorizer = note_reads
            try:
                # EXPLAIN prepares the statement (the authorizer sees every table it reads and
                # every function it calls) without running it.
                self._connection.cursor().execute(sql, explain=1).fetchall()
            except (apsw.Error, ValueError):  # ValueError: a NUL character in the text
                return QueryReads((), repeatable=False)
            finally:
                self._connection.authorizer = None
        return QueryReads(tuple(names), repeatable=functions <= REPEATABLE_FUNCTIONS)

    def _repeated_result(
        self, session: EmbeddedScanSession, sql: str, reads: QueryReads
    ) -> QueryResult | None:
        """Return the query's last answer if it read the very same rows then, else None.

        Only for a repeatable query (see QueryReads) whose last run constrained no key column:
        its answer is a function of the tables' whole rows. Those are the same list objects as
        last scan when they were equal (`typed_rows`), so an unchanged machine answers from
        memory; a copy of each row is handed out. A table that fails now gives no answer here:
        the query runs and reports it.
        """
        remembered = self._results.get(sql) if reads.repeatable else None
        if remembered is None:
            return None
        inputs, result = remembered
        try:
            for name, rows in inputs:
                if session.rows_for(self._tables[name], QueryContext()) is not rows:
                    return None
        except TableError:
            return None
        return QueryResult(tuple(dict(row) for row in result.rows), result.tables)

    def _remember_result(
        self, session: EmbeddedScanSession, sql: str, reads: QueryReads, result: QueryResult
    ) -> None:
        inputs = session.filter_log()
        if not reads.repeatable or not inputs or len(result.rows) > MAX_REMEMBERED_RESULT_ROWS:
            self._results.pop(sql, None)
            return
        if len(self._results) >= MAX_REMEMBERED_RESULTS:
            self._results.clear()
        # Its own rows: the caller of this run may change the ones it was handed.
        kept = QueryResult(tuple(dict(row) for row in result.rows), result.tables)
        self._results[sql] = (inputs, kept)

    def run_query(
        self, session: EmbeddedScanSession, sql: str, *, time_limit: float | None = None
    ) -> QueryResult:
        """Run `sql` within `session` and return its rows as dicts.

        Every way the query can fail (a NUL character, a value past MAX_VALUE_BYTES, the time
        limit, memory) is a QueryError with the reason: that query's failure, never the scan's.
        """
        if self._session is not session:
            raise QueryError("the scan this query belongs to has ended")
        problem = sql_text_problem(sql)
        if problem is None and len(sql.encode("utf-8", "replace")) > MAX_SQL_BYTES:
            problem = f"the query is longer than {MAX_SQL_BYTES // 1024} KB"
        if problem is not None:
            raise QueryError(problem, query_mistake=True)
        reads = self._reads_of(sql)
        tables = list(reads.tables)
        repeated = self._repeated_result(session, sql, reads)
        if repeated is not None:
            return repeated
        limit = self._query_time_limit
        if time_limit is not None:
            limit = min(limit, time_limit)
        deadline = time.monotonic() + limit

        def past_deadline() -> bool:
            return time.monotonic() > deadline

        with self._query_lock, query_deadline(deadline):
            self._connection.set_progress_handler(past_deadline, PROGRESS_STEPS)
            try:
                session.start_filter_log()
                cursor = self._connection.cursor()
                cursor.execute(sql)
                try:
                    names = [d[0] for d in cursor.getdescription()]
                except apsw.ExecutionCompleteError:
                    return QueryResult((), tuple(tables))
                rows = tuple(
                    dict(zip(names, values, strict=True)) for values in _at_most_rows(cursor)
                )
            except TableError as failure:
                raise QueryError(str(failure), tables) from failure
            except apsw.SQLError as failure:
                reason = self._explain(str(failure), sql)
                raise QueryError(
                    reason.text, tables, query_mistake=reason.query_mistake
                ) from failure
            except apsw.InterruptError as failure:
                message = f"the query ran longer than {limit:.3g} s and was stopped"
                raise QueryError(message, tables) from failure
            except apsw.TooBigError as failure:
                message = (
                    f"a value of the query grew beyond {MAX_VALUE_BYTES // (1024 * 1024)} MB "
                    "and the query was stopped"
                )
                raise QueryError(message, tables) from failure
            except apsw.NoMemError as failure:
                message = (
                    f"the query needed more than the {HARD_HEAP_LIMIT_BYTES // (1024 * 1024)} MB "
                    "of memory SQLite may use and was stopped"
                )
                raise QueryError(message, tables) from failure
            except apsw.Error as failure:
                raise QueryError(f"SQLite: {failure}", tables) from failure
            except (ValueError, OverflowError, MemoryError) as failure:
                raise QueryError(f"the query could not run: {failure}", tables) from failure
            finally:
                self._connection.set_progress_handler(None)
        result = QueryResult(rows, tuple(tables))
        self._remember_result(session, sql, reads, result)
        return result

    def _explain(self, message: str, sql: str) -> SqlErrorReason:
        """Say why SQLite refused `sql`: a table or column osquery lacks too, or ours only."""
        text = message.removeprefix("SQLError: ")
        columns = {name: [c.name for c in table.columns] for name, table in self._tables.items()}
        reason = explain_sql_failure(
            text, sql, self._platform, served=self._tables, served_columns=columns
        )
        return reason or SqlErrorReason(f"SQL error: {text}", query_mistake=False)

    def close(self) -> None:
        """Close the SQLite connection."""
        self._connection.close()
