"""The benchmark script keeps working (its figures are read by people, not asserted here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parent / "benchmarks" / "bench_scan.py"


def test_the_scan_benchmark_runs_and_prints_its_figures() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--scans", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "median" in result.stdout
    assert "per table" in result.stdout
    assert "os_version" in result.stdout
