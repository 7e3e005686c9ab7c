"""Benchmark: the tray app's start-up time to its first verdict, and its cost when idle.

Starts `stethoscope-desktop` as a user would (on the display in $DISPLAY, or on a private
virtual desktop this script starts when the Debian packages are there), then prints:
- time from process start to the first verdict in the tray icon (target <= 1 s),
- RSS after N seconds idle with the window hidden (target <= 60 MiB), and the scan worker's RSS
  while it runs (it leaves 60 s after its last work),
- CPU used while idle (target ~0 %), and how often the process woke up (context switches).

Run: `python tests/benchmarks/bench_tray.py [--idle 60]`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.desktop.session import VirtualDesktop, missing_programs  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """Return user+system CPU seconds of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def status_value(pid: int, key: str) -> int:
    """Return a number from /proc/<pid>/status (kB for memory)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def children(pid: int) -> list[int]:
    """Return the child processes of a process (the scan worker, while it runs)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def wakeups(pid: int) -> int:
    """Return the context switches of all the process's threads."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        status = (task / "status").read_text().splitlines()
        total += sum(int(line.split()[1]) for line in status if "ctxt_switches" in line)
    return total


def measure(env: dict[str, str], idle: float, folder: Path) -> int:
    """Start the app, wait for its first verdict, idle, and print the figures."""
    log_path = folder / "app.log"
    with log_path.open("w") as log:
        started = time.perf_counter()
        app = subprocess.Popen(
            [sys.executable, "-m", "stethoscope_desktop", "--debug"],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
        )  # fmt: skip
        try:
            while "first verdict shown" not in log_path.read_text():
                if app.poll() is not None or time.perf_counter() - started > 30:
                    print(log_path.read_text())
                    return 1
                time.sleep(0.005)
            first_verdict = time.perf_counter() - started
            workers = children(app.pid)
            worker_rss = sum(status_value(child, "VmRSS") for child in workers) / 1024
            time.sleep(2)  # let start-up work (notification, menus) settle
            cpu_before, wake_before = cpu_seconds(app.pid), wakeups(app.pid)
            time.sleep(idle)
            cpu_used = cpu_seconds(app.pid) - cpu_before
            woke = wakeups(app.pid) - wake_before
            rss = status_value(app.pid, "VmRSS") / 1024
            workers_left = children(app.pid)
        finally:
            app.terminate()
            app.wait(timeout=10)
    print(f"tray app on {env.get('QT_QPA_PLATFORM') or 'xcb'} display {env.get('DISPLAY', '')}")
    print(f"  first verdict after {first_verdict * 1000:.0f} ms (target <= 1000 ms)")
    print(f"  scan worker RSS at the first verdict: {worker_rss:.1f} MiB ({len(workers)} process)")
    print(f"  RSS after {idle:.0f} s idle, window hidden: {rss:.1f} MiB (target <= 60 MiB)")
    print(
        f"  scan workers still running then: {len(workers_left)} (one leaves 60 s after its work)"
    )
    print(f"  CPU while idle: {cpu_used:.2f} s = {100 * cpu_used / idle:.2f} % (target ~0 %)")
    print(f"  context switches while idle: {woke} ({woke / idle * 60:.1f} per minute, all threads)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on the current display or a private virtual desktop."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--idle", type=float, default=60.0, help="seconds to stay idle")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        home = folder / "home"
        home.mkdir()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "XDG_STATE_HOME": str(home / ".local" / "state"),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "LANG": "C.UTF-8",
        }
        if os.environ.get("DISPLAY"):
            env["DISPLAY"] = os.environ["DISPLAY"]
            env["DBUS_SESSION_BUS_ADDRESS"] = os.environ.get("DBUS_SESSION_BUS_ADDRESS", "")
            return measure(env, args.idle, folder)
        if missing_programs():
            print(f"no display, and no virtual desktop (missing: {' '.join(missing_programs())})")
            return 1
        desktop = VirtualDesktop(folder)
        try:
            desktop.start()
            return measure({**env, **desktop.env, "QT_QPA_PLATFORM": "xcb"}, args.idle, folder)
        finally:
            desktop.stop()


if __name__ == "__main__":
    raise SystemExit(main())
