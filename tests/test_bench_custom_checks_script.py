"""The IT-checks benchmark script keeps working, and its checks are scanned, not refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from stethoscope_desktop.core.custom_checks import read_checks_file

BENCHMARKS = Path(__file__).parent / "benchmarks"
SCRIPT = BENCHMARKS / "bench_custom_checks.py"


def test_the_checks_benchmark_runs_and_prints_its_figures() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--runs", "1", "--counts", "0", "12"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert lines[0].startswith("    0 checks: scan process")
    assert lines[1].startswith("   12 checks: scan process") and "x the CPU" in lines[1]


def test_the_benchmarks_checks_file_is_valid(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from bench_custom_checks import write_practices
    finally:
        sys.path.remove(str(BENCHMARKS))
    write_practices(tmp_path / "practices", 12)
    loaded = read_checks_file(tmp_path / "practices" / "checks.d" / "bench.yml")
    assert loaded.problems == [] and len(loaded.checks) == 12
