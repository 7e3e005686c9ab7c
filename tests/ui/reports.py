"""Reports for UI tests, made by real scans of canned tables (see tests/canned.py)."""

from __future__ import annotations

from pathlib import Path

from stethoscope_desktop.core.checks import load_checks
from stethoscope_desktop.core.practices import Practices, PracticesFolder, PracticesLoader
from stethoscope_desktop.core.report import Report
from stethoscope_desktop.core.scanner import Scanner
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.resources import checks_dir, practices_dir
from stethoscope_desktop.tables.base import TablePlugin
from tests.canned import canned_linux


def practices(language: str = "en", folder: Path | None = None) -> Practices:
    """Load the bundled practices (and an optional folder over them)."""
    folders = [PracticesFolder("bundled", practices_dir())]
    if folder is not None:
        folders.append(PracticesFolder("override", folder))
    return PracticesLoader(folders, language).load()


def scan(tables: list[TablePlugin], language: str = "en") -> Report:
    """Scan canned tables with the bundled checks and practices."""
    engine = EmbeddedEngine(tables)
    return Scanner(engine, load_checks(checks_dir()), platform="linux").scan(practices(language))


def mixed_report() -> Report:
    """Firewall off, SSH listening, screen lock unreadable, the rest fine."""
    return scan(
        canned_linux(
            stethoscope_firewall=[
                {"enabled": 0, "source": "none", "detail": "no firewall is installed"}
            ],
            stethoscope_remote_login=[
                {
                    "enabled": 1,
                    "source": "ports",
                    "detail": "SSH port 22 is listening on 0.0.0.0:22",
                }
            ],
            stethoscope_screen_lock="no desktop session: no DISPLAY, WAYLAND_DISPLAY or XDG_CURRENT_DESKTOP",
        )
    )


def passing_report() -> Report:
    """Everything passes (Debian 13, clamav installed)."""
    return scan(
        canned_linux(
            os_version=[
                {
                    "name": "Debian GNU/Linux",
                    "version": "13 (trixie)",
                    "major": 13,
                    "minor": 2,
                    "patch": 0,
                    "platform": "debian",
                }
            ],
            deb_packages=[
                {
                    "name": "firefox-esr",
                    "version": "128.5.0esr-1",
                    "status": "install ok installed",
                },
                {"name": "clamav", "version": "1.0.7", "status": "install ok installed"},
            ],
        )
    )
