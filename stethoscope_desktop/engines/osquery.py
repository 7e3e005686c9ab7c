"""The osquery engine: the checks' SQL runs on a real osqueryd, started as the user.

osqueryd is started unprivileged and without any state of its own (`--ephemeral
--disable_database --disable_logging --disable_watchdog --disable_events`, an empty config and
flag file, so a machine-wide `/etc/osquery/osquery.flags` that IT ships for its own daemon does not
apply), with its extensions socket in a private temporary folder. We poll that socket until it
answers (no fixed sleep), noticing a process that exited instead of waiting out the timeout, then
query over Thrift with the osquery bindings' generated `ExtensionManager` client and a timeout on
every call. Our `stethoscope_*` tables are registered into it as an extension served from a thread
of this process (`osquery_extension`).

osquery answers rows of strings; `getQueryColumns` gives each result column's type, by which the
rows are turned into typed values (an empty string in a non-text column is NULL).

Faults — osqueryd fails to start, exits, hangs, answers something that is not osquery's protocol,
or answers with an unexpected error status — cost at most one timeout, then osqueryd is restarted
once per scan; after that every remaining query of the scan fails at once with the reason, so the
checks say UNKNOWN with it. Plain SQL errors and our own tables' errors are answers, not faults.
A stopped osqueryd leaves nothing behind: the child is reaped, the socket and the folder are
removed, the extension's threads have ended.

Lifecycle: osqueryd is started by the first scan that needs it and kept for `keep_alive` seconds
after a scan ends (so "Check again" and bursts of requests reuse it), then stopped; `close()` stops
it. On Linux the child gets PR_SET_PDEATHSIG, so it is killed if this process dies (it is spawned
from a supervisor thread that lives exactly as long as the child, because the signal follows the
spawning thread); everywhere, an atexit hook stops every engine still open.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from osquery.extensions import ExtensionManager
from osquery.extensions.ttypes import InternalExtensionInfo
from thrift.transport import TSocket, TTransport

from stethoscope_desktop import __version__
from stethoscope_desktop.engines.base import (
    QueryEngine,
    QueryError,
    QueryResult,
    ScanSession,
    sql_text_problem,
)
from stethoscope_desktop.engines.info import EngineInfo, TableTiming
from stethoscope_desktop.engines.osquery_extension import (
    ExtensionHandler,
    ExtensionServer,
    ExtensionTables,
    TableScan,
    extension_tables_in,
    protocol_for,
)
from stethoscope_desktop.engines.osquery_schema import (
    SqlErrorReason,
    explain_sql_failure,
    host_platform,
)
from stethoscope_desktop.engines.process_tree import (
    ProcessIdentity,
    descendants,
    kill_if_unchanged,
)
from stethoscope_desktop.tables.base import Row, TablePlugin, Value

log = logging.getLogger(__name__)

DEFAULT_START_TIMEOUT_S = 10.0
DEFAULT_QUERY_TIMEOUT_S = 20.0
# How long osqueryd is kept after a scan; see "The osquery engine" in the README for the figures.
DEFAULT_KEEP_ALIVE_S = 60.0
STOP_GRACE_S = 1.0
EXTENSION_INTERVAL_S = 3
EXTENSION_NAME = "stethoscope"
SDK_VERSION = "3.0.7"  # what the osquery Python bindings announce
MIN_SDK_VERSION = "1.8.0"
PRIVATE_DIR_PREFIX = "stethoscope-osquery-"
MAX_UNIX_SOCKET_PATH = 100  # bytes; sun_path is 104 on macOS, 108 on Linux, and osquery adds .uuid
STDERR_TAIL_BYTES = 600
PR_SET_PDEATHSIG = 1
_INTEGER_TYPES = frozenset({"INTEGER", "BIGINT", "UNSIGNED BIGINT"})
_SQL_ERRORS = (
    "no such table",
    "no such column",
    "no such function",
    "near ",
    "syntax error",
    "ambiguous column",
    "wrong number of arguments",
    "misuse of",
    "incomplete input",
    "unrecognized token",
    "sub-select returns",
    "only a single result allowed",
)
_VERSION = re.compile(r"version\s+(\S+)")


class OsqueryFailure(Exception):
    """osqueryd did not start, stopped answering, or answered nonsense (worth one restart)."""

    def __init__(self, reason: str, *, hung_up: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hung_up = hung_up


class OsqueryStatusError(Exception):
    """osqueryd answered with a non-zero status."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{message} (status {code})")
        self.code = code
        self.message = message


# --- values ------------------------------------------------------------------------------------


def typed_value(text: object, column_type: str) -> Value:
    """Turn one of osquery's string values into the column's type ('' in non-text is NULL)."""
    if text is None:
        return None
    value = text if isinstance(text, str) else str(text)
    kind = column_type.upper()
    if kind == "TEXT":
        return value
    if value == "":
        return None
    try:
        if kind in _INTEGER_TYPES:
            return int(value)
        if kind == "DOUBLE":
            return float(value)
    except ValueError:
        return value  # keep what osquery said rather than lose it
    return value


def typed_rows(
    rows: Sequence[Mapping[str, str]], columns: Sequence[tuple[str, str]]
) -> tuple[Row, ...]:
    """Turn osquery's rows of strings into typed rows, columns in `getQueryColumns` order."""
    types = dict(columns)
    order = list(dict.fromkeys(name for name, _ in columns))
    typed: list[Row] = []
    for row in rows:
        result: Row = {name: typed_value(row.get(name), types[name]) for name in order}
        for name, value in row.items():
            if name not in result:
                result[name] = typed_value(value, "UNKNOWN")
        typed.append(result)
    return tuple(typed)


def is_sql_error(message: str) -> bool:
    """Return True if osquery's message is SQLite refusing the statement (not a fault)."""
    text = message.lower()
    return any(marker in text for marker in _SQL_ERRORS)


def _answers_plain_queries(instance: OsquerydInstance | None) -> bool:
    """Return True if osqueryd answers `SELECT 1` with success: it works, whatever one query did."""
    if instance is None:
        return False
    try:
        instance.query("SELECT 1")
    except (OsqueryStatusError, OsqueryFailure):
        return False
    return True


# --- finding out what an osqueryd is -----------------------------------------------------------


def osqueryd_version(
    path: str, *, env: Mapping[str, str] | None = None, timeout: float = 5.0
) -> str:
    """Return the version `path --version` prints; raise OsqueryFailure if it does not run."""
    try:
        result = subprocess.run(
            [path, "--version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            env=dict(os.environ if env is None else env),
            check=False,
            **_spawn_options(die_with_parent=False),
        )
    except subprocess.TimeoutExpired:
        raise OsqueryFailure(f"`{path} --version` did not finish within {timeout:g} s") from None
    except OSError as error:
        raise OsqueryFailure(f"cannot run {path}: {error.strerror or error}") from None
    output = (result.stdout + result.stderr).decode("utf-8", "replace")
    match = _VERSION.search(output)
    if result.returncode != 0 or match is None:
        tail = " ".join(output.split())[-200:]
        raise OsqueryFailure(
            f"`{path} --version` exited with status {result.returncode}"
            + (f": {tail}" if tail else "")
        )
    return match.group(1)


# --- the child process -------------------------------------------------------------------------


def _die_with_parent() -> Callable[[], None] | None:
    """Return a preexec hook asking Linux to SIGKILL the child when its parent thread ends."""
    if sys.platform == "win32":
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    parent = os.getpid()

    def preexec() -> None:
        # Runs in the forked child: only the prepared ctypes call and two system calls.
        prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the line above took effect
            os._exit(1)

    return preexec


def _spawn_options(*, die_with_parent: bool = True) -> dict[str, Any]:
    if sys.platform == "win32":  # pragma: no cover - Windows only
        return {"creationflags": getattr(subprocess, "CREATE_NO_WINDOW", 0)}
    options: dict[str, Any] = {"start_new_session": True}
    if die_with_parent and sys.platform.startswith("linux"):
        hook = _die_with_parent()
        if hook is not None:
            options["preexec_fn"] = hook
    return options


class _Child:
    """osqueryd as our child, spawned and reaped by a supervisor thread that lives as long as it.

    The thread matters on Linux: PR_SET_PDEATHSIG fires when the *thread* that forked the child
    ends, so the child is spawned from a thread that only ends once the child has been reaped.
    """

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], stderr_path: str) -> None:
        self._argv = list(argv)
        self._env = dict(env)
        self._stderr_path = stderr_path
        self._popen: subprocess.Popen[bytes] | None = None
        self._spawn_error: OSError | None = None
        self._spawned = threading.Event()
        self._exited = threading.Event()
        self.returncode: int | None = None
        self._thread = threading.Thread(target=self._supervise, name="osqueryd", daemon=True)

    def start(self) -> None:
        """Spawn the process; raise OsqueryFailure if it cannot be run at all."""
        self._thread.start()
        self._spawned.wait()
        if self._spawn_error is not None:
            self._thread.join()
            error = self._spawn_error
            raise OsqueryFailure(f"cannot run {self._argv[0]}: {error.strerror or error}")

    def _supervise(self) -> None:
        try:
            with open(self._stderr_path, "wb") as stderr:
                self._popen = subprocess.Popen(
                    self._argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                    env=self._env,
                    close_fds=True,
                    **_spawn_options(),
                )
        except OSError as error:
            self._spawn_error = error
            self._spawned.set()
            return
        self._spawned.set()
        self.returncode = self._popen.wait()
        self._exited.set()

    @property
    def pid(self) -> int | None:
        """Return the process id, once spawned."""
        return self._popen.pid if self._popen is not None else None

    @property
    def exited(self) -> bool:
        """Return True once the process has exited and been reaped."""
        return self._exited.is_set()

    def wait_exit(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the process to exit; return True if it has."""
        return self._exited.wait(timeout)

    def _signal(self, *, kill: bool) -> None:
        """Terminate (or kill) osqueryd's process group; osqueryd alone on Windows."""
        assert self._popen is not None
        with contextlib.suppress(OSError):
            if sys.platform == "win32":  # pragma: no cover - Windows only
                if kill:
                    self._popen.kill()
                else:
                    self._popen.terminate()
            else:
                os.killpg(self._popen.pid, signal.SIGKILL if kill else signal.SIGTERM)

    def stderr_tail(self) -> str:
        """Return the end of what the process wrote to stderr, on one line."""
        try:
            with open(self._stderr_path, "rb") as stream:
                stream.seek(0, os.SEEK_END)
                stream.seek(max(0, stream.tell() - STDERR_TAIL_BYTES))
                text = stream.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return " ".join(text.split())

    def stop(self, grace: float = STOP_GRACE_S) -> None:
        """Ask the process and its children to exit, kill them after `grace` s, reap osqueryd.

        osqueryd runs a worker (and extensions) as its children; it was started in a session of
        its own, so its process group is exactly it and them, and the whole group is signalled
        (on Windows only osqueryd itself). A child that is left once osqueryd has exited (one
        that ignored SIGTERM) is killed with the group, and on Linux so is every descendant that
        left the group or session (`process_tree`).
        """
        # osqueryd's tree, whatever group or session its members are in, taken while osqueryd
        # still lives (once it exits, its orphans belong to init).
        tree: set[ProcessIdentity] = set()
        if self._popen is not None and not self.exited:
            tree.update(descendants(self._popen.pid))
            self._signal(kill=False)
            if not self._exited.wait(grace):
                tree.update(descendants(self._popen.pid))
                self._signal(kill=True)
                self._exited.wait(grace + 5.0)
        if self._popen is not None and sys.platform != "win32":
            # The group outlives its leader while a member lives; its id is not reused till then.
            with contextlib.suppress(OSError):
                os.killpg(self._popen.pid, signal.SIGKILL)
        for process in tree:
            kill_if_unchanged(process)
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(grace + 5.0)


# --- the Thrift connection ---------------------------------------------------------------------


class ManagerClient:
    """One Thrift connection to osqueryd's extension manager, with a timeout on every call."""

    def __init__(self, path: str, timeout: float) -> None:
        self.timeout = timeout
        self._socket: socket.socket | None = None
        if sys.platform == "win32":  # pragma: no cover - named pipes; not testable on Linux
            from osquery.TPipe import TPipe

            raw: Any = TPipe(pipe_name=path, timeout=max(1, int(timeout)))
            raw.open()
        else:
            # Connect ourselves: TSocket.open() logs every refused attempt as an error.
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(path)
            except OSError:
                sock.close()
                raise
            raw = TSocket.TSocket()
            raw.setHandle(sock)
            self._socket = sock
        self._transport = TTransport.TBufferedTransport(raw)
        self._client = ExtensionManager.Client(protocol_for(self._transport))

    def call(self, method: str, *args: Any) -> Any:
        """Call `method` on osqueryd; raise OsqueryFailure for anything but a reply."""
        try:
            return getattr(self._client, method)(*args)
        except TTransport.TTransportException as error:
            if error.type == TTransport.TTransportException.TIMED_OUT:
                raise OsqueryFailure(f"osqueryd did not answer within {self.timeout:g} s") from None
            if error.type == TTransport.TTransportException.END_OF_FILE:
                raise OsqueryFailure("osqueryd closed the connection", hung_up=True) from None
            reason = f"the connection to osqueryd failed: {error}"
            raise OsqueryFailure(reason, hung_up=True) from None
        except OSError as error:
            reason = f"the connection to osqueryd failed: {error}"
            raise OsqueryFailure(reason, hung_up=True) from None
        except Exception as error:  # anything the decoder makes of bytes that are not a reply
            raise OsqueryFailure(
                "osqueryd answered something that is not osquery's Thrift protocol "
                f"({type(error).__name__}: {error})"
            ) from None

    def abort(self) -> None:
        """Break the connection now, waking a call blocked on it in another thread."""
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Close the connection."""
        with contextlib.suppress(Exception):
            self._transport.close()


# --- one running osqueryd ----------------------------------------------------------------------


def _sweep_stale_dirs(base: str) -> None:
    """Remove private folders left by our processes that were killed (their pid is gone)."""
    if sys.platform == "win32":  # pragma: no cover
        return
    try:
        entries = list(os.scandir(base))
    except OSError:
        return
    for entry in entries:
        if not entry.name.startswith(PRIVATE_DIR_PREFIX):
            continue
        pid_text = entry.name.removeprefix(PRIVATE_DIR_PREFIX).split("-", 1)[0]
        try:
            if not entry.is_dir(follow_symlinks=False) or entry.stat().st_uid != os.getuid():
                continue
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            shutil.rmtree(entry.path, ignore_errors=True)
        except (OSError, ValueError):
            continue


def default_runtime_dir(env: Mapping[str, str] | None = None) -> str:
    """Return where private folders go: $XDG_RUNTIME_DIR (per-user, 0700) or the temp folder."""
    runtime = (os.environ if env is None else env).get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.isdir(runtime) and os.access(runtime, os.W_OK):
        return runtime
    return tempfile.gettempdir()


class OsquerydInstance:
    """One running osqueryd: the child, its private folder and socket, the client, our extension."""

    def __init__(
        self,
        path: str,
        tables: ExtensionTables,
        *,
        start_timeout: float,
        query_timeout: float,
        runtime_dir: str,
        env: Mapping[str, str],
    ) -> None:
        self.path = path
        self._tables = tables
        self._start_timeout = start_timeout
        self._query_timeout = query_timeout
        self._runtime_dir = runtime_dir
        self._env = env
        self.private_dir: str | None = None
        self.socket_path = ""
        self.version = ""
        self.tables: frozenset[str] = frozenset()
        self.start_seconds = 0.0
        self._child: _Child | None = None
        self._client: ManagerClient | None = None
        self._server: ExtensionServer | None = None
        self._call_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._broken = ""

    # -- starting ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start osqueryd and register our tables; raise OsqueryFailure, leaving nothing behind."""
        started = time.perf_counter()
        try:
            self._start()
        except OSError as error:  # the private folder could not be made or written
            self.stop()
            raise OsqueryFailure(f"cannot prepare osqueryd's folder: {error}") from None
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.perf_counter() - started

    def _start(self) -> None:
        _sweep_stale_dirs(self._runtime_dir)
        self.private_dir = tempfile.mkdtemp(
            prefix=f"{PRIVATE_DIR_PREFIX}{os.getpid()}-", dir=self._runtime_dir
        )
        if sys.platform == "win32":  # pragma: no cover - Windows only
            name = os.path.basename(self.private_dir)
            self.socket_path = rf"\\.\pipe\{name}"
            config = os.path.join(self.private_dir, "osquery.conf")
            Path(config).write_text("{}", encoding="utf-8")
        else:
            self.socket_path = os.path.join(self.private_dir, "osquery.em")
            config = os.devnull
            if len(os.fsencode(self.socket_path)) > MAX_UNIX_SOCKET_PATH:
                raise OsqueryFailure(
                    f"the socket path {self.socket_path} is too long for a Unix socket"
                )
        flagfile = os.path.join(self.private_dir, "osquery.flags")
        Path(flagfile).touch(mode=0o600)
        argv = [
            self.path,
            f"--flagfile={flagfile}",
            f"--config_path={config}",
            "--ephemeral",
            "--disable_database",
            "--disable_logging",
            "--disable_watchdog",
            "--disable_events",
            f"--extensions_socket={self.socket_path}",
            f"--extensions_timeout={max(1, round(self._start_timeout))}",
            f"--extensions_interval={EXTENSION_INTERVAL_S}",
        ]
        self._child = _Child(argv, self._env, os.path.join(self.private_dir, "osqueryd.stderr"))
        self._child.start()
        deadline = time.monotonic() + self._start_timeout
        self._client = self._connect_when_ready(self._child, deadline)
        self.version = self._handshake(deadline)
        self.tables = self._osquery_tables()
        if self.tables:  # else (no registry answered) the list of osquery's tables stands for it
            self._tables.serve_what_osquery_lacks(self.tables)
        self._register_extension()

    def _connect_when_ready(self, child: _Child, deadline: float) -> ManagerClient:
        delay = 0.002
        while True:
            if child.exited:
                raise OsqueryFailure(self._exit_reason("did not start"))
            remaining = deadline - time.monotonic()
            client: ManagerClient | None = None
            with contextlib.suppress(OSError):
                client = ManagerClient(self.socket_path, self._query_timeout)
            if client is not None:
                try:
                    status = client.call("ping")
                    if getattr(status, "code", None) == 0:
                        return client
                except OsqueryFailure:
                    pass
                client.close()
            if remaining <= 0:
                raise OsqueryFailure(
                    f"osqueryd did not open its socket within {self._start_timeout:g} s"
                    + (f" ({tail})" if (tail := child.stderr_tail()) else "")
                )
            child.wait_exit(min(delay, remaining))
            delay = min(delay * 2, 0.05)

    def _handshake(self, deadline: float) -> str:
        while True:
            try:
                rows = self.query("SELECT version FROM osquery_info")
            except OsqueryStatusError as error:
                # The socket answers a moment before the tables are set up.
                if time.monotonic() >= deadline:
                    raise OsqueryFailure(f"osqueryd is not ready: {error.message}") from None
                time.sleep(0.01)
                continue
            return rows[0].get("version", "") if rows else ""

    def _osquery_tables(self) -> frozenset[str]:
        try:
            rows = self.query("SELECT name FROM osquery_registry WHERE registry = 'table'")
        except OsqueryStatusError:
            return frozenset()
        return frozenset(row.get("name", "") for row in rows) - {""}

    def _register_extension(self) -> None:
        registry = self._tables.registry()
        if not registry["table"]:
            return
        info = InternalExtensionInfo(
            name=EXTENSION_NAME,
            version=__version__,
            sdk_version=SDK_VERSION,
            min_sdk_version=MIN_SDK_VERSION,
        )
        status = self._call("registerExtension", info, registry)
        code, uuid = getattr(status, "code", None), getattr(status, "uuid", None)
        if code != 0 or not isinstance(uuid, int):
            message = getattr(status, "message", "") or "no reason given"
            raise OsqueryFailure(f"osqueryd refused our tables: {message}")
        server = ExtensionServer(f"{self.socket_path}.{uuid}", ExtensionHandler(self._tables))
        try:
            server.start()
        except OSError as error:
            raise OsqueryFailure(f"cannot serve our tables to osqueryd: {error}") from None
        self._server = server

    # -- answering -----------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """Return osqueryd's process id."""
        return self._child.pid if self._child is not None else None

    @property
    def alive(self) -> bool:
        """Return True while osqueryd runs and its connection is usable."""
        return (
            self._client is not None
            and not self._broken
            and self._child is not None
            and not self._child.exited
        )

    def extension_threads(self) -> list[threading.Thread]:
        """Return the extension server's running threads."""
        return self._server.threads() if self._server is not None else []

    def query(self, sql: str) -> list[dict[str, str]]:
        """Run `sql`; return osquery's rows of strings, raise OsqueryStatusError/OsqueryFailure."""
        return _rows(self._call("query", sql))

    def columns(self, sql: str) -> tuple[tuple[str, str], ...]:
        """Return the name and osquery type of each column `sql` returns."""
        return tuple(
            (str(name), str(kind))
            for row in _rows(self._call("getQueryColumns", sql))
            for name, kind in row.items()
        )

    def ping(self) -> bool:
        """Return True if osqueryd answers a ping."""
        try:
            return getattr(self._call("ping"), "code", None) == 0
        except OsqueryFailure:
            return False

    def _call(self, method: str, *args: Any) -> Any:
        with self._call_lock:
            client = self._client
            if client is None or self._broken:
                raise OsqueryFailure(self._broken or "osqueryd is not running")
            try:
                return client.call(method, *args)
            except OsqueryFailure as failure:
                reason = failure.reason
                if self._child is not None and self._child.wait_exit(0.5 if failure.hung_up else 0):
                    reason = self._exit_reason("exited")
                with self._state_lock:
                    self._broken = self._broken or reason
                client.close()
                raise OsqueryFailure(reason) from None

    def _exit_reason(self, what: str) -> str:
        assert self._child is not None
        code = self._child.returncode
        status = f"signal {-code}" if code is not None and code < 0 else f"status {code}"
        tail = self._child.stderr_tail()
        return f"osqueryd {what} ({status})" + (f": {tail}" if tail else "")

    # -- stopping ------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop osqueryd and our extension; reap the child; remove the socket and the folder."""
        with self._state_lock:
            self._broken = self._broken or "osqueryd was stopped"
            client = self._client
        if client is not None:
            client.abort()
        if self._child is not None:
            self._child.stop()
        with self._call_lock:
            if self._client is not None:
                self._client.close()
                self._client = None
        if self._server is not None:
            self._server.stop()
        if self.private_dir is not None:
            shutil.rmtree(self.private_dir, ignore_errors=True)


def _rows(response: Any) -> list[dict[str, str]]:
    """Check an ExtensionResponse; return its rows, raise OsqueryStatusError or OsqueryFailure."""
    status = getattr(response, "status", None)
    code = getattr(status, "code", None)
    if not isinstance(code, int):
        raise OsqueryFailure("osqueryd answered without a status")
    if code != 0:
        raise OsqueryStatusError(code, str(getattr(status, "message", "") or "no reason given"))
    rows = getattr(response, "response", None)
    if rows is None:
        return []
    if not isinstance(rows, list) or not all(
        isinstance(row, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in row.items())
        for row in rows
    ):
        raise OsqueryFailure("osqueryd answered rows that are not maps of text")
    return rows


# --- the engine --------------------------------------------------------------------------------


class OsqueryScanSession(ScanSession):
    """One scan on osqueryd: a budget of one restart, and our tables' per-scan cache."""

    def __init__(self, engine: OsqueryEngine, scan: TableScan) -> None:
        self._engine = engine
        self.scan = scan
        self.restarts_left = 1
        self.failure = ""

    def prepare(self, queries: Sequence[str]) -> None:
        """Start osqueryd while our tables that the queries read are generated (never raises)."""
        names = self._engine.extension_table_names()
        wanted = [name for sql in queries for name in extension_tables_in(sql, names)]
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="osquery-prepare") as pool:
            starting = pool.submit(self._engine.warm_up, self)
            self._engine.prefetch(wanted)
            starting.result()

    def query(self, sql: str, *, time_limit: float | None = None) -> QueryResult:
        """Run one query on osqueryd (whose own timeout, `query_timeout`, bounds it)."""
        return self._engine.run_query(self, sql)

    def table_timings(self) -> Mapping[str, TableTiming]:
        """Return how long our tables took to generate in this scan."""
        return self.scan.timings()

    def close(self) -> None:
        """End the scan; osqueryd is kept for a while or stopped (see the engine)."""
        self._engine.end_scan(self)


_open_engines: weakref.WeakSet[OsqueryEngine] = weakref.WeakSet()


@atexit.register
def _close_open_engines() -> None:
    for engine in list(_open_engines):
        engine.close()


class OsqueryEngine(QueryEngine):
    """Runs osquery SQL on a real osqueryd, with our tables registered into it as an extension."""

    def __init__(
        self,
        osqueryd: str,
        tables: Iterable[TablePlugin],
        *,
        version: str = "",
        reason: str = "",
        start_timeout: float = DEFAULT_START_TIMEOUT_S,
        query_timeout: float = DEFAULT_QUERY_TIMEOUT_S,
        keep_alive: float = DEFAULT_KEEP_ALIVE_S,
        runtime_dir: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.path = osqueryd
        self._extension = ExtensionTables(tables)
        self._version = version
        self._reason = reason
        self.start_timeout = start_timeout
        self.query_timeout = query_timeout
        self.keep_alive = keep_alive
        self._env = dict(os.environ if env is None else env)
        self._runtime_dir = runtime_dir or default_runtime_dir(self._env)
        self._lock = threading.RLock()
        self._scan_lock = threading.Lock()
        self._session: OsqueryScanSession | None = None
        self._instance: OsquerydInstance | None = None
        self._idle_timer: threading.Timer | None = None
        self._osquery_tables: frozenset[str] = frozenset()
        self._column_types: dict[str, tuple[tuple[str, str], ...]] = {}
        self._closed = False
        self.started_pids: list[int] = []
        self.start_seconds: list[float] = []
        _open_engines.add(self)

    # -- QueryEngine ---------------------------------------------------------------------------

    @property
    def info(self) -> EngineInfo:
        """Describe the engine for the report."""
        return EngineInfo(
            name="osquery",
            version=self._version,
            reason=self._reason,
            tables=tuple(sorted(self._extension.names | self._osquery_tables)),
        )

    def available_tables(self) -> frozenset[str]:
        """Return our tables and osqueryd's (starting it once to learn those, if need be)."""
        if not self._osquery_tables:
            with self._lock:
                if not self._closed and self._session is None:
                    with contextlib.suppress(OsqueryFailure):
                        self._running_instance()
                    self._after_use()
        return self._extension.names | self._osquery_tables

    def extension_table_names(self) -> list[str]:
        """Return the names of the tables we register into osqueryd."""
        return sorted(self._extension.names)

    def begin_scan(self) -> OsqueryScanSession:
        """Open a scan; scans run one at a time, a second waits for the first to close."""
        self._scan_lock.acquire()
        with self._lock:
            self._cancel_idle_timer()
            instance = self._instance
            if instance is not None and not (instance.alive and instance.ping()):
                log.info("osqueryd (pid %s) stopped while idle; starting a new one", instance.pid)
                self._discard_instance()
            self._session = OsqueryScanSession(self, self._extension.begin_scan())
            return self._session

    def end_scan(self, session: OsqueryScanSession) -> None:
        """Close `session` if it is the active scan."""
        with self._lock:
            if self._session is not session:
                return
            self._session = None
            self._extension.end_scan()
            self._after_use()
        self._scan_lock.release()

    def close(self) -> None:
        """Stop osqueryd and our extension; the engine cannot scan afterwards."""
        with self._lock:
            self._closed = True
            timer = self._cancel_idle_timer()
            self._discard_instance()
        if timer is not None and timer is not threading.current_thread():
            timer.join()
        _open_engines.discard(self)

    # -- running queries -----------------------------------------------------------------------

    def warm_up(self, session: OsqueryScanSession) -> None:
        """Start osqueryd for `session` if it is not running; a failure uses up the restart."""
        if self._closed:
            return
        try:
            self._running_instance()
        except OsqueryFailure as failure:
            with self._lock:
                self._discard_instance()
                if session.restarts_left > 0:
                    session.restarts_left -= 1
                    log.warning("osqueryd did not start (%s); trying once more", failure.reason)
                else:
                    session.failure = _unknown_because(failure.reason)

    def prefetch(self, names: Iterable[str]) -> None:
        """Generate our tables with no key columns ahead of the queries (never raises)."""
        self._extension.prefetch(names)

    def run_query(self, session: OsqueryScanSession, sql: str) -> QueryResult:
        """Run `sql` within `session`: typed rows, or QueryError with the reason."""
        if self._session is not session:
            raise QueryError("the scan this query belongs to has ended", self.tables_in(sql))
        if self._closed:
            raise QueryError("the osquery engine was closed", self.tables_in(sql))
        problem = sql_text_problem(sql)
        if problem is not None:
            raise QueryError(problem, query_mistake=True)
        mark = session.scan.error_mark()
        while True:
            if session.failure:
                raise QueryError(session.failure, self.tables_in(sql))
            instance: OsquerydInstance | None = None
            try:
                instance = self._running_instance()
                rows = instance.query(sql)
                ours = session.scan.errors_since(mark)
                if ours:  # osqueryd may answer no rows for a failed extension table
                    raise QueryError("; ".join(ours), self.tables_in(sql))
                columns = self._columns_of(instance, sql) if rows else ()
                return QueryResult(typed_rows(rows, columns), self.tables_in(sql))
            except OsqueryStatusError as error:
                ours = session.scan.errors_since(mark)
                if ours:
                    raise QueryError("; ".join(ours), self.tables_in(sql)) from None
                # SQLite refusing this statement, or any error of this query alone while
                # osqueryd answers a plain one (`abs` overflowing, `json_extract` of text that
                # isn't JSON): that check's failure, never a reason to restart osqueryd.
                if is_sql_error(error.message) or _answers_plain_queries(instance):
                    explained = self._explain(error.message, sql)
                    raise QueryError(
                        explained.text,
                        self.tables_in(sql),
                        query_mistake=explained.query_mistake,
                    ) from None
                reason = f"osqueryd answered with an error: {error}"
            except OsqueryFailure as failure:
                reason = failure.reason
            with self._lock:
                self._discard_instance()
                if session.restarts_left > 0:
                    session.restarts_left -= 1
                    log.warning("osquery failed (%s); restarting osqueryd once", reason)
                    continue
                session.failure = _unknown_because(reason)
                log.warning("osquery failed again (%s); the rest of this scan is unknown", reason)

    def tables_in(self, sql: str) -> tuple[str, ...]:
        """Return the known tables (osquery's and ours) that `sql` names."""
        return tuple(extension_tables_in(sql, sorted(self._extension.names | self._osquery_tables)))

    def _columns_of(self, instance: OsquerydInstance, sql: str) -> tuple[tuple[str, str], ...]:
        cached = self._column_types.get(sql)
        if cached is None:
            try:
                cached = instance.columns(sql)
            except OsqueryStatusError:
                return ()  # rows stay text
            self._column_types[sql] = cached
        return cached

    def _explain(self, message: str, sql: str) -> SqlErrorReason:
        """Say why osqueryd refused `sql`, in the words the embedded engine uses for it."""
        served = self._extension.names | self._osquery_tables
        ours: dict[str, list[str]] = {}
        for name in self._extension.names:
            table = self._extension.table(name)
            if table is not None:
                ours[name] = [column.name for column in table.columns]
        version = f"osquery {self._version}" if self._version else "osquery"
        reason = explain_sql_failure(
            message, sql, host_platform(), served=served, served_columns=ours, osquery=version
        )
        return reason or SqlErrorReason(f"SQL error: {message}", query_mistake=False)

    # -- osqueryd's lifecycle ------------------------------------------------------------------

    def _running_instance(self) -> OsquerydInstance:
        with self._lock:
            if self._closed:
                raise OsqueryFailure("the osquery engine was closed")
            instance = self._instance
            if instance is not None:
                return instance
            instance = OsquerydInstance(
                self.path,
                self._extension,
                start_timeout=self.start_timeout,
                query_timeout=self.query_timeout,
                runtime_dir=self._runtime_dir,
                env=self._env,
            )
            try:
                instance.start()
            finally:
                if instance.pid is not None:
                    self.started_pids.append(instance.pid)
            self._instance = instance
            self.start_seconds.append(instance.start_seconds)
            self._osquery_tables = instance.tables
            if instance.version:
                self._version = instance.version
            log.info(
                "osqueryd %s started (pid %s) in %.0f ms",
                instance.version,
                instance.pid,
                instance.start_seconds * 1000,
            )
            return instance

    def _discard_instance(self) -> None:
        with self._lock:
            instance, self._instance = self._instance, None
        if instance is not None:
            instance.stop()

    def _after_use(self) -> None:
        """Stop osqueryd now, or after `keep_alive` seconds without a scan."""
        with self._lock:
            self._cancel_idle_timer()
            if self._instance is None:
                return
            if self.keep_alive <= 0 or self._closed:
                self._discard_instance()
                return
            timer = threading.Timer(self.keep_alive, self._on_idle)
            timer.name = "osqueryd-idle"
            timer.daemon = True
            self._idle_timer = timer
            timer.start()

    def _on_idle(self) -> None:
        with self._lock:
            if self._idle_timer is not threading.current_thread() or self._session is not None:
                return
            self._idle_timer = None
            log.info("no scan for %g s: stopping osqueryd", self.keep_alive)
            self._discard_instance()

    def _cancel_idle_timer(self) -> threading.Timer | None:
        # Not joined here: a timer that already fired waits for the lock the caller holds, and
        # returns at once when it gets it (it is no longer the current timer).
        timer, self._idle_timer = self._idle_timer, None
        if timer is not None:
            timer.cancel()
        return timer

    # -- for tests and diagnostics -------------------------------------------------------------

    @property
    def running_pid(self) -> int | None:
        """Return the pid of the running osqueryd, if any."""
        with self._lock:
            return self._instance.pid if self._instance is not None else None

    def extension_threads(self) -> list[threading.Thread]:
        """Return the running threads of the extension server, if any."""
        with self._lock:
            return self._instance.extension_threads() if self._instance is not None else []


def _unknown_because(reason: str) -> str:
    return f"osquery failed twice in this scan: {reason}"
