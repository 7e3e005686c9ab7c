"""The interface every query engine offers the scanner.

A scan opens one `ScanSession`; within it each table is generated at most once (per set of key
constraints), the tables the scan will need can be fetched concurrently up front, and every query
returns typed rows or raises `QueryError` with a reason a person can read.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from stethoscope_desktop.engines.info import EngineInfo, TableTiming
from stethoscope_desktop.tables.base import QueryContext, Row, TableError, TablePlugin

log = logging.getLogger(__name__)
RowsT = TypeVar("RowsT")


@dataclass(frozen=True)
class QueryResult:
    """The rows a query returned and the tables it read."""

    rows: tuple[Row, ...]
    tables: tuple[str, ...] = ()


class QueryError(Exception):
    """A query could not be answered; `tables` names the tables involved, where known.

    `query_mistake` is True when the query itself is wrong (a table or column osquery lacks on
    this platform, text that is not valid SQL): osquery could not run it either, and nothing
    about the device is at fault. False for a fact the device or engine cannot give.
    """

    def __init__(
        self, message: str, tables: Sequence[str] = (), *, query_mistake: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.tables = tuple(tables)
        self.query_mistake = query_mistake


NUL_IN_QUERY = "the query contains a NUL character (\\0), which SQLite cannot run"


def sql_text_problem(sql: str) -> str | None:
    """Return why no engine can run `sql` as text (a NUL character), or None."""
    return NUL_IN_QUERY if "\0" in sql else None


class ScanSession(ABC):
    """One scan's worth of queries against an engine."""

    @abstractmethod
    def prepare(self, queries: Sequence[str]) -> None:
        """Fetch what these queries will need, concurrently where the engine can; never raises."""

    @abstractmethod
    def query(self, sql: str, *, time_limit: float | None = None) -> QueryResult:
        """Run one query and return its rows; raise QueryError with the reason on failure.

        `time_limit` (seconds) shortens the engine's own limit for this query where the engine
        can stop a query early (the embedded engine can; osqueryd keeps its own timeout).
        """

    @abstractmethod
    def table_timings(self) -> Mapping[str, TableTiming]:
        """Return how long each table took to generate in this session."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the session holds."""

    def __enter__(self) -> ScanSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class QueryEngine(ABC):
    """Something that runs osquery SQL against this machine."""

    @property
    @abstractmethod
    def info(self) -> EngineInfo:
        """Describe the engine for the report."""

    @abstractmethod
    def available_tables(self) -> frozenset[str]:
        """Return the names of the tables this engine can serve on this machine."""

    @abstractmethod
    def begin_scan(self) -> ScanSession:
        """Open a session for one scan."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the engine's resources (processes, sockets)."""


def generate_rows(
    table: TablePlugin, context: QueryContext
) -> tuple[list[Row] | None, str | None, float]:
    """Run a table's `generate`: (rows, None, seconds), or (None, the reason, seconds).

    Never raises: a table's own TableError is its reason, and a bug in a table is logged and
    reported rather than ending the scan.
    """
    started = time.perf_counter()
    try:
        # A dict row is taken as it is: tables never change a row once handed out (those that
        # keep rows between scans hand out the same ones), so the engine can keep it and tell
        # an unchanged table by its rows' identity. Other mappings are copied into dicts.
        rows = [row if type(row) is dict else dict(row) for row in table.generate(context)]
    except TableError as failure:
        return None, str(failure) or f"{table.name}: no reason given", time.perf_counter() - started
    except Exception as failure:  # a bug in a table must not end the scan
        log.exception("table %s failed", table.name)
        reason = f"{table.name} failed: {type(failure).__name__}: {failure}"
        return None, reason, time.perf_counter() - started
    return rows, None, time.perf_counter() - started


CacheKey = tuple[str, tuple[tuple[str, int, str], ...]]


class TableCache(Generic[RowsT]):
    """One scan's generated tables: each generated at most once per set of key constraints.

    Concurrent callers asking for the same table and constraints wait for one generation.
    `convert` turns a table's rows into what the engine keeps (typed tuples, or the rows as they
    are). Also keeps each table's timing and the errors raised, for the report.
    """

    def __init__(self, convert: Callable[[TablePlugin, list[Row]], RowsT]) -> None:
        self._convert = convert
        self._cache: dict[CacheKey, tuple[RowsT | None, str | None]] = {}
        self._pending: dict[CacheKey, threading.Event] = {}
        self._lock = threading.Lock()
        self._timings: dict[str, TableTiming] = {}
        self._errors: list[str] = []

    def rows_for(self, table: TablePlugin, context: QueryContext) -> RowsT:
        """Return the table's rows for `context`; raise TableError with the table's reason."""
        key_columns = set(table.key_columns())
        keyed = tuple(c for c in context.constraints if c.column in key_columns)
        key: CacheKey = (table.name, tuple(sorted((c.column, int(c.op), c.expr) for c in keyed)))
        while True:
            with self._lock:
                cached = self._cache.get(key)
                if cached is not None:
                    break
                waiting = self._pending.get(key)
                if waiting is None:
                    self._pending[key] = threading.Event()
                    break
            waiting.wait()
        if cached is None:
            cached = self._generate(table, QueryContext(keyed))
            with self._lock:
                self._cache[key] = cached
                self._pending.pop(key).set()
        rows, error = cached
        if error is not None:
            with self._lock:
                self._errors.append(error)
            raise TableError(error)
        assert rows is not None
        return rows

    def _generate(
        self, table: TablePlugin, context: QueryContext
    ) -> tuple[RowsT | None, str | None]:
        generated, error, seconds = generate_rows(table, context)
        rows = None if generated is None else self._convert(table, generated)
        with self._lock:
            previous = self._timings.get(table.name)
            self._timings[table.name] = TableTiming(
                table.name,
                seconds + (previous.seconds if previous else 0.0),
                len(generated or ()) + (previous.rows if previous else 0),
                error,
            )
        return rows, error

    def error_mark(self) -> int:
        """Return a mark to pass to `errors_since` later."""
        with self._lock:
            return len(self._errors)

    def errors_since(self, mark: int) -> list[str]:
        """Return the distinct table errors raised since `mark`."""
        with self._lock:
            return list(dict.fromkeys(self._errors[mark:]))

    def timings(self) -> dict[str, TableTiming]:
        """Return how long each table took to generate in this scan."""
        with self._lock:
            return dict(self._timings)
