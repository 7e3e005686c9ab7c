"""The local API benchmark script keeps working (its figures are read by people, not asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parent / "benchmarks" / "bench_api.py"


def test_the_api_benchmark_runs_and_prints_its_figures() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--requests", "5", "--burst", "10"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "p50" in result.stdout and "p99" in result.stdout
    assert "burst of 10 concurrent requests" in result.stdout
    assert "scans 1   errors 0" in result.stdout
