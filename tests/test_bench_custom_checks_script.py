"""The IT-checks benchmark script keeps working, its checks are scanned, and it judges its target.

CI also runs it in full on Linux, failing over the target (`--max-ratio 1.5`, .github/workflows).
"""

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
    assert all("the scan itself" in line for line in lines)


def test_the_target_is_judged_on_300_checks_against_the_first_count() -> None:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from bench_custom_checks import Figures, over_target
    finally:
        sys.path.remove(str(BENCHMARKS))
    none = Figures(0, wall=0.5, cpu=0.40, scan=0.03)
    within = [none, Figures(100, 0.5, 0.70, 0.1), Figures(300, 0.6, 0.59, 0.09)]
    assert over_target(within, 300, 1.5) is None  # 1.48x; the 100 count is not the target
    over = [none, Figures(300, 0.7, 0.61, 0.09)]
    assert over_target(over, 300, 1.5) == "300 checks cost 1.52x the CPU of 0 (at most 1.5x)"


def test_the_benchmarks_checks_file_is_valid(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from bench_custom_checks import write_practices
    finally:
        sys.path.remove(str(BENCHMARKS))
    write_practices(tmp_path / "practices", 12)
    loaded = read_checks_file(tmp_path / "practices" / "checks.d" / "bench.yml")
    assert loaded.problems == [] and len(loaded.checks) == 12
