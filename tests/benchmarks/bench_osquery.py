"""Benchmark: the osquery engine against the osqueryd stand-in, beside the embedded engine.

Prints
- spawn-to-ready: start osqueryd, connect, handshake, register our tables (and the time to stop);
- the round trip of one query on an osquery table and on one of our tables (osqueryd calls back
  into our extension);
- a full default-policy scan through the osquery engine, with osqueryd kept running (warm) and
  started by the scan (cold), beside the same scan on the embedded engine with the same rows;
- what keeping osqueryd costs while idle (its resident memory).

The stand-in is a Python program, so its start and memory are not osqueryd's; the round trips and
our side of the work are the engine's. Run:
`python tests/benchmarks/bench_osquery.py [--starts N] [--queries N] [--scans N]`.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from stethoscope_desktop.core.checks import load_checks
from stethoscope_desktop.core.practices import PracticesFolder, PracticesLoader
from stethoscope_desktop.core.scanner import Scanner
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.engines.osquery import OsqueryEngine
from stethoscope_desktop.resources import checks_dir, practices_dir
from tests.osquery_standin import STANDIN, canned, core_rows, extension_rows, standin_env

PLATFORM = "linux"


def figures(values: list[float]) -> str:
    """Return median, min and max of `values` (seconds) in milliseconds."""
    return (
        f"median {statistics.median(values) * 1000:7.2f} ms   "
        f"min {min(values) * 1000:7.2f}   max {max(values) * 1000:7.2f}   (n={len(values)})"
    )


def timed(action: Callable[[], object], times: int) -> list[float]:
    """Return how long each of `times` runs of `action` took."""
    durations: list[float] = []
    for _ in range(times):
        started = time.perf_counter()
        action()
        durations.append(time.perf_counter() - started)
    return durations


def rss_kib(pid: int) -> int:
    """Return the resident memory of `pid` in KiB (0 where /proc is not there)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def engine(runtime_dir: str, keep_alive: float) -> OsqueryEngine:
    return OsqueryEngine(
        str(STANDIN),
        canned(extension_rows(PLATFORM)),
        env=standin_env(PLATFORM),
        runtime_dir=runtime_dir,
        keep_alive=keep_alive,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--starts", type=int, default=10, help="osqueryd starts to time")
    parser.add_argument("--queries", type=int, default=200, help="queries per round-trip figure")
    parser.add_argument("--scans", type=int, default=10, help="scans per scan figure")
    args = parser.parse_args(argv)
    practices = PracticesLoader([PracticesFolder("bundled", practices_dir())]).load()
    checks = load_checks(checks_dir())
    runtime_dir = tempfile.mkdtemp(
        prefix="osq-bench-", dir="/tmp" if sys.platform != "win32" else None
    )
    try:
        print(f"osquery engine on the osqueryd stand-in ({PLATFORM} fixtures)")

        cold = engine(runtime_dir, keep_alive=0)
        for _ in range(args.starts):
            with cold.begin_scan() as session:
                session.prepare([])
        starts = list(cold.start_seconds)
        cold.close()
        print(f"  spawn-to-ready        {figures(starts)}")

        warm = engine(runtime_dir, keep_alive=600)
        with warm.begin_scan() as session:
            session.prepare([])
            core = timed(lambda: session.query("SELECT version FROM osquery_info"), args.queries)
            ours = timed(
                lambda: session.query("SELECT enabled FROM stethoscope_firewall"), args.queries
            )
            pid = warm.running_pid
        print(f"  query, osquery table  {figures(core)}")
        print(f"  query, our table      {figures(ours)}")
        idle_rss = rss_kib(pid) if pid else 0

        scanner = Scanner(warm, checks, platform=PLATFORM)
        warm_scans = timed(lambda: scanner.scan(practices), args.scans)
        started = time.perf_counter()
        warm.close()
        stop = time.perf_counter() - started
        print(f"  stop                  {stop * 1000:7.2f} ms")
        print(f"  full scan, warm       {figures(warm_scans)}")

        cold = engine(runtime_dir, keep_alive=0)
        cold_scanner = Scanner(cold, checks, platform=PLATFORM)
        cold_scans = timed(lambda: cold_scanner.scan(practices), args.scans)
        report = cold_scanner.scan(practices)
        cold.close()
        print(f"  full scan, cold       {figures(cold_scans)}")

        embedded = EmbeddedEngine(canned({**core_rows(PLATFORM), **extension_rows(PLATFORM)}))
        embedded_scanner = Scanner(embedded, checks, platform=PLATFORM)
        embedded_scanner.scan(practices)
        embedded_scans = timed(lambda: embedded_scanner.scan(practices), args.scans)
        embedded.close()
        print(f"  full scan, embedded   {figures(embedded_scans)}")
        if idle_rss:
            print(f"  idle osqueryd (stand-in) resident memory: {idle_rss / 1024:.1f} MiB")
        print(f"  verdict: {report.status.value} ({report.summary})")
    finally:
        shutil.rmtree(runtime_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
