"""Text from the machine or from IT shows as it is in the window, never rendered as HTML.

A saved Wi-Fi name, an app name, a device name, a reason, IT's titles: anyone who names a
network or an app chooses these, and QLabel's automatic format would render `<h1>…` or
`<a href=…>` in them. Only our own rich text (the help links) and the directions (Markdown we
render, with raw HTML shown as text) are rich text.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from stethoscope_desktop.core.report import ManualCheck, Report
from stethoscope_desktop.core.status import Status
from stethoscope_desktop.ui.cards import directions_label
from stethoscope_desktop.ui.window import MainWindow
from tests.ui.reports import mixed_report
from tests.ui.test_window import make_window

SSID = '<h1>big</h1><a href="https://evil.example/">open networks saved</a>'
APP = "<b>Evil</b> <img src='file:///etc/passwd'> App"
REASON = "<h2>cannot read</h2> <i>dconf</i>"
TITLE = "<a href='https://evil.example/'>Firewall</a> <u>title</u>"
DEVICE = "<h1>host</h1>"
RAW_HTML_DIRECTIONS = (
    "1. Open [Settings](https://example.org/settings).\n"
    "2. <a href=\"https://evil.example/\">Click here</a> <img src='https://evil.example/x.png'>\n"
    "\n<h1>Shouting</h1>\n"
)


def hostile_report() -> Report:
    """The mixed report, with HTML in every text that comes from the machine or from IT."""
    report = mixed_report()
    practices = []
    for practice in report.practices:
        if practice.status is Status.FAIL:
            practice = replace(
                practice,
                title=TITLE,
                observed=f"open networks saved: {SSID}; {APP}",
                summary=f"{APP} is installed.",
                details=(f"What the check saw: open networks saved: {SSID}; {APP}",),
                directions=RAW_HTML_DIRECTIONS,
            )
        elif practice.status is Status.UNKNOWN:
            practice = replace(
                practice,
                title=TITLE,
                reason=REASON,
                details=(f"Why it couldn't be checked: {REASON}",),
                status_text=APP,
            )
        practices.append(practice)
    manual = ManualCheck(
        key="custom/html", title=TITLE, description=APP, directions=RAW_HTML_DIRECTIONS
    )
    return replace(
        report,
        practices=tuple(practices),
        device=replace(report.device, device_name=DEVICE),
        summary=f"{report.summary} {APP}",
        manual_checks=(manual,),
        policy_problems=(f"/etc/xdg/stethoscope/policy.yaml:3: {APP}: unknown key",),
        policy_problems_summary=APP,
    )


def rich_labels(window: MainWindow) -> list[QLabel]:
    return [
        label
        for label in window.findChildren(QLabel)
        if label.textFormat() is not Qt.TextFormat.PlainText
    ]


def test_machine_and_it_text_shows_literally_in_every_label(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    window.show_report(hostile_report())
    window.manual_checks.toggle.click()
    cards = window.cards.cards()
    failing = [card for card in cards if card.practice.status is Status.FAIL]
    unknown = [card for card in cards if card.practice.status is Status.UNKNOWN]
    assert failing and unknown
    for card in failing + unknown:
        assert card.title.textFormat() is Qt.TextFormat.PlainText
        assert card.title.text() == TITLE
    texts = {label.text(): label for label in window.findChildren(QLabel)}
    observed = f"What the check saw: open networks saved: {SSID}; {APP}"
    assert texts[observed].textFormat() is Qt.TextFormat.PlainText
    assert texts[f"{APP} is installed."].textFormat() is Qt.TextFormat.PlainText
    notice = window.policy_notice  # IT's file problems: the plain line and its Details
    assert notice.summary.text() == APP and APP in notice.details.text()
    assert notice.summary.textFormat() is notice.details.textFormat() is Qt.TextFormat.PlainText
    reasons = [text for text in texts if REASON in text]
    assert reasons and all(texts[t].textFormat() is Qt.TextFormat.PlainText for t in reasons)
    assert any(card.chip.text().endswith(APP) for card in unknown)
    assert all(card.chip.textFormat() is Qt.TextFormat.PlainText for card in unknown)
    assert window.device.textFormat() is Qt.TextFormat.PlainText
    assert window.device.text().startswith(DEVICE)
    assert window.overall.textFormat() is Qt.TextFormat.PlainText
    item = window.manual_checks.items[0]
    assert item.title.textFormat() is Qt.TextFormat.PlainText and item.title.text() == TITLE
    # Only our own rich text: the help links and the directions we render.
    steps = [text for card in cards if card.directions for text in card.directions.texts]
    allowed = {window.help_links, *steps, item.directions}
    assert [label.text()[:60] for label in rich_labels(window) if label not in allowed] == []


def test_raw_html_in_markdown_directions_is_shown_as_text_not_rendered(qtbot: QtBot) -> None:
    clicked: list[str] = []
    label = directions_label(RAW_HTML_DIRECTIONS, clicked.append)
    qtbot.addWidget(label)
    html = label.text()
    assert label.textFormat() is Qt.TextFormat.RichText
    assert 'href="https://example.org/settings"' in html  # Markdown's own link stays a link
    assert "evil.example" in html  # shown ...
    assert 'href="https://evil.example/"' not in html  # ... but never as a link
    assert "<img" not in html and "<h1" not in html
    assert "&lt;h1&gt;Shouting&lt;/h1&gt;" in html
    assert "&lt;img src=" in html


def test_directions_in_the_window_do_not_inject_html(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    window.show_report(hostile_report())
    window.manual_checks.toggle.click()
    failing = [card for card in window.cards.cards() if card.practice.status is Status.FAIL]
    shown = [
        "".join(text.text() for text in card.directions.texts)
        for card in failing
        if card.directions
    ]
    assert len(shown) == len(failing)
    manual = window.manual_checks.items[0].directions
    assert manual is not None
    for html in [*shown, manual.text()]:
        assert 'href="https://evil.example/"' not in html
        assert "<img" not in html and "&lt;h1&gt;Shouting" in html
