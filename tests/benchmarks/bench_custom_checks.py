"""Benchmark: what IT's own checks cost, for 0, 100, 300 and 1,000 checks in `checks.d`.

For each count, a practices folder of our own is written: the bundled policy and a `checks.d`
file of that many checks in Fleet's format (queries over the tables IT's checks use most, each
a different query). Then prints, per count, the median of `--runs` runs of:
- the whole `stethoscope-desktop scan --json` process: wall time and CPU (user + system),
- the CPU relative to the first count (target: at most 1.5x for 300 checks against none),
- the scan itself (the report's `duration_seconds`: running the queries, wall time).
The counts' runs alternate (0, 300, 0, 300, …), so a machine busy with something else weighs on
every count alike.

Run: `python tests/benchmarks/bench_custom_checks.py [--runs 5] [--counts 0 100 300 1000]
[--max-ratio 1.5]` (with --max-ratio it exits 1 when 300 checks cost more than that).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET_COUNT = 300  # the target: 300 checks cost at most 1.5x the CPU of none
# Query shapes IT's checks use (Fleet's CIS policies): existence, comparisons, NOT EXISTS, joins.
QUERIES = (
    "SELECT 1 FROM os_version WHERE major >= {n} % 20",
    "SELECT 1 FROM deb_packages WHERE name = 'package-{n}'",
    "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM deb_packages WHERE name = 'banned-{n}')",
    "SELECT 1 FROM systemd_units WHERE id = 'unit-{n}.service' AND active_state = 'active'",
    "SELECT 1 FROM mounts WHERE path = '/' AND flags NOT LIKE '%nodev-{n}%'",
    "SELECT 1 FROM listening_ports WHERE port = {n} % 65536",
)


def write_practices(folder: Path, count: int) -> None:
    """Write the bundled policy and a checks.d file with `count` checks of our own."""
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "practices" / "policy.yaml", folder / "policy.yaml")
    if not count:
        return
    (folder / "checks.d").mkdir()
    lines = ["apiVersion: v1", "kind: policy"]
    documents = []
    for n in range(count):
        query = QUERIES[n % len(QUERIES)].format(n=n)
        documents.append(
            "\n".join(
                [
                    *lines,
                    "spec:",
                    f"  name: Benchmark check {n}",
                    "  platform: linux",
                    f"  critical: {'true' if n % 7 == 0 else 'false'}",
                    f'  query: "{query}"',
                ]
            )
        )
    (folder / "checks.d" / "bench.yml").write_text("\n---\n".join(documents) + "\n")


@dataclass(frozen=True)
class Run:
    """One `scan --json` process: its wall time and CPU, and the scan's own duration."""

    wall: float
    cpu: float
    scan: float


def one_run(folder: Path) -> Run:
    """Run one `scan --json` process on `folder` and return its figures."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "stethoscope_desktop", "scan", "--json", "--engine", "embedded",
         "--practices", str(folder)],
        cwd=ROOT, capture_output=True, check=False, timeout=600,
        env={**os.environ, "STETHOSCOPE_PRACTICES": ""},
    )  # fmt: skip
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    try:
        scan = float(json.loads(result.stdout)["duration_seconds"])
    except (ValueError, KeyError, TypeError) as error:
        raise SystemExit(f"the scan printed no report: {result.stderr.decode()[-2000:]}") from error
    return Run(wall, cpu, scan)


@dataclass(frozen=True)
class Figures:
    """The medians of one count's runs."""

    count: int
    wall: float
    cpu: float
    scan: float


def measure(counts: Sequence[int], runs: int, work: Path) -> list[Figures]:
    """Return each count's medians; the runs of the counts alternate, so load affects all alike."""
    folders = {}
    for count in counts:
        folders[count] = work / f"n{count}"
        write_practices(folders[count], count)
        one_run(folders[count])  # warm the page cache and the bytecode cache
    taken: dict[int, list[Run]] = {count: [] for count in counts}
    for _ in range(runs):
        for count in counts:
            taken[count].append(one_run(folders[count]))
    return [
        Figures(
            count,
            statistics.median(r.wall for r in taken[count]),
            statistics.median(r.cpu for r in taken[count]),
            statistics.median(r.scan for r in taken[count]),
        )
        for count in counts
    ]


def over_target(figures: Sequence[Figures], count: int, max_ratio: float) -> str | None:
    """Return why `count` checks cost more than `max_ratio` x the first count's CPU, or None."""
    base = figures[0]
    for figure in figures:
        if figure.count == count and figure.cpu > max_ratio * base.cpu:
            return (
                f"{count} checks cost {figure.cpu / base.cpu:.2f}x the CPU of {base.count} "
                f"(at most {max_ratio:g}x)"
            )
    return None


def main() -> int:
    """Print the figures for each count; exit 1 if --max-ratio is given and exceeded."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--counts", type=int, nargs="+", default=[0, 100, 300, 1000])
    parser.add_argument(
        "--max-ratio",
        type=float,
        default=None,
        help=f"exit 1 if {TARGET_COUNT} checks cost more than this times the first count's CPU",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-checks-") as work:
        figures = measure(args.counts, args.runs, Path(work))
    base = figures[0]
    for figure in figures:
        print(
            f"{figure.count:5d} checks: scan process {figure.wall:.2f} s wall, {figure.cpu:.2f} s "
            f"CPU ({figure.cpu / base.cpu:.2f}x the CPU of the first count); the scan itself "
            f"{figure.scan:.3f} s (median of {args.runs})"
        )
    if args.max_ratio is not None:
        failure = over_target(figures, TARGET_COUNT, args.max_ratio)
        if failure:
            print(f"over the target: {failure}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
