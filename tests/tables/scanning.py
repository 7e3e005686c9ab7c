"""A whole scan on a platform's real tables over a recorded machine, for the platform scan tests."""

from __future__ import annotations

from pathlib import Path

from stethoscope_desktop.core.checks import load_checks
from stethoscope_desktop.core.practices import PracticesFolder, PracticesLoader
from stethoscope_desktop.core.report import Report
from stethoscope_desktop.core.scanner import Scanner
from stethoscope_desktop.core.status import Status
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.resources import checks_dir, practices_dir
from stethoscope_desktop.tables.base import TablePlugin


def scan(
    platform: str,
    tables: list[TablePlugin],
    *,
    it_policy: Path | None = None,
    language: str = "en",
) -> Report:
    """Scan with the shipped checks and practices (plus IT's policy folder, if given)."""
    folders = [PracticesFolder("bundled", practices_dir())]
    if it_policy is not None:
        folders.append(PracticesFolder("machine", it_policy))
    practices = PracticesLoader(folders, language).load()
    assert practices.problems == (), [str(p) for p in practices.problems]
    engine = EmbeddedEngine(tables)
    try:
        return Scanner(engine, load_checks(checks_dir()), platform=platform).scan(practices)
    finally:
        engine.close()


def statuses(report: Report) -> dict[str, Status]:
    """Return each practice's status by key."""
    return {p.key: p.status for p in report.practices}


def assert_ranked(report: Report) -> None:
    """Assert the report lists failures, then nudges, then unknowns, then passes."""
    order = [Status.FAIL, Status.NUDGE, Status.UNKNOWN, Status.PASS]
    seen = [order.index(p.status) for p in report.practices]
    assert seen == sorted(seen), [(p.key, p.status) for p in report.practices]
