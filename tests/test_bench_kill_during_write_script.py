"""The kill -9 benchmark keeps working, and a short campaign finds no corrupt or stray file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent / "benchmarks" / "bench_kill_during_write.py"


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_ten_kills_during_state_writes_leave_no_corrupt_and_no_stray_file(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--runs", "10", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "corrupt state files            0" in result.stdout
    assert "stray files after the sweep    0" in result.stdout
    assert [path.name for path in tmp_path.iterdir()] == ["state.json"]
