"""The window's cards of IT's checks: a query's mistake in the employee's words, IT's why.

The report is a real scan of the bundled practices with IT's checks (tests/core's
`it_checks_report`); the window runs offscreen.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from stethoscope_desktop.ui.cards import PracticeCard
from stethoscope_desktop.ui.window import MainWindow
from tests.core.test_it_check_wording import COLUMN_REASON, MISTAKE, it_checks_report
from tests.ui.reports import practices


def shown_window(qtbot: QtBot, tmp_path: Path, language: str = "en") -> MainWindow:
    window = MainWindow(lambda url: None, quit_on_close=False)
    qtbot.addWidget(window)
    window.set_instructions(practices(language).instructions, "Example Corp")
    window.show_report(it_checks_report(tmp_path))
    return window


def label_texts(card: PracticeCard) -> list[str]:
    return [label.text() for label in card.details.findChildren(QLabel)]


def test_a_query_mistake_tells_the_employee_and_keeps_its_reason_for_it(
    qtbot: QtBot, tmp_path: Path
) -> None:
    card = shown_window(qtbot, tmp_path).cards.card(MISTAKE)
    assert card is not None and card.summary is not None and card.reason_for_it is not None
    assert card.summary.text() == (
        "IT's check has a mistake, so it could not run. Nothing is wrong with your device; "
        "you may tell IT."
    )
    assert card.reason_for_it.text() == f"For IT: {COLUMN_REASON}"
    assert card.reason_for_it.objectName() == "reasonForIt"  # smaller, muted (style.qss)
    assert card.reason_for_it.property("muted") is True
    assert not any(text.startswith("Couldn't check") for text in label_texts(card))


def test_a_fact_the_device_cannot_give_keeps_couldnt_check(qtbot: QtBot, tmp_path: Path) -> None:
    card = shown_window(qtbot, tmp_path).cards.card("custom/password-hashes-are-strong")
    assert card is not None and card.reason is not None and card.reason_for_it is None
    assert card.reason.text().startswith("Couldn't check: needs osquery: table shadow")


def test_in_german_the_mistake_is_worded_in_german(qtbot: QtBot, tmp_path: Path) -> None:
    card = shown_window(qtbot, tmp_path, "de").cards.card(MISTAKE)
    assert card is not None and card.summary is not None and card.reason_for_it is not None
    assert card.summary.text().startswith("Die Prüfung der IT enthält einen Fehler")
    assert card.reason_for_it.text() == f"Für die IT: {COLUMN_REASON}"


def test_its_description_is_the_cards_why(qtbot: QtBot, tmp_path: Path) -> None:
    card = shown_window(qtbot, tmp_path).cards.card("custom/ubuntu-pro-attachment-status")
    assert card is not None
    texts = label_texts(card)
    why = texts.index("Why it matters")
    assert texts[why + 1] == "Ubuntu Pro brings security fixes for ten years."
    assert "the query returned no rows" in texts
