"""Keeping the idle tray app small: caches dropped, glibc malloc tuned (no-op elsewhere).

Workaround for glibc's per-thread malloc arenas: each thread that allocates (Qt's D-Bus and
X threads among them) gets an arena that keeps freed memory, so an idle app would sit on the
high-water mark of its busiest moment (reading a report, drawing the menu). We cap the arenas
and hand freed memory back after each report; measured, this keeps about 1 MiB off the tray.
"""

from __future__ import annotations

import ctypes
import gc
import linecache
import logging
import os
import re
import sys

log = logging.getLogger(__name__)
M_ARENA_MAX = -8
ARENAS = 2


def _libc() -> ctypes.CDLL | None:
    """Return glibc, or None elsewhere (musl, macOS, Windows have no such knobs)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return None
        # Not ctypes.util.find_library: it runs ldconfig and costs the idle app memory.
        libc = ctypes.CDLL("libc.so.6")
    except (OSError, ValueError):
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
    only to print tracebacks; it refills itself if one is ever printed. `re` keeps every pattern
    compiled from a string (argparse's, the libraries' own: about 0.8 MiB in the tray), which
    it compiles again when one is used.
    """
    linecache.clearcache()
    re.purge()
    gc.collect()
    return_freed_heap()


def return_freed_heap() -> None:
    """Hand glibc's free heap pages back to the operating system (no-op elsewhere).

    Unlike `release_free_memory`, it runs no garbage collection, so any thread may call it: a
    collection on a thread other than Qt's own may destroy Qt objects there.
    """
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
