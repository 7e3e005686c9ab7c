"""The window's pictures, taken on private virtual desktops: `python -m tests.desktop.window_screenshots`.

For each screen size (800x600, 1280x800, 1920x1080) a virtual desktop (tests/desktop/session.py)
comes up and a child process on it shows the window with real scans of canned tables (see
tests/canned.py): a device that passes, one with a mix of findings, one with several critical
problems; light and dark, English and German. The window opens as the app opens it (fitted to
the screen's free area) or, on the widest screen, maximised, to show the content column staying
readable. Each picture is the whole screen, so it shows how the window fits; it is written as a
palette PNG to `docs/screenshots/` (or the folder given) to keep the pictures small.

    python -m tests.desktop.window_screenshots [FOLDER] [--only NAME]

Look at them before committing: they are for people.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.desktop.screenshots import IT_CONFIG as README_IT_CONFIG
from tests.desktop.screenshots import to_palette
from tests.desktop.session import VirtualDesktop, missing_programs

ROOT = Path(__file__).resolve().parents[2]
SCREENS = ((800, 600), (1280, 800), (1920, 1080))
# The README pictures' IT folder, without its notice: these pictures are about the cards.
IT_CONFIG = README_IT_CONFIG.split("deprecationNotice:")[0]


@dataclass(frozen=True)
class Shot:
    """One picture: the screen, palette, language, device, and what is open."""

    screen: tuple[int, int]
    dark: bool
    language: str
    device: str  # passing, mixed, critical
    open_card: str = ""  # the key of a card to open ("" none)
    details: bool = False  # open its Details too
    maximised: bool = False
    organization: bool = True  # whether config.yaml names the organisation
    focus: str = ""  # the key of a card whose button has the keyboard focus ("" none)

    @property
    def name(self) -> str:
        """Return the file name: window-<device>-<language>-<palette>-<width>x<height>.png."""
        palette = "dark" if self.dark else "light"
        width, height = self.screen
        return f"window-{self.device}-{self.language}-{palette}-{width}x{height}.png"


SHOTS = (
    Shot((1280, 800), False, "en", "mixed", open_card="firewall"),
    Shot((1280, 800), True, "en", "mixed", open_card="firewall"),
    Shot((1280, 800), False, "de", "critical", open_card="remoteLogin", details=True),
    Shot((1280, 800), True, "de", "critical"),
    Shot((1280, 800), False, "en", "passing", organization=False),
    Shot((1280, 800), True, "de", "passing", organization=False),
    Shot((800, 600), False, "en", "mixed", focus="remoteLogin"),
    Shot((800, 600), True, "de", "critical", open_card="firewall"),
    Shot((1920, 1080), False, "en", "critical", open_card="firewall", maximised=True),
    Shot((1920, 1080), True, "en", "mixed", open_card="screenLock", details=True, maximised=True),
)


def _tables(device: str):  # type: ignore[no-untyped-def]
    from tests.canned import canned_linux

    if device == "passing":
        return canned_linux(
            os_version=[{"name": "Debian GNU/Linux", "version": "13 (trixie)", "major": 13,
                         "minor": 2, "patch": 0, "platform": "debian", "build": ""}],
            deb_packages=[
                {"name": "firefox-esr", "version": "128.5.0esr-1", "status": "install ok installed"},
                {"name": "clamav", "version": "1.0.7", "status": "install ok installed"},
            ],
        )  # fmt: skip
    firewall_off = [{"enabled": 0, "source": "none", "detail": "no firewall is installed"}]
    ssh_on = [{"enabled": 1, "source": "ports", "detail": "SSH port 22 is listening on 0.0.0.0:22"}]
    if device == "mixed":
        return canned_linux(
            stethoscope_firewall=firewall_off,
            stethoscope_remote_login=ssh_on,
            stethoscope_screen_lock=(
                "no desktop session: no DISPLAY, WAYLAND_DISPLAY or XDG_CURRENT_DESKTOP"
            ),
        )
    return canned_linux(
        stethoscope_firewall=firewall_off,
        stethoscope_remote_login=ssh_on,
        stethoscope_disk_encryption=[{"name": "/dev/nvme0n1p2", "mountpoint": "/", "encrypted": 0,
                                      "type": "", "detail": "/ is not encrypted"}],
        stethoscope_automatic_updates=[{"enabled": 0, "source": "apt",
                                        "detail": "unattended-upgrades is not installed"}],
        stethoscope_screen_lock=[{"enabled": 0, "lock_after_seconds": 0, "desktop": "GNOME",
                                  "source": "gsettings", "detail": "the screen never locks"}],
        deb_packages=[
            {"name": "firefox-esr", "version": "128.5.0esr-1", "status": "install ok installed"},
            {"name": "qbittorrent", "version": "4.5.2-3", "status": "install ok installed"},
        ],
    )  # fmt: skip


def _scan(shot: Shot, it_folder: Path):  # type: ignore[no-untyped-def]
    """Scan the shot's canned device; return the report and its strings."""
    from stethoscope_desktop.core.checks import load_checks
    from stethoscope_desktop.core.practices import PracticesFolder, PracticesLoader
    from stethoscope_desktop.core.scanner import Scanner
    from stethoscope_desktop.engines.embedded import EmbeddedEngine
    from stethoscope_desktop.resources import checks_dir, practices_dir

    folders = [PracticesFolder("bundled", practices_dir())]
    if shot.organization:
        folders.append(PracticesFolder("machine", it_folder))
    loaded = PracticesLoader(folders, shot.language).load()
    scanner = Scanner(
        EmbeddedEngine(_tables(shot.device)), load_checks(checks_dir()), platform="linux"
    )
    return scanner.scan(loaded), loaded.instructions


def take(folder: Path, screen: tuple[int, int], only: str) -> list[Path]:
    """Show the window for every shot of this screen size; return the pictures written."""
    from PySide6.QtCore import QEventLoop, Qt, QTimer
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    from stethoscope_desktop.core.support import HelpLink, Support
    from stethoscope_desktop.ui.icons import app_icon
    from stethoscope_desktop.ui.theme import style_sheet
    from stethoscope_desktop.ui.window import MainWindow

    application = QApplication.instance() or QApplication([])
    assert isinstance(application, QApplication)
    application.setWindowIcon(app_icon())

    def settle(ms: int) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    written = []
    with tempfile.TemporaryDirectory(prefix="stethoscope-window-shots-") as scratch:
        it_folder = Path(scratch)
        (it_folder / "config.yaml").write_text(IT_CONFIG)
        for shot in SHOTS:
            if shot.screen != screen or (only and only not in shot.name):
                continue
            report, strings = _scan(shot, it_folder)
            scheme = Qt.ColorScheme.Dark if shot.dark else Qt.ColorScheme.Light
            QGuiApplication.styleHints().setColorScheme(scheme)
            window = MainWindow(lambda url: None, quit_on_close=False)
            window.setStyleSheet(style_sheet(shot.dark))
            window.set_instructions(strings, report.organization)
            if shot.organization:
                window.set_support(
                    Support(
                        (
                            HelpLink("Email IT", "mailto:it-help@example.com"),
                            HelpLink("Chat with IT", "https://chat.example.com/it-help"),
                        ),
                        "https://devices.example.com/mine",
                    )
                )
            window.show_report(report)
            if shot.open_card:
                card = window.cards.card(shot.open_card)
                if card is None:
                    raise RuntimeError(f"{shot.name}: no card {shot.open_card}")
                card.set_expanded(True)
                if shot.details and card.details_toggle is not None:
                    card.details_toggle.setChecked(True)
            if shot.maximised:  # no window manager here: take the whole free area
                screen_area = application.primaryScreen().availableGeometry()
                window.show()
                window.setGeometry(screen_area)
            else:
                window.move(20, 20)
                window.show()
            settle(800)
            if shot.open_card:
                window.focus_practice(shot.open_card)
                settle(400)
            if shot.focus:
                window.activateWindow()
                settle(300)
                focused = window.cards.card(shot.focus)
                if focused is None:
                    raise RuntimeError(f"{shot.name}: no card {shot.focus}")
                focused.toggle.setFocus(Qt.FocusReason.TabFocusReason)
                settle(400)
            path = folder / shot.name
            subprocess.run(["import", "-window", "root", str(path)], check=True)
            to_palette(path)
            written.append(path)
            window.hide()
            window.deleteLater()
            settle(200)
    return written


def main() -> int:
    """Bring up a desktop per screen size and take that size's pictures on it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--only", default="", help="take only pictures whose name contains this")
    parser.add_argument("--screen", default="", help=argparse.SUPPRESS)  # the child's size
    arguments = parser.parse_args()
    folder = Path(arguments.folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    if arguments.screen:
        width, height = (int(n) for n in arguments.screen.split("x"))
        for picture in take(folder, (width, height), arguments.only):
            print(picture)
        return 0
    missing = missing_programs()
    if missing:
        print(f"needs the Debian packages: {' '.join(missing)}", file=sys.stderr)
        return 1
    for width, height in SCREENS:
        if not any(s.screen == (width, height) and arguments.only in s.name for s in SHOTS):
            continue
        with tempfile.TemporaryDirectory(prefix="stethoscope-desktop-") as scratch:
            desktop = VirtualDesktop(Path(scratch), (width, height))
            try:
                desktop.start()
                env = {**os.environ, **desktop.env, "QT_QPA_PLATFORM": "xcb", "LANG": "C.UTF-8"}
                done = subprocess.run(
                    [sys.executable, "-m", "tests.desktop.window_screenshots", str(folder),
                     "--screen", f"{width}x{height}", "--only", arguments.only],
                    env=env,
                    cwd=ROOT,
                    check=False,
                )  # fmt: skip
                if done.returncode:
                    return done.returncode
            finally:
                desktop.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
