"""The README's pictures, taken on a private virtual desktop: `python -m tests.desktop.screenshots`.

The tray app runs in this process on the canned tables of the UI tests (firewall off, SSH
listening, the screen lock unreadable), with an IT folder whose config.yaml has help links, the
all-devices page and a notice, and whose checks.d has checks done by hand (Fleet's manual-check
placeholders). Pictures (written to `docs/`, or the folder given):

- `window-notice-and-help.png`: the window, IT's notice on top and the Help bar at the bottom;
- `window-checks-by-hand.png`: the window scrolled down to its "Check by hand" section, opened;
- `tray-menu-help.png`: the tray menu as the tray host shows it, its Help submenu open.

Look at them before committing: they are for people.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.desktop.session import VirtualDesktop, missing_programs

ROOT = Path(__file__).resolve().parents[2]
IT_CONFIG = """\
organization: Example Corp
menu:
  help:
    - label: Email IT
      link: it-help@example.com
    - label: Chat with IT
      link: https://chat.example.com/it-help
stethoscopeWebURI: https://devices.example.com/mine
deprecationNotice:
  heading: Stethoscope replaces the old checkup app
  subHeading: The old app stops working on 30 June. There is nothing for you to do.
  linkUrl: https://intranet.example.com/stethoscope
  linkText: What changes
"""
IT_POLICY = """\
osVersion:
  linux:
    ok: ">=13.0.0"
    nudge: ">=12.0.0"
firewall: ALWAYS
diskEncryption: ALWAYS
automaticUpdates: SUGGESTED
screenLock: IF_SUPPORTED
screenIdle: "<=900"
remoteLogin: NEVER
openWifiConnections: ALWAYS
applications:
  - name: clamav
    assertion: SUGGESTED
"""

# Controls a benchmark cannot check with a query, as Fleet's CIS files give them.
IT_CHECKS = """\
- name: Separate partition for /var/log
  platform: linux
  critical: true
  resolution: |
    Manual: follow the benchmark's audit steps for this control and keep the output for IT.
  query: SELECT 1 WHERE 0;
  purpose: Manual Validation Required
- name: Login banner has the approved wording
  platform: linux
  resolution: |
    Compare `/etc/issue` with the text on the [security intranet](https://intranet.example.com/banner).
  query: SELECT 1 WHERE 1 = 0
  purpose: Manual Validation Required
"""


PALETTE_COLOURS = 160


def to_palette(path: Path) -> None:
    """Rewrite a screenshot as a palette PNG (a third of the size; UI pictures have few colours)."""
    subprocess.run(
        ["convert", str(path), "+dither", "-colors", str(PALETTE_COLOURS), f"PNG8:{path}"],
        check=True,
    )


def _wait(condition, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def take(folder: Path) -> list[Path]:
    """Run the app on this process's display and take the pictures; return their paths."""
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from stethoscope_desktop.app import StethoscopeApp
    from stethoscope_desktop.core.checks import load_checks
    from stethoscope_desktop.core.practices import PracticesFolder, PracticesLoader
    from stethoscope_desktop.core.scanner import Scanner
    from stethoscope_desktop.core.state import StateStore
    from stethoscope_desktop.engines.embedded import EmbeddedEngine
    from stethoscope_desktop.resources import checks_dir, practices_dir
    from stethoscope_desktop.ui.theme import style_sheet
    from tests.canned import canned_linux
    from tests.ui.fakes import MemoryAutostart, RecordingNotifier, ThreadWorker

    application = QApplication.instance() or QApplication([])
    assert isinstance(application, QApplication)
    scratch = tempfile.TemporaryDirectory(prefix="stethoscope-shots-")
    work = Path(scratch.name)
    it_folder = work / "it"
    it_folder.mkdir()
    (it_folder / "config.yaml").write_text(IT_CONFIG)
    (it_folder / "policy.yaml").write_text(IT_POLICY)
    (it_folder / "checks.d").mkdir()
    (it_folder / "checks.d" / "benchmark.yaml").write_text(IT_CHECKS)
    tables = canned_linux(
        stethoscope_firewall=[{"enabled": 0, "source": "none", "detail": "no firewall"}],
        stethoscope_remote_login=[
            {"enabled": 1, "source": "ports", "detail": "SSH port 22 is listening on 0.0.0.0:22"}
        ],
    )
    loader = PracticesLoader(
        [PracticesFolder("bundled", practices_dir()), PracticesFolder("machine", it_folder)], "en"
    )
    scanner = Scanner(EmbeddedEngine(tables), load_checks(checks_dir()), platform="linux")
    app = StethoscopeApp(
        worker=ThreadWorker(loader, scanner),
        platform="linux",
        store=StateStore(work / "state.json"),
        autostart=MemoryAutostart(),
        tray_available=True,
        open_link=lambda url: None,
        notifier=RecordingNotifier(),
        api=False,
    )

    def settle(ms: int) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    pictures = []
    try:
        app.start()
        if not _wait(lambda: (application.processEvents(), app.scans.last_report())[1], 20):
            raise RuntimeError("no report")
        window = app.window
        window.setStyleSheet(style_sheet(False))
        window.resize(760, 740)  # the virtual screen is 800 pixels high
        app.show_window()
        window.move(20, 20)
        settle(1500)
        shot = folder / "window-notice-and-help.png"
        subprocess.run(["import", "-window", str(int(window.winId())), str(shot)], check=True)
        to_palette(shot)
        pictures.append(shot)
        window.manual_checks.set_expanded(True)
        settle(500)
        bar = window.scroll_area.verticalScrollBar()
        bar.setValue(bar.maximum())
        settle(1000)
        shot = folder / "window-checks-by-hand.png"
        subprocess.run(["import", "-window", str(int(window.winId())), str(shot)], check=True)
        to_palette(shot)
        pictures.append(shot)
        window.hide()
        settle(500)
        pictures += _tray_menu(folder, settle)
    finally:
        app.shutdown()
        scratch.cleanup()
    return pictures


def _tray_menu(folder: Path, settle) -> list[Path]:  # type: ignore[no-untyped-def]
    """Right-click the icon in the tray host, open Help, and take the screen's top right."""
    bar = _tray_bar()
    if bar is None:
        return []
    x, y, width, height = bar
    icon = (x + width - height // 2, y + height // 2)  # the only icon, at the bar's right end
    menu = None
    for _attempt in range(5):  # the icon may not be in the bar yet
        subprocess.run(["xdotool", "mousemove", *map(str, icon), "click", "3"], check=True)
        settle(1500)
        menu = _window_at_right_of_bar(y + height)
        if menu is not None:
            break
    if menu is None:
        print("the tray host opened no menu", file=sys.stderr)
        return []
    help_row = (menu[0] + 40, menu[1] + menu[3] - 42)  # Help: the row above the line and Quit
    subprocess.run(["xdotool", "mousemove", *map(str, help_row)], check=True)
    settle(1500)
    shot = folder / "tray-menu-help.png"
    left = max(0, menu[0] - 300)
    subprocess.run(
        ["import", "-window", "root", "-crop", f"{x + width - left}x{menu[3] + 130}+{left}+0",
         str(shot)],
        check=True,
    )  # fmt: skip
    subprocess.run(["xdotool", "key", "Escape", "Escape"], check=False)
    return [shot]


def _windows(name: str) -> list[tuple[int, int, int, int]]:
    """Return the geometry (x, y, width, height) of each window named `name`."""
    found = subprocess.run(
        ["xdotool", "search", "--name", name], capture_output=True, text=True, check=False
    ).stdout.split()
    geometries = []
    for window in found:
        shell = subprocess.run(
            ["xdotool", "getwindowgeometry", "--shell", window],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        values = dict(line.split("=", 1) for line in shell.split() if "=" in line)
        if {"X", "Y", "WIDTH", "HEIGHT"} <= set(values):
            geometries.append(
                (int(values["X"]), int(values["Y"]), int(values["WIDTH"]), int(values["HEIGHT"]))
            )
    return geometries


def _tray_bar() -> tuple[int, int, int, int] | None:
    """Return the tray host's bar: its widest window."""
    windows = _windows("gtk-sni-tray-standalone")
    return max(windows, key=lambda w: w[2]) if windows else None


def _window_at_right_of_bar(top: int) -> tuple[int, int, int, int] | None:
    """Return the menu the tray host opened: its window just below the bar."""
    menus = [w for w in _windows("gtk-sni-tray-standalone") if w[1] == top and w[3] > 32]
    return menus[0] if menus else None


def main() -> int:
    """Start a private desktop, take the pictures on it, stop it."""
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "docs").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    if os.environ.get("STETHOSCOPE_SHOTS_CHILD"):
        for picture in take(folder):
            print(picture)
        return 0
    missing = missing_programs()
    if missing:
        print(f"needs the Debian packages: {' '.join(missing)}", file=sys.stderr)
        return 1
    scratch = tempfile.TemporaryDirectory(prefix="stethoscope-desktop-")
    desktop = VirtualDesktop(Path(scratch.name))
    try:
        desktop.start()
        env = {
            **os.environ,
            **desktop.env,
            "QT_QPA_PLATFORM": "xcb",
            "STETHOSCOPE_SHOTS_CHILD": "1",
            "LANG": "C.UTF-8",
        }
        done = subprocess.run(
            [sys.executable, "-m", "tests.desktop.screenshots", str(folder)], env=env, cwd=ROOT
        )
        return done.returncode
    finally:
        desktop.stop()
        scratch.cleanup()


if __name__ == "__main__":
    sys.exit(main())
