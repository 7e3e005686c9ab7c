"""Keeping the idle tray app small: caches dropped, glibc malloc tuned (no-op elsewhere).

Workaround for glibc's per-thread malloc arenas: each thread that allocates (the scan thread,
the table threads) gets an arena that keeps freed memory, so an idle app would sit on the
high-water mark of its last scan. We cap the arenas and hand freed memory back after each scan.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import linecache
import logging
import sys

log = logging.getLogger(__name__)
M_ARENA_MAX = -8
ARENAS = 2


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


def limit_malloc_arenas() -> None:
    """Cap glibc's malloc arenas (call early, before threads start)."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(M_ARENA_MAX, ARENAS)


def release_free_memory() -> None:
    """Drop caches nobody needs while idle and return free memory to the operating system.

    `linecache` holds the source of PySide6's embedded signature modules (about 5 MiB), kept
    only to print tracebacks; it refills itself if one is ever printed.
    """
    linecache.clearcache()
    gc.collect()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
