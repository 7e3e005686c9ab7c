#!/usr/bin/env python3
"""A stand-in for osqueryd, for tests only: no osquery binary exists where the tests run.

It is started exactly as the engine starts osqueryd (same flags; `--version` prints
`osqueryd version X`), and speaks osqueryd's protocol: it serves the ExtensionManager Thrift
service (the osquery bindings' generated Processor) on `--extensions_socket`, answers `ping`,
`query`, `getQueryColumns`, `extensions`, `options`, accepts `registerExtension` and
`deregisterExtension`, and reads a registered extension's tables the way osqueryd does: over
`<socket>.<uuid>`, with `call("table", name, {"action": "generate", "context": <JSON>})`, the
query's constraints in the context.

Every table is an APSW virtual table declared with osquery's schema for the platform (from
`tests/data/osquery_tables.json`) and filled from fixture files; values are typed by column as
osquery types them, and an empty string in a non-text column is NULL. Result values go back as
text, NULL as ''. `getQueryColumns` follows osquery's own algorithm: the declared type of a plain
column, else the type deduced from the statement's SQLite opcodes (osquery's `applyTypes`).

Environment:
  STANDIN_FIXTURES   folder of `<table>.json` files (a list of row objects each) and an optional
                     `standin.json` ({"platform": "linux|darwin|windows", "version": "5.12.1"});
                     default: `fixtures/linux` beside this file. Subfolders are ignored.
  STANDIN_SCHEMAS    osquery's schemas (default: `../data/osquery_tables.json` beside this file)
  STANDIN_FAULT      a fault to inject:
                       exit-on-start          print an error and exit 1 before opening the socket
                       hang-on-start          never open the socket
                       die-after-N-queries    exit abruptly while answering query N+1
                       hang-on-query          never answer a query
                       garbage                answer a query with bytes that are not Thrift
                       error-status           answer a query with status 1
  STANDIN_FAULT_AFTER  queries answered normally before a query fault starts (default 0)
  STANDIN_FAULT_ONCE   a file path: the fault applies only if the file does not exist yet (the
                       stand-in creates it), so a restarted stand-in behaves
  STANDIN_CHILD_PIDFILE  a file path: on start, spawn a child that sleeps (as osqueryd runs a
                       worker under its watchdog), write its pid there; SIGTERM does not reach it
                       unless the whole process group is signalled
  STANDIN_CHILD_SESSION  with STANDIN_CHILD_PIDFILE: the child starts a session of its own
                       (setsid), so no signal to osqueryd's process group reaches it either
  STANDIN_AUTOLOAD_PIDFILE  a file path: the pids of the extensions it autoloaded, one a line

`--extensions_autoload=FILE` starts each executable the file lists (one path a line; blank lines
and `#` comments skipped) once the socket listens, as osqueryd does (osquery/process/posix/
process.cpp): `<path> [--verbose] --socket S --timeout T --interval I`, with OSQUERY_EXTENSION in
its environment; unlike osqueryd it does not restart one that exits.
Queries that read only `osquery_*` tables (the engine's handshake) are never faulted.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid as uuidlib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_VERSION = "5.12.1"
KNOWN_FLAGS = {
    # The flags the engine passes, and others osqueryd accepts that a caller might pass.
    "flagfile", "config_path", "config_plugin", "ephemeral", "disable_database",
    "disable_logging", "disable_watchdog", "disable_events", "disable_extensions",
    "disable_distributed", "extensions_socket", "extensions_timeout", "extensions_interval",
    "extensions_autoload", "extensions_require", "database_path", "pidfile", "logger_plugin",
    "logger_path", "verbose", "force", "utc", "host_identifier", "watchdog_level", "daemonize",
}  # fmt: skip
OPERATORS = {2, 4, 8, 16, 32, 64, 65, 66, 67}  # osquery passes these constraint operators
TYPE_NAMES = {"text": "TEXT", "integer": "INTEGER", "bigint": "BIGINT", "double": "DOUBLE"}
OPTION_HIDDEN = 16


# --- flags -------------------------------------------------------------------------------------


def parse_flags(argv: list[str]) -> dict[str, str]:
    """Parse gflags-style `--name=value` / `--name` / `--noname`; exit 1 on an unknown flag."""
    flags: dict[str, str] = {}
    for arg in argv:
        if arg in ("--version", "-version"):
            flags["version"] = "true"
            continue
        if not arg.startswith("-"):
            fail(f"unexpected argument {arg!r}")
        name, _, value = arg.lstrip("-").partition("=")
        if name not in KNOWN_FLAGS and name.removeprefix("no") in KNOWN_FLAGS and not value:
            name, value = name.removeprefix("no"), "false"
        if name not in KNOWN_FLAGS:
            fail(f"ERROR: unknown command line flag '{name}'")
        flags[name] = value or "true"
    return flags


def fail(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
    sys.exit(1)


# --- faults ------------------------------------------------------------------------------------


class Faults:
    """The fault this process injects (STANDIN_FAULT), and the count of queries answered."""

    def __init__(self, env: dict[str, str]) -> None:
        spec = env.get("STANDIN_FAULT", "")
        once = env.get("STANDIN_FAULT_ONCE", "")
        if spec and once:
            if os.path.exists(once):
                spec = ""
            else:
                Path(once).touch()
        self.after = int(env.get("STANDIN_FAULT_AFTER", "0") or 0)
        died = re.fullmatch(r"die-after-(\d+)-quer(?:y|ies)", spec)
        if died:
            spec, self.after = "die", int(died.group(1))
        self.kind = spec
        self.answered = 0
        self.lock = threading.Lock()

    def for_query(self, sql: str) -> str:
        """Return the fault for this query ('' for none), counting the scan's queries."""
        if not self.kind or self.kind.endswith("-on-start"):
            return ""
        tables = set(re.findall(r"\b(?:from|join)\s+([a-z_0-9]+)", sql.lower()))
        if tables and all(name.startswith("osquery_") for name in tables):
            return ""
        with self.lock:
            if self.answered < self.after:
                self.answered += 1
                return ""
        return "hang" if self.kind == "hang-on-query" else self.kind


# --- tables ------------------------------------------------------------------------------------


def typed(value: Any, column_type: str) -> Any:
    """Type a value as osquery's virtual tables do ('' in a non-text column is NULL)."""
    if value is None:
        return None
    if isinstance(value, bool):
        text = "1" if value else "0"
    elif isinstance(value, (list, dict)):
        text = json.dumps(value)
    else:
        text = str(value)
    kind = column_type.upper()
    if kind == "TEXT":
        return text
    try:
        if kind in ("INTEGER", "BIGINT", "UNSIGNED BIGINT"):
            return int(float(text)) if "." in text else int(text)
        if kind == "DOUBLE":
            return float(text)
    except ValueError:
        return None
    return text


class Column:
    def __init__(self, name: str, kind: str, options: int = 0) -> None:
        self.name = name
        self.kind = kind.upper()
        self.hidden = bool(options & OPTION_HIDDEN)


def declaration(columns: list[Column]) -> str:
    body = ", ".join(f'"{c.name}" {c.kind}{" HIDDEN" if c.hidden else ""}' for c in columns)
    return f"CREATE TABLE x({body})"


class RowsCursor:
    def __init__(self, source: Any) -> None:
        self._source = source
        self._rows: list[tuple[Any, ...]] = []
        self._index = 0

    def Filter(self, indexnum: int, indexname: str | None, args: tuple[Any, ...]) -> None:
        constraints: list[tuple[int, int, Any]] = []
        if indexname:
            for term, value in zip(indexname.split(","), args, strict=True):
                column, op = term.split(":")
                constraints.append((int(column), int(op), value))
        self._rows = self._source.rows(constraints)
        self._index = 0

    def Eof(self) -> bool:
        return self._index >= len(self._rows)

    def Rowid(self) -> int:
        return self._index

    def Column(self, number: int) -> Any:
        return self._index if number == -1 else self._rows[self._index][number]

    def Next(self) -> None:
        self._index += 1

    def Close(self) -> None:
        self._rows = []


class VirtualTable:
    def __init__(self, source: Any) -> None:
        self._source = source

    def BestIndex(self, constraints: Any, orderbys: Any) -> Any:
        if not self._source.forwards_constraints:
            return None
        used: list[int | None] = []
        terms: list[str] = []
        for column, op in constraints:
            if column >= 0 and op in OPERATORS:
                terms.append(f"{column}:{op}")
                used.append(len(terms) - 1)
            else:
                used.append(None)
        if not terms:
            return None
        return (used, 0, ",".join(terms), False, 10.0)

    def Open(self) -> RowsCursor:
        return RowsCursor(self._source)

    def Disconnect(self) -> None:
        pass

    Destroy = Disconnect


class Module:
    def __init__(self, source: Any) -> None:
        self._source = source

    def Connect(
        self, connection: Any, modulename: str, databasename: str, tablename: str, *args: str
    ) -> Any:
        return declaration(self._source.columns), VirtualTable(self._source)

    Create = Connect


class FixtureTable:
    """A core osquery table whose rows come from a fixture file (or are computed).

    Like osquery's tables it takes the query's constraints (so SQLite walks an `IN` list value by
    value, in its order, as on osquery), and like many of them it leaves filtering to SQLite.
    """

    forwards_constraints = True

    def __init__(self, name: str, columns: list[Column], rows: Any) -> None:
        self.name = name
        self.columns = columns
        self._rows = rows

    def rows(self, constraints: list[tuple[int, int, Any]]) -> list[tuple[Any, ...]]:
        rows = self._rows() if callable(self._rows) else self._rows
        return [tuple(typed(row.get(c.name), c.kind) for c in self.columns) for row in rows]


class ExtensionTable:
    """A table an extension registered: generated by calling the extension, as osqueryd does."""

    forwards_constraints = True

    def __init__(self, server: StandIn, uuid: int, name: str, columns: list[Column]) -> None:
        self.name = name
        self.columns = columns
        self._server = server
        self._uuid = uuid

    def rows(self, constraints: list[tuple[int, int, Any]]) -> list[tuple[Any, ...]]:
        by_column: dict[str, list[dict[str, Any]]] = {c.name: [] for c in self.columns}
        for column, op, value in constraints:
            if value is None:
                continue
            expr = value if isinstance(value, str) else str(value)
            by_column[self.columns[column].name].append({"op": op, "expr": expr})
        kinds = {c.name: c.kind for c in self.columns}
        context = {
            "constraints": [
                {"name": name, "list": terms, "affinity": kinds[name]}
                for name, terms in by_column.items()
            ],
            "colsUsed": [c.name for c in self.columns],
        }
        response = self._server.call_extension(
            self._uuid, self.name, {"action": "generate", "context": json.dumps(context)}
        )
        if response.status.code != 0:
            raise RuntimeError(f"Error generating table {self.name}: {response.status.message}")
        return [
            tuple(typed(row.get(c.name), c.kind) if c.name in row else None for c in self.columns)
            for row in response.response or []
        ]


# --- osquery's type deduction for getQueryColumns (osquery/sql/sqlite_util.cpp) ----------------

_OPCODE_TYPES = {
    "Concat": ("p3", "TEXT"), "AggStep": ("p3", "BIGINT"), "AggStep0": ("p3", "BIGINT"),
    "Integer": ("p2", "INTEGER"), "Int64": ("p2", "BIGINT"), "String": ("p2", "TEXT"),
    "String8": ("p2", "TEXT"), "Or": ("p3", "INTEGER"), "And": ("p3", "INTEGER"),
    **{op: ("p3", "BIGINT") for op in ("BitAnd", "BitOr", "ShiftLeft", "ShiftRight", "Add",
                                      "Subtract", "Multiply", "Divide", "Remainder")},
    **{op: ("p2", "INTEGER") for op in ("Not", "IsNull", "NotNull", "Ne", "Eq", "Gt", "Le",
                                       "Lt", "Ge", "IfNeg", "IfNotZero")},
}  # fmt: skip
_CAST_TYPES = {ord("A"): "BLOB", ord("B"): "TEXT", ord("D"): "BIGINT", ord("E"): "DOUBLE"}


def apply_types(program: list[tuple[Any, ...]], columns: list[list[str]]) -> None:
    """Fill UNKNOWN column types from the EXPLAIN program, as osquery's QueryPlanner does."""
    types: dict[int, str] = {}
    for _, opcode, p1, p2, p3, *_rest in program:
        if opcode == "ResultRow":
            for register, kind in types.items():
                if 0 <= register - p1 < len(columns):
                    columns[register - p1][1] = kind
        if opcode == "Copy":
            for i in range(p3 + 1):
                if p1 + i in types:
                    types[p2 + i] = types.pop(p1 + i)
        elif opcode == "Cast":
            types[p1] = _CAST_TYPES.get(p2, "UNKNOWN")
        if opcode in _OPCODE_TYPES:
            register, kind = _OPCODE_TYPES[opcode]
            types[{"p1": p1, "p2": p2, "p3": p3}[register]] = kind


# --- the server --------------------------------------------------------------------------------


class StandIn:
    """osqueryd's extension manager over an in-memory SQLite database of fixture tables."""

    def __init__(self, flags: dict[str, str], env: dict[str, str]) -> None:
        import apsw

        self.apsw = apsw
        self.flags = flags
        self.socket = flags["extensions_socket"]
        fixtures = Path(env.get("STANDIN_FIXTURES") or HERE / "fixtures" / "linux")
        meta_file = fixtures / "standin.json"
        meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
        self.platform = meta.get("platform", "linux")
        self.version = meta.get("version", DEFAULT_VERSION)
        schemas_file = Path(
            env.get("STANDIN_SCHEMAS") or HERE.parent / "data" / "osquery_tables.json"
        )
        schemas = json.loads(schemas_file.read_text())["tables"]
        self.faults = Faults(env)
        self.started = int(time.time())
        self.instance_id = str(uuidlib.uuid4())
        self.registered: dict[int, Any] = {}
        self.tables: dict[str, Any] = {}
        self.lock = threading.RLock()
        self.db = apsw.Connection(":memory:")
        fixture_rows: dict[str, list[dict[str, Any]]] = {}
        for path in sorted(fixtures.glob("*.json")):
            if path.name != "standin.json":
                fixture_rows[path.stem] = json.loads(path.read_text())
        for name, spec in schemas.items():
            if self.platform not in spec.get("platforms", [self.platform]):
                continue
            columns = []
            for entry in spec["columns"]:
                options = entry[2] if len(entry) > 2 else {}
                if self.platform not in options.get("platforms", [self.platform]):
                    continue
                hidden = OPTION_HIDDEN if options.get("hidden") else 0
                columns.append(Column(entry[0], TYPE_NAMES[entry[1]], hidden))
            rows = fixture_rows.pop(name, [])
            known = {c.name for c in columns}
            for row in rows:
                unknown = set(row) - known
                if unknown:
                    fail(
                        f"fixture {name}.json: no such column(s) on {self.platform}: {sorted(unknown)}"
                    )
            if name == "osquery_info":
                rows = self._osquery_info
            self.add_table(FixtureTable(name, columns, rows))
        if fixture_rows:
            fail(
                f"fixtures for tables osquery does not have on {self.platform}: {sorted(fixture_rows)}"
            )
        self.add_table(FixtureTable("osquery_registry", [
            Column("registry", "TEXT"), Column("name", "TEXT"), Column("owner_uuid", "INTEGER"),
            Column("internal", "INTEGER"), Column("active", "INTEGER")], self._registry_rows))  # fmt: skip
        self.add_table(FixtureTable("osquery_extensions", [
            Column("uuid", "BIGINT"), Column("name", "TEXT"), Column("version", "TEXT"),
            Column("sdk_version", "TEXT"), Column("path", "TEXT"), Column("type", "TEXT")],
            self._extension_rows))  # fmt: skip

    def add_table(self, source: Any) -> None:
        self.tables[source.name] = source
        self.db.create_module(source.name, Module(source), eponymous=True)

    def _osquery_info(self) -> list[dict[str, Any]]:
        return [{
            "pid": os.getpid(), "uuid": "4c4c4544-0000-standin", "instance_id": self.instance_id,
            "version": self.version, "config_hash": "", "config_valid": 0,
            "extensions": "active", "build_platform": self.platform, "build_distro": "standin",
            "start_time": self.started, "watcher": -1, "platform_mask": 0,
        }]  # fmt: skip

    def _registry_rows(self) -> list[dict[str, Any]]:
        owners = {name: uuid for uuid, ext in self.registered.items() for name in ext["tables"]}
        return [
            {"registry": "table", "name": name, "owner_uuid": owners.get(name, 0),
             "internal": 0, "active": 1}
            for name in sorted(self.tables)
        ]  # fmt: skip

    def _extension_rows(self) -> list[dict[str, Any]]:
        rows = [{"uuid": 0, "name": "core", "version": self.version, "sdk_version": "0.0.0",
                 "path": self.socket, "type": "core"}]  # fmt: skip
        for uuid, ext in sorted(self.registered.items()):
            info = ext["info"]
            rows.append({"uuid": uuid, "name": info.name, "version": info.version,
                         "sdk_version": info.sdk_version, "path": f"{self.socket}.{uuid}",
                         "type": "extension"})  # fmt: skip
        return rows

    # -- calling an extension, as osqueryd does -------------------------------------------------

    def call_extension(self, uuid: int, table: str, request: dict[str, str]) -> Any:
        from osquery.extensions import Extension
        from thrift.protocol import TBinaryProtocol
        from thrift.transport import TSocket, TTransport

        path = f"{self.socket}.{uuid}"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(30)
        deadline = time.monotonic() + 2
        while True:
            try:
                sock.connect(path)
                break
            except OSError:
                if time.monotonic() > deadline:
                    sock.close()
                    raise RuntimeError(f"extension {uuid} does not answer on {path}") from None
                time.sleep(0.01)
        raw = TSocket.TSocket()
        raw.setHandle(sock)
        transport = TTransport.TBufferedTransport(raw)
        try:
            client = Extension.Client(TBinaryProtocol.TBinaryProtocol(transport))
            return client.call("table", table, request)
        finally:
            transport.close()

    # -- the ExtensionManager service ----------------------------------------------------------

    def ping(self) -> Any:
        from osquery.extensions.ttypes import ExtensionStatus

        return ExtensionStatus(code=0, message="OK", uuid=0)

    def shutdown(self) -> Any:
        from osquery.extensions.ttypes import ExtensionStatus

        threading.Timer(0.05, lambda: os._exit(0)).start()
        return ExtensionStatus(code=0, message="OK", uuid=0)

    def call(self, registry: str, item: str, request: dict[str, str]) -> Any:
        return self._response(1, "the stand-in does not route core plugin calls", [])

    def extensions(self) -> Any:
        return {uuid: ext["info"] for uuid, ext in self.registered.items()}

    def options(self) -> Any:
        from osquery.extensions.ttypes import InternalOptionInfo

        return {name: InternalOptionInfo(value=value, default_value="", type="string")
                for name, value in self.flags.items()}  # fmt: skip

    def registerExtension(
        self, info: Any, registry: dict[str, dict[str, list[dict[str, str]]]]
    ) -> Any:
        from osquery.extensions.ttypes import ExtensionStatus

        with self.lock:
            if any(ext["info"].name == info.name for ext in self.registered.values()):
                return ExtensionStatus(code=1, message="Duplicate extension registered")
            tables = registry.get("table", {})
            clash = sorted(set(tables) & set(self.tables))
            if clash:
                return ExtensionStatus(code=1, message=f"Duplicate table registered: {clash[0]}")
            uuid = random.randint(1, 65535)
            while uuid in self.registered:
                uuid = random.randint(1, 65535)
            for name, routes in tables.items():
                columns = [
                    Column(r["name"], r["type"], int(r.get("op", "0") or 0))
                    for r in routes
                    if r.get("id") == "column"
                ]
                if not columns:
                    return ExtensionStatus(code=1, message="Invalid route info")
                self.add_table(ExtensionTable(self, uuid, name, columns))
            self.registered[uuid] = {"info": info, "tables": sorted(tables)}
            return ExtensionStatus(code=0, message="OK", uuid=uuid)

    def deregisterExtension(self, uuid: int) -> Any:
        from osquery.extensions.ttypes import ExtensionStatus

        with self.lock:
            ext = self.registered.pop(uuid, None)
            if ext is None:
                return ExtensionStatus(code=1, message="No extension UUID registered")
            for name in ext["tables"]:
                self.tables.pop(name, None)
                self.db.create_module(name, None)
            return ExtensionStatus(code=0, message="OK", uuid=0)

    def query(self, sql: str) -> Any:
        apsw = self.apsw
        with self.lock:
            rows: list[dict[str, str]] = []
            try:
                cursor = self.db.cursor()
                cursor.execute(sql)
                names: list[str] | None = None
                for values in cursor:
                    if names is None:
                        names = [d[0] for d in cursor.getdescription()]
                    rows.append({n: as_text(v) for n, v in zip(names, values, strict=True)})
            except apsw.Error as error:
                return self._response(1, sqlite_message(error), [])
            except Exception as error:  # an extension table that failed
                return self._response(1, str(error), [])
            return self._response(0, "OK", rows)

    def getQueryColumns(self, sql: str) -> Any:
        apsw = self.apsw
        with self.lock:
            described: list[Any] = []

            def tracer(cursor: Any, statement: str, bindings: Any) -> bool:
                described.extend(cursor.getdescription())
                return False

            cursor = self.db.cursor()
            cursor.exec_trace = tracer
            try:
                cursor.execute(sql)
            except apsw.ExecTraceAbort:
                pass
            except apsw.Error as error:
                return self._response(1, sqlite_message(error), [])
            columns = [[name, (decltype or "UNKNOWN").upper()] for name, decltype in described]
            if any(kind == "UNKNOWN" for _, kind in columns):
                program = self.db.execute("EXPLAIN " + sql).fetchall()
                apply_types(program, columns)
            return self._response(0, "OK", [{name: kind} for name, kind in columns])

    def _response(self, code: int, message: str, rows: list[dict[str, str]]) -> Any:
        from osquery.extensions.ttypes import ExtensionResponse, ExtensionStatus

        return ExtensionResponse(
            status=ExtensionStatus(code=code, message=message, uuid=0), response=rows
        )


def sqlite_message(error: Exception) -> str:
    """Return SQLite's message as osquery passes it on (APSW prefixes the exception's name)."""
    return re.sub(r"^\w+Error: ", "", str(error))


def as_text(value: Any) -> str:
    """Return a result value as osquery sends it: NULL as '', numbers in decimal."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, float):
        return repr(value)
    return str(value)


def make_processor(standin: StandIn) -> Any:
    """The generated ExtensionManager Processor, with `query` going through the fault injector."""
    from osquery.extensions import ExtensionManager
    from thrift.Thrift import TMessageType

    class FaultyProcessor(ExtensionManager.Processor):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(standin)
            self._processMap["query"] = FaultyProcessor.process_query

        def process_query(self, seqid: int, iprot: Any, oprot: Any) -> None:
            args = ExtensionManager.query_args()
            args.read(iprot)
            iprot.readMessageEnd()
            fault = standin.faults.for_query(args.sql)
            if fault == "die":
                os._exit(1)
            if fault == "hang":
                threading.Event().wait()
            if fault == "garbage":
                oprot.trans.write(b"\x00\x00\x00\x2aTHIS IS NOT THRIFT" * 3)
                oprot.trans.flush()
                return
            result = ExtensionManager.query_result()
            if fault == "error-status":
                result.success = standin._response(1, "stand-in: injected error status", [])
            else:
                result.success = standin.query(args.sql)
            oprot.writeMessageBegin("query", TMessageType.REPLY, seqid)
            result.write(oprot)
            oprot.writeMessageEnd()
            oprot.trans.flush()

    return FaultyProcessor()


def serve(standin: StandIn) -> None:
    from thrift.protocol import TBinaryProtocol
    from thrift.server import TServer
    from thrift.transport import TSocket, TTransport

    transport = TSocket.TServerSocket(unix_socket=standin.socket)
    server = TServer.TThreadedServer(
        make_processor(standin),
        transport,
        TTransport.TBufferedTransportFactory(),
        TBinaryProtocol.TBinaryProtocolFactory(),
        daemon=True,
    )
    server.serve()


def autoload(flags: dict[str, str], env: dict[str, str]) -> None:
    """Start the extensions the autoload file lists once the socket exists (osqueryd's way)."""
    socket_path = flags["extensions_socket"]
    deadline = time.monotonic() + 10
    while not os.path.exists(socket_path) and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        lines = Path(flags["extensions_autoload"]).read_text().splitlines()
    except OSError as error:
        print(f"cannot read the autoload file: {error}", file=sys.stderr, flush=True)
        return
    pids: list[str] = []
    for line in lines:
        path = line.strip()
        if not path or path.startswith("#"):
            continue
        argv = [path]
        if flags.get("verbose") == "true":
            argv.append("--verbose")
        argv += ["--socket", socket_path, "--timeout", flags.get("extensions_timeout", "3"),
                 "--interval", flags.get("extensions_interval", "3")]  # fmt: skip
        child_env = {**env, "OSQUERY_EXTENSION": str(os.getpid())}
        try:
            pids.append(str(subprocess.Popen(argv, env=child_env).pid))
        except OSError as error:
            print(f"could not start extension process: {path}: {error}", file=sys.stderr)
    pidfile = env.get("STANDIN_AUTOLOAD_PIDFILE", "")
    if pidfile:
        Path(pidfile).write_text("".join(f"{pid}\n" for pid in pids))


def main(argv: list[str]) -> int:
    flags = parse_flags(argv)
    env = dict(os.environ)
    if flags.get("version") == "true":
        meta = Path(env.get("STANDIN_FIXTURES") or HERE / "fixtures" / "linux") / "standin.json"
        version = (
            json.loads(meta.read_text()).get("version", DEFAULT_VERSION)
            if meta.exists()
            else DEFAULT_VERSION
        )
        print(f"osqueryd version {version}")
        return 0
    if "extensions_socket" not in flags:
        fail("the stand-in needs --extensions_socket")
    fault = env.get("STANDIN_FAULT", "")
    once = env.get("STANDIN_FAULT_ONCE", "")
    if fault.endswith("-on-start") and once and os.path.exists(once):
        fault = ""
    if fault.endswith("-on-start") and once:
        Path(once).touch()
    if fault == "exit-on-start":
        fail("stand-in: injected start failure")
    if fault == "hang-on-start":
        threading.Event().wait()

    def on_term(signum: int, frame: Any) -> None:
        with contextlib.suppress(OSError):
            os.unlink(flags["extensions_socket"])
        os._exit(0)

    signal.signal(signal.SIGTERM, on_term)
    pidfile = env.get("STANDIN_CHILD_PIDFILE", "")
    if pidfile:
        worker = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(600)"],
            start_new_session=bool(env.get("STANDIN_CHILD_SESSION")),
        )
        Path(pidfile).write_text(str(worker.pid))
    standin = StandIn(flags, env)
    if flags.get("extensions_autoload"):
        threading.Thread(target=autoload, args=(flags, env), daemon=True).start()
    serve(standin)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
