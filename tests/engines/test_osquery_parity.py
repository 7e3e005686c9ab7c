"""The same rows give the same report through the osquery engine and the embedded engine.

The stand-in serves the fixtures' osquery tables and the osquery engine registers our tables
(canned with the fixtures' `extension_tables/` rows) into it; the embedded engine serves all of
those rows as canned tables. Every bundled check runs unchanged on both, for each platform.
"""

from __future__ import annotations

import sys

import pytest

from stethoscope_desktop.core.checks import load_checks
from stethoscope_desktop.core.practices import PracticesFolder, PracticesLoader
from stethoscope_desktop.core.report import Report
from stethoscope_desktop.core.scanner import Scanner
from stethoscope_desktop.core.status import Status
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.resources import checks_dir, practices_dir
from tests.engines.osquery_helpers import assert_nothing_leaked, short_dir, standin_engine
from tests.osquery_standin import PLATFORMS, canned, core_rows, extension_rows

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the stand-in runs on Linux")


def summary(report: Report) -> dict[str, tuple[Status, str, str]]:
    return {p.key: (p.status, p.observed, p.reason) for p in report.practices}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_same_rows_same_report_on_both_engines(platform: str) -> None:
    practices = PracticesLoader([PracticesFolder("bundled", practices_dir())]).load()
    checks = load_checks(checks_dir())
    embedded = EmbeddedEngine(canned({**core_rows(platform), **extension_rows(platform)}))
    try:
        expected = Scanner(embedded, checks, platform=platform).scan(practices)
    finally:
        embedded.close()
    with short_dir() as runtime_dir:
        engine = standin_engine(runtime_dir, platform=platform)
        report = Scanner(engine, checks, platform=platform).scan(practices)
        assert report.engine.name == "osquery"
        assert_nothing_leaked(engine, runtime_dir)
    assert summary(report) == summary(expected)
    assert report.device == expected.device
    assert report.status is expected.status
    known = [p for p in report.practices if p.status is not Status.UNKNOWN]
    assert len(known) >= 5, summary(report)  # the fixtures answer most practices
