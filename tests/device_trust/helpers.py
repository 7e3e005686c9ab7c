"""A software TPM (swtpm) on free loopback ports, started and stopped by the tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest


def closed_port() -> int:
    """Return a loopback port nothing listens on (just released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _free_port_pair() -> int:
    for _ in range(50):
        with socket.socket() as first, socket.socket() as second:
            first.bind(("127.0.0.1", 0))
            port = int(first.getsockname()[1])
            try:
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port
    raise RuntimeError("no two free consecutive ports on 127.0.0.1")


def _missing(message: str) -> None:
    # `make test` installs both on Debian as root: in CI on Linux a missing one is a failure.
    if os.environ.get("CI") == "true" and sys.platform.startswith("linux"):
        pytest.fail(message)
    pytest.skip(message)


def require_swtpm() -> str:
    """Return swtpm's path; skip the test where swtpm or tpm2-pytss is missing."""
    swtpm = shutil.which("swtpm")
    if swtpm is None:
        _missing("swtpm is not installed (Debian: apt-get install swtpm)")
    try:
        import tpm2_pytss  # noqa: F401
    except ImportError as error:
        _missing(f"tpm2-pytss cannot be imported ({error}): .ci/install-tpm2-pytss installs it")
    assert swtpm is not None
    return swtpm


class SoftwareTpm:
    """swtpm serving TPM 2.0 commands on a TCP port, its state in a folder."""

    def __init__(self, state: Path) -> None:
        """Prepare a TPM whose state lives in `state` (kept across restarts)."""
        self.swtpm = require_swtpm()
        self.state = state
        state.mkdir(parents=True, exist_ok=True)
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def tcti(self) -> str:
        """The TCTI that reaches this TPM."""
        return f"swtpm:host=127.0.0.1,port={self.port}"

    def start(self) -> None:
        """Start swtpm on free ports and wait until it answers."""
        self.port = _free_port_pair()
        self.process = subprocess.Popen(
            [
                self.swtpm,
                "socket",
                "--tpm2",
                "--tpmstate",
                f"dir={self.state}",
                "--server",
                f"type=tcp,port={self.port},bindaddr=127.0.0.1",
                "--ctrl",
                f"type=tcp,port={self.port + 1},bindaddr=127.0.0.1",
                "--flags",
                "not-need-init,startup-clear",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"swtpm exited: {error}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("swtpm did not listen within 10 s")

    def stop(self) -> None:
        """Stop swtpm (its state stays in the folder)."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()
        self.process = None
