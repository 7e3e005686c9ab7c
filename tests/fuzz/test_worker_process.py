"""Fuzzing the real worker process: after any lines on its stdin, it still answers a Scan.

One `python -m stethoscope_desktop worker` for the whole test (a process per example would cost
a second each); each example writes a few lines drawn by `protocol_lines` (garbage, JSON of any
shape, other versions, mutated real messages, deep nesting) and then a `Scan` of its own id: the
worker must answer that scan (a line of another version may get a `Refused` first), never leave
or fall silent, and log no traceback. An `Exit` among the lines would end it as it should, so
none is sent.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stethoscope_desktop.core.protocol import (
    MAX_COMMAND_BYTES,
    PROTOCOL_VERSION,
    Command,
    Exit,
    ProtocolError,
    Refused,
    Scan,
    ScanFailed,
    ScanReported,
    decode,
)
from tests.fuzz.api_strategies import protocol_lines
from tests.test_worker import WorkerProcess

# Scan ids no drawn line uses (drawn ids are small or random; these count down from far away).
_IDS = itertools.count(-(10**15), -1)


def is_exit(line: bytes) -> bool:
    """Return True if the worker would read `line` as Exit (which ends it, as it should)."""
    try:
        return isinstance(decode(line, Command), Exit)
    except (ProtocolError, ValueError, RecursionError):  # not a command, whatever the error
        return False


def answered_scan(worker: WorkerProcess, lines: list[bytes]) -> None:
    """Write `lines`, then a Scan; fail unless that scan is answered."""
    for line in lines:
        worker.write(line + b"\n")
    scan_id = next(_IDS)
    worker.send(Scan(scan_id))
    while True:
        event = worker.next_event(timeout=30)
        if isinstance(event, ScanReported | ScanFailed) and event.id == scan_id:
            assert isinstance(event, ScanReported), event
            return
        assert isinstance(event, ScanReported | ScanFailed | Refused), event


@pytest.mark.live_system
def test_the_worker_answers_a_scan_after_any_lines(tmp_path: Path) -> None:
    worker = WorkerProcess(tmp_path, "--idle-seconds", "120", "--lang", "en")
    try:
        answered_scan(worker, [])

        @given(st.lists(protocol_lines().filter(lambda line: not is_exit(line)), max_size=6))
        @settings(max_examples=12)
        def any_lines(lines: list[bytes]) -> None:
            answered_scan(worker, lines)

        any_lines()
        # The lines fuzzing found, and one longer than a command may be.
        answered_scan(worker, [b'{"v":1,"op":"sockets","shared":["\xc3\xa9"]}'])
        answered_scan(worker, [b"[" * 100_000])
        answered_scan(worker, [b"x" * (MAX_COMMAND_BYTES + 10)])
        answered_scan(worker, [f'{{"v":{PROTOCOL_VERSION + 1},"op":"scan","id":1}}'.encode()])
        assert worker.process.poll() is None, worker.stderr()
        worker.send(Exit())
        assert worker.wait(timeout=30) == 0, worker.stderr()
        log = worker.stderr()
        assert "Traceback" not in log, log[-3000:]
    finally:
        worker.close()
