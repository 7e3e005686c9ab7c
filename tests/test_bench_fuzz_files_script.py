"""The file fuzzing campaign script keeps working: its figures, its watchdog and its replay.

`tests/benchmarks/fuzz_files.py` is run on 40 files (its figures read as JSON), and on 3 files
with a watchdog no file can meet, which must count each as a hang and kill its child rather than
wait; a saved input then replays in-process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.fuzz.file_strategies import FORMATS, KINDS

SCRIPT = Path(__file__).parent / "benchmarks" / "fuzz_files.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_campaign_runs_every_format_and_prints_its_figures() -> None:
    result = _run("--files", "40", "--seed", "3", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    (line,) = result.stdout.splitlines()  # one line, as tests/benchmarks/hostile_input.py reads
    figures = json.loads(line)
    assert figures["files"] == 40 and figures["seed"] == 3
    assert set(figures["per_format"]) == set(FORMATS)
    for name, kinds in figures["per_format"].items():
        assert set(kinds) == set(KINDS)
        assert sum(kinds.values()) == 4, name  # 40 files shared by the 10 formats
    assert (figures["tracebacks"], figures["hangs"], figures["unclear"]) == (0, 0, 0)
    assert figures["failures"] == []
    slowest = figures["slowest"]
    assert slowest["format"] in FORMATS and 0 < slowest["seconds"] < 600
    assert figures["slowest_s"] == slowest["seconds"]


def test_a_file_past_the_watchdog_is_counted_as_a_hang_and_its_input_replays() -> None:
    result = _run("--files", "3", "--seed", "5", "--per-file-limit", "0.001")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert "tracebacks: 0" in lines and "hangs: 3" in lines
    assert "unclear problems: 0" in lines
    saved = [line.split(" saved as ")[1] for line in lines if line.startswith("--- hang: input")]
    assert len(saved) == 3 and all(Path(path).is_file() for path in saved)
    replayed = _run("--replay", saved[0])
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert replayed.stdout.splitlines()[-1] == "clear"
