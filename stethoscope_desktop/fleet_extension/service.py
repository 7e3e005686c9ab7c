"""`stethoscope-desktop osquery-extension`: an osquery extension, run by IT's osqueryd.

osqueryd starts each autoloaded extension as `<path> [--verbose] --socket S --timeout T
--interval I` (osquery/process/*/process.cpp) and expects from it what osquery's own extension SDK
does (osquery/extensions/extensions.cpp):

1. wait up to `--timeout` seconds for the manager's socket to answer a ping;
2. `registerExtension(info, registry)`; osqueryd answers with a uuid (or refuses: a duplicate
   name, when a copy already runs);
3. serve `ping`, `call` and `shutdown` on `<socket>.<uuid>` (a stale socket file left there by a
   killed copy is removed first);
4. every `--interval` seconds ask osqueryd for its extensions: leave (status 1) when ours is no
   longer registered, and leave (status 0) when osqueryd has gone away or does not answer (after
   one reconnection); leave (0) when osqueryd asks to `shutdown`, or on SIGTERM/SIGINT.

The connection to osqueryd is the osquery engine's (`engines.osquery`), with its timeouts.

Each table call reads the reports afresh; nothing is kept between calls. Running as root it reads
every local user's report; as another user, only that user's own (it says so in the log).
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import os
import signal
import stat
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from osquery.extensions.ttypes import InternalExtensionInfo

from stethoscope_desktop import __version__
from stethoscope_desktop.core.config import AppConfig, parse_config
from stethoscope_desktop.core.platforms import current_platform, running_as_admin
from stethoscope_desktop.core.practices import machine_folder
from stethoscope_desktop.core.yamlfile import YamlFileError, load_yaml
from stethoscope_desktop.engines.osquery import (
    MIN_SDK_VERSION,
    SDK_VERSION,
    ManagerClient,
    OsqueryFailure,
)
from stethoscope_desktop.engines.osquery_extension import (
    ExtensionHandler,
    ExtensionServer,
    ExtensionTables,
)
from stethoscope_desktop.fleet_extension.tables import ReportCollector, extension_tables
from stethoscope_desktop.fleet_extension.users import user_source

log = logging.getLogger(__name__)

EXTENSION_NAME = "stethoscope_desktop"
MIN_INTERVAL_S = 0.2  # osquery's watcher pings at most every 200 ms
MIN_TIMEOUT_S = 0.2  # osquery waits at least 10 x 20 ms for the socket
CALL_TIMEOUT_S = 10.0  # osquery's own client timeout for a ping

EXIT_OK = 0
EXIT_FAILED = 1


@dataclass(frozen=True)
class ExtensionOptions:
    """The command's options: osqueryd's four, and ours."""

    socket: str
    timeout: float = 3.0
    interval: float = 3.0
    verbose: bool = False
    stale_after: float | None = None
    """None: `reportStaleAfterHours` of IT's machine-wide config.yaml (default 24 hours)."""
    root: str = "/"


def connect_when_ready(path: str, timeout: float, stop: threading.Event) -> ManagerClient | None:
    """Return a client once the manager at `path` answers a ping, None after `timeout` seconds."""
    deadline = time.monotonic() + max(timeout, MIN_TIMEOUT_S)
    while not stop.is_set():
        client: ManagerClient | None = None
        with contextlib.suppress(OSError):
            client = ManagerClient(path, CALL_TIMEOUT_S)
        if client is not None:
            try:
                if getattr(client.call("ping"), "code", None) == 0:
                    return client
            except OsqueryFailure:
                pass
            client.close()
        if time.monotonic() >= deadline:
            return None
        stop.wait(0.02)
    return None


def _remove_stale_socket(path: str) -> None:
    """Remove a socket file a killed copy left at our path (nothing else: never a link)."""
    if sys.platform == "win32":  # pragma: no cover - named pipes vanish with their server
        return
    with contextlib.suppress(OSError):
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)


def _collector(options: ExtensionOptions) -> ReportCollector:
    users = user_source(current_platform(), options.root)
    geteuid = getattr(os, "geteuid", None)
    if geteuid is not None:
        if geteuid() == 0:
            log.info("reading the reports of every local user")
            return ReportCollector(users)
        uid = geteuid()
        log.warning(
            "not running as root: serving only this user's own report (uid %d); IT's osqueryd "
            "runs extensions as root to see every user's",
            uid,
        )
        return ReportCollector(users, only_uid=uid)
    if running_as_admin():  # pragma: no cover - Windows only
        log.info("reading the reports of every local user")
        return ReportCollector(users)
    name = getpass.getuser()  # pragma: no cover - Windows only
    log.warning(  # pragma: no cover - Windows only
        "not running as an administrator: serving only this user's own report (%s)", name
    )
    return ReportCollector(users, only_name=name)  # pragma: no cover - Windows only


def machine_stale_after(folder: Path | None = None) -> float:
    """Return the stale limit in seconds from IT's machine-wide config.yaml (`folder`'s).

    Only IT's file counts: a user's own config.yaml is theirs to change. A missing file or key
    gives the default (24 hours); a file or value that is wrong is logged, and the default kept.
    """
    path = (machine_folder() if folder is None else folder) / "config.yaml"
    hours = AppConfig.report_stale_after_hours
    if not path.exists():
        return hours * 3600.0
    try:
        layer = parse_config(load_yaml(path))
    except YamlFileError as error:
        log.warning("%s; reports are stale after %d hours", error.problem, hours)
        return hours * 3600.0
    for problem in layer.problems:
        log.warning("%s", problem)
    value = layer.values.get("report_stale_after_hours", hours)
    return float(value) * 3600.0


def run_extension(options: ExtensionOptions, stop: threading.Event | None = None) -> int:
    """Register with osqueryd at `options.socket` and serve until it goes away; return a status."""
    stopping = stop if stop is not None else threading.Event()
    collector = _collector(options)
    stale_after = machine_stale_after() if options.stale_after is None else options.stale_after
    log.info("a report older than %g s is stale", stale_after)
    tables = ExtensionTables(extension_tables(collector, stale_after=stale_after), osquery_has=())
    client = connect_when_ready(options.socket, options.timeout, stopping)
    if client is None:
        if stopping.is_set():
            return EXIT_OK
        log.error(
            "osqueryd's extension socket %s did not answer within %g s",
            options.socket,
            options.timeout,
        )
        return EXIT_FAILED
    info = InternalExtensionInfo(
        name=EXTENSION_NAME,
        version=__version__,
        sdk_version=SDK_VERSION,
        min_sdk_version=MIN_SDK_VERSION,
    )
    try:
        status = client.call("registerExtension", info, tables.registry())
    except OsqueryFailure as failure:
        log.error("osqueryd did not register the extension: %s", failure.reason)
        client.close()
        return EXIT_FAILED
    code, uuid = getattr(status, "code", None), getattr(status, "uuid", None)
    if code != 0 or not isinstance(uuid, int):
        log.error("osqueryd refused the extension: %s", getattr(status, "message", "") or code)
        client.close()
        return EXIT_FAILED
    handler = ExtensionHandler(tables)
    path = f"{options.socket}.{uuid}"
    _remove_stale_socket(path)
    server = ExtensionServer(path, handler)
    try:
        server.start()
    except OSError as error:
        log.error("cannot serve the tables on %s: %s", path, error)
        with contextlib.suppress(OsqueryFailure):
            client.call("deregisterExtension", uuid)
        client.close()
        return EXIT_FAILED
    log.info("registered with osqueryd as %s (uuid %d), serving on %s", EXTENSION_NAME, uuid, path)
    try:
        return _watch(options, client, uuid, handler, stopping)
    finally:
        server.stop()


def _watch(
    options: ExtensionOptions,
    client: ManagerClient,
    uuid: int,
    handler: ExtensionHandler,
    stop: threading.Event,
) -> int:
    """Check every interval that osqueryd still has us; return the exit status when to leave."""
    interval = max(options.interval, MIN_INTERVAL_S)
    current: ManagerClient | None = client
    try:
        while True:
            if _wait_either(stop, handler.shutdown_requested, interval):
                log.info("asked to stop")
                if stop.is_set() and current is not None:  # a signal: osqueryd is still there
                    with contextlib.suppress(OsqueryFailure):
                        current.call("deregisterExtension", uuid)
                return EXIT_OK
            extensions = None
            for _attempt in range(2):  # a broken connection gets one reconnection
                if current is None:
                    with contextlib.suppress(OSError):
                        current = ManagerClient(options.socket, CALL_TIMEOUT_S)
                if current is None:
                    break
                try:
                    extensions = current.call("extensions")
                    break
                except OsqueryFailure as failure:
                    log.debug("osqueryd did not answer: %s", failure.reason)
                    current.close()
                    current = None
            if extensions is None:
                log.info("osqueryd has gone away: leaving")
                return EXIT_OK
            if uuid not in extensions:
                log.error("osqueryd no longer lists this extension: leaving")
                return EXIT_FAILED
    finally:
        if current is not None:
            current.close()


def _wait_either(first: threading.Event, second: threading.Event, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        if first.is_set() or second.is_set():
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        first.wait(min(left, 0.05))


def extension_command(options: ExtensionOptions) -> int:
    """The command: log to stderr (osqueryd's), stop on SIGTERM/SIGINT, run the extension."""
    logging.getLogger().setLevel(logging.INFO if options.verbose else logging.WARNING)
    logging.getLogger("thrift").setLevel(logging.CRITICAL)  # a peer hanging up is no error
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    for name in ("SIGTERM", "SIGINT", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is not None:
            with contextlib.suppress(ValueError, OSError):
                signal.signal(number, on_signal)
    return run_extension(options, stop)
