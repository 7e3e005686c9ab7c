"""The fuzz surface campaign script keeps working (its figures are read by people, not asserted).

A small campaign against a real server and a real worker: it must print every figure it
promises and, on today's code, find nothing wrong (exit 0).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent / "benchmarks" / "fuzz_surface.py"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--requests", "60", "--lines", "40", "--seed", "7", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.live_system
def test_the_campaign_prints_its_figures_and_finds_nothing_wrong() -> None:
    result = run()
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "fuzz surface campaign, seed 7" in out
    assert "requests sent: 60" in out and "  http " in out and "  graphql " in out
    assert "statuses: " in out
    assert "500s: 0   wrong answers: 0   tracebacks in the server log: 0   hangs: 0" in out
    assert "slowest answer: " in out
    assert "protocol lines sent: 40   scans asked: 2   answered: 2" in out
    assert "worker crashes: 0   worker hangs: 0   tracebacks in the worker log: 0" in out
    assert out.rstrip().endswith("result: ok")


@pytest.mark.live_system
def test_the_campaign_prints_json() -> None:
    result = run("--json")
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads(result.stdout)
    assert figures["seed"] == 7 and figures["ok"] is True
    assert figures["requests"]["sent"] == 60
    assert figures["requests"]["internal_errors"] == 0 and figures["requests"]["hangs"] == 0
    assert figures["worker"]["lines"] == 40 and figures["worker"]["scans"] >= 2
    assert figures["worker"]["crashes"] == 0 and figures["worker"]["hangs"] == 0
