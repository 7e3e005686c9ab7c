"""The report as text for a terminal: ranked, with colour when printing to a terminal.

IT's checks done by hand come last, apart from the verdicts: their titles and IT's directions,
or a line saying how many IT's setting left out. An IT check that did not pass says IT's
description (why it matters) under its title; one that could not run because its query has a
mistake says so in the employee's words, IT's technical reason dimmed below.
"""

from __future__ import annotations

import textwrap

from stethoscope_desktop.core.custom_checks import CUSTOM_PRACTICE
from stethoscope_desktop.core.instructions import Instructions
from stethoscope_desktop.core.report import PracticeResult, Report
from stethoscope_desktop.core.status import Status

_COLOURS = {
    Status.FAIL: "\033[1;31m",
    Status.NUDGE: "\033[1;33m",
    Status.UNKNOWN: "\033[1;90m",
    Status.PASS: "\033[1;32m",
}
_SYMBOLS = {Status.FAIL: "✗", Status.NUDGE: "!", Status.UNKNOWN: "?", Status.PASS: "✓"}
_MANUAL_SYMBOL = "✎"
_RESET = "\033[0m"
_DIM = "\033[2m"
_BOLD = "\033[1m"
WIDTH = 96


def render_report(report: Report, instructions: Instructions, *, colour: bool) -> str:
    """Return the whole report as text."""

    def paint(code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if colour else text

    device = report.device
    lines = [
        paint(_BOLD, f"Stethoscope Desktop — {report.organization}"),
        f"{device.device_name or 'This device'}: {device.os_name or device.platform_name} "
        f"{device.os_version}".rstrip()
        + (
            f" · {device.hardware_vendor} {device.hardware_model}".rstrip()
            if device.hardware_model
            else ""
        ),
        paint(
            _DIM,
            f"Checked {report.started_at} in {report.duration_seconds * 1000:.0f} ms "
            f"on the {report.engine.name} engine",
        ),
        "",
        paint(_COLOURS[report.status], f"{_SYMBOLS[report.status]} {report.summary}"),
        "",
    ]
    if device.running_as_admin:
        lines += [paint(_COLOURS[Status.NUDGE], instructions.string("runningAsAdmin")), ""]
    if report.policy_problems or report.check_problems:
        lines.append(paint(_COLOURS[Status.NUDGE], instructions.string("policyErrors")))
        lines += [f"  - {problem}" for problem in (*report.policy_problems, *report.check_problems)]
        lines.append("")
    for practice in report.practices:
        lines += _practice_lines(practice, instructions, paint)
    lines += _manual_lines(report, instructions, paint)
    return "\n".join(lines).rstrip() + "\n"


def _wrapped(text: str, indent: str) -> list[str]:
    lines = []
    for line in text.splitlines():
        wrapped = textwrap.wrap(
            line, WIDTH - len(indent), break_long_words=False, break_on_hyphens=False
        ) or [""]
        lines += [indent + part for part in wrapped]
    return lines


def _manual_lines(report: Report, instructions: Instructions, paint: object) -> list[str]:
    """IT's checks done by hand, apart: not evaluated (or how many IT's setting left out)."""
    assert callable(paint)
    left_out = report.manual_checks_left_out
    if left_out:
        key = "manualLeftOutOne" if left_out == 1 else "manualLeftOutOther"
        return ["", paint(_DIM, instructions.string(key, count=left_out))]
    count = len(report.manual_checks)
    if not count:
        return []
    key = "manualCountOne" if count == 1 else "manualCountOther"
    lines = ["", paint(_BOLD, f"{_MANUAL_SYMBOL} {instructions.string(key, count=count)}")]
    for check in report.manual_checks:
        lines.append(f"  - {check.title}")
        lines += _wrapped(check.directions, " " * 6)
    return lines


def _practice_lines(
    practice: PracticeResult, instructions: Instructions, paint: object
) -> list[str]:
    assert callable(paint)
    status = instructions.status_name(practice.status)
    rating = instructions.rating_name(practice.rating)
    head = paint(_COLOURS[practice.status], f"{_SYMBOLS[practice.status]} {status:<15}")
    lines = [f"{head} {practice.title}  " + paint(_DIM, f"({rating})")]
    indent = " " * 18
    if practice.practice == CUSTOM_PRACTICE and practice.status is not Status.PASS:
        lines += _wrapped(practice.description, indent)  # IT's why, where it gave one
    if practice.unknown_by_query_mistake():
        lines += _wrapped(instructions.string("queryMistake"), indent)
        for_it = instructions.string("queryMistakeForIt", reason=practice.reason)
        lines += [paint(_DIM, line) for line in _wrapped(for_it, indent)]
    elif practice.status is Status.UNKNOWN:
        lines.append(indent + instructions.string("couldNotCheck", reason=practice.reason))
    elif practice.observed:
        lines.append(
            indent + paint(_DIM, f"{instructions.string('sectionEvidence')}: {practice.observed}")
        )
    if practice.status in (Status.FAIL, Status.NUDGE) and practice.directions:
        lines += _wrapped(practice.directions, indent + "  ")
    return lines
