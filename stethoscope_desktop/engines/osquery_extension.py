"""Our tables inside a running osqueryd: an osquery extension served from a thread of our process.

osqueryd learns an extension's tables from `registerExtension(info, registry)`, where the registry
holds each table's routes (its columns with osquery's type names and option bits). To read such a
table it connects to `<extensions_socket>.<uuid>` and sends
`call("table", name, {"action": "generate", "context": <JSON constraints>})`; the extension answers
with rows of strings (NULL as an empty string, which osquery turns back into NULL for non-text
columns).

The server is built on the osquery bindings' generated `Extension.Processor` with our own handler
and our own accept loop: the bindings' `start_extension()` parses `sys.argv` and ends the process
when osqueryd goes away, which suits a separate extension binary but not a tray app. Within one
scan each table is generated at most once per set of key constraints (as on the embedded engine),
and the errors our tables raised are remembered, so the engine can report a table's own reason
instead of whatever osqueryd makes of a failed extension call.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import socket
import sys
import threading
import time
from collections.abc import Collection, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from osquery.extensions import Extension
from osquery.extensions.ttypes import ExtensionResponse, ExtensionStatus
from thrift.protocol import TBinaryProtocol
from thrift.Thrift import TException
from thrift.transport import TSocket, TTransport

from stethoscope_desktop.engines.base import TableCache
from stethoscope_desktop.engines.osquery_schema import (
    host_platform,
    osquery_tables,
    tables_named_in,
)
from stethoscope_desktop.tables.base import QueryContext, Row, TableError, TablePlugin, Value

log = logging.getLogger(__name__)

# osquery's ColumnOptions bits (osquery/core/tables.h), sent in each column route's "op".
OPTION_INDEX = 1
OPTION_REQUIRED = 2
OPTION_HIDDEN = 16

# Bounds on what a peer may make us allocate while decoding one Thrift message.
STRING_LIMIT = 64 * 1024 * 1024
CONTAINER_LIMIT = 4 * 1024 * 1024

MAX_PREFETCH_WORKERS = 8


def protocol_for(transport: Any) -> Any:
    """Return a strict binary protocol over `transport` (osquery's framing), bounded in size.

    Not the accelerated protocol: thrift's C decoder rejects the bindings' generated code (made by
    Thrift 0.10, whose struct specs it no longer reads).
    """
    return TBinaryProtocol.TBinaryProtocol(
        transport,
        strictRead=True,
        string_length_limit=STRING_LIMIT,
        container_length_limit=CONTAINER_LIMIT,
    )


def routes(table: TablePlugin) -> list[dict[str, str]]:
    """Return the routes osqueryd needs to attach `table`: one per column, then its attributes."""
    result: list[dict[str, str]] = []
    for column in table.columns:
        options = (
            (OPTION_INDEX if column.index else 0)
            | (OPTION_REQUIRED if column.required else 0)
            | (OPTION_HIDDEN if column.hidden else 0)
        )
        result.append(
            {"id": "column", "name": column.name, "type": column.type.upper(), "op": str(options)}
        )
    result.append({"id": "attributes", "attributes": "0"})
    return result


def to_text(value: Value) -> str:
    """Return a value as the string osquery expects from an extension (None as '')."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value)
    return str(value)


class TableScan(TableCache[list[Row]]):
    """One scan's generated rows of our tables, their timings, and the errors they raised."""

    def __init__(self) -> None:
        super().__init__(lambda table, rows: rows)


class ExtensionTables:
    """The tables we register into osqueryd, generated through the current scan's cache."""

    def __init__(
        self, tables: Iterable[TablePlugin], *, osquery_has: Collection[str] | None = None
    ) -> None:
        """Serve `tables`, but none that osqueryd has itself.

        Until osqueryd says which it has (`serve_what_osquery_lacks`), `osquery_has` stands for
        its tables: by default every osquery table of this platform in osquery's own list.
        """
        self._candidates = {table.name: table for table in tables}
        if osquery_has is None:
            platform = host_platform()
            osquery_has = {
                name
                for name, spec in osquery_tables().items()
                if spec.source == "osquery" and platform in spec.platforms
            }
        self._tables = self._lacking(osquery_has)
        self._lock = threading.Lock()
        self._scan: TableScan | None = None

    def _lacking(self, osquery_has: Collection[str]) -> dict[str, TablePlugin]:
        return {
            name: table
            for name, table in self._candidates.items()
            if name.startswith("stethoscope_") or name not in osquery_has
        }

    def serve_what_osquery_lacks(self, osquery_has: Collection[str]) -> None:
        """Serve, of our tables, ours (`stethoscope_*`) and those osqueryd lists no table for.

        osquery's own tables are never overridden: a table it has is its to answer.
        """
        self._tables = self._lacking(osquery_has)

    @property
    def names(self) -> frozenset[str]:
        """Return the names of the tables served."""
        return frozenset(self._tables)

    def table(self, name: str) -> TablePlugin | None:
        """Return the table called `name`, if served."""
        return self._tables.get(name)

    def registry(self) -> dict[str, dict[str, list[dict[str, str]]]]:
        """Return the registry to send with `registerExtension`."""
        return {"table": {name: routes(table) for name, table in sorted(self._tables.items())}}

    def begin_scan(self) -> TableScan:
        """Start caching generated rows for one scan."""
        scan = TableScan()
        with self._lock:
            self._scan = scan
        return scan

    def end_scan(self) -> None:
        """Stop caching: calls outside a scan generate afresh."""
        with self._lock:
            self._scan = None

    def generate(self, name: str, context: QueryContext) -> list[Row]:
        """Return the rows of table `name` for `context`; raise TableError (or KeyError)."""
        table = self._tables[name]
        with self._lock:
            scan = self._scan
        return (scan or TableScan()).rows_for(table, context)

    def prefetch(self, names: Iterable[str]) -> None:
        """Generate, concurrently, those of `names` that need no constraints (never raises)."""
        with self._lock:
            scan = self._scan
        if scan is None:
            return
        wanted = [
            table
            for name in dict.fromkeys(names)
            if (table := self._tables.get(name)) is not None and not table.key_columns()
        ]
        if not wanted:
            return

        def one(table: TablePlugin) -> None:
            with contextlib.suppress(TableError):  # remembered; the query that needs it says so
                scan.rows_for(table, QueryContext())

        workers = min(MAX_PREFETCH_WORKERS, len(wanted))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="table") as pool:
            for future in [pool.submit(one, table) for table in wanted]:
                future.result()


class ExtensionHandler:
    """Answers osqueryd's calls to our extension: `ping`, `call` and `shutdown`.

    Never raises: the generated Processor would log any exception as an error and answer with an
    "Internal error"; a failure is a status with a message instead.
    """

    def __init__(self, tables: ExtensionTables) -> None:
        self._tables = tables
        self.shutdown_requested = threading.Event()

    def ping(self) -> Any:
        """Answer osqueryd's health check."""
        return ExtensionStatus(code=0, message="OK")

    def shutdown(self) -> Any:
        """Note that osqueryd asked us to stop (the engine stops the server)."""
        self.shutdown_requested.set()
        return ExtensionStatus(code=0, message="OK")

    def call(self, registry: str, item: str, request: Mapping[str, str]) -> Any:
        """Route a plugin call: `generate` or `columns` on one of our tables."""
        if registry != "table":
            return _failure(f"this extension has no {registry!r} plugins")
        table = self._tables.table(item)
        if table is None:
            return _failure(f"this extension has no table {item!r}")
        action = request.get("action", "")
        if action == "columns":
            return ExtensionResponse(
                status=ExtensionStatus(code=0, message="OK"), response=routes(table)
            )
        if action != "generate":
            return _failure(f"unknown table plugin action: {action!r}")
        try:
            context = QueryContext.from_osquery(json.loads(request.get("context") or "{}"))
        except (ValueError, TypeError, AttributeError, KeyError) as error:
            return _failure(f"cannot read the query context: {error}")
        try:
            rows = self._tables.generate(item, context)
        except TableError as error:
            return _failure(str(error))
        except Exception as error:  # a broken table must not take the extension down
            log.exception("table %s failed", item)
            return _failure(f"{item} failed: {type(error).__name__}: {error}")
        response = [{c.name: to_text(row.get(c.name)) for c in table.columns} for row in rows]
        return ExtensionResponse(status=ExtensionStatus(code=0, message="OK"), response=response)


def _failure(message: str) -> Any:
    return ExtensionResponse(status=ExtensionStatus(code=1, message=message), response=[])


class ExtensionServer:
    """Serves an `ExtensionHandler` on a Unix socket (a named pipe on Windows) from threads.

    One thread accepts connections; each connection is served by its own thread (osqueryd may
    ping while a call is in progress). `stop()` ends them all and removes the socket.
    """

    def __init__(self, path: str, handler: ExtensionHandler) -> None:
        self.path = path
        self._handler = handler
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()
        self._listener: socket.socket | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None
        self._pipe_server: Any = None
        self._stopping = threading.Event()

    def start(self) -> None:
        """Bind the socket and start accepting calls; raise OSError if it cannot bind."""
        if sys.platform == "win32":  # pragma: no cover - named pipes; not testable on Linux
            from osquery.TPipe import TPipeServer

            self._pipe_server = TPipeServer(pipe_name=self.path)
            self._pipe_server.listen()
            target = self._accept_pipes
        else:
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                listener.bind(self.path)
                os.chmod(self.path, 0o600)
                listener.listen(8)
            except OSError:
                listener.close()
                raise
            self._listener = listener
            self._wake = socket.socketpair()
            target = self._accept_sockets
        thread = threading.Thread(target=target, name="osquery-extension", daemon=True)
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def threads(self) -> list[threading.Thread]:
        """Return the server's threads that are still running."""
        with self._lock:
            return [thread for thread in self._threads if thread.is_alive()]

    def _accept_sockets(self) -> None:
        assert self._listener is not None and self._wake is not None
        listener, wake = self._listener, self._wake[0]
        try:
            while not self._stopping.is_set():
                ready, _, _ = select.select([listener, wake], [], [])
                if wake in ready or self._stopping.is_set():
                    break
                try:
                    connection, _ = listener.accept()
                except OSError:
                    continue
                self._serve_in_thread(connection, connection)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _accept_pipes(self) -> None:  # pragma: no cover - Windows only
        try:
            while not self._stopping.is_set():
                try:
                    client = self._pipe_server.accept()
                except TException:
                    break
                self._serve_in_thread(client, None)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _serve_in_thread(self, transport: Any, connection: socket.socket | None) -> None:
        thread = threading.Thread(
            target=self._serve,
            args=(transport, connection),
            name="osquery-extension-call",
            daemon=True,
        )
        with self._lock:
            if self._stopping.is_set():
                if connection is not None:
                    connection.close()
                return
            if connection is not None:
                self._connections.add(connection)
            self._threads.add(thread)
        thread.start()

    def _serve(self, raw: Any, connection: socket.socket | None) -> None:
        if connection is not None:
            wrapped = TSocket.TSocket()
            wrapped.setHandle(connection)
            raw = wrapped
        transport = TTransport.TBufferedTransport(raw)
        protocol = protocol_for(transport)
        processor = Extension.Processor(self._handler)
        try:
            while not self._stopping.is_set():
                processor.process(protocol, protocol)
        except TTransport.TTransportException:
            pass  # osqueryd hung up, or we are stopping
        except (TException, OSError, ValueError, EOFError) as error:
            log.debug("extension connection dropped: %s", error)
        finally:
            with contextlib.suppress(OSError):
                transport.close()
            with self._lock:
                if connection is not None:
                    self._connections.discard(connection)
                self._threads.discard(threading.current_thread())

    def stop(self, timeout: float = 2.0) -> None:
        """Stop accepting, end every connection, wait for the threads and remove the socket."""
        self._stopping.set()
        if self._wake is not None:
            with contextlib.suppress(OSError):
                self._wake[1].send(b"x")
        if self._pipe_server is not None:  # pragma: no cover - Windows only
            with contextlib.suppress(Exception):
                self._pipe_server.close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for thread in self.threads():
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._wake is not None:
            for end in self._wake:
                end.close()
            self._wake = None
        if sys.platform != "win32":
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)


# Which of our tables a query names (the word search osquery_schema's explanations use too).
extension_tables_in = tables_named_in
