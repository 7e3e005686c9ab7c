"""The window renders a report: order, banner, titles, directions, links, reasons, notices."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QPushButton
from pytestqt.qtbot import QtBot

from stethoscope_desktop.core.status import Status
from stethoscope_desktop.ui.window import MainWindow
from tests.ui.reports import mixed_report, passing_report, practices


def make_window(qtbot: QtBot, opened: list[QUrl] | None = None, language: str = "en") -> MainWindow:
    links = opened if opened is not None else []
    window = MainWindow(links.append, quit_on_close=False)
    qtbot.addWidget(window)
    loaded = practices(language)
    window.set_instructions(loaded.instructions, "Example Corp")
    return window


def test_cards_follow_the_reports_ranking(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    report = mixed_report()
    window.show_report(report)
    assert [card.practice.key for card in window.cards.cards()] == [p.key for p in report.practices]
    statuses = [card.practice.status for card in window.cards.cards()]
    assert statuses[0] is Status.FAIL and statuses[-1] is Status.PASS
    assert [card.title.text() for card in window.cards.cards()] == [
        p.title for p in report.practices
    ]


def test_sections_by_state_with_all_good_collapsed(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    window.show()
    report = mixed_report()
    window.show_report(report)
    for section in window.cards.sections:
        keys = [card.practice.key for card in section.cards]
        assert keys == [p.key for p in report.practices if p.status is section.status]
        assert section.isVisible() == bool(keys)
    titles = [section.toggle.text() for section in window.cards.sections]
    assert titles == [
        "▾  Needs attention  (2)",
        "▾  Suggestions  (2)",
        "▾  Couldn't check  (2)",
        "▸  All good  (7)",
    ]
    all_good = window.cards.section(Status.PASS)
    assert not all_good.is_expanded() and not all_good.body.isVisible()
    assert window.cards.section(Status.FAIL).body.isVisible()


def test_opening_a_practice_from_outside_opens_its_collapsed_section(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    window.show()
    window.show_report(mixed_report())
    window.focus_practice("diskEncryption")
    card = window.cards.card("diskEncryption")
    assert card is not None and card.is_expanded()
    qtbot.waitUntil(card.details.isVisible)
    assert window.cards.section(Status.PASS).is_expanded()


def test_no_banner_when_everything_passes(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    window.show()
    report = passing_report()
    assert report.status is Status.PASS, [(p.key, p.status) for p in report.practices]
    window.show_report(report)
    assert not window.cards.section(Status.FAIL).isVisible()
    assert window.overall.property("status") == "PASS"
    assert window.counts[Status.PASS].text().endswith(f"{len(report.practices)} passing")
    assert not window.counts[Status.FAIL].isVisible()


def test_directions_are_markdown_with_links_opened_by_the_system(qtbot: QtBot) -> None:
    opened: list[QUrl] = []
    window = make_window(qtbot, opened)
    window.show_report(mixed_report())
    firewall = window.cards.card("firewall")
    assert firewall is not None and firewall.directions is not None
    assert firewall.directions.property("markdown") == firewall.practice.directions
    assert all(text.textFormat().name == "RichText" for text in firewall.directions.texts)
    assert firewall.practice.links, "the firewall directions have links"
    html = "".join(text.text() for text in firewall.directions.texts)
    assert f'href="{firewall.practice.links[0].url}"' in html
    firewall.directions.texts[-1].linkActivated.emit(firewall.practice.links[0].url)
    assert opened == [QUrl(firewall.practice.links[0].url)]


def test_unknown_practices_say_why_they_could_not_be_checked(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    window.show_report(mixed_report())
    card = window.cards.card("screenLock")
    assert card is not None and card.summary is not None
    # In plain words on the card (the report's summary); the technical reason in Details.
    assert card.summary.text() == card.practice.summary
    assert "DISPLAY" not in card.summary.text()
    reasons = [line for line in card.detail_lines if "no desktop session" in line.text()]
    assert reasons and reasons[0].text().startswith("Why it couldn't be checked: ")
    assert card.evidence.isAncestorOf(reasons[0])
    assert not card.details_shown()


def test_what_we_saw_shows_the_evidence(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    window.show_report(mixed_report())
    card = window.cards.card("remoteLogin")
    assert card is not None
    texts = [label.text() for label in card.evidence.findChildren(type(card.title))]
    assert texts == list(card.practice.details)  # the report's lines, in its order
    assert "What the check saw: ON (SSH port 22 is listening on 0.0.0.0:22)" in texts


def test_header_says_who_when_and_how(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    report = mixed_report()
    window.show_report(report)
    assert window.organization.text() == "Example Corp"
    assert "laptop-42" in window.device.text() and "Debian GNU/Linux" in window.device.text()
    assert window.last_checked.text().startswith("Last checked ")
    assert " ms" in window.last_checked.text()
    # The state in words (the summary's sentence), its counts beside it as chips: each count
    # said once, in the words the summary's parentheses use.
    assert window.overall.text() == "This device doesn't meet every requirement yet."
    assert report.summary == (
        "This device doesn't meet every requirement yet "
        "(2 need attention, 2 suggestions, 2 couldn't be checked)."
    )
    assert not any(char.isdigit() for char in window.overall.text())
    assert [window.counts[s].text() for s in window.counts if window.counts[s].isVisibleTo(window)] == [
        "✕ 2 need attention", "! 2 suggestions", "? 2 couldn't be checked", "✓ 7 passing"
    ]  # fmt: skip
    window.set_checked_by("Example Login")
    assert "Last checked by Example Login" in window.last_checked.text()


def test_policy_errors_and_running_as_admin_are_visible_notices(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    window.show()
    report = mixed_report()
    broken = replace(
        report,
        policy_problems=("/etc/xdg/stethoscope/policy.yaml:3: firewal: unknown key",),
        policy_problems_summary="IT's settings have a mistake; nothing is wrong with your device.",
        device=replace(report.device, running_as_admin=True),
    )
    window.show_report(broken)
    notice = window.policy_notice
    assert notice.isVisible()
    # A plain line for the person; the file, line and key in its collapsed Details.
    assert notice.summary.text() == broken.policy_problems_summary
    assert "firewal" not in notice.summary.text()
    assert not notice.details.isVisible()
    notice.details_toggle.click()
    assert notice.details.isVisible() and "policy.yaml:3: firewal: unknown key" in (
        notice.details.text()
    )
    assert window.admin_notice.isVisible()
    assert "administrator" in window.admin_label.text()
    window.show_report(report)
    assert not window.policy_notice.isVisible() and not window.admin_notice.isVisible()


def test_scanning_shows_progress_and_the_window_stays_usable(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    window.show()
    window.show_report(mixed_report())
    window.set_scanning(True)
    assert window.progress.isVisible() and window.check_again.text() == "Checking…"
    assert window.cards.cards()[0].isEnabled()
    window.set_scanning(False)
    assert not window.progress.isVisible() and window.check_again.text() == "Check again"
    with qtbot.waitSignal(window.check_again_requested):
        window.check_again.click()


def test_closing_hides_to_the_tray_or_quits_without_one(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    window.show()
    window.close()
    assert not window.isVisible()
    quitting = MainWindow(lambda url: None, quit_on_close=True)
    qtbot.addWidget(quitting)
    quitting.show()
    assert quitting.close()


def test_every_control_has_an_accessible_name(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    window.show()
    window.show_report(mixed_report())
    for card in window.cards.cards():
        card.set_expanded(True)
        assert card.toggle.accessibleName().startswith(card.practice.title)
        assert card.chip.accessibleName()
    assert window.check_again.accessibleName() == "Check again"
    assert window.overall.accessibleName() == window.overall.text()
    for section in window.cards.sections:
        assert section.toggle.accessibleName().startswith(section.title())
    buttons = window.findChildren(QPushButton)
    assert buttons
    for button in buttons:
        if button.isVisibleTo(window):
            assert button.accessibleName() or button.text(), button.objectName()


def test_expanded_cards_stay_expanded_across_reports(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    window.show_report(mixed_report())
    card = window.cards.card("firewall")
    assert card is not None
    card.set_expanded(True)
    window.show_report(mixed_report())
    again = window.cards.card("firewall")
    assert again is not None and again is not card and again.is_expanded()


def test_german_texts(qtbot: QtBot) -> None:
    window = make_window(qtbot, language="de")
    window.show_report(mixed_report())
    loaded = practices("de")
    assert window.check_again.text() == loaded.instructions.strings["checkAgain"] != "Check again"
