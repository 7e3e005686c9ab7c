"""The debug info text (`core.debug_info`), from a report as the tray receives it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from stethoscope_desktop.core.debug_info import debug_info
from stethoscope_desktop.core.protocol import ScanResult, TraySettings
from stethoscope_desktop.core.status import Status
from stethoscope_desktop.core.strings import ENGLISH
from stethoscope_desktop.engines.info import EngineInfo, TableTiming
from tests.ui.reports import mixed_report

NOW = datetime(2025, 5, 6, 7, 8, 9, tzinfo=UTC)
RUNTIME = {"Python": "3.12.1", "Qt": "6.8.0", "PySide6": "6.8.0", "system": "Linux-6.1-x86_64"}


def text_of(result: ScanResult | None, failure: str = "") -> str:
    return debug_info(result, app_version="9.8.7", runtime=RUNTIME, now=NOW, failure=failure)


def test_it_names_osqueryd_and_its_version_where_the_checks_ran_on_it() -> None:
    report = replace(
        mixed_report(),
        engine=EngineInfo("osquery", "5.12.1", "osqueryd 5.12.1 at /opt/osquery/bin/osqueryd"),
        table_timings=(TableTiming("alf", 0.01, 0, "no such table: alf"),),
        check_problems=("checks/extra.yaml:3: sql: must be text",),
    )
    text = text_of(ScanResult(report, ENGLISH, TraySettings()))
    assert text.startswith("Stethoscope Desktop debug info, 2025-05-06T07:08:09+00:00\n")
    assert "  Stethoscope Desktop 9.8.7\n" in text
    assert f"  answers web apps as Stethoscope {report.device.stethoscope_version}\n" in text
    assert "  engine: osquery 5.12.1 (osqueryd 5.12.1 at /opt/osquery/bin/osqueryd)\n" in text
    assert "  Python 3.12.1 · Qt 6.8.0 · PySide6 6.8.0\n" in text
    assert "  system: Linux-6.1-x86_64\n" in text
    assert "Problems in the check definitions\n  checks/extra.yaml:3: sql: must be text\n" in text
    assert "Table errors\n  alf: no such table: alf\n" in text


def test_every_practice_is_a_line_with_its_status_and_unknown_ones_say_why() -> None:
    report = mixed_report()
    text = text_of(ScanResult(report, ENGLISH, TraySettings()))
    body = text.split("\nReport\n", 1)[1].split("\n\n", 1)[0] + "\n"
    heads = [line.split()[:2] for line in body.splitlines() if not line.startswith("    ")]
    assert [head for head in heads if head] == [
        [p.status.value, f"{p.key}:"] for p in report.practices
    ]
    unknown = next(p for p in report.practices if p.status is Status.UNKNOWN)
    assert f"    couldn't check: {unknown.reason}\n" in body
    assert "Problems in these files\n  none\n" in text
    for file in report.policy_files:
        assert f"\n  {file}\n" in text


def test_a_failure_after_a_report_is_said_with_the_report() -> None:
    text = text_of(ScanResult(mixed_report(), ENGLISH, TraySettings()), "the worker crashed")
    assert "  the check after it failed: the worker crashed\n" in text
    assert "\nReport\n" in text


def test_without_a_report_it_says_so_and_still_gives_the_versions() -> None:
    text = text_of(None)
    assert text == (
        "Stethoscope Desktop debug info, 2025-05-06T07:08:09+00:00\n"
        "\n"
        "Versions\n"
        "  Stethoscope Desktop 9.8.7\n"
        "  engine: not known before the first check\n"
        "  Python 3.12.1 · Qt 6.8.0 · PySide6 6.8.0\n"
        "\n"
        "Platform\n"
        "  system: Linux-6.1-x86_64\n"
        "\n"
        "Last check\n"
        "  no report yet: the first check has not finished\n"
    )
    assert "the last check failed: it crashed" in text_of(None, "it crashed")
