"""The window renders a report: order, banner, titles, directions, links, reasons, notices."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QUrl
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


def test_the_banner_gathers_the_critical_problems_and_clicking_one_opens_its_card(
    qtbot: QtBot,
) -> None:
    window = make_window(qtbot)
    window.show()
    report = mixed_report()
    window.show_report(report)
    assert window.banner.isVisible()
    links = [window.banner_links.itemAt(i).widget() for i in range(window.banner_links.count())]
    assert [link.accessibleName() for link in links] == [p.title for p in report.critical()]
    assert (
        window.banner_title.text()
        == f"{len(report.critical())} critical problems need your attention"
    )
    firewall = window.cards.card("firewall")
    assert firewall is not None and not firewall.is_expanded()
    next(link for link in links if link.accessibleName() == firewall.practice.title).click()
    assert firewall.is_expanded()
    qtbot.waitUntil(firewall.details.isVisible)


def test_no_banner_when_everything_passes(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    window.show()
    report = passing_report()
    assert report.status is Status.PASS, [(p.key, p.status) for p in report.practices]
    window.show_report(report)
    assert not window.banner.isVisible()
    assert window.overall.property("status") == "PASS"


def test_directions_are_markdown_with_links_opened_by_the_system(qtbot: QtBot) -> None:
    opened: list[QUrl] = []
    window = make_window(qtbot, opened)
    window.show_report(mixed_report())
    firewall = window.cards.card("firewall")
    assert firewall is not None and firewall.directions is not None
    assert firewall.directions.textFormat().name == "RichText"  # Markdown rendered by us
    assert firewall.directions.property("markdown") == firewall.practice.directions
    assert firewall.practice.links, "the firewall directions have links"
    assert f'href="{firewall.practice.links[0].url}"' in firewall.directions.text()
    firewall.directions.linkActivated.emit(firewall.practice.links[0].url)
    assert opened == [QUrl(firewall.practice.links[0].url)]


def test_unknown_practices_say_why_they_could_not_be_checked(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    window.show_report(mixed_report())
    card = window.cards.card("screenLock")
    assert card is not None and card.reason is not None
    assert card.reason.text().startswith("Couldn't check: no desktop session")


def test_what_we_saw_shows_the_evidence(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    window.show_report(mixed_report())
    card = window.cards.card("remoteLogin")
    assert card is not None
    texts = [label.text() for label in card.details.findChildren(type(card.title))]
    assert any(text == "What we saw" for text in texts)
    assert any("SSH port 22 is listening" in text for text in texts)


def test_header_says_who_when_and_how(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    report = mixed_report()
    window.show_report(report)
    assert window.organization.text() == "Example Corp"
    assert "laptop-42" in window.device.text() and "Debian GNU/Linux" in window.device.text()
    assert window.last_checked.text().startswith("Last checked ")
    assert " ms" in window.last_checked.text()
    assert report.summary in window.overall.text()
    window.set_checked_by("Example Login")
    assert "Last checked by Example Login" in window.last_checked.text()


def test_policy_errors_and_running_as_admin_are_visible_notices(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    window.show()
    report = mixed_report()
    broken = replace(
        report,
        policy_problems=("/etc/xdg/stethoscope/policy.yaml:3: firewal: unknown key",),
        device=replace(report.device, running_as_admin=True),
    )
    window.show_report(broken)
    assert window.policy_notice.isVisible()
    assert "firewal: unknown key" in window.policy_label.text()
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
    window.show_report(mixed_report())
    for card in window.cards.cards():
        assert card.toggle.accessibleName().startswith(card.practice.title)
        assert card.chip.accessibleName()
    assert window.check_again.accessibleName() == "Check again"


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
