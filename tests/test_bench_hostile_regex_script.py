"""The hostile regular expression benchmark keeps working (its figures are read by people)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parent / "benchmarks" / "bench_hostile_regex.py"


def test_the_hostile_regex_benchmark_runs_and_prints_its_worst_case() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--length", "300", "--repeat", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "refused  a{99999999999}" in result.stdout
    assert "matched  (.+)+#" in result.stdout
    assert "worst case" in result.stdout and "per pattern and name" in result.stdout
