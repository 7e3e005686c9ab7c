"""The window's design: sizes, chips, focus, commands with Copy, Open settings, Contact IT."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import QEvent, QRect, QSize, Qt, QUrl
from PySide6.QtGui import QFocusEvent, QGuiApplication
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from stethoscope_desktop.core.config import AppConfig
from stethoscope_desktop.core.report import Link, ManualCheck
from stethoscope_desktop.core.status import Status
from stethoscope_desktop.core.strings import UNNAMED_ORGANIZATION, organization_named
from stethoscope_desktop.core.support import HelpLink, Support
from stethoscope_desktop.resources import practices_dir
from stethoscope_desktop.ui.cards import (
    CommandRow,
    PracticeCard,
    Segment,
    parse_directions,
    split_commands,
)
from stethoscope_desktop.ui.icons import PRACTICE_ICONS, practice_icon, practice_icon_path
from stethoscope_desktop.ui.theme import style_sheet
from stethoscope_desktop.ui.window import (
    CONTENT_MAX_WIDTH,
    MINIMUM_SIZE,
    MainWindow,
    fitted_size,
)
from tests.ui.reports import mixed_report, passing_report, practices

DIRECTIONS = """\
1. Open a terminal.
2. Install the firewall with `sudo apt install ufw`.
3. Run `sudo ufw enable`, then check with `sudo ufw status`: it should say "Status: active".
4. Or open [Windows Security](windowsdefender://network) or [Firewall](ms-settings:windowsdefender):
   - Debian: `sudo apt update && sudo apt full-upgrade`
   - Fedora: `sudo dnf upgrade --refresh`
5. If you can't use `sudo`, ask IT.

See the [guide](https://example.com/ufw).
"""


def make_window(qtbot: QtBot, opened: list[QUrl] | None = None, language: str = "en") -> MainWindow:
    links = opened if opened is not None else []
    window = MainWindow(links.append, quit_on_close=False)
    qtbot.addWidget(window)
    window.set_instructions(practices(language).instructions, "Example Corp")
    return window


def test_directions_split_into_numbered_steps_and_paragraphs() -> None:
    blocks = parse_directions(DIRECTIONS)
    assert [block.number for block in blocks] == [1, 2, 3, 4, 5, 0]
    assert blocks[3].markdown.count("\n") == 2  # its list stays with the step
    assert blocks[-1].markdown == "See the [guide](https://example.com/ufw)."


def test_a_command_that_ends_its_line_stands_in_its_place() -> None:
    assert split_commands("Install the firewall with `sudo apt install ufw`.") == [
        Segment("Install the firewall with", False),
        Segment("sudo apt install ufw", True),
    ]


def test_a_sentence_with_commands_inside_stays_whole_and_they_follow_it() -> None:
    text = 'Run `sudo ufw enable`, then check with `sudo ufw status`: it says "active".'
    assert split_commands(text) == [
        Segment(text, False),
        Segment("sudo ufw enable", True),
        Segment("sudo ufw status", True),
    ]


def test_a_single_word_in_code_is_no_command_and_a_code_block_is() -> None:
    assert split_commands("If you can't use `sudo`, ask IT.") == [
        Segment("If you can't use `sudo`, ask IT.", False)
    ]
    assert split_commands("Run:\n\n```\nfreshclam\n```\n") == [
        Segment("Run:", False),
        Segment("freshclam", True),
    ]


def test_steps_have_numbers_commands_with_copy_and_open_settings(qtbot: QtBot) -> None:
    opened: list[QUrl] = []
    window = make_window(qtbot, opened)
    window.show()
    report = mixed_report()
    firewall = report.practice("firewall")
    assert firewall is not None
    window.show_report(
        replace(report, practices=(replace(firewall, directions=DIRECTIONS), *report.practices[1:]))
    )
    card = window.cards.card("firewall")
    assert card is not None and card.directions is not None
    card.set_expanded(True)
    steps = card.directions
    assert steps.numbers == [1, 2, 3, 4, 5]
    assert [row.command for row in steps.commands] == [
        "sudo apt install ufw",
        "sudo ufw enable",
        "sudo ufw status",
        "sudo apt update && sudo apt full-upgrade",
        "sudo dnf upgrade --refresh",
    ]
    for row in steps.commands:
        assert row.copy.accessibleName() == f"Copy: {row.command}"
    QGuiApplication.clipboard().clear()
    steps.commands[3].copy.click()
    assert QGuiApplication.clipboard().text() == "sudo apt update && sudo apt full-upgrade"
    assert steps.commands[3].copy.text() == "Copied"
    # Settings deep links get a button each; the web link does not.
    assert [button.property("url") for button in steps.settings_buttons] == [
        "windowsdefender://network",
        "ms-settings:windowsdefender",
    ]
    assert steps.settings_buttons[1].text() == "Open settings: Firewall"
    steps.settings_buttons[1].click()
    assert opened == [QUrl("ms-settings:windowsdefender")]


def test_contact_it_opens_its_first_help_link_and_is_absent_without_one(qtbot: QtBot) -> None:
    opened: list[QUrl] = []
    window = make_window(qtbot, opened)
    window.show_report(mixed_report())
    card = window.cards.card("firewall")
    assert card is not None and card.contact is None
    window.set_support(Support((HelpLink("Email IT", "mailto:it@example.com"),)))
    card = window.cards.card("firewall")
    assert card is not None and card.contact is not None
    assert card.contact.text() == "Contact IT"
    card.contact.click()
    assert opened == [QUrl("mailto:it@example.com")]
    passing = window.cards.card("diskEncryption")
    assert passing is not None and passing.contact is None  # nothing to fix there


def test_details_are_collapsed_and_hold_the_evidence(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    window.show()
    window.show_report(mixed_report())
    card = window.cards.card("remoteLogin")
    assert card is not None and card.details_toggle is not None
    card.set_expanded(True)
    assert not card.evidence.isVisible()
    card.details_toggle.click()
    assert card.evidence.isVisible()
    texts = [label.text() for label in card.evidence.findChildren(type(card.title))]
    assert "What the policy says: NEVER" in texts
    assert any("source = ports" in text for text in texts)


@pytest.mark.parametrize("dark", [False, True])
@pytest.mark.parametrize("language", ["en", "de"])
def test_one_chip_width_and_height_for_every_state(qtbot: QtBot, dark: bool, language: str) -> None:
    window = make_window(qtbot, language=language)
    window.setStyleSheet(style_sheet(dark))
    window.show()
    window.show_report(mixed_report())
    window.cards.section(Status.PASS).set_expanded(True)
    QApplication.processEvents()
    sizes = {card.chip.size() for card in window.cards.cards()}
    assert len(sizes) == 1
    assert {card.chip.property("status") for card in window.cards.cards()} == {
        s.value for s in Status
    }
    # Titles start at one x in every card: the icon before them has one width.
    starts = {
        card.title.mapTo(card, card.title.rect().topLeft()).x() for card in window.cards.cards()
    }
    assert len(starts) == 1


def test_the_rating_shows_only_where_it_orders_what_to_fix(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    window.show()
    window.show_report(mixed_report())
    for card in window.cards.cards():
        # The report's rating in words: beside "Needs attention" only (not "Suggestion ·
        # Critical importance").
        assert card.rating.isVisibleTo(card) == (card.practice.status is Status.FAIL)
        assert card.rating.text() == card.practice.rating_text
    firewall = window.cards.card("firewall")
    assert firewall is not None and firewall.rating.text() == "High importance"


def test_every_practice_has_its_own_icon_that_renders() -> None:
    for practice, name in PRACTICE_ICONS.items():
        path = practice_icon_path(practice)
        assert path.is_file() and path.stem == name
        pixmap = practice_icon(practice, "#123456", 44)
        assert not pixmap.isNull() and pixmap.width() == 44
    assert practice_icon_path("somethingNew").stem == "practice"


def test_keyboard_focus_is_visible_on_the_card(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    window.setStyleSheet(style_sheet(False))
    window.show()
    window.show_report(mixed_report())
    card = window.cards.cards()[0]
    # The offscreen platform gives no window the focus: deliver the events a Tab would.
    reason = Qt.FocusReason.TabFocusReason
    QApplication.sendEvent(card.toggle, QFocusEvent(QEvent.Type.FocusIn, reason))
    assert card.property("focused") is True
    QApplication.sendEvent(card.toggle, QFocusEvent(QEvent.Type.FocusOut, reason))
    assert card.property("focused") is False
    assert '#card[focused="true"]' in style_sheet(False)
    sheet = style_sheet(True)
    for name in ("QPushButton", "#cardToggle", "#sectionToggle", "#checkAgain", "#detailsToggle"):
        assert f"{name}:focus" in sheet


def test_the_window_opens_within_an_800_by_600_screen() -> None:
    size = fitted_size(QRect(0, 0, 800, 568))
    assert size.width() <= 800 - 20 and size.height() <= 568 - 20
    assert fitted_size(QRect(0, 0, 1920, 1040)) == QSize(860, 760)


def test_the_header_never_overlaps_at_the_minimum_size(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    window.setStyleSheet(style_sheet(False))
    window.show()
    window.show_report(mixed_report())
    window.resize(100, 100)
    QApplication.processEvents()
    assert (window.width(), window.height()) >= MINIMUM_SIZE
    header_bottom = window.header.geometry().bottom()
    assert window.scroll_area.geometry().top() > header_bottom
    assert window.overall.height() >= window.overall.heightForWidth(window.overall.width())
    button = window.check_again.geometry()
    words = window.overall.geometry()
    assert not button.intersects(words)
    assert window.check_again.width() >= window.check_again.sizeHint().width()


def test_lines_stay_readable_on_a_wide_window(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    window.show()
    window.show_report(mixed_report())
    window.resize(1900, 1000)
    QApplication.processEvents()
    column = window.cards.parentWidget()
    assert isinstance(column, QWidget)
    assert column.width() <= CONTENT_MAX_WIDTH
    centre = column.mapTo(window, column.rect().center()).x()
    assert abs(centre - window.width() // 2) < 20


@pytest.mark.parametrize(("language", "unnamed"), [("en", "Your organization"), ("de", "Ihre")])
def test_the_window_names_no_organization_when_config_names_none(
    qtbot: QtBot, language: str, unnamed: str
) -> None:
    window = MainWindow(lambda url: None, quit_on_close=False)
    qtbot.addWidget(window)
    report = replace(
        passing_report(),
        manual_checks=(ManualCheck("custom/banner", "Login banner", "", ""),),
    )
    assert report.organization == UNNAMED_ORGANIZATION  # config.yaml's default
    window.set_instructions(practices(language).instructions, report.organization)
    window.show_report(report)
    assert not window.organization.isVisibleTo(window)
    assert window.organization.text() == ""
    # Where a text names the organisation, it says "your organization" in its own language.
    assert window.manual_checks.intro.text().startswith(unnamed)
    if language == "de":
        texts = [label.text() for label in window.findChildren(type(window.overall))]
        assert not [text for text in texts if "Your organization" in text]


def test_the_unnamed_organization_is_one_constant_the_tray_reads_without_config() -> None:
    assert AppConfig().organization == UNNAMED_ORGANIZATION
    assert organization_named(" Example Corp ") == "Example Corp"
    assert organization_named(UNNAMED_ORGANIZATION) == ""
    bundled = (practices_dir() / "config.yaml").read_text()
    assert f"organization: {UNNAMED_ORGANIZATION}" in bundled


def test_every_card_shows_the_reports_plain_summary_and_details(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    window.show_report(mixed_report())
    for card in window.cards.cards():
        practice = card.practice
        assert card.summary is not None and card.summary.text() == practice.summary
        assert [line.text() for line in card.detail_lines] == list(practice.details)
    passing = window.cards.card("diskEncryption")
    assert passing is not None and passing.summary is not None
    assert passing.summary.text() == "Disk encryption: on, as required."


def test_the_chip_says_the_reports_state_and_falls_back_for_an_older_report(
    qtbot: QtBot,
) -> None:
    window = make_window(qtbot, language="de")
    report = mixed_report()
    window.show_report(report)
    firewall = window.cards.card("firewall")
    assert firewall is not None and firewall.chip.text().endswith("Needs attention")  # the report's
    older = replace(
        report,
        practices=tuple(replace(p, status_text="", rating_text="") for p in report.practices),
    )
    window.show_report(older)
    firewall = window.cards.card("firewall")
    assert firewall is not None and firewall.chip.text().endswith("Handlungsbedarf")
    assert firewall.rating.text() == "Wichtigkeit: hoch" and firewall.rating.isVisibleTo(firewall)
    nudge = window.cards.card("osVersion")
    assert nudge is not None and not nudge.rating.isVisibleTo(nudge)


@pytest.mark.parametrize(
    ("language", "one", "several"),
    [
        ("en", ["✕ 1 needs attention", "✓ 1 passing"], ["✕ 2 need attention", "✓ 2 passing"]),
        ("de", ["✕ 1 mit Handlungsbedarf", "✓ 1 erfüllt"], ["✕ 2 mit Handlungsbedarf", "✓ 2 erfüllt"]),
    ],
)  # fmt: skip
def test_the_count_chips_are_counted_strings(
    qtbot: QtBot, language: str, one: list[str], several: list[str]
) -> None:
    window = make_window(qtbot, language=language)
    report = mixed_report()
    firewall, remote = report.practice("firewall"), report.practice("remoteLogin")
    disk, updates = report.practice("diskEncryption"), report.practice("automaticUpdates")
    assert firewall and remote and disk and updates
    for practices_shown, expected in (
        ((firewall, disk), one),
        ((firewall, remote, disk, updates), several),
    ):
        window.show_report(replace(report, practices=practices_shown))
        shown = [label.text() for label in window.counts.values() if label.isVisibleTo(window)]
        assert shown == expected


def test_a_copy_row_alone_copies_its_command(qtbot: QtBot) -> None:
    row = CommandRow("nmcli connection show", practices().instructions)
    qtbot.addWidget(row)
    row.copy.click()
    assert QGuiApplication.clipboard().text() == "nmcli connection show"


def test_a_card_with_no_directions_has_no_steps(qtbot: QtBot) -> None:
    report = mixed_report()
    practice = replace(report.practices[0], directions="", links=(Link("x", "https://x"),))
    card = PracticeCard(practice, practices().instructions, lambda url: None)
    qtbot.addWidget(card)
    assert card.directions is None
