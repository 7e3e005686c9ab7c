"""Issue 14's one-run report keeps working, and names only tests that exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parent / "benchmarks" / "hostile_input.py"
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(SCRIPT.parent))

from hostile_input import ITEMS  # noqa: E402


def test_every_item_names_tests_that_exist() -> None:
    for item, targets in ITEMS.items():
        for target in targets:
            file, _, test = target.partition("::")
            path = ROOT / file
            assert path.exists(), f"item {item}: {file} does not exist"
            if test:
                text = path.read_text(encoding="utf-8")
                assert re.search(rf"^def {re.escape(test)}\(", text, re.M), (
                    f"item {item}: {file} has no {test}"
                )


def test_the_report_runs_small_and_prints_every_figure() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--skip-tests", "--seed", "7"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for figure in (
        "generated files",
        "generated API requests",
        "generated worker protocol lines",
        "slowloris",
        "worst regex case",
        "kill -9 during writes",
    ):
        assert re.search(rf"^ok\s+{figure}\s", result.stdout, re.M), result.stdout
    assert "all targets met" in result.stdout
