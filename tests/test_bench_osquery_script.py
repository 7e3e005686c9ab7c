"""The osquery benchmark script keeps working (its figures are read by people, not asserted here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent / "benchmarks" / "bench_osquery.py"


@pytest.mark.skipif(sys.platform != "linux", reason="the osqueryd stand-in runs on Linux")
def test_the_osquery_benchmark_runs_and_prints_its_figures() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--starts", "1", "--queries", "2", "--scans", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    for figure in (
        "spawn-to-ready",
        "query, osquery table",
        "query, our table",
        "full scan, warm",
        "full scan, cold",
        "full scan, embedded",
        "verdict: FAIL",
    ):
        assert figure in result.stdout
