"""osqueryd's tree is found whatever group or session its members are in; reused pids are spared."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from stethoscope_desktop.engines.process_tree import (
    ProcessIdentity,
    descendants,
    identity,
    kill_if_unchanged,
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux's /proc")


def _fake_process(proc: Path, pid: int, parent: int, started: int, name: str = "sleep") -> None:
    folder = proc / str(pid)
    folder.mkdir()
    fields = ["S", str(parent), *["0"] * 17, str(started), "0", "0"]
    (folder / "stat").write_text(f"{pid} ({name}) {' '.join(fields)}\n")


def test_descendants_follow_parents_through_every_generation(tmp_path: Path) -> None:
    _fake_process(tmp_path, 100, 1, 10)  # osqueryd
    _fake_process(tmp_path, 101, 100, 11)  # its worker
    _fake_process(tmp_path, 102, 101, 12, name="odd) name (")  # the worker's child, own session
    _fake_process(tmp_path, 200, 1, 13)  # unrelated
    (tmp_path / "self").mkdir()
    found = descendants(100, tmp_path)
    assert sorted(found, key=lambda p: p.pid) == [
        ProcessIdentity(101, 11),
        ProcessIdentity(102, 12),
    ]
    assert descendants(200, tmp_path) == []


def test_a_pid_reused_by_another_process_is_not_killed(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        real = identity(child.pid)
        assert real is not None
        assert not kill_if_unchanged(ProcessIdentity(child.pid, real.started + 1))
        assert child.poll() is None
        assert kill_if_unchanged(real)
        assert child.wait(30) == -signal.SIGKILL
    finally:
        child.kill()
        child.wait()


def test_a_real_grandchild_in_its_own_session_is_found() -> None:
    script = (
        "import subprocess, sys, time;"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],"
        " start_new_session=True);"
        "print(p.pid, flush=True); time.sleep(60)"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        grandchild = int(parent.stdout.readline())
        assert os.getsid(grandchild) == grandchild
        assert grandchild in {p.pid for p in descendants(parent.pid)}
    finally:
        for process in descendants(parent.pid):
            kill_if_unchanged(process)
        parent.kill()
        parent.communicate()
