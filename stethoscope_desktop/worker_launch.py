"""How the tray app starts its scan worker: the command line, and a start before Qt loads.

`worker_command` is the worker's command line for this installation. `start_worker_early` starts
the first worker as the tray app's very first step, before PySide6 and the tray's own modules
load (about 0.2 s here): the worker imports its code and loads the practices meanwhile, on the
other core, so the tray's first scan command finds it ready. The tray adopts that process
(`ui.worker_client.WorkerProcess(early=…)`); the workers after it start through QProcess, as
before. Only on Linux (a pipe read through Qt's socket notifier there is proven by the tests) and
not from a frozen bundle. Nothing here imports Qt.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from collections.abc import Sequence
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


def start_worker_early(args: argparse.Namespace) -> subprocess.Popen[bytes] | None:
    """Start the scan worker now, with pipes for the tray to adopt; None where not supported.

    It gets no API sockets (the tray binds them later): it does the first scan and, where the
    API's port is known, leaves after it for a worker that serves them. A start that cannot
    start it is left to the tray, which starts (and reports) workers as always.
    """
    if not early_start_supported():
        return None
    try:
        return subprocess.Popen(
            worker_command(worker_options(args)),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
        )
    except OSError as error:
        log.warning("cannot start the scan worker early: %s", error)
        return None


def stop_early_worker(process: subprocess.Popen[bytes]) -> None:
    """End an early worker the tray will not adopt (another instance runs, or Qt is missing)."""
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            stream.close()
