"""What the person using the device reads of IT's checks (issue 13's new-IT-admin trial).

- A check whose query has a mistake (a table or column osquery lacks, text that is not valid
  SQL) says IT's check has a mistake and nothing is wrong with the device, IT's technical reason
  kept apart (smaller, and whole in the JSON report's `reason`); a fact the device cannot give
  keeps "Couldn't check: …".
- IT's `description` (Fleet's key) is printed as the why of a check that did not pass.
- IT's checks of equal rank are ordered by name as people read numbers: CIS "1.1.1.2" before
  "1.1.1.11".

Scanned for real: the bundled practices with IT's checks in its policy, on canned Debian tables.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stethoscope_desktop.core.report import Report, natural_sort_key
from stethoscope_desktop.core.status import Status
from stethoscope_desktop.text_report import render_report
from tests.canned import canned_linux
from tests.core.test_custom_checks import loader_for, loader_for_bundled, scan, y
from tests.test_formats import schema_errors

IT_POLICY = y(
    """
    customChecks:
      - name: Ubuntu Pro attachment status
        platform: linux
        description: Ubuntu Pro brings security fixes for ten years.
        query: SELECT 1 FROM os_version WHERE major >= 99
      - name: 1.1.1.11 Ensure usb-storage is not available
        platform: linux
        query: SELECT 1 FROM os_version WHERE major >= 99
      - name: 1.1.1.2 Ensure freevxfs is not available
        platform: linux
        query: SELECT 1 FROM os_version WHERE major >= 99
      - name: 1.1.1.1 Ensure cramfs is not available
        platform: linux
        query: SELECT 1 FROM os_version WHERE major >= 99
      - name: SSH server by unit name
        platform: linux
        description: An SSH server lets others log in.
        query: SELECT 1 FROM systemd_units WHERE name = 'ssh.service'
      - name: Password hashes are strong
        platform: linux
        query: SELECT 1 FROM shadow WHERE hash_alg = '$6'
      - name: Debian 12 or later
        platform: linux
        description: Older Debian releases get no security updates.
        query: SELECT 1 FROM os_version WHERE major >= 12
    """
)
MISTAKE = "custom/ssh-server-by-unit-name"
COLUMN_REASON = "`systemd_units` has no column `name`; osquery's is `id`"


def it_checks_report(tmp_path: Path) -> Report:
    """Return a real scan's report of the bundled practices and `IT_POLICY`'s checks."""
    bundled = (Path(__file__).parents[2] / "practices" / "policy.yaml").read_text("utf-8")
    tables = canned_linux(systemd_units=[{"id": "ssh.service", "active_state": "active"}])
    return scan(loader_for(tmp_path, {"policy.yaml": bundled + IT_POLICY}).load(), tables)


@pytest.fixture
def report(tmp_path: Path) -> Report:
    return it_checks_report(tmp_path)


def text_of(report: Report, *, colour: bool = False, details: bool = False) -> str:
    instructions = loader_for_bundled().load().instructions
    return render_report(report, instructions, colour=colour, details=details)


def test_a_query_mistake_is_marked_and_the_json_keeps_its_technical_reason(
    report: Report,
) -> None:
    mistake = report.practice(MISTAKE)
    assert mistake is not None and mistake.status is Status.UNKNOWN
    assert mistake.reason == COLUMN_REASON
    assert mistake.evidence.query_mistake and mistake.unknown_by_query_mistake()
    data = json.loads(report.to_json())
    assert schema_errors("report", data) == []
    entry = next(p for p in data["practices"] if p["key"] == MISTAKE)
    assert entry["reason"] == COLUMN_REASON
    assert entry["evidence"]["query_mistake"] is True
    # The tray gets the report as data from the scan worker: the mark survives the trip.
    again = Report.from_dict(data).practice(MISTAKE)
    assert again is not None and again.unknown_by_query_mistake()


def test_a_fact_the_device_cannot_give_is_no_mistake(report: Report) -> None:
    shadow = report.practice("custom/password-hashes-are-strong")
    assert shadow is not None and shadow.status is Status.UNKNOWN
    assert shadow.reason.startswith("needs osquery: table shadow")
    assert not shadow.evidence.query_mistake and not shadow.unknown_by_query_mistake()


def test_the_terminal_says_its_checks_mistake_in_the_employees_words(report: Report) -> None:
    text = text_of(report)
    block = text.split("SSH server by unit name", 1)[1].split("\n✓", 1)[0]
    assert "IT's check has a mistake, so it could not run. Nothing is wrong with your device;" in (
        " ".join(block.split())
    )
    assert f"For IT: {COLUMN_REASON}" in block
    assert f"Couldn't check: {COLUMN_REASON}" not in text
    shadow = report.practice("custom/password-hashes-are-strong")
    assert shadow is not None and shadow.summary in " ".join(text.split())  # core's sentence
    assert "needs osquery: table shadow" not in text  # the engine's reason: a detail
    assert "needs osquery: table shadow" in text_of(report, details=True)


def test_in_colour_its_technical_reason_is_dimmed(report: Report) -> None:
    text = text_of(report, colour=True)
    assert f"                  \033[2mFor IT: {COLUMN_REASON}" in text


def test_the_terminal_prints_its_description_as_the_why(report: Report) -> None:
    text = text_of(report)
    ubuntu = text.split("Ubuntu Pro attachment status", 1)[1].splitlines()
    assert ubuntu[1].strip() == "Ubuntu Pro brings security fixes for ten years."
    ubuntu_pro = report.practice("custom/ubuntu-pro-attachment-status")
    assert ubuntu_pro is not None and ubuntu[2].strip() == ubuntu_pro.summary
    assert "An SSH server lets others log in." in text  # unknown: the why too
    assert "Older Debian releases get no security updates." not in text  # passing: title only


def test_its_checks_of_equal_rank_sort_by_section_number(report: Report) -> None:
    names = [p.name for p in report.practices if p.name.startswith("1.1.1.")]
    assert names == [
        "1.1.1.1 Ensure cramfs is not available",
        "1.1.1.2 Ensure freevxfs is not available",
        "1.1.1.11 Ensure usb-storage is not available",
    ]
    text = text_of(report)
    assert text.index("1.1.1.2 Ensure") < text.index("1.1.1.11 Ensure")


@pytest.mark.parametrize(
    ("names", "ordered"),
    [
        (["1.1.1.11", "1.1.1.2", "1.1.1.1"], ["1.1.1.1", "1.1.1.2", "1.1.1.11"]),
        (["Firefox 128", "firefox 9", "Chrome"], ["Chrome", "firefox 9", "Firefox 128"]),
        (["5.2 b", "5.10 a", "x", "5.2 a"], ["5.2 a", "5.2 b", "5.10 a", "x"]),
        (["a10b2", "a10b10", "a9"], ["a9", "a10b2", "a10b10"]),
    ],
)
def test_names_sort_with_digit_runs_as_numbers(names: list[str], ordered: list[str]) -> None:
    assert sorted(names, key=natural_sort_key) == ordered
