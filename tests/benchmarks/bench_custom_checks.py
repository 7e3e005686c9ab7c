"""Benchmark: what IT's own checks cost, for 0, 100, 300 and 1,000 checks in `checks.d`.

For each count, a practices folder of our own is written: the bundled policy and a `checks.d`
file of that many checks in Fleet's format (queries over the tables IT's checks use most, each
a different query). Then prints, per count, the median of `--runs` runs of:
- the whole `stethoscope-desktop scan --json` process: wall time and CPU (user + system),
- the CPU relative to the run without checks (target: at most 1.5x for 300 checks).

Run: `python tests/benchmarks/bench_custom_checks.py [--runs 5] [--counts 0 100 300 1000]`.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
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


def one_run(folder: Path) -> tuple[float, float]:
    """Return the wall time and CPU time of one `scan --json` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "stethoscope_desktop", "scan", "--json", "--engine", "embedded",
         "--practices", str(folder)],
        cwd=ROOT, capture_output=True, check=False, timeout=600,
        env={**os.environ, "STETHOSCOPE_PRACTICES": ""},
    )  # fmt: skip
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> int:
    """Print the figures for each count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--counts", type=int, nargs="+", default=[0, 100, 300, 1000])
    args = parser.parse_args()
    base_cpu = None
    with tempfile.TemporaryDirectory(prefix="bench-checks-") as work:
        for count in args.counts:
            folder = Path(work) / f"n{count}"
            write_practices(folder, count)
            one_run(folder)  # warm the page cache
            runs = [one_run(folder) for _ in range(args.runs)]
            wall = statistics.median(w for w, _ in runs)
            cpu = statistics.median(c for _, c in runs)
            base_cpu = cpu if base_cpu is None else base_cpu
            print(
                f"{count:5d} checks: scan process {wall:.2f} s wall, {cpu:.2f} s CPU "
                f"({cpu / base_cpu:.2f}x the CPU of the first count; median of {args.runs})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
