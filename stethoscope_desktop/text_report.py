"""The report as text for a terminal: ranked, Markdown rendered, with colour where wanted.

Directions, IT's descriptions and the texts of our instruction files are Markdown, printed
rendered (`terminal_text`): bold and code styled, links as "text (URL)", numbered steps numbered
in order. Colour is the caller's choice (`terminal_text.colour_wanted`: never with NO_COLOR or
TERM=dumb); without it the text has no escape codes at all.

IT's checks done by hand come last, apart from the verdicts: their titles and IT's directions,
or a line saying how many IT's setting left out. Directions several checks share (Fleet's CIS
benchmarks give many controls the same resolution) are printed once, below the titles of all of
them. An IT check that did not pass says IT's description (why it matters) under its title; one
that could not run because its query has a mistake says so in the employee's words, IT's
technical reason dimmed below.
"""

from __future__ import annotations

from stethoscope_desktop.core.custom_checks import CUSTOM_PRACTICE
from stethoscope_desktop.core.instructions import Instructions
from stethoscope_desktop.core.report import ManualCheck, PracticeResult, Report
from stethoscope_desktop.core.status import Status
from stethoscope_desktop.core.strings import organization_named
from stethoscope_desktop.terminal_text import (
    BOLD,
    DIM,
    Fragment,
    Painter,
    Piece,
    render_markdown,
    wrap_pieces,
    wrap_plain,
)

_COLOURS = {
    Status.FAIL: "\033[1;31m",
    Status.NUDGE: "\033[1;33m",
    Status.UNKNOWN: "\033[1;90m",
    Status.PASS: "\033[1;32m",
}
_SYMBOLS = {Status.FAIL: "✗", Status.NUDGE: "!", Status.UNKNOWN: "?", Status.PASS: "✓"}
_MANUAL_SYMBOL = "✎"
_RESET = "\033[0m"
WIDTH = 96
"""The width when the caller gives none (not a terminal); a terminal's own is used up to this."""
_INDENT = " " * 18


class _Layout:
    """What every part of the report is written with: the painter and the width."""

    def __init__(self, instructions: Instructions, colour: bool, width: int, details: bool) -> None:
        self.instructions = instructions
        self.painter = Painter(colour)
        self.width = width
        self.details = details

    def status(self, status: Status, text: str) -> str:
        return f"{_COLOURS[status]}{text}{_RESET}" if self.painter.colour else text

    def plain_in(self, status: Status, text: str, indent: str = "") -> list[str]:
        """Return plain text wrapped, each line in the colour of `status`."""
        return [self.status(status, line) for line in self.plain(text, indent, first="")]

    def plain(self, text: str, indent: str, *styles: str, first: str | None = None) -> list[str]:
        return wrap_plain(text, self.width, indent, self.painter, *styles, first=first)

    def markdown(self, text: str, indent: str) -> list[str]:
        return render_markdown(text, self.width, indent, self.painter)


def render_report(
    report: Report,
    instructions: Instructions,
    *,
    colour: bool,
    width: int = WIDTH,
    details: bool = False,
) -> str:
    """Return the whole report as text, its lines at most `width` wide where words allow.

    `details` adds the technical lines behind each verdict and IT's file problems one by one
    (by default the person reads core's plain summaries).
    """
    layout = _Layout(instructions, colour, max(40, width), details)
    device = report.device
    seen_on = f"{device.device_name or 'This device'}: {device.os_name or device.platform_name}"
    seen_on = f"{seen_on} {device.os_version}".rstrip()
    if device.hardware_model:
        seen_on += f" · {device.hardware_vendor} {device.hardware_model}".rstrip()
    checked = (
        f"Checked {report.started_at} in {report.duration_seconds * 1000:.0f} ms "
        f"on the {report.engine.name} engine"
    )
    lines = [
        *layout.plain(_heading(report.organization), "", BOLD),
        *layout.plain(seen_on, ""),
        *layout.plain(checked, "", DIM),
        "",
        *layout.plain_in(report.status, f"{_SYMBOLS[report.status]} {report.summary}", "  "),
        "",
    ]
    if device.running_as_admin:
        lines += [*layout.plain_in(Status.NUDGE, instructions.string("runningAsAdmin")), ""]
    problems = (*report.policy_problems, *report.check_problems)
    if problems and report.policy_problems_summary and not details:
        lines += [*layout.plain_in(Status.NUDGE, report.policy_problems_summary), ""]
    elif problems:
        lines += layout.plain_in(Status.NUDGE, instructions.string("policyErrors"))
        for problem in problems:
            lines += layout.plain(problem, "    ", first="  - ")
        lines.append("")
    for practice in report.practices:
        lines += _practice_lines(practice, layout)
    lines += _manual_lines(report, layout)
    return "\n".join(lines).rstrip() + "\n"


def _manual_lines(report: Report, layout: _Layout) -> list[str]:
    """IT's checks done by hand, apart: not evaluated (or how many IT's setting left out)."""
    instructions, paint = layout.instructions, layout.painter.paint
    left_out = report.manual_checks_left_out
    if left_out:
        return ["", paint(instructions.plural("manualLeftOut", left_out), DIM)]
    count = len(report.manual_checks)
    if not count:
        return []
    lines = ["", paint(f"{_MANUAL_SYMBOL} {instructions.plural('manualCount', count)}", BOLD)]
    for directions, checks in _by_directions(report.manual_checks):
        for check in checks:
            lines += layout.plain(check.title, "    ", first="  - ")
        if directions:
            lines += layout.markdown(directions, " " * 6)
    return lines


def _by_directions(checks: tuple[ManualCheck, ...]) -> list[tuple[str, list[ManualCheck]]]:
    """Return the checks grouped by their directions, in the order each text first appears."""
    groups: dict[str, list[ManualCheck]] = {}
    for check in checks:
        groups.setdefault(check.directions.strip(), []).append(check)
    return list(groups.items())


def _practice_lines(practice: PracticeResult, layout: _Layout) -> list[str]:
    """One practice: status, title and rating; the summary; IT's why; the directions.

    The summary is core's plain sentence for the person; where a report has none (written
    before core wrote them) what was seen, or why it could not be checked, stands instead.
    Details (what the check saw as measured, the policy as written, the check's rows) follow,
    dimmed, with `details`; IT's reason for a mistake in its query is always there, dimmed.
    """
    instructions = layout.instructions
    status = practice.status_text or instructions.status_name(practice.status)
    rating = practice.rating_text if practice.status_text else ""
    head = layout.status(practice.status, f"{_SYMBOLS[practice.status]} {status:<15}")
    title = [Piece((Fragment(practice.title),))]
    if rating:
        title.append(Piece((Fragment(" "), Fragment(f"({rating})", frozenset({DIM}))), True))
    lines = wrap_pieces(title, layout.width, _INDENT, _INDENT, layout.painter)
    lines[0] = f"{head} {lines[0][len(_INDENT) :]}"  # the status, as wide as the indent
    if practice.practice == CUSTOM_PRACTICE and practice.status is not Status.PASS:
        lines += layout.markdown(practice.description, _INDENT)  # IT's why, where it gave one
    if practice.summary:
        lines += layout.plain(practice.summary, _INDENT)
    elif practice.unknown_by_query_mistake():
        lines += layout.markdown(instructions.string("queryMistake"), _INDENT)
    elif practice.status is Status.UNKNOWN:
        reason = instructions.string("couldNotCheck", reason=practice.reason)
        lines += layout.plain(reason, _INDENT)
    elif practice.observed:
        seen = f"{instructions.string('sectionEvidence')}: {practice.observed}"
        lines += layout.plain(seen, _INDENT, DIM)
    if layout.details and practice.details:
        for detail in practice.details:
            lines += layout.plain(detail, _INDENT + "  ", DIM, first=_INDENT + "· ")
    elif practice.unknown_by_query_mistake():
        for_it = instructions.string("queryMistakeForIt", reason=practice.reason)
        lines += layout.plain(for_it, _INDENT, DIM)
    if practice.status in (Status.FAIL, Status.NUDGE) and practice.directions:
        lines += layout.markdown(practice.directions, _INDENT + "  ")
    return lines


def _heading(organization: str) -> str:
    """Return the report's first line: the organization only where config.yaml names one."""
    named = organization_named(organization)
    return f"Stethoscope Desktop — {named}" if named else "Stethoscope Desktop"
