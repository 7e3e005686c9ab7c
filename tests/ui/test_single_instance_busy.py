"""A second start while the running instance is busy never takes its place.

The running instance is a real second process (`tests.ui.busy_instance`) whose event loop is
blocked until the test lets it go, as an app stuck in a long call is: its socket's queue of
connections fills and nobody answers. Each later start must still find it alive, leave its
socket alone, and its request to show must reach it once it runs again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from stethoscope_desktop.ui.single_instance import (
    UnixInstanceServer,
    ask_running_instance_to_show,
)
from tests.ui.test_single_instance import runtime_dir

__all__ = ["runtime_dir"]  # the private XDG_RUNTIME_DIR fixture

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="Unix sockets; Windows uses a pipe")

NAME = "stethoscope-busy-test"
# More starts than the socket's queue holds (listen(4)), so some find it full.
LATER_STARTS = 8
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def busy_instance(runtime_dir: Path) -> Iterator[subprocess.Popen[str]]:
    env = {
        **os.environ,
        "XDG_RUNTIME_DIR": str(runtime_dir),
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.ui.busy_instance", NAME],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert process.stdout is not None and process.stdin is not None
    try:
        assert process.stdout.readline() == "listening\n"
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stdout.close()
        process.stdin.close()


def test_later_starts_while_the_instance_is_busy_leave_it_in_place(
    qtbot: QtBot, runtime_dir: Path, busy_instance: subprocess.Popen[str]
) -> None:
    socket_file = runtime_dir / f"{NAME}.sock"
    inode = socket_file.stat().st_ino
    for _ in range(LATER_STARTS):
        later = UnixInstanceServer(NAME)
        assert not later.listen(), "a later start must not listen in the running one's place"
        assert later.held_elsewhere
        assert ask_running_instance_to_show(NAME), "the busy instance still counts as running"
        later.close()
        assert socket_file.stat().st_ino == inode, "the running instance's socket is untouched"
    assert busy_instance.poll() is None

    assert busy_instance.stdin is not None and busy_instance.stdout is not None
    busy_instance.stdin.write("go\n")
    busy_instance.stdin.flush()
    assert busy_instance.stdout.readline() == "shown\n", "the queued requests reach it"
    busy_instance.stdin.close()
    assert busy_instance.wait() == 0
    assert not socket_file.exists()


def test_a_start_after_the_instance_is_gone_takes_over(
    qtbot: QtBot, runtime_dir: Path, busy_instance: subprocess.Popen[str]
) -> None:
    busy_instance.kill()  # a crash: the socket file stays, its lock goes with the process
    busy_instance.wait()
    assert (runtime_dir / f"{NAME}.sock").exists()
    assert not ask_running_instance_to_show(NAME)
    server = UnixInstanceServer(NAME)
    try:
        assert server.listen()
        assert not server.held_elsewhere
    finally:
        server.close()
