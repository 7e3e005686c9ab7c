"""Benchmark: kill -9 while the state file is being written, then the start-up sweep.

Each run starts a child process that saves the app's state (`core.state.StateStore`) in a loop,
with a payload large enough that a kill often lands mid-write, and reports on stdout the sequence
number of every save that returned. At a random moment the parent kills it with SIGKILL, then
checks the state file: it must parse as one whole save (its checksum matches) and be the last save
the child reported or the one after it (killed between the rename and the report). Leftover
temporary files are counted after each kill; after all runs the app's start-up sweep
(`StateStore.remove_stale_temporaries`) runs once, as at start, and whatever is still there is a
stray file. Targets: 0 corrupt state files, 0 stray files.
Run: `python tests/benchmarks/bench_kill_during_write.py [--runs N] [--dir FOLDER] [--json]`.
POSIX only (SIGKILL).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from stethoscope_desktop.core.files import MIN_AGE_SECONDS, temporary_name_pattern
from stethoscope_desktop.core.state import StateStore

PAYLOAD_ITEMS = 4000  # ~200 KB of JSON per save


def payload_for(sequence: int) -> dict[str, Any]:
    """Return the state the child saves as save number `sequence`, with its checksum."""
    items = [f"item {sequence}-{n}" for n in range(PAYLOAD_ITEMS)]
    digest = hashlib.sha256("\n".join(items).encode("utf-8")).hexdigest()
    return {"sequence": sequence, "items": items, "sha256": digest}


def run_child(state_path: Path) -> int:
    """Save the state in a loop forever, reporting each save that returned."""
    store = StateStore(state_path)
    sequence = 0
    print("ready", flush=True)
    while True:
        sequence += 1
        if not store.save(payload_for(sequence)):
            print("failed", flush=True)
            return 1
        print(sequence, flush=True)


def check_state(state_path: Path, last_reported: int) -> str | None:
    """Return what is wrong with the state file after a kill, or None if it is one whole save."""
    if not state_path.exists():
        return None if last_reported == 0 else "the state file is missing after a save returned"
    try:
        data = json.loads(state_path.read_bytes())
    except ValueError as error:
        return f"does not parse: {error}"
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        return "not a whole save"
    digest = hashlib.sha256("\n".join(data["items"]).encode("utf-8")).hexdigest()
    if digest != data.get("sha256"):
        return "checksum mismatch (torn contents)"
    sequence = data.get("sequence")
    if not isinstance(sequence, int) or not last_reported <= sequence <= last_reported + 1:
        return f"holds save {sequence}, but the last save that returned was {last_reported}"
    return None


def one_run(state_path: Path, rng: random.Random) -> str | None:
    """Start a writer, kill it at a random moment, return what is wrong with the state file."""
    child = subprocess.Popen(
        [sys.executable, __file__, "--child", str(state_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    if child.stdout.readline().strip() != "ready":
        child.kill()
        child.wait()
        raise RuntimeError("the writer did not start")
    time.sleep(rng.uniform(0.0, 0.3))
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    reported = [line.strip() for line in child.stdout.read().splitlines()]
    child.stdout.close()
    if "failed" in reported:
        return "a save reported failure"
    numbers = [int(line) for line in reported if line.isdigit()]
    # A fresh writer starts again at 1, so each run starts on a clean state file.
    return check_state(state_path, max(numbers, default=0))


def leftovers(state_path: Path) -> list[str]:
    """Return the names of our temporary files next to the state file."""
    pattern = temporary_name_pattern(state_path)
    return sorted(name for name in os.listdir(state_path.parent) if pattern.fullmatch(name))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures; exit 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--dir", type=Path, help="folder for the state file (default: a new one)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        return run_child(args.child)
    folder = args.dir or Path(tempfile.mkdtemp(prefix="bench-kill-"))
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    corrupt: list[str] = []
    runs_leaving_temporaries = 0
    for run in range(args.runs):
        state_path = folder / "state.json"
        state_path.unlink(missing_ok=True)
        before = len(leftovers(state_path))
        problem = one_run(state_path, rng)
        if problem is not None:
            corrupt.append(f"run {run + 1}: {problem}")
        if len(leftovers(state_path)) > before:
            runs_leaving_temporaries += 1
    state_path = folder / "state.json"
    left = len(leftovers(state_path))
    time.sleep(MIN_AGE_SECONDS + 0.5)  # the app starts later than the kill; fresh ones wait
    removed = StateStore(state_path).remove_stale_temporaries()
    stray = leftovers(state_path)
    if args.dir is None:
        shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        figures = {
            "runs": args.runs,
            "corrupt": len(corrupt),
            "runs_leaving_a_temporary": runs_leaving_temporaries,
            "removed_by_sweep": removed,
            "stray": len(stray),
        }
        print(json.dumps(figures))
        return 1 if corrupt or stray else 0
    print(f"kill -9 during state writes: {args.runs} runs in {folder}")
    print(f"corrupt state files            {len(corrupt)}")
    for line in corrupt:
        print(f"  {line}")
    print(f"runs leaving a temporary file  {runs_leaving_temporaries}")
    print(f"temporary files before sweep   {left}")
    print(f"removed by the start-up sweep  {removed}")
    print(f"stray files after the sweep    {len(stray)}")
    return 1 if corrupt or stray else 0


if __name__ == "__main__":
    sys.exit(main())
