"""Helpers for the osquery engine's tests: engines on the stand-in, and checks that nothing leaked."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from stethoscope_desktop.engines.osquery import OsqueryEngine
from stethoscope_desktop.tables.base import TablePlugin
from tests.osquery_standin import STANDIN, canned, extension_rows, standin_env

THREAD_PREFIXES = ("osquery", "osqueryd")
# The threads running when each engine was made: other engines' are not its leaks.
_threads_before: weakref.WeakKeyDictionary[OsqueryEngine, set[threading.Thread]] = (
    weakref.WeakKeyDictionary()
)


@contextmanager
def short_dir() -> Iterator[Path]:
    """Yield a fresh folder with a short path (Unix socket paths are limited to ~100 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="osq-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def standin_engine(
    runtime_dir: Path,
    *,
    platform: str = "linux",
    tables: Iterable[TablePlugin] | None = None,
    keep_alive: float = 0.0,
    start_timeout: float = 5.0,
    query_timeout: float = 5.0,
    **env: str,
) -> OsqueryEngine:
    """Return an osquery engine that spawns the stand-in, with our tables from the fixtures."""
    engine = OsqueryEngine(
        str(STANDIN),
        canned(extension_rows(platform)) if tables is None else tables,
        reason="tests",
        env=standin_env(platform, **env),
        runtime_dir=str(runtime_dir),
        keep_alive=keep_alive,
        start_timeout=start_timeout,
        query_timeout=query_timeout,
    )
    _threads_before[engine] = set(threading.enumerate())
    return engine


def pid_alive(pid: int) -> bool:
    """Return True if `pid` is a live process (a zombie, not yet reaped, counts as alive)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return bool(stat)


def engine_threads(engine: OsqueryEngine | None = None) -> list[threading.Thread]:
    """Return the running threads osquery engines start (those `engine` started, if given)."""
    before = _threads_before.get(engine, set()) if engine is not None else set()
    return [
        t for t in threading.enumerate() if t.name.startswith(THREAD_PREFIXES) and t not in before
    ]


def wait_until(condition: object, timeout: float = 3.0) -> bool:
    """Poll `condition()` until it is true or `timeout` passes; return its last value."""
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return bool(condition())
        time.sleep(0.01)
    return True


def assert_nothing_leaked(engine: OsqueryEngine, runtime_dir: Path) -> None:
    """Close `engine`; then no child may be left (reaped), nor socket, folder or thread."""
    engine.close()
    assert engine.started_pids, "the engine never spawned osqueryd"
    assert [pid for pid in engine.started_pids if pid_alive(pid)] == []
    assert list(runtime_dir.iterdir()) == []
    assert wait_until(lambda: not engine_threads(engine), 2.0), engine_threads(engine)
