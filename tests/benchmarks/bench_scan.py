"""Benchmark: full default-policy scans on the embedded engine on this machine.

Prints the median (and spread) over N scans and the median time each table took to generate.
Target on the 2-core CI machine: median under 50 ms. Run: `make bench` or
`python tests/benchmarks/bench_scan.py [--scans N]`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from stethoscope_desktop.core.checks import load_checks
from stethoscope_desktop.core.platforms import current_platform
from stethoscope_desktop.core.practices import PracticesFolder, PracticesLoader
from stethoscope_desktop.core.scanner import Scanner
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.resources import checks_dir, practices_dir
from stethoscope_desktop.tables.catalog import builtin_tables
from stethoscope_desktop.tables.system import LocalSystem

TARGET_MS = 50.0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--scans", type=int, default=30, help="how many scans (at least 20 for the figure)"
    )
    args = parser.parse_args(argv)
    practices = PracticesLoader([PracticesFolder("bundled", practices_dir())]).load()
    platform = current_platform()
    checks = load_checks(checks_dir())
    engine = EmbeddedEngine(builtin_tables(platform, LocalSystem()))
    scanner = Scanner(engine, checks, platform=platform)
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
        f"  target: median under {TARGET_MS:.0f} ms -> {'met' if median < TARGET_MS else 'NOT met'}"
    )
    print("  per table (median ms, tables generate concurrently):")
    for table, times in sorted(per_table.items(), key=lambda item: -statistics.median(item[1])):
        print(f"    {table:<32} {statistics.median(times):7.2f}")
    print(f"  verdict: {report.status.value} ({report.summary})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
