"""A private virtual desktop for tests: Xvfb, a session bus, dunst and a StatusNotifierItem host.

Everything runs on its own display number and its own D-Bus session bus, so tests never touch
the developer's desktop. The notification daemon's traffic is recorded with dbus-monitor.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

PROGRAMS = {
    "Xvfb": "xvfb",
    "xdpyinfo": "x11-utils",
    "dbus-daemon": "dbus",
    "dbus-monitor": "dbus",
    "dbus-send": "dbus",
    "dunst": "dunst",
    "dunstctl": "dunst",
    "xwininfo": "x11-utils",
    "gtk-sni-tray-standalone": "haskell-gtk-sni-tray-utils",
}
DUNSTRC = """[global]
    font = DejaVu Sans 10
    # As dunst ships it: bodies are markup (capability body-markup)
    markup = full
    # The context menu's chooser: picks the action `VirtualDesktop.choose_action` names
    dmenu = {dmenu} -p dunst
[urgency_normal]
    timeout = 0
[urgency_critical]
    timeout = 0
"""


def missing_programs() -> list[str]:
    """Return the Debian packages whose programs are missing here."""
    return sorted(
        {package for program, package in PROGRAMS.items() if shutil.which(program) is None}
    )


def _free_display() -> int:
    for number in range(140, 200):
        if (
            not Path(f"/tmp/.X11-unix/X{number}").exists()
            and not Path(f"/tmp/.X{number}-lock").exists()
        ):
            return number
    raise RuntimeError("no free X display number")


ROOT = Path(__file__).resolve().parents[2]


def _wait(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {what}")


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Wait until `condition()` is true; fail the test naming `what` after `timeout` seconds."""
    try:
        _wait(condition, timeout, what)
    except TimeoutError as error:
        raise AssertionError(str(error)) from None


DMENU = """#!/bin/sh
# Stands in for dmenu: dunst writes its context menu's lines to stdin; print the chosen one.
tee -a "{folder}/menu.log" | grep -m1 -F -- "$(cat "{folder}/menu-choice")"
"""


@dataclass(frozen=True)
class NotifyCall:
    """One Notify call the daemon received, as dbus-monitor saw it."""

    app: str
    replaces_id: int
    icon: str
    summary: str
    body: str
    actions: tuple[str, ...]  # id, label, id, label, …
    hints: dict[str, str]  # name -> value as dbus-monitor prints it ("byte 2")
    expire_timeout: int

    def action_ids(self) -> tuple[str, ...]:
        """Return the ids of the notification's actions."""
        return self.actions[::2]


_NOTIFY_CALL = re.compile(
    r'^   string "(?P<app>.*?)"\n'
    r"   uint32 (?P<replaces>\d+)\n"
    r'   string "(?P<icon>.*?)"\n'
    r'   string "(?P<summary>.*?)"\n'
    r'   string "(?P<body>.*?)"\n'
    r"   array \[\n(?P<actions>.*?)^   \]\n"
    r"   array \[\n(?P<hints>.*?)^   \]\n"
    r"   int32 (?P<expire>-?\d+)$",
    re.M | re.S,
)
_HINT = re.compile(r'dict entry\(\s*string "([^"]*)"\s*variant\s+(.*?)\n\s*\)', re.S)


def parse_notify_call(block: str) -> NotifyCall | None:
    """Return the Notify call in one message of dbus-monitor's output (None if it is not one)."""
    match = _NOTIFY_CALL.search(block)
    if match is None:
        return None
    return NotifyCall(
        app=match["app"],
        replaces_id=int(match["replaces"]),
        icon=match["icon"],
        summary=match["summary"],
        body=match["body"],
        actions=tuple(re.findall(r'^      string "(.*?)"$', match["actions"], re.M | re.S)),
        hints={name: " ".join(value.split()) for name, value in _HINT.findall(match["hints"])},
        expire_timeout=int(match["expire"]),
    )


class VirtualDesktop:
    """Starts and stops the processes of one private desktop."""

    def __init__(self, folder: Path, screen: tuple[int, int] = (1280, 800)) -> None:
        self.folder = folder
        self.screen = screen
        self.processes: list[subprocess.Popen[bytes]] = []
        self.files: list[IO[bytes]] = []
        self.display = f":{_free_display()}"
        self.bus = ""
        self.notify_log = folder / "notify.log"
        self.tray_host: subprocess.Popen[bytes] | None = None
        self._tray_host_starts = 0

    @property
    def env(self) -> dict[str, str]:
        """Return the environment a program on this desktop needs."""
        return {"DISPLAY": self.display, "DBUS_SESSION_BUS_ADDRESS": self.bus}

    def _start(
        self, argv: list[str], log: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        out = (self.folder / log).open("wb")
        self.files.append(out)
        process = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        self.processes.append(process)
        return process

    def start(self) -> None:
        """Bring the desktop up (raises TimeoutError when a part does not come up)."""
        self._start(
            [
                "Xvfb",
                self.display,
                "-screen",
                "0",
                f"{self.screen[0]}x{self.screen[1]}x24",
                "-nolisten",
                "tcp",
            ],
            "xvfb.log",
        )
        _wait(
            lambda: (
                subprocess.run(
                    ["xdpyinfo", "-display", self.display], capture_output=True
                ).returncode
                == 0
            ),
            15,
            "Xvfb",
        )
        bus = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--print-address=1"], stdout=subprocess.PIPE
        )
        self.processes.append(bus)
        assert bus.stdout is not None
        self.bus = bus.stdout.readline().decode().strip()
        self.files.append(bus.stdout)
        monitor_out = self.notify_log.open("wb")
        self.files.append(monitor_out)
        self.processes.append(
            subprocess.Popen(
                [
                    "dbus-monitor",
                    "--address",
                    self.bus,
                    "interface='org.freedesktop.Notifications'",
                ],
                stdout=monitor_out,
                stderr=subprocess.STDOUT,
            )
        )
        dmenu = self.folder / "dmenu.sh"
        dmenu.write_text(DMENU.format(folder=self.folder))
        dmenu.chmod(0o755)
        (self.folder / "menu-choice").write_text("")
        dunstrc = self.folder / "dunstrc"
        dunstrc.write_text(DUNSTRC.format(dmenu=dmenu))
        self._start(["dunst", "-config", str(dunstrc)], "dunst.log", self.env)
        _wait(
            lambda: self.has_owner("org.freedesktop.Notifications"), 15, "the notification daemon"
        )
        self._start_tray_host()

    def _start_tray_host(self, attempts: int = 3) -> None:
        """Start the tray host; start it again when it dies on the way up.

        gtk-sni-tray-standalone sometimes ends at start, or while it reads a new item ("Pattern
        match failure" in its Main.hs, after an UnknownObject answer), when the bus answers in an
        order it does not expect; more often on a busy machine, whatever the item.
        """
        for _ in range(attempts):
            self._tray_host_starts += 1
            number = self._tray_host_starts
            host = self._start(
                ["gtk-sni-tray-standalone", "--top", "--end", "--size", "32", "--watcher"],
                "tray.log" if number == 1 else f"tray-{number}.log",
                self.env,
            )
            self.tray_host = host
            _wait(
                lambda h=host: (
                    h.poll() is not None or self.has_owner("org.kde.StatusNotifierWatcher")
                ),
                15,
                "the tray host",
            )
            if host.poll() is None:
                return
        raise TimeoutError(f"the tray host ended at start {attempts} times")

    def tray_host_alive(self) -> bool:
        """Return True while the tray host runs."""
        return self.tray_host is not None and self.tray_host.poll() is None

    def restart_tray_host(self) -> None:
        """Start a new tray host (after one ended)."""
        if self.tray_host is not None and self.tray_host.poll() is None:
            self.tray_host.terminate()
            self.tray_host.wait(timeout=5)
        self._start_tray_host()

    def item_registered(self, timeout: float) -> bool:
        """Wait until an item is in the tray and the host still runs a moment later.

        Return False when the host ended meanwhile (an app's item must then register again with
        a new host: Qt does not); fail the test when nothing registered within `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.tray_host_alive():
                return False
            if self.tray_items():
                time.sleep(1.0)  # the host reads the new item's properties now
                return self.tray_host_alive()
            time.sleep(0.2)
        raise AssertionError("timed out waiting for the tray icon to register")

    def stop(self) -> None:
        """Stop every process this desktop started, newest first."""
        for process in reversed(self.processes):
            process.terminate()
        for process in reversed(self.processes):
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for handle in self.files:
            handle.close()

    def _send(self, *argv: str) -> str:
        result = subprocess.run(
            ["dbus-send", f"--bus={self.bus}", "--print-reply", *argv],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        return result.stdout

    def has_owner(self, name: str) -> bool:
        """Return True when `name` is owned on the session bus."""
        reply = self._send(
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            f"string:{name}",
        )
        return "boolean true" in reply

    def tray_items(self) -> list[str]:
        """Return the StatusNotifierItems registered with the tray host."""
        reply = self._send(
            "--dest=org.kde.StatusNotifierWatcher",
            "/StatusNotifierWatcher",
            "org.freedesktop.DBus.Properties.Get",
            "string:org.kde.StatusNotifierWatcher",
            "string:RegisteredStatusNotifierItems",
        )
        return re.findall(r'string "([^"]+)"', reply)

    def notify_calls(self) -> list[NotifyCall]:
        """Return every Notify call the daemon received, whole."""
        text = self.notify_log.read_text(errors="replace") if self.notify_log.exists() else ""
        blocks = re.split(r"^(?=method call |signal |method return |error )", text, flags=re.M)
        calls = (
            parse_notify_call(block)
            for block in blocks
            if block.startswith("method call") and "member=Notify\n" in block
        )
        return [call for call in calls if call is not None]

    def action_invoked(self) -> list[tuple[int, str]]:
        """Return (notification id, action) of every ActionInvoked the daemon sent."""
        text = self.notify_log.read_text(errors="replace") if self.notify_log.exists() else ""
        return [
            (int(number), action)
            for number, action in re.findall(
                r'member=ActionInvoked\n\s*uint32 (\d+)\n\s*string "(.*?)"$', text, re.M
            )
        ]

    def click_notification(self) -> None:
        """Click the newest notification (dunst invokes its `default` action)."""
        self._dunstctl("action", "0")

    def choose_action(self, label: str) -> None:
        """Open dunst's context menu and choose the action whose line holds `label`."""
        (self.folder / "menu-choice").write_text(label)
        self._dunstctl("context")

    def _dunstctl(self, *argv: str) -> None:
        subprocess.run(["dunstctl", *argv], env={**os.environ, **self.env}, check=True, timeout=10)

    def window_shown(self, title: str) -> bool:
        """Return True when a top-level window titled `title` is shown (mapped) on the screen.

        Qt also makes unmapped helper windows with the app's name: each is looked at.
        """

        def xwininfo(*argv: str) -> str:
            return subprocess.run(
                ["xwininfo", "-display", self.display, *argv],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            ).stdout

        children = xwininfo("-root", "-children")
        ids = re.findall(rf'^\s+(0x[0-9a-f]+) "{re.escape(title)}":', children, re.M)
        return any("Map State: IsViewable" in xwininfo("-id", window) for window in ids)

    def notifications(self) -> list[tuple[str, str, str]]:
        """Return (app, summary, body) of every Notify call the daemon received."""
        text = self.notify_log.read_text(errors="replace") if self.notify_log.exists() else ""
        calls: list[tuple[str, str, str]] = []
        for block in text.split("method call")[1:]:
            if "member=Notify" not in block.splitlines()[0]:
                continue
            strings = re.findall(r'^\s*string "(.*)"$', block, flags=re.M)
            if len(strings) >= 4:
                calls.append((strings[0], strings[2], strings[3]))
        return calls


@pytest.fixture
def virtual_desktop(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A running private desktop; skipped with the reason where its packages are missing."""
    missing = missing_programs()
    if missing:
        pytest.skip(f"virtual desktop needs the Debian packages: {' '.join(missing)}")
    desktop = VirtualDesktop(tmp_path)
    try:
        desktop.start()
        problem = qt_cannot_start(desktop.env)
        if problem:
            pytest.skip(f"Qt cannot open a window on the virtual desktop: {problem}")
        yield desktop
    finally:
        desktop.stop()


def qt_cannot_start(env: dict[str, str]) -> str:
    """Return why a Qt application cannot start on this display (empty when it can)."""
    result = subprocess.run(
        [sys.executable, "-c", "from PySide6.QtWidgets import QApplication; QApplication([])"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **env, "QT_QPA_PLATFORM": "xcb"},
    )
    if result.returncode == 0:
        return ""
    lines = [line for line in result.stderr.splitlines() if "plugin" in line or "library" in line]
    return (lines[0] if lines else result.stderr.strip()[:200]) + " (install the libxcb-* packages)"


def app_env(desktop: VirtualDesktop, folder: Path) -> dict[str, str]:
    """Return the environment of an app on `desktop`: a fresh home in `folder`, no IT folder."""
    home = folder / "home"
    home.mkdir(exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_CONFIG_DIRS": str(folder / "no-machine-folder"),
        "LANG": "C.UTF-8",
        "QT_QPA_PLATFORM": "xcb",
        **desktop.env,
    }


@contextmanager
def running_app(
    env: dict[str, str], practices: Path, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run the tray app with `--practices practices`, its output in `log`; stop it afterwards.

    Fails the test when the app does not quit on SIGTERM.
    """
    with log.open("w") as output:
        app = subprocess.Popen(
            [sys.executable, "-m", "stethoscope_desktop", "--debug", "--practices", str(practices)],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
        )
        try:
            yield app
        finally:
            app.terminate()
            try:
                app.wait(timeout=10)
            except subprocess.TimeoutExpired:
                app.kill()
                pytest.fail("the app did not quit on SIGTERM")


@dataclass(frozen=True)
class RegisteredApp:
    """A tray app whose icon is in the tray.

    Its process, its log, and how many notifications the daemon had received before it started
    (those of an attempt that had to be repeated).
    """

    process: subprocess.Popen[bytes]
    log: Path
    notifications_before: int

    def notifications(self, desktop: VirtualDesktop) -> list[tuple[str, str, str]]:
        """Return the notifications this app sent."""
        return desktop.notifications()[self.notifications_before :]


@contextmanager
def registered_app(
    desktop: VirtualDesktop, practices: Path, folder: Path, attempts: int = 3
) -> Iterator[RegisteredApp]:
    """Run the tray app until its icon is in the tray host, and yield it.

    When the tray host ends while the app registers (see `VirtualDesktop._start_tray_host`), a
    new host and a new app (with a fresh home, so it notifies as a first start does) try again.
    """
    for attempt in range(1, attempts + 1):
        run = folder / f"run-{attempt}"
        run.mkdir()
        log = run / "app.log"
        before = len(desktop.notifications())
        with running_app(app_env(desktop, run), practices, log) as app:
            if desktop.item_registered(20):
                yield RegisteredApp(app, log, before)
                return
        desktop.restart_tray_host()
    raise AssertionError(f"the tray host ended while the app registered, {attempts} times")
