"""The window's section of IT's checks done by hand: apart from the cards, collapsed, IT's texts."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from pytestqt.qtbot import QtBot

from stethoscope_desktop.core.report import Report
from stethoscope_desktop.ui.window import MainWindow
from tests.core.test_custom_checks import scan
from tests.core.test_manual_checks import MANUAL_KEYS, MANUAL_NAMES, benchmark_practices
from tests.ui.reports import passing_report
from tests.ui.reports import practices as bundled_practices


def window_with(
    qtbot: QtBot, tmp_path: Path, config: str = "", language: str = "en"
) -> tuple[MainWindow, Report, list[QUrl]]:
    opened: list[QUrl] = []
    window = MainWindow(opened.append, quit_on_close=False)
    qtbot.addWidget(window)
    practices = benchmark_practices(tmp_path, config)
    strings = (
        practices.instructions if language == "en" else bundled_practices(language).instructions
    )
    window.set_instructions(strings, "Example Corp")
    report = scan(practices)
    window.show()
    window.show_report(report)
    return window, report, opened


def test_the_section_sits_below_the_cards_collapsed_with_its_count(
    qtbot: QtBot, tmp_path: Path
) -> None:
    window, report, _ = window_with(qtbot, tmp_path)
    section = window.manual_checks
    assert section.isVisible()
    assert section.toggle.text() == "▸  Check by hand (3)"
    assert not section.is_expanded() and not section.details.isVisible()
    # Not among the ranked cards, and below them on the page.
    assert not set(MANUAL_KEYS) & {card.practice.key for card in window.cards.cards()}
    assert section.y() > window.cards.y()
    assert [card.practice.key for card in window.cards.cards()] == [p.key for p in report.practices]


def test_opened_it_lists_each_title_and_its_resolution_with_links(
    qtbot: QtBot, tmp_path: Path
) -> None:
    window, _, opened = window_with(qtbot, tmp_path)
    section = window.manual_checks
    section.toggle.click()
    qtbot.waitUntil(section.details.isVisible)
    assert section.toggle.text() == "▾  Check by hand (3)"
    assert "Example Corp lists these checks" in section.intro.text()
    assert [item.title.text() for item in section.items] == MANUAL_NAMES
    directions = section.items[0].directions
    assert directions is not None and directions.textFormat().name == "RichText"
    assert directions.property("markdown").startswith("Manual: run the benchmark's audit steps")
    assert "Manual: run the benchmark" in directions.text()  # rendered by us from the Markdown
    directions.linkActivated.emit("https://benchmarks.example.org/linux/1.1")
    assert opened == [QUrl("https://benchmarks.example.org/linux/1.1")]
    section.toggle.click()
    assert not section.details.isVisible()


def test_a_new_report_keeps_the_section_open_and_its_items(qtbot: QtBot, tmp_path: Path) -> None:
    window, report, _ = window_with(qtbot, tmp_path)
    window.manual_checks.set_expanded(True)
    items = list(window.manual_checks.items)
    window.show_report(report)
    assert window.manual_checks.is_expanded()
    assert window.manual_checks.items == items


def test_left_out_by_it_the_section_is_one_line_saying_how_many(
    qtbot: QtBot, tmp_path: Path
) -> None:
    window, report, _ = window_with(qtbot, tmp_path, "manualChecks: skip\n")
    section = window.manual_checks
    assert report.manual_checks_left_out == 3
    assert section.isVisible() and not section.toggle.isVisible()
    assert section.left_out.isVisible()
    assert section.left_out.text() == "3 checks by hand left out by IT's setting"
    assert section.items == []


def test_without_checks_by_hand_there_is_no_section(qtbot: QtBot, tmp_path: Path) -> None:
    window, _, _ = window_with(qtbot, tmp_path)
    window.show_report(passing_report())
    assert not window.manual_checks.isVisible()
    assert window.manual_checks.items == []


def test_the_section_speaks_the_reports_language(qtbot: QtBot, tmp_path: Path) -> None:
    window, _, _ = window_with(qtbot, tmp_path, language="de")
    assert window.manual_checks.toggle.text() == "▸  Von Hand zu prüfen (3)"
