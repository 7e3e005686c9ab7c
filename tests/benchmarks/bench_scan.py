"""Benchmark: full default-policy scans on the embedded engine on this machine.

Prints the median (and spread) over N scans and the median time each table took to generate.
Target on the 2-core CI machine (issue 16): median at most 20 ms, a third of the original
Stethoscope's Linux collectors (`bench_original_collectors.py` measures them side by side).

Then, with `--sockets N` (default 3,000; 0 skips it), the same process opens N real TCP sockets
on loopback (N/2 connections, each end counts) and prints `stethoscope_remote_login` alone and
the full scan again: their cost must not grow with the connections (target: at most 1 ms for
remote_login with 3,000 sockets). Run: `make bench` or
`python tests/benchmarks/bench_scan.py [--scans N] [--sockets N]`.
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import socket
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from stethoscope_desktop.core.checks import load_checks
from stethoscope_desktop.core.platforms import current_platform
from stethoscope_desktop.core.practices import Practices, PracticesFolder, PracticesLoader
from stethoscope_desktop.core.scanner import Scanner
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.resources import checks_dir, practices_dir
from stethoscope_desktop.tables.base import QueryContext
from stethoscope_desktop.tables.catalog import builtin_tables
from stethoscope_desktop.tables.linux.remote_login import RemoteLogin
from stethoscope_desktop.tables.system import LocalSystem

TARGET_MS = 20.0
REMOTE_LOGIN_TARGET_MS = 1.0
REMOTE_LOGIN_TARGET_SOCKETS = 3000


def default_policy_scanner() -> tuple[Scanner, Practices]:
    """The full default-policy scan on this machine: a scanner on the embedded engine, the policy.

    Also used by `bench_original_collectors.py`, so both benchmarks measure the same scan.
    """
    practices = PracticesLoader([PracticesFolder("bundled", practices_dir())]).load()
    platform = current_platform()
    engine = EmbeddedEngine(builtin_tables(platform, LocalSystem()))
    return Scanner(engine, load_checks(checks_dir()), platform=platform), practices


def median_ms(run: Callable[[], object], times: int) -> tuple[float, float, float]:
    """Return the median, min and max milliseconds of `times` calls of `run`."""
    durations: list[float] = []
    for _ in range(times):
        started = time.perf_counter()
        run()
        durations.append((time.perf_counter() - started) * 1000)
    return statistics.median(durations), min(durations), max(durations)


@contextlib.contextmanager
def open_connections(sockets: int) -> Iterator[int]:
    """Open `sockets` TCP sockets on loopback (a listener's accepted ends and their clients).

    Yields how many are open; the soft limit on open files is raised to the hard one first, and
    fewer are opened (said by the count) where the hard limit is lower.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = sockets + 64
    if soft < wanted and (hard == resource.RLIM_INFINITY or hard > soft):
        new_soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
    opened: list[socket.socket] = []
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1024)
        address = listener.getsockname()
        with contextlib.suppress(OSError):  # out of descriptors: measure what is open
            while len(opened) + 2 <= sockets:
                client = socket.create_connection(address)
                opened.append(client)
                accepted, _ = listener.accept()
                opened.append(accepted)
        yield len(opened)
    finally:
        for connection in opened:
            connection.close()
        listener.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--scans", type=int, default=30, help="how many scans (at least 20 for the figure)"
    )
    parser.add_argument(
        "--sockets",
        type=int,
        default=REMOTE_LOGIN_TARGET_SOCKETS,
        help="TCP sockets to open on loopback for the second measurement (0: none)",
    )
    args = parser.parse_args(argv)
    platform = current_platform()
    scanner, practices = default_policy_scanner()
    scanner.scan(practices)  # warm-up: imports, first file reads
    durations: list[float] = []
    per_table: dict[str, list[float]] = defaultdict(list)
    for _ in range(args.scans):
        started = time.perf_counter()
        report = scanner.scan(practices)
        durations.append((time.perf_counter() - started) * 1000)
        for timing in report.table_timings:
            per_table[timing.table].append(timing.seconds * 1000)
    median = statistics.median(durations)
    print(f"full default-policy scan, embedded engine, {platform}, {args.scans} scans")
    print(f"  median {median:.1f} ms   min {min(durations):.1f} ms   max {max(durations):.1f} ms")
    print(
        f"  target: median at most {TARGET_MS:.0f} ms -> "
        f"{'met' if median <= TARGET_MS else 'NOT met'}"
    )
    print("  per table (median ms; tables that wait on commands generate on threads of their own):")
    for table, times in sorted(per_table.items(), key=lambda item: -statistics.median(item[1])):
        print(f"    {table:<32} {statistics.median(times):7.2f}")
    print(f"  verdict: {report.status.value} ({report.summary})")
    if args.sockets and platform == "linux":
        remote_login = RemoteLogin(LocalSystem())
        alone = median_ms(lambda: list(remote_login.generate(QueryContext())), 200)
        print(f"stethoscope_remote_login alone: median {alone[0]:.2f} ms (max {alone[2]:.2f} ms)")
        with open_connections(args.sockets) as opened:
            with_sockets = median_ms(lambda: list(remote_login.generate(QueryContext())), 200)
            scan = median_ms(lambda: scanner.scan(practices), args.scans)
        met = with_sockets[0] <= REMOTE_LOGIN_TARGET_MS
        print(
            f"with {opened:,} TCP sockets open: stethoscope_remote_login median "
            f"{with_sockets[0]:.2f} ms (max {with_sockets[2]:.2f} ms), full scan median "
            f"{scan[0]:.1f} ms"
        )
        if opened >= REMOTE_LOGIN_TARGET_SOCKETS:
            print(
                f"  target: remote_login at most {REMOTE_LOGIN_TARGET_MS:g} ms with "
                f"{REMOTE_LOGIN_TARGET_SOCKETS:,} sockets -> {'met' if met else 'NOT met'}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
