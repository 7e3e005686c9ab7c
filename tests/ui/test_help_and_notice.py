"""Help, IT's notice and Copy debug info, in the tray menu and the window (offscreen).

IT's config.yaml names help links, the all-devices page and a notice; the worker sends them
with the report; the tray and the window offer them and open links with the desktop's handler.
Copy debug info puts the report, the versions, the platform and the policy sources on the
clipboard, from the tray or the window, before the first report too.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, QUrl
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from stethoscope_desktop import __version__
from stethoscope_desktop.app import StethoscopeApp
from stethoscope_desktop.core.support import HelpLink, Notice, Support
from stethoscope_desktop.ui.window import WINDOW_SIZE, MainWindow
from tests.ui.reports import practices
from tests.ui.test_app import (
    SwitchableFirewall,
    build_app,
    listed_texts,
    menu_action,
    menu_texts,
    notifier_of,
    scanner_of,
)

IT_CONFIG = """\
organization: Example Corp
menu:
  help:
    - label: Email Support
      link: helpdesk@example.org
    - label: Chat with IT
      link: "slack://channel?id=C0&team=T0"
stethoscopeWebURI: https://devices.example.org/mine
deprecationNotice:
  heading: This app moves to a new home
  subHeading: Install the new checkup app before June.
  linkUrl: https://intranet.example.org/new-checkup
  linkText: How to install it
"""


@pytest.fixture
def firewall() -> SwitchableFirewall:
    return SwitchableFirewall()


@pytest.fixture
def opened() -> list[QUrl]:
    return []


def it_folder_with(tmp_path: Path, config: str) -> Path:
    folder = tmp_path / "it"
    folder.mkdir()
    (folder / "policy.yaml").write_text("firewall: ALWAYS\n")
    (folder / "config.yaml").write_text(config)
    return folder


@pytest.fixture
def tray_app(
    qtbot: QtBot, tmp_path: Path, firewall: SwitchableFirewall, opened: list[QUrl]
) -> Iterator[StethoscopeApp]:
    app = build_app(
        qtbot, tmp_path, firewall, it_folder_with(tmp_path, IT_CONFIG),
        tray_available=True, open_link=opened.append,
    )  # fmt: skip
    yield app
    app.shutdown()


def started(qtbot: QtBot, app: StethoscopeApp) -> StethoscopeApp:
    with qtbot.waitSignal(app.scans.report_ready, timeout=10_000):
        app.start()
    return app


def help_links(app: StethoscopeApp) -> list[tuple[str, str]]:
    """Return the Help bar's links as (text, target), read from the label's rich text."""
    return [
        (html.unescape(text), html.unescape(url))
        for url, text in re.findall(r'<a href="([^"]*)">([^<]*)</a>', app.window.help_links.text())
    ]


# -- the tray menu ------------------------------------------------------------------------------


def test_the_tray_menu_has_its_help_and_its_notice(qtbot: QtBot, tray_app: StethoscopeApp) -> None:
    started(qtbot, tray_app)
    texts = menu_texts(tray_app)
    assert "⚠ This app moves to a new home" in texts[:5]
    start = texts.index("Help")
    assert texts[start : start + 7] == [
        "Help", "  Email Support", "  Chat with IT", "  See all your devices", "  ",
        "  Copy debug info", f"  Stethoscope Desktop {__version__}",
    ]  # fmt: skip
    assert texts[-2:] == ["", "Quit"]
    assert not menu_action(tray_app, "Stethoscope Desktop ").isEnabled()


def test_help_entries_open_with_the_desktops_handler(
    qtbot: QtBot, tray_app: StethoscopeApp, opened: list[QUrl]
) -> None:
    started(qtbot, tray_app)
    menu_action(tray_app, "Email Support").trigger()
    menu_action(tray_app, "Chat with IT").trigger()
    menu_action(tray_app, "See all your devices").trigger()
    menu_action(tray_app, "⚠ This app moves").trigger()
    assert [url.toString() for url in opened] == [
        "mailto:helpdesk@example.org",
        "slack://channel?id=C0&team=T0",
        "https://devices.example.org/mine",
        "https://intranet.example.org/new-checkup",
    ]


def test_a_notice_without_a_link_is_a_line_that_does_nothing(
    qtbot: QtBot, tmp_path: Path, firewall: SwitchableFirewall
) -> None:
    folder = it_folder_with(tmp_path, "deprecationNotice:\n  subHeading: Retired in June.\n")
    app = build_app(qtbot, tmp_path, firewall, folder, tray_available=True)
    try:
        started(qtbot, app)
        assert not menu_action(app, "⚠ Retired in June.").isEnabled()
        assert menu_texts(app)[menu_texts(app).index("Help") + 1] == "  Copy debug info"
    finally:
        app.shutdown()


def test_the_help_menu_speaks_the_persons_language(
    qtbot: QtBot, tmp_path: Path, firewall: SwitchableFirewall
) -> None:
    folder = it_folder_with(tmp_path, IT_CONFIG)
    app = build_app(qtbot, tmp_path, firewall, folder, tray_available=True, language="de")
    try:
        started(qtbot, app)
        texts = menu_texts(app)
        start = texts.index("Hilfe")
        assert texts[start + 3 : start + 6] == [
            "  Alle Ihre Geräte ansehen", "  ", "  Debug-Informationen kopieren",
        ]  # fmt: skip
    finally:
        app.shutdown()


def test_copy_debug_info_from_the_tray_fills_the_clipboard_and_says_so(
    qtbot: QtBot, tray_app: StethoscopeApp
) -> None:
    started(qtbot, tray_app)
    QGuiApplication.clipboard().clear()
    menu_action(tray_app, "Copy debug info").trigger()
    text = QGuiApplication.clipboard().text()
    assert text.startswith("Stethoscope Desktop debug info, ")
    assert text.splitlines()[1:] == tray_app.debug_info().splitlines()[1:], "but for the time"
    assert notifier_of(tray_app).shown[-1] == (
        "Debug info copied to the clipboard",
        "Paste it into your message to IT support.",
    )


# -- the window ---------------------------------------------------------------------------------


def test_the_window_shows_its_notice_as_a_banner_on_top(
    qtbot: QtBot, tray_app: StethoscopeApp, opened: list[QUrl]
) -> None:
    started(qtbot, tray_app)
    window = tray_app.window
    window.show()
    assert window.it_notice.isVisible()
    assert window.it_notice_heading.text() == "This app moves to a new home"
    assert window.it_notice_text.text() == "Install the new checkup app before June."
    assert window.it_notice_link.text() == "How to install it"
    page = window.column.layout()
    assert page.itemAt(0).widget() is window.it_notice, "above the banner and the cards"
    window.it_notice_link.click()
    assert opened == [QUrl("https://intranet.example.org/new-checkup")]


def test_the_window_has_a_help_bar_with_its_links(
    qtbot: QtBot, tray_app: StethoscopeApp, opened: list[QUrl]
) -> None:
    started(qtbot, tray_app)
    window = tray_app.window
    window.show()
    assert window.help_links.isVisible() and "<b>Help</b> &nbsp;" in window.help_links.text()
    assert help_links(tray_app) == [
        ("Email Support", "mailto:helpdesk@example.org"),
        ("Chat with IT", "slack://channel?id=C0&team=T0"),
        ("See all your devices", "https://devices.example.org/mine"),
    ]
    window.help_links.linkActivated.emit(help_links(tray_app)[1][1])
    assert opened == [QUrl("slack://channel?id=C0&team=T0")]
    assert window.copy_debug_info.text() == "Copy debug info"


def test_copy_debug_info_from_the_window(qtbot: QtBot, tray_app: StethoscopeApp) -> None:
    started(qtbot, tray_app)
    window = tray_app.window
    window.show()
    QGuiApplication.clipboard().clear()
    assert not window.copied.isVisible()
    window.copy_debug_info.click()
    text = QGuiApplication.clipboard().text()
    assert "Policy sources (in force, lowest layer first)" in text
    assert (
        window.copied.isVisible() and window.copied.text() == "Debug info copied to the clipboard"
    )
    assert notifier_of(tray_app).shown == [], "the window says it itself"


def test_the_debug_info_holds_report_versions_platform_and_sources(
    qtbot: QtBot, tmp_path: Path, firewall: SwitchableFirewall
) -> None:
    firewall.enabled = 0
    folder = it_folder_with(
        tmp_path, IT_CONFIG + "testHosts:\n  - url: https://login.example.org\n"
    )
    app = build_app(qtbot, tmp_path, firewall, folder)
    try:
        started(qtbot, app)
        app.window.copy_debug_info.click()
        text = QGuiApplication.clipboard().text()
        report = app.scans.last_report()
        assert report is not None
        assert f"Stethoscope Desktop {__version__}" in text
        assert f"engine: embedded {report.engine.version}" in text
        assert "Python " in text and " · Qt " in text and "system: " in text
        assert f"linux: {report.device.os_name} {report.device.os_version}" in text
        assert str(folder / "config.yaml") in text and str(folder / "policy.yaml") in text
        assert (
            f"{folder / 'config.yaml'}:15: testHosts[0].url: https://login.example.org would be "
            "refused by the local API"
        ) in text
        firewall_line = next(line for line in text.splitlines() if " firewall: " in line)
        assert firewall_line.split()[0] == "FAIL"
        assert f"FAIL: {report.summary}" in text
    finally:
        app.shutdown()


def test_before_the_first_report_help_offers_copy_debug_info_alone(
    qtbot: QtBot, tmp_path: Path, firewall: SwitchableFirewall
) -> None:
    folder = it_folder_with(tmp_path, IT_CONFIG)
    app = build_app(qtbot, tmp_path, firewall, folder, tray_available=True)
    try:
        texts = menu_texts(app)
        assert not any(text.startswith("⚠") for text in texts)
        start = texts.index("Help")
        assert texts[start + 1 : start + 3] == [
            "  Copy debug info", f"  Stethoscope Desktop {__version__}",
        ]  # fmt: skip
        window = app.window
        assert not window.it_notice.isVisibleTo(window)
        assert window.help_links.text() == "" and help_links(app) == []
        menu_action(app, "Copy debug info").trigger()
        text = QGuiApplication.clipboard().text()
        assert "no report yet: the first check has not finished" in text
        assert f"Stethoscope Desktop {__version__}" in text
    finally:
        app.shutdown()


@pytest.mark.allow_warnings
def test_after_a_failed_check_the_debug_info_says_why(
    qtbot: QtBot, tmp_path: Path, firewall: SwitchableFirewall
) -> None:
    app = build_app(qtbot, tmp_path, firewall, it_folder_with(tmp_path, "organization: X\n"))
    try:
        scanner_of(app).failure = "the engine fell over"
        with qtbot.waitSignal(app.scans.scan_failed, timeout=10_000):
            app.start()
        assert "no report: the last check failed: the engine fell over" in app.debug_info()
    finally:
        app.shutdown()


def test_a_new_report_without_a_notice_takes_the_banner_away(
    qtbot: QtBot, tray_app: StethoscopeApp, tmp_path: Path
) -> None:
    started(qtbot, tray_app)
    window = tray_app.window
    window.show()
    assert window.it_notice.isVisible()
    (tmp_path / "it" / "config.yaml").write_text("organization: Example Corp\n")
    with qtbot.waitSignal(tray_app.scans.report_ready, timeout=10_000):
        window.check_again.click()
    assert not window.it_notice.isVisible()
    assert help_links(tray_app) == []
    assert not any(text.startswith("⚠") for text in menu_texts(tray_app))


# -- the menu is current before it opens --------------------------------------------------------


def test_the_menu_is_current_without_being_opened(qtbot: QtBot, tray_app: StethoscopeApp) -> None:
    assert "⚠ This app moves to a new home" not in listed_texts(tray_app)
    started(qtbot, tray_app)
    texts = listed_texts(tray_app)
    assert "⚠ This app moves to a new home" in texts and "  Email Support" in texts
    assert any(text.startswith("Last checked ") for text in texts)


def test_a_snooze_from_the_menu_shows_in_the_menu_at_once(
    qtbot: QtBot, tray_app: StethoscopeApp
) -> None:
    started(qtbot, tray_app)
    menu_action(tray_app, "For 1 hour").trigger()
    qtbot.waitUntil(
        lambda: any(text.startswith("  Snoozed until") for text in listed_texts(tray_app))
    )


def test_opening_the_menu_rebuilds_it_only_when_something_changed_unseen(
    qtbot: QtBot, tray_app: StethoscopeApp
) -> None:
    started(qtbot, tray_app)
    assert tray_app.tray is not None
    before = tray_app.tray.menu.actions()[0]
    tray_app.tray.menu.aboutToShow.emit()
    assert tray_app.tray.menu.actions()[0] is before, "nothing changed: the same menu"
    tray_app.notifications.snooze("4h")  # not through the menu: the tray is not told
    tray_app.tray.menu.aboutToShow.emit()
    assert any(text.startswith("  Snoozed until") for text in listed_texts(tray_app))


def test_rebuilding_the_menu_leaves_nothing_behind(qtbot: QtBot, tray_app: StethoscopeApp) -> None:
    started(qtbot, tray_app)
    tray = tray_app.tray
    assert tray is not None
    tray.rebuild_menu()
    qtbot.wait(10)  # deleteLater's
    before = len(tray.menu.findChildren(QObject))
    for _ in range(50):
        tray.rebuild_menu()
    qtbot.wait(10)
    assert len(tray.menu.findChildren(QObject)) == before
    assert listed_texts(tray_app).count("Help") == 1


def test_many_help_links_in_german_never_make_the_window_wider(qtbot: QtBot) -> None:
    window = MainWindow(lambda url: None, quit_on_close=False)
    qtbot.addWidget(window)
    window.set_instructions(practices("de").instructions, "Example Corp")
    links = tuple(
        HelpLink(f"Support-Kanal Nummer {n} für Fragen zur Sicherheit", f"https://it.example/{n}")
        for n in range(8)
    )
    window.set_support(Support(links, "https://devices.example", Notice("Hinweis " * 30)))
    window.show()
    window.show_debug_info_copied()
    assert window.copied.isVisible()
    assert window.minimumSizeHint().width() <= WINDOW_SIZE[0]
    assert window.help_links.text().count("<a href=") == 9
