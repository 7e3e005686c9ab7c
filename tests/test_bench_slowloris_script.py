"""The slowloris benchmark script keeps working (its figures are read by people, not asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parent / "benchmarks" / "bench_slowloris.py"


def test_the_slowloris_benchmark_runs_and_prints_its_figures() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--slow", "50", "--tries", "3", "--pause", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "slowloris: 50 slow connections" in result.stdout
    assert "good client, 3 tries: max" in result.stdout and "median" in result.stdout
    assert "answered within 1 s:" in result.stdout
