"""Benchmark: the tray app's start-up time to its first verdict, and its cost when idle.

Starts `stethoscope-desktop` as a user would (on the display in $DISPLAY, or on a private
virtual desktop this script starts when the Debian packages are there), then prints:
- time from process start to the first verdict in the tray icon (target <= 0.5 s): the median,
  min and max of `--starts` starts (the measured one, then more, each on a home of its own),
- RSS after N seconds idle with the window hidden (target <= 60 MiB), and the scan worker's RSS
  while it runs (it leaves 60 s after its last work),
- CPU used while idle (target ~0 %), and how often the process woke up (target <= 1 a minute):
  its threads' context switches, thread by thread under their names, so the figure says what
  woke it. The scan worker leaves after its work (at once on a first start, where the API's port
  comes with the first report; else 60 s after): when it leaves while idle, the tray's
  wake-ups from that moment on are shown apart.

Run: `python tests/benchmarks/bench_tray.py [--idle 60] [--starts 5] [--strace FILE]`
(`--strace` records the tray's system calls while idle, every thread's, with `strace -f -tt`).
"""

from __future__ import annotations

import argparse
import os
import statistics
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
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except FileNotFoundError:  # the thread ended meanwhile
            continue
    return found


def thread_switches(pid: int) -> dict[tuple[int, str], int]:
    """Return each thread's context switches (voluntary and not), keyed by (id, name)."""
    found: dict[tuple[int, str], int] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            status = (task / "status").read_text().splitlines()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        switches = sum(int(line.split()[1]) for line in status if "ctxt_switches" in line)
        found[(int(task.name), name)] = switches
    return found


def wakeups_by_thread(
    before: dict[tuple[int, str], int], after: dict[tuple[int, str], int]
) -> dict[str, int]:
    """Return the context switches between two readings, summed by thread name."""
    woke: dict[str, int] = {}
    for key, count in after.items():
        woke[key[1]] = woke.get(key[1], 0) + count - before.get(key, 0)
    return woke


def describe(woke: dict[str, int]) -> str:
    """Return "name n, name n" for the threads that woke, the most first."""
    busy = sorted(((n, name) for name, n in woke.items() if n), reverse=True)
    return ", ".join(f"{name} {n}" for n, name in busy) or "none"


def code_folder(env: dict[str, str]) -> str:
    """Return the folder of the `stethoscope_desktop` package the app starts with."""
    return subprocess.run(
        [sys.executable, "-c", "import stethoscope_desktop as s; print(s.__file__)"],
        env=env, cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.strip().removesuffix("/__init__.py")  # fmt: skip


def first_verdict_alone(env: dict[str, str], folder: Path, run: int) -> float | None:
    """Start the app on a home of its own, return the seconds to its first verdict, stop it."""
    home = folder / f"home-{run}"
    home.mkdir()
    own = {**env, "HOME": str(home), "XDG_STATE_HOME": str(home / ".local" / "state")}
    own["XDG_CONFIG_HOME"] = str(home / ".config")
    log_path = folder / f"start-{run}.log"
    with log_path.open("w") as log:
        started = time.perf_counter()
        app = subprocess.Popen(
            [sys.executable, "-m", "stethoscope_desktop", "--debug"],
            stdout=log, stderr=subprocess.STDOUT, env=own, cwd=ROOT,
        )  # fmt: skip
        try:
            while "first verdict shown" not in log_path.read_text():
                if app.poll() is not None or time.perf_counter() - started > 30:
                    return None
                time.sleep(0.005)
            return time.perf_counter() - started
        finally:
            app.terminate()
            app.wait(timeout=10)


def measure(
    env: dict[str, str], idle: float, folder: Path, strace: Path | None, starts: int
) -> int:
    """Start the app, wait for its first verdict, idle, and print the figures."""
    log_path = folder / "app.log"
    tracer: subprocess.Popen[bytes] | None = None
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
            if strace is not None:
                tracer = subprocess.Popen(
                    ["strace", "-f", "-tt", "-o", str(strace), "-p", str(app.pid)],
                    stderr=subprocess.DEVNULL,
                )  # fmt: skip
                time.sleep(1)  # strace's own attaching wakes every thread once
            cpu_before, threads_before = cpu_seconds(app.pid), thread_switches(app.pid)
            idle_started = time.perf_counter()
            # Read every 0.2 s (from this process, not waking the app) when the worker leaves.
            at_worker_exit: dict[tuple[int, str], int] | None = None
            while (left := idle - (time.perf_counter() - idle_started)) > 0:
                time.sleep(min(0.2, left))
                if at_worker_exit is None and workers and not children(app.pid):
                    at_worker_exit = thread_switches(app.pid)
            cpu_used = cpu_seconds(app.pid) - cpu_before
            threads_after = thread_switches(app.pid)
            rss = status_value(app.pid, "VmRSS") / 1024
            workers_left = children(app.pid)
        finally:
            if tracer is not None:
                tracer.terminate()
                tracer.wait(timeout=10)
            app.terminate()
            app.wait(timeout=10)
    woke = wakeups_by_thread(threads_before, threads_after)
    total = sum(woke.values())
    if at_worker_exit is not None:
        # The tray reads the worker's last lines and its exit as it leaves: shown apart.
        exit_woke = sum(wakeups_by_thread(at_worker_exit, threads_after).values())
        quiet_woke = total - exit_woke
        exit_words = f"; {exit_woke} from the worker's leaving on"
    else:
        quiet_woke, exit_words = total, ""
    per_minute = quiet_woke / idle * 60
    print(f"tray app on {env.get('QT_QPA_PLATFORM') or 'xcb'} display {env.get('DISPLAY', '')}")
    print(f"  code from {code_folder(env)}")
    times = [first_verdict]
    for run in range(starts - 1):
        alone = first_verdict_alone(env, folder, run)
        if alone is not None:
            times.append(alone)
    print(
        f"  first verdict after {statistics.median(times) * 1000:.0f} ms, median of {len(times)}"
        f" starts (min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}; target <= 500 ms)"
    )
    print(f"  scan worker RSS at the first verdict: {worker_rss:.1f} MiB ({len(workers)} process)"
          " (target <= 35 MiB)")  # fmt: skip
    print(f"  RSS after {idle:.0f} s idle, window hidden: {rss:.1f} MiB (target <= 60 MiB)")
    print(
        f"  scan workers still running then: {len(workers_left)} (one leaves 60 s after its work)"
    )
    print(f"  CPU while idle: {cpu_used:.2f} s = {100 * cpu_used / idle:.2f} % (target ~0 %)")
    print(
        f"  wake-ups while idle (context switches, all threads): {total} in {idle:.0f} s"
        f"{exit_words}; {quiet_woke} otherwise = {per_minute:.1f} per minute (target <= 1)"
    )
    print(f"  by thread: {describe(woke)}")
    if strace is not None:
        print(f"  system calls while idle: {strace}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on the current display or a private virtual desktop."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--idle", type=float, default=60.0, help="seconds to stay idle")
    parser.add_argument(
        "--strace", type=Path, help="record the tray's system calls while idle in this file"
    )
    parser.add_argument(
        "--starts", type=int, default=5, help="starts timed to the first verdict (default 5)"
    )
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
            return measure(env, args.idle, folder, args.strace, args.starts)
        if missing_programs():
            print(f"no display, and no virtual desktop (missing: {' '.join(missing_programs())})")
            return 1
        desktop = VirtualDesktop(folder)
        try:
            desktop.start()
            desktop_env = {**env, **desktop.env, "QT_QPA_PLATFORM": "xcb"}
            return measure(desktop_env, args.idle, folder, args.strace, args.starts)
        finally:
            desktop.stop()


if __name__ == "__main__":
    raise SystemExit(main())
