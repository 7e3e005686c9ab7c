"""The interface every query engine offers the scanner.

A scan opens one `ScanSession`; within it each table is generated at most once (per set of key
constraints), the tables the scan will need can be fetched concurrently up front, and every query
returns typed rows or raises `QueryError` with a reason a person can read.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from stethoscope_desktop.tables.base import QueryContext, Row, TableError, TablePlugin

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueryResult:
    """The rows a query returned and the tables it read."""

    rows: tuple[Row, ...]
    tables: tuple[str, ...] = ()


class QueryError(Exception):
    """A query could not be answered; `tables` names the tables involved, where known."""

    def __init__(self, message: str, tables: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.tables = tuple(tables)


@dataclass(frozen=True)
class TableTiming:
    """How long generating one table took in a scan, and how many rows it gave."""

    table: str
    seconds: float
    rows: int
    error: str | None = None


@dataclass(frozen=True)
class EngineInfo:
    """Which engine answered, its version where it has one, and why it was chosen."""

    name: str
    version: str = ""
    reason: str = ""
    tables: tuple[str, ...] = field(default_factory=tuple)


class ScanSession(ABC):
    """One scan's worth of queries against an engine."""

    @abstractmethod
    def prepare(self, queries: Sequence[str]) -> None:
        """Fetch what these queries will need, concurrently where the engine can; never raises."""

    @abstractmethod
    def query(self, sql: str) -> QueryResult:
        """Run one query and return its rows; raise QueryError with the reason on failure."""

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
        rows = [dict(row) for row in table.generate(context)]
    except TableError as failure:
        return None, str(failure) or f"{table.name}: no reason given", time.perf_counter() - started
    except Exception as failure:  # a bug in a table must not end the scan
        log.exception("table %s failed", table.name)
        reason = f"{table.name} failed: {type(failure).__name__}: {failure}"
        return None, reason, time.perf_counter() - started
    return rows, None, time.perf_counter() - started


def add_timing(
    timings: dict[str, TableTiming], table: str, seconds: float, rows: int, error: str | None
) -> None:
    """Add one generation of `table` to a scan's timings (the caller holds their lock)."""
    previous = timings.get(table)
    timings[table] = TableTiming(
        table,
        seconds + (previous.seconds if previous else 0.0),
        rows + (previous.rows if previous else 0),
        error,
    )
