"""The window's cards of IT's checks: a query's mistake in the employee's words, IT's why.

The report is a real scan of the bundled practices with IT's checks (tests/core's
`it_checks_report`); the window runs offscreen.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from stethoscope_desktop.core.practices import PracticesLoader, practices_folders
from stethoscope_desktop.core.report import Report
from stethoscope_desktop.resources import practices_dir
from stethoscope_desktop.ui.cards import PracticeCard
from stethoscope_desktop.ui.window import MainWindow
from tests.canned import canned_linux
from tests.core.test_custom_checks import scan, write
from tests.core.test_it_check_wording import COLUMN_REASON, IT_POLICY, MISTAKE, it_checks_report
from tests.ui.reports import practices


def german_report(tmp_path: Path) -> Report:
    """`it_checks_report`, scanned in German (the report's words are in its language)."""
    bundled = (practices_dir() / "policy.yaml").read_text("utf-8")
    machine = write(tmp_path / "it", {"policy.yaml": bundled + IT_POLICY})
    folders = practices_folders(practices_dir(), None, machine=machine, env={})
    tables = canned_linux(systemd_units=[{"id": "ssh.service", "active_state": "active"}])
    return scan(PracticesLoader(folders, "de").load(), tables)


def shown_window(qtbot: QtBot, tmp_path: Path, language: str = "en") -> MainWindow:
    window = MainWindow(lambda url: None, quit_on_close=False)
    qtbot.addWidget(window)
    window.set_instructions(practices(language).instructions, "Example Corp")
    report = it_checks_report(tmp_path) if language == "en" else german_report(tmp_path)
    window.show_report(report)
    return window


def label_texts(card: PracticeCard) -> list[str]:
    return [label.text() for label in card.details.findChildren(QLabel)]


def detail_texts(card: PracticeCard) -> list[str]:
    return [line.text() for line in card.detail_lines]


def test_a_query_mistake_tells_the_employee_and_keeps_its_reason_for_it(
    qtbot: QtBot, tmp_path: Path
) -> None:
    card = shown_window(qtbot, tmp_path).cards.card(MISTAKE)
    assert card is not None and card.summary is not None
    assert card.summary.text() == (
        "IT's check has a mistake, so it could not run. Nothing is wrong with your device; "
        "you may tell IT."
    )
    assert f"For IT: {COLUMN_REASON}" in detail_texts(card)  # in the collapsed Details
    assert all(card.evidence.isAncestorOf(line) for line in card.detail_lines)
    assert not any(text.startswith("Couldn't check") for text in label_texts(card))


def test_a_fact_the_device_cannot_give_keeps_couldnt_check(qtbot: QtBot, tmp_path: Path) -> None:
    card = shown_window(qtbot, tmp_path).cards.card("custom/password-hashes-are-strong")
    assert card is not None and card.summary is not None
    assert card.summary.text().startswith("This check needs osquery")
    assert any(
        text.startswith("Why it couldn't be checked: needs osquery: table shadow")
        for text in detail_texts(card)
    )
    assert not any(text.startswith("For IT:") for text in detail_texts(card))


def test_in_german_the_mistake_is_worded_in_german(qtbot: QtBot, tmp_path: Path) -> None:
    card = shown_window(qtbot, tmp_path, "de").cards.card(MISTAKE)
    assert card is not None and card.summary is not None
    assert card.summary.text().startswith("Die Prüfung der IT enthält einen Fehler")
    assert f"Für die IT: {COLUMN_REASON}" in detail_texts(card)


def test_its_description_is_the_cards_why(qtbot: QtBot, tmp_path: Path) -> None:
    card = shown_window(qtbot, tmp_path).cards.card("custom/ubuntu-pro-attachment-status")
    assert card is not None
    texts = label_texts(card)
    why = texts.index("Why it matters")
    assert texts[why + 1] == "Ubuntu Pro brings security fixes for ten years."
    assert any("the query returned no rows" in text for text in detail_texts(card))
