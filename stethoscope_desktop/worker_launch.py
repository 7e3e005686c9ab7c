"""How the tray app starts its scan worker: the command line, and a start before Qt loads.

`worker_command` is the worker's command line for this installation. `start_worker_early` starts
the first worker as the tray app's very first step, before PySide6 and the tray's own modules
load (about 0.2 s here): the worker imports its code and loads the practices meanwhile, on the
other core, so the tray's first scan command finds it ready. The tray adopts that process
(`ui.worker_client.WorkerProcess(early=…)`); the workers after it start through QProcess, as
before. Only on Linux (a pipe read through Qt's socket notifier there is proven by the tests) and
not from a frozen bundle. Nothing here imports Qt, nor `subprocess` (with the `locale` it
loads, about 1 MiB the idle tray would keep): the early worker is spawned with `os.posix_spawn`.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
# The folder that holds the `stethoscope_desktop` package (a checkout, site-packages, the .deb's
# library folder), and how the worker starts from it: that folder first on the path, its .pth
# files read (`site.addsitedir`, as the .deb's launcher does), then the command line.
PACKAGE_HOME = Path(__file__).resolve().parents[1]
_WORKER_MAIN = (
    "import site, sys; sys.path.insert(0, sys.argv.pop(1)); site.addsitedir(sys.path[0]); "
    "from stethoscope_desktop.cli import main; sys.exit(main())"
)
# The frozen Windows bundle's console program (packaging/stethoscope-desktop.spec).
WINDOWS_CONSOLE_PROGRAM = "stethoscope-desktop-cli.exe"


def worker_command(options: Sequence[str] = ()) -> list[str]:
    """Return the command line of the scan worker for this installation (`options` appended).

    A frozen bundle is its own executable. Otherwise the worker runs on this interpreter, with
    the interpreter flags the app was started with (the .deb's launcher uses -I -S -B) and the
    folder that holds this package first on its path, so it finds the same code however the app
    was started: a checkout, a virtualenv, or the .deb's private library folder.
    """
    if getattr(sys, "frozen", False):
        # On Windows the bundle's main program is windowed (no stdin or stdout of its own); its
        # console sibling speaks the worker's protocol over the pipes.
        console = Path(sys.executable).with_name(WINDOWS_CONSOLE_PROGRAM)
        program = str(console) if sys.platform == "win32" and console.is_file() else sys.executable
        return [program, "worker", *options]
    flags = [
        flag
        for flag, on in (
            ("-I", sys.flags.isolated),
            ("-S", sys.flags.no_site),
            ("-B", sys.flags.dont_write_bytecode),
        )
        if on
    ]
    return [sys.executable, *flags, "-c", _WORKER_MAIN, str(PACKAGE_HOME), "worker", *options]


def worker_options(args: argparse.Namespace) -> list[str]:
    """Return the worker's command-line options that carry the tray's own."""
    options = []
    if getattr(args, "practices", None):
        options += ["--practices", str(args.practices)]
    if getattr(args, "lang", None):
        options += ["--lang", str(args.lang)]
    if getattr(args, "engine", None):
        options += ["--engine", str(args.engine)]
    if getattr(args, "debug", False):
        options.append("--debug")
    return options


def early_start_supported() -> bool:
    """Return True where the tray can adopt a worker it started before Qt loaded."""
    return sys.platform.startswith("linux") and not getattr(sys, "frozen", False)


@dataclass
class EarlyWorker:
    """A worker process spawned with pipes.

    Its process id, and the tray's ends of its stdin, stdout and stderr: file descriptors the
    tray owns and closes.
    """

    pid: int
    stdin: int
    stdout: int
    stderr: int
    returncode: int | None = None

    def poll(self) -> int | None:
        """Return its exit code once it has exited (negative: the signal that ended it)."""
        if sys.platform == "win32":  # spawned only where early_start_supported()
            raise NotImplementedError("no early worker on Windows")
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float) -> int | None:
        """Wait up to `timeout` seconds for it to exit; return its exit code, None if it runs."""
        deadline = time.monotonic() + timeout
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        return self.returncode

    def send_signal(self, number: int) -> None:
        """Send it a signal (nothing once it has exited)."""
        if self.poll() is None:
            os.kill(self.pid, number)

    def close_pipes(self) -> None:
        """Close the tray's ends of its pipes (each once)."""
        for name in ("stdin", "stdout", "stderr"):
            fd = getattr(self, name)
            if fd >= 0:
                os.close(fd)
                setattr(self, name, -1)


def spawn_worker(command: Sequence[str]) -> EarlyWorker:
    """Start `command` (its program an absolute path) with three pipes; OSError if it cannot."""
    if sys.platform == "win32":
        raise OSError("no posix_spawn on Windows")
    stdin_read, stdin_write = os.pipe()  # Python's pipes are not inherited, but for the dup2s
    stdout_read, stdout_write = os.pipe()
    stderr_read, stderr_write = os.pipe()
    try:
        pid = os.posix_spawn(
            command[0],
            list(command),
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, stdin_read, 0),
                (os.POSIX_SPAWN_DUP2, stdout_write, 1),
                (os.POSIX_SPAWN_DUP2, stderr_write, 2),
            ],
        )
    except OSError:
        for fd in (stdin_write, stdout_read, stderr_read):
            os.close(fd)
        raise
    finally:
        for fd in (stdin_read, stdout_write, stderr_write):
            os.close(fd)
    return EarlyWorker(pid, stdin_write, stdout_read, stderr_read)


def start_worker_early(args: argparse.Namespace) -> EarlyWorker | None:
    """Start the scan worker now, with pipes for the tray to adopt; None where not supported.

    It gets no API sockets (the tray binds them later): it does the first scan and, where the
    API's port is known, leaves after it for a worker that serves them. A start that cannot
    start it is left to the tray, which starts (and reports) workers as always.
    """
    if not early_start_supported():
        return None
    try:
        return spawn_worker(worker_command(worker_options(args)))
    except OSError as error:
        log.warning("cannot start the scan worker early: %s", error)
        return None


def stop_early_worker(worker: EarlyWorker) -> None:
    """End an early worker the tray will not adopt (another instance runs, or Qt is missing)."""
    if sys.platform == "win32":  # spawned only where early_start_supported()
        raise NotImplementedError("no early worker on Windows")
    worker.close_pipes()  # the end of its stdin: it leaves after loading
    worker.send_signal(signal.SIGTERM)
    if worker.wait(timeout=5) is None:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=5)
