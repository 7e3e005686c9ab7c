"""Campaign: thousands of generated files of every format through the app's loading paths.

Generates `--files` inputs with the strategies of `tests/fuzz/file_strategies.py` (every format,
schema-shaped, mutated and arbitrary bytes; randomized from `--seed`), and runs each through
`tests/fuzz/file_loaders.py` (what `scan`, the worker, `check-policy`, `convert-instructions`
and `import-fleet` do with it) in child processes, `--workers` at a time. A watchdog gives each
file `--per-file-limit` seconds: a child past it is killed and the file COUNTED as a hang. Prints
the files generated per format and kind, the tracebacks (0 expected; the first few printed), the
hangs, the problems that do not name their file, and the slowest file. Every failing input is
saved under a temporary folder; `--replay FILE` runs one again in this process.
Exit 1 on any traceback, hang or unclear problem. Issue 14's target: >= 5,000 files, 0
tracebacks, 0 hangs.

Run: `python tests/benchmarks/fuzz_files.py [--files 5000] [--seed S] [--per-file-limit 10]
[--workers 2] [--json]`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import queue
import random
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.fuzz.file_strategies import FORMATS, KINDS, FuzzInput, fuzz_inputs  # noqa: E402

SHOWN_TRACEBACKS = 3


def generate(count: int, seed: int) -> list[FuzzInput]:
    """Return `count` inputs, as many of each format as can be, drawn by hypothesis from `seed`.

    Shuffled (from the same seed), so that the children share the costly formats.
    """
    inputs: list[FuzzInput] = []
    names = list(FORMATS)
    for number, name in enumerate(names):
        share = count // len(names) + (1 if number < count % len(names) else 0)
        inputs += _generate(name, share, seed + number * 1000)
    random.Random(seed).shuffle(inputs)
    return inputs


def _generate(name: str, count: int, seed: int) -> list[FuzzInput]:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    inputs: list[FuzzInput] = []
    rounds = 0
    while len(inputs) < count:
        wanted = count - len(inputs)

        @hypothesis_seed(seed + rounds)
        @settings(
            max_examples=wanted,
            database=None,
            deadline=None,
            derandomize=False,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(fuzz_inputs(name))
        def collect(generated: FuzzInput) -> None:
            if len(inputs) < count:
                inputs.append(generated)

        collect()
        rounds += 1
    return inputs


# -- the children ----------------------------------------------------------------------------


def _child(connection: Connection, folder: str) -> None:
    """Run the inputs the parent sends; answer (seconds, traceback or "", unclear problems)."""
    sys.path.insert(0, str(ROOT))
    import logging

    logging.disable(logging.CRITICAL)  # a corrupt state file is logged; the answer is what counts
    from tests.fuzz.file_loaders import FileLoading

    loading = FileLoading()
    work = Path(folder)
    while True:
        try:
            message = connection.recv()
        except EOFError:
            return
        if message is None:
            loading.close()
            return
        generated = FuzzInput(*message)
        started = time.perf_counter()
        try:
            unclear = loading.run(generated, work / "run").unclear
            failure = ""
        except BaseException:  # any escape is the finding
            unclear = []
            failure = traceback.format_exc()
        connection.send((time.perf_counter() - started, failure, unclear))


@dataclass
class Result:
    """One input's outcome."""

    index: int
    seconds: float
    failure: str = ""  # a traceback, or how the child died
    unclear: list[str] = field(default_factory=list)
    hang: bool = False


class Child:
    """One child process and the pipe to it; restarted after a hang or a death."""

    def __init__(self, context: Any, folder: Path) -> None:
        self._context = context
        self._folder = folder
        self._start()

    def _start(self) -> None:
        parent, child = self._context.Pipe()
        self.connection: Connection = parent
        self.process = self._context.Process(
            target=_child, args=(child, str(self._folder)), daemon=True
        )
        self.process.start()
        child.close()

    def run(self, index: int, generated: FuzzInput, limit: float) -> Result:
        started = time.perf_counter()
        self.connection.send((generated.format, generated.kind, generated.data))
        # The first file also waits for the child's imports.
        if self.connection.poll(limit):
            try:
                seconds, failure, unclear = self.connection.recv()
                return Result(index, seconds, failure, unclear)
            except EOFError:
                pass
            self.process.join(5)
            code = self.process.exitcode
            self.restart()
            return Result(
                index, time.perf_counter() - started, f"the child died (exit code {code})"
            )
        self.restart()
        return Result(index, time.perf_counter() - started, hang=True)

    def restart(self) -> None:
        self.process.kill()
        self.process.join(10)
        self.connection.close()
        self._start()

    def close(self) -> None:
        with contextlib.suppress(OSError):  # a child that died already
            self.connection.send(None)
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(10)


def run_all(inputs: list[FuzzInput], workers: int, limit: float, folder: Path) -> list[Result]:
    """Run every input in `workers` children, each file under the watchdog's `limit`."""
    context = multiprocessing.get_context("spawn")
    todo: queue.Queue[int] = queue.Queue()
    for index in range(len(inputs)):
        todo.put(index)
    results: list[Result] = []
    lock = threading.Lock()

    def work(number: int) -> None:
        child_folder = folder / f"child-{number}"
        child_folder.mkdir()
        child = Child(context, child_folder)
        # The first answer includes the child's start: give it time beyond the limit.
        warm = child.run(-1, FuzzInput("state.json", "warm-up", b"{}"), max(60.0, limit))
        try:
            if warm.hang or warm.failure:
                raise RuntimeError(f"a child could not start: {warm.failure or 'no answer'}")
            while True:
                try:
                    index = todo.get_nowait()
                except queue.Empty:
                    return
                result = child.run(index, inputs[index], limit)
                with lock:
                    results.append(result)
        finally:
            child.close()

    threads = [threading.Thread(target=work, args=(number,)) for number in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(results, key=lambda result: result.index)


# -- report ----------------------------------------------------------------------------------


def _save(folder: Path, number: int, generated: FuzzInput, why: str) -> Path:
    path = folder / f"failing-{number:05d}-{generated.format}.json"
    saved = {
        "format": generated.format,
        "kind": generated.kind,
        "data": generated.data.hex(),
        "why": why,
    }
    path.write_text(json.dumps(saved, indent=1), encoding="utf-8")
    return path


def summarize(inputs: list[FuzzInput], results: list[Result], folder: Path) -> dict[str, Any]:
    """Return the campaign's figures; save each failing input under `folder`."""
    per_format: dict[str, dict[str, int]] = {name: dict.fromkeys(KINDS, 0) for name in FORMATS}
    for generated in inputs:
        per_format[generated.format][generated.kind] += 1
    tracebacks = [result for result in results if result.failure]
    hangs = [result for result in results if result.hang]
    unclear = [result for result in results if result.unclear]
    saved: list[dict[str, Any]] = []
    for result in [*tracebacks, *hangs, *unclear]:
        generated = inputs[result.index]
        why = result.failure or ("hang" if result.hang else "\n".join(result.unclear))
        path = _save(folder, result.index, generated, why)
        saved.append(
            {"index": result.index, "format": generated.format, "file": str(path), "why": why}
        )
    finished = [result for result in results if not result.hang]
    slowest = max(finished, key=lambda result: result.seconds, default=None)
    return {
        "files": len(inputs),
        "per_format": per_format,
        "tracebacks": len(tracebacks),
        "hangs": len(hangs),
        "unclear": len(unclear),
        "slowest_s": None if slowest is None else round(slowest.seconds, 3),
        "slowest": None
        if slowest is None
        else {
            "seconds": round(slowest.seconds, 3),
            "format": inputs[slowest.index].format,
            "kind": inputs[slowest.index].kind,
            "bytes": len(inputs[slowest.index].data),
        },
        "failures": saved,
        "saved_in": str(folder),
    }


def print_text(figures: dict[str, Any]) -> None:
    """Print the figures for a person."""
    print(
        f"fuzz_files: seed {figures['seed']}, {figures['files']} files generated, "
        f"{figures['workers']} workers, watchdog {figures['per_file_limit']:g} s per file"
    )
    print("files per format:")
    for name, kinds in figures["per_format"].items():
        detail = ", ".join(f"{kind} {count}" for kind, count in kinds.items())
        print(f"  {name:<22} {sum(kinds.values()):>6}  ({detail})")
    shown = [failure for failure in figures["failures"] if failure["why"] != "hang"]
    print(f"tracebacks: {figures['tracebacks']}")
    print(f"hangs: {figures['hangs']}")
    print(f"unclear problems: {figures['unclear']}")
    for failure in shown[:SHOWN_TRACEBACKS]:
        print(f"--- input {failure['index']} ({failure['format']}), saved as {failure['file']}:")
        print(failure["why"].rstrip())
    for failure in [f for f in figures["failures"] if f["why"] == "hang"][:SHOWN_TRACEBACKS]:
        print(
            f"--- hang: input {failure['index']} ({failure['format']}), saved as {failure['file']}"
        )
    if figures["failures"]:
        print(f"replay one: python {Path(__file__).relative_to(ROOT)} --replay FILE")
    slowest = figures["slowest"]
    if slowest is not None:
        print(
            f"slowest file: {slowest['seconds']:.3f} s ({slowest['format']}, {slowest['kind']}, "
            f"{slowest['bytes']} bytes)"
        )
    print(f"total: {figures['files']} files in {figures['seconds']:.1f} s")


def replay(path: Path) -> int:
    """Run one saved input again in this process; print what it found."""
    from tests.fuzz.file_loaders import replay as run_saved

    unclear = run_saved(path)
    for line in unclear:
        print(f"unclear: {line}")
    print("clear" if not unclear else f"{len(unclear)} unclear problem(s)")
    return 1 if unclear else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=5000, help="how many files to generate")
    parser.add_argument("--seed", type=int, default=None, help="the random seed (default: random)")
    parser.add_argument(
        "--per-file-limit", type=float, default=10.0, help="seconds before a file is a hang"
    )
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--replay", type=Path, help="run one saved failing input again")
    args = parser.parse_args(argv)
    if args.replay is not None:
        return replay(args.replay)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    started = time.perf_counter()
    inputs = generate(args.files, seed)
    folder = Path(tempfile.mkdtemp(prefix="fuzz-files-"))
    results = run_all(inputs, max(1, args.workers), args.per_file_limit, folder)
    figures = {
        "seed": seed,
        "workers": max(1, args.workers),
        "per_file_limit": args.per_file_limit,
        **summarize(inputs, results, folder),
        "seconds": round(time.perf_counter() - started, 1),
    }
    if args.json:
        print(json.dumps(figures))  # one line: tests/benchmarks/hostile_input.py reads it so
    else:
        print_text(figures)
    return 1 if figures["tracebacks"] or figures["hangs"] or figures["unclear"] else 0


if __name__ == "__main__":
    sys.exit(main())
