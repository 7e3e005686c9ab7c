"""The tray app wired together (offscreen): scans on triggers, coalescing, notifications, menu.

Also what it says in its own words: before the first report, and when a scan fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QPixmap, QPixmapCache
from pytestqt.qtbot import QtBot

from stethoscope_desktop import __version__
from stethoscope_desktop.app import StethoscopeApp
from stethoscope_desktop.core.checks import load_checks
from stethoscope_desktop.core.practices import Practices, PracticesFolder, PracticesLoader
from stethoscope_desktop.core.report import Report
from stethoscope_desktop.core.scanner import Scanner
from stethoscope_desktop.core.state import StateStore
from stethoscope_desktop.core.status import Status
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.resources import checks_dir, practices_dir
from stethoscope_desktop.tables.base import QueryContext, Row, TablePlugin
from stethoscope_desktop.ui.icons import TrayIconState
from tests.canned import CannedTable, canned_linux
from tests.ui.fakes import MemoryAutostart, RecordingNotifier, ThreadWorker


class SwitchableFirewall(CannedTable):
    """The firewall table, whose answer a test can change between scans."""

    def __init__(self) -> None:
        super().__init__("stethoscope_firewall")
        self.enabled = 1
        self.delay = 0.0

    def generate(self, context: QueryContext) -> Iterable[Row]:
        self.calls += 1
        time.sleep(self.delay)
        return [{"enabled": self.enabled, "source": "ufw", "detail": f"enabled={self.enabled}"}]


class FlakyScanner(Scanner):
    """A scanner whose scan raises while `failure` is set, as a broken engine would."""

    failure = ""

    def scan(self, practices: Practices) -> Report:
        if self.failure:
            raise RuntimeError(self.failure)
        return super().scan(practices)


@pytest.fixture
def firewall() -> SwitchableFirewall:
    return SwitchableFirewall()


@pytest.fixture
def it_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "it"
    folder.mkdir()
    # IT's policy is the whole policy: here, the bundled one as IT's.
    (folder / "policy.yaml").write_text((practices_dir() / "policy.yaml").read_text())
    return folder


def build_app(
    qtbot: QtBot,
    tmp_path: Path,
    firewall: SwitchableFirewall,
    it_folder: Path,
    *,
    tray_available: bool = False,
    instance: str | None = None,
    api_port: int | None = None,
    api: bool = False,
    language: str = "en",
    open_link: Callable[[QUrl], object] = lambda url: None,
) -> StethoscopeApp:
    """The app on canned tables (the firewall switchable), IT's folder watched, state in tmp.

    Its scanner is a `FlakyScanner` that scans until a test makes it fail; links it opens go to
    `open_link`.
    """
    tables: list[TablePlugin] = [t for t in canned_linux() if t.name != "stethoscope_firewall"]
    tables.append(firewall)
    loader = PracticesLoader(
        [PracticesFolder("bundled", practices_dir()), PracticesFolder("machine", it_folder)],
        language,
    )
    scanner = FlakyScanner(EmbeddedEngine(tables), load_checks(checks_dir()), platform="linux")
    app = StethoscopeApp(
        worker=ThreadWorker(loader, scanner),
        platform="linux",
        store=StateStore(tmp_path / "state" / "state.json"),
        autostart=MemoryAutostart(),
        tray_available=tray_available,
        open_link=open_link,
        notifier=RecordingNotifier(),
        instance=instance,
        api=api or api_port is not None,
        api_port=api_port,
    )
    if not tray_available:
        qtbot.addWidget(app.window)
    return app


@pytest.fixture
def app(
    qtbot: QtBot, tmp_path: Path, firewall: SwitchableFirewall, it_folder: Path
) -> Iterator[StethoscopeApp]:
    app = build_app(qtbot, tmp_path, firewall, it_folder)
    yield app
    app.shutdown()


def loader_of(app: StethoscopeApp) -> PracticesLoader:
    """Return the practices loader of the app's (thread) worker."""
    worker = app._worker
    assert isinstance(worker, ThreadWorker)
    return worker._loader


def scanner_of(app: StethoscopeApp) -> FlakyScanner:
    """Return the scanner of the app's (thread) worker."""
    worker = app._worker
    assert isinstance(worker, ThreadWorker) and isinstance(worker._scanner, FlakyScanner)
    return worker._scanner


def notifier_of(app: StethoscopeApp) -> RecordingNotifier:
    assert isinstance(app.notifier, RecordingNotifier)
    return app.notifier


def test_start_scans_once_and_the_window_shows_the_report(
    qtbot: QtBot, app: StethoscopeApp
) -> None:
    with qtbot.waitSignal(app.scans.report_ready, timeout=10_000):
        app.start()
    assert app.window.isVisible(), "without a tray the window opens at start"
    report = app.window.report()
    assert report is not None and app.window.cards.cards()
    assert app.scans.scans_started == 1
    assert app.timer.isActive() and app.timer.interval() == 60 * 60_000


def test_check_again_runs_a_scan_and_the_window_updates(
    qtbot: QtBot, app: StethoscopeApp, firewall: SwitchableFirewall
) -> None:
    with qtbot.waitSignal(app.scans.report_ready, timeout=10_000):
        app.start()
    assert app.window.report() is not None
    card = app.window.cards.card("firewall")
    assert card is not None and card.practice.status is Status.PASS
    firewall.enabled = 0
    with qtbot.waitSignal(app.scans.report_ready, timeout=10_000):
        app.window.check_again.click()
    card = app.window.cards.card("firewall")
    assert card is not None and card.practice.status is Status.FAIL
    assert app.window.cards.section(Status.FAIL).cards == [card]


def test_triggers_during_a_scan_coalesce_into_one_more(
    qtbot: QtBot, app: StethoscopeApp, firewall: SwitchableFirewall
) -> None:
    with qtbot.waitSignal(app.scans.report_ready, timeout=10_000):
        app.start()
    firewall.delay = 0.3
    reports: list[object] = []
    app.scans.report_ready.connect(lambda result: reports.append(result.report))
    app.scans.request_scan("check again")
    assert app.scans.is_scanning() and not app.window.check_again.isEnabled()
    for reason in ("timer", "policy changed", "check again", "timer"):
        app.scans.request_scan(reason)
    qtbot.waitUntil(lambda: len(reports) == 2, timeout=10_000)
    qtbot.wait(500)
    assert len(reports) == 2, "four triggers during a scan make exactly one more scan"
    assert app.scans.scans_started == 3
    assert not app.scans.is_scanning() and app.window.check_again.isEnabled()


def test_a_change_to_its_policy_file_triggers_a_rescan(
    qtbot: QtBot, app: StethoscopeApp, it_folder: Path
) -> None:
    with qtbot.waitSignal(app.scans.report_ready, timeout=10_000):
        app.start()
    report = app.window.report()
    assert report is not None and report.practice("remoteLogin") is not None
    with qtbot.waitSignal(app.scans.report_ready, timeout=10_000):
        (it_folder / "policy.yaml").write_text("firewall: ALWAYS\nremoteLogin: ALWAYS\n")
    report = app.window.report()
    assert report is not None
    remote = report.practice("remoteLogin")
    assert remote is not None and remote.requirement == "ALWAYS"


def test_a_new_critical_finding_notifies_once(
    qtbot: QtBot, app: StethoscopeApp, firewall: SwitchableFirewall
) -> None:
    with qtbot.waitSignal(app.scans.report_ready, timeout=10_000):
        app.start()
    assert notifier_of(app).shown == []
    firewall.enabled = 0
    with qtbot.waitSignal(app.scans.report_ready, timeout=10_000):
        app.scans.request_scan("check again")
    report = app.window.report()
    assert report is not None
    firewall_title = report.practice("firewall").title  # type: ignore[union-attr]
    assert notifier_of(app).shown == [(firewall_title, notifier_of(app).shown[0][1])]
    with qtbot.waitSignal(app.scans.report_ready, timeout=10_000):
        app.scans.request_scan("timer")
    assert len(notifier_of(app).shown) == 1, (
        "the same finding on the next scan does not notify again"
    )


def test_clicking_a_notification_opens_the_window(qtbot: QtBot, app: StethoscopeApp) -> None:
    with qtbot.waitSignal(app.scans.report_ready, timeout=10_000):
        app.start()
    app.window.hide()
    app.notifier.clicked.emit()
    assert app.window.isVisible()


def test_notify_state_survives_a_restart(
    qtbot: QtBot, tmp_path: Path, firewall: SwitchableFirewall, it_folder: Path
) -> None:
    firewall.enabled = 0

    def one_run() -> list[tuple[str, str]]:
        app = build_app(qtbot, tmp_path, firewall, it_folder)
        with qtbot.waitSignal(app.scans.report_ready, timeout=10_000):
            app.start()
        app.shutdown()
        return notifier_of(app).shown

    assert len(one_run()) == 1
    assert one_run() == [], "a restart does not notify about the same finding again"


@pytest.fixture
def tray_app(
    qtbot: QtBot, tmp_path: Path, firewall: SwitchableFirewall, it_folder: Path
) -> Iterator[StethoscopeApp]:
    app = build_app(
        qtbot, tmp_path, firewall, it_folder,
        tray_available=True, instance=f"stethoscope-test-{tmp_path.name}",
    )  # fmt: skip
    yield app
    app.shutdown()


def menu_action(app: StethoscopeApp, text: str):  # type: ignore[no-untyped-def]
    assert app.tray is not None
    app.tray.rebuild_menu()
    actions = list(app.tray.menu.actions())
    for action in app.tray.menu.actions():
        if action.menu() is not None:
            actions += action.menu().actions()
    found = [a for a in actions if a.text().startswith(text)]
    assert found, [a.text() for a in actions]
    return found[0]


def test_with_a_tray_the_window_waits_hidden_and_the_icon_toggles_it(
    qtbot: QtBot, tray_app: StethoscopeApp
) -> None:
    with qtbot.waitSignal(tray_app.scans.report_ready, timeout=10_000):
        tray_app.start()
    assert tray_app.tray is not None
    assert not tray_app.window.isVisible()
    tray_app.tray.toggle_requested.emit()
    assert tray_app.window.isVisible()
    tray_app.tray.toggle_requested.emit()
    assert not tray_app.window.isVisible()
    tray_app.window.show()
    tray_app.window.close()
    assert not tray_app.window.isVisible(), "closing hides the window to the tray"


def test_tray_tooltip_and_menu(
    qtbot: QtBot, tray_app: StethoscopeApp, firewall: SwitchableFirewall
) -> None:
    firewall.enabled = 0
    with qtbot.waitSignal(tray_app.scans.report_ready, timeout=10_000):
        tray_app.start()
    assert tray_app.tray is not None
    assert tray_app.tray.icon.toolTip().startswith("Stethoscope — 1 needs attention")
    assert menu_action(tray_app, "Last checked ").isEnabled() is False
    assert menu_action(tray_app, "1 needs attention").isEnabled() is False  # the state in words
    menu_action(tray_app, "Open").trigger()
    assert tray_app.window.isVisible()
    with qtbot.waitSignal(tray_app.scans.report_ready, timeout=10_000):
        menu_action(tray_app, "Check again").trigger()


def menu_texts(app: StethoscopeApp) -> list[str]:
    """Return the texts of the tray menu and its submenus, as the tray host shows them."""
    assert app.tray is not None
    app.tray.rebuild_menu()
    return listed_texts(app)


def listed_texts(app: StethoscopeApp) -> list[str]:
    """Return the tray menu's texts as they are now (as a tray host reads it), submenus indented."""
    assert app.tray is not None
    texts = []
    for action in app.tray.menu.actions():
        texts.append(action.text())
        if action.menu() is not None:
            texts += [f"  {sub.text()}" for sub in action.menu().actions()]  # type: ignore[attr-defined]
    return texts


def test_before_the_first_report_the_tray_and_window_speak_english(
    tray_app: StethoscopeApp,
) -> None:
    assert tray_app.tray is not None
    assert tray_app.tray.tooltip() == "Stethoscope — Checking…"
    assert menu_texts(tray_app) == [
        "Open", "Check again", "", "Snooze notifications", "  For 1 hour", "  For 4 hours",
        "  Until tomorrow morning", "Start at login", "Help", "  Copy debug info",
        f"  Stethoscope Desktop {__version__}", "", "Quit",
    ]  # fmt: skip
    tray_app.tray.set_scanning(True)
    assert "Checking…" in menu_texts(tray_app)
    assert tray_app.tray.icon_state() is TrayIconState.SCANNING
    window = tray_app.window
    assert window.check_again.text() == "Check again" and window.overall.text() == "Checking…"


@pytest.mark.allow_warnings
def test_a_failing_scan_is_said_in_words_and_the_next_report_ends_it(
    qtbot: QtBot, tray_app: StethoscopeApp
) -> None:
    assert tray_app.tray is not None
    scanner_of(tray_app).failure = "the engine fell over"
    with qtbot.waitSignal(tray_app.scans.scan_failed, timeout=10_000):
        tray_app.start()
    failed = "Couldn't check this computer: the check ran into an error."
    assert tray_app.tray.tooltip() == f"Stethoscope — {failed}"
    assert tray_app.tray.icon.toolTip() == f"Stethoscope — {failed}"
    assert tray_app.tray.icon_state() is TrayIconState.UNKNOWN
    assert failed in menu_texts(tray_app)
    # The timer runs without a report too: a first scan that failed is tried again.
    assert tray_app.timer.isActive() and tray_app.timer.interval() == 60 * 60_000
    window = tray_app.window  # built after the failure: it shows it too
    assert window.overall.text().endswith(failed)
    assert window.last_checked.text() == "the engine fell over"
    assert window.check_again.isEnabled()

    scanner_of(tray_app).failure = ""
    with qtbot.waitSignal(tray_app.scans.report_ready, timeout=10_000):
        window.check_again.click()
    assert tray_app.tray.tooltip() == "Stethoscope — 2 suggestions"
    assert tray_app.tray.icon_state() is TrayIconState.NUDGE
    assert failed not in menu_texts(tray_app)
    assert "the engine fell over" not in window.last_checked.text()
    report = window.report()
    assert report is not None and report.summary.startswith(window.overall.text()[:-1])
    assert window.overall.text() == "This device meets every requirement, and could be safer."

    scanner_of(tray_app).failure = "the engine fell over again"
    with qtbot.waitSignal(tray_app.scans.scan_failed, timeout=10_000):
        window.check_again.click()
    assert tray_app.tray.icon_state() is TrayIconState.UNKNOWN, "a failure after a report too"
    assert window.overall.text().endswith(failed)
    assert window.last_checked.text().startswith("Last checked ")
    assert window.last_checked.text().endswith(" · the engine fell over again")
    # The failure, then the last report's state in words and when it was taken.
    assert menu_texts(tray_app)[2:5] == [
        failed,
        "2 suggestions",
        window.last_checked.text().split(" · ")[0],
    ]


@pytest.mark.allow_warnings
def test_the_workers_strings_win_once_they_arrive(
    qtbot: QtBot, tmp_path: Path, firewall: SwitchableFirewall, it_folder: Path
) -> None:
    app = build_app(qtbot, tmp_path, firewall, it_folder, tray_available=True, language="de")
    try:
        assert app.tray is not None and menu_texts(app)[0] == "Open"
        with qtbot.waitSignal(app.scans.report_ready, timeout=10_000):
            app.start()
        assert menu_texts(app)[0] == "Öffnen"
        scanner_of(app).failure = "kaputt"
        with qtbot.waitSignal(app.scans.scan_failed, timeout=10_000):
            app.scans.request_scan("check again")
        assert app.tray.tooltip() == (
            "Stethoscope — Dieser Computer konnte nicht geprüft werden: "
            "Bei der Prüfung ist ein Fehler aufgetreten."
        )
    finally:
        app.shutdown()


def test_tray_menu_start_at_login_and_snooze(qtbot: QtBot, tray_app: StethoscopeApp) -> None:
    with qtbot.waitSignal(tray_app.scans.report_ready, timeout=10_000):
        tray_app.start()
    start_at_login = menu_action(tray_app, "Start at login")
    assert start_at_login.isCheckable() and not start_at_login.isChecked()
    start_at_login.trigger()
    assert menu_action(tray_app, "Start at login").isChecked()
    before = time.time()
    menu_action(tray_app, "For 4 hours").trigger()
    assert tray_app.notifications.snoozed_until() >= before + 4 * 3600 - 5
    resume = menu_action(tray_app, "Snoozed until")
    resume.trigger()
    assert tray_app.notifications.snoozed_until() == 0.0


def test_the_window_is_built_only_when_first_needed(qtbot: QtBot, tray_app: StethoscopeApp) -> None:
    with qtbot.waitSignal(tray_app.scans.report_ready, timeout=10_000):
        tray_app.start()
    assert tray_app._window is None, "an idle tray app does not carry the window"
    tray_app.show_window()
    assert tray_app._window is not None and tray_app.window.isVisible()
    assert tray_app.window.report() == tray_app.scans.last_report()
    assert tray_app.window.styleSheet(), "the window has the style sheet, the app does not"


def test_an_idle_worker_leaves_and_the_next_scan_starts_another(
    qtbot: QtBot, tmp_path: Path, firewall: SwitchableFirewall, it_folder: Path
) -> None:
    app = build_app(qtbot, tmp_path, firewall, it_folder)
    worker = app._worker
    assert isinstance(worker, ThreadWorker)
    worker._idle_seconds = 0.2
    try:
        with qtbot.waitSignal(app.scans.report_ready, timeout=10_000):
            app.start()
        qtbot.waitUntil(lambda: not worker.is_running(), timeout=5_000)
        firewall.enabled = 0
        with qtbot.waitSignal(app.scans.report_ready, timeout=10_000):
            app.scans.request_scan("timer")
        assert worker.starts == 2
        card = app.window.cards.card("firewall")
        assert card is not None and card.practice.status is Status.FAIL
    finally:
        app.shutdown()


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_api_port_comes_from_the_config_and_is_remembered(
    qtbot: QtBot, tmp_path: Path, firewall: SwitchableFirewall, it_folder: Path
) -> None:
    port = free_port()
    (it_folder / "config.yaml").write_text(f"apiPort: {port}\n")
    app = build_app(qtbot, tmp_path, firewall, it_folder, api=True)
    assert app.api is not None and app.api.port is None, "no port before the config is known"
    try:
        with qtbot.waitSignal(app.scans.report_ready, timeout=10_000):
            app.start()
        qtbot.waitUntil(lambda: app.api is not None and app.api.port == port, timeout=5_000)
        # The worker of the first scan did not have the sockets: it was asked to leave.
        qtbot.waitUntil(lambda: not app._worker.is_running(), timeout=5_000)
    finally:
        app.shutdown()
    again = build_app(qtbot, tmp_path, firewall, it_folder, api=True)
    try:
        again.start()
        assert again.api is not None and again.api.port == port, "bound from the state file"
        assert again._worker.serves_api(), "so the first worker serves it"
        with qtbot.waitSignal(again.scans.report_ready, timeout=10_000):
            pass
    finally:
        again.shutdown()


def test_a_second_start_shows_the_running_instance(
    qtbot: QtBot, tray_app: StethoscopeApp, tmp_path: Path
) -> None:
    from stethoscope_desktop.ui.single_instance import ask_running_instance_to_show

    with qtbot.waitSignal(tray_app.scans.report_ready, timeout=10_000):
        tray_app.start()
    assert not tray_app.window.isVisible()
    assert ask_running_instance_to_show(f"stethoscope-test-{tmp_path.name}")
    qtbot.waitUntil(tray_app.window.isVisible, timeout=5_000)
    assert not ask_running_instance_to_show(f"stethoscope-test-nobody-{tmp_path.name}")


def test_a_new_check_file_in_checks_d_triggers_a_rescan(
    qtbot: QtBot, app: StethoscopeApp, it_folder: Path
) -> None:
    with qtbot.waitSignal(app.scans.report_ready, timeout=10_000):
        app.start()
    checks_d = it_folder / "checks.d"
    checks_d.mkdir()
    with qtbot.waitSignal(app.scans.report_ready, timeout=10_000):
        pass  # creating the folder is itself a change IT made
    with qtbot.waitSignal(app.scans.report_ready, timeout=10_000):
        (checks_d / "hostname.yaml").write_text(
            "- name: Has a host name\n  query: SELECT 1 FROM system_info WHERE hostname != ''\n"
            "  platform: linux\n  critical: false\n"
        )
    report = app.window.report()
    assert report is not None
    assert any(p.key.startswith("custom/") for p in report.practices)


def test_the_local_api_answers_and_the_window_says_who_checked(
    qtbot: QtBot, tmp_path: Path, firewall: SwitchableFirewall, it_folder: Path
) -> None:
    import json
    import urllib.request

    app = build_app(qtbot, tmp_path, firewall, it_folder, api_port=0)
    try:
        with qtbot.waitSignal(app.scans.report_ready, timeout=10_000):
            app.start()
        assert app.api is not None
        query = "query($policy: DevicePolicy!) { policy { validate(policy: $policy) { status stethoscopeVersion } } }"

        def ask(session: str) -> dict[str, object]:
            body = json.dumps(
                {
                    "query": query,
                    "variables": {"policy": {"stethoscopeVersion": ">=99.0.0"}},
                    "sessionId": session,
                }
            ).encode()
            request = urllib.request.Request(
                f"http://127.0.0.1:{app.api.port}/graphql",
                data=body,
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())  # type: ignore[no-any-return]

        answer = ask("session-1")
        assert answer["data"] == {
            "policy": {"validate": {"status": "FAIL", "stethoscopeVersion": "FAIL"}}
        }
        qtbot.waitUntil(lambda: "Last checked by" in app.window.last_checked.text(), timeout=5_000)
        qtbot.waitUntil(lambda: len(notifier_of(app).shown) == 1, timeout=5_000)
        title, body = notifier_of(app).shown[0]
        assert title.endswith("may not let you in") and "problem that needs attention" in body
        ask("session-1")
        qtbot.wait(300)
        assert len(notifier_of(app).shown) == 1, "one notice per session id"
    finally:
        app.shutdown()


def test_the_pixmap_cache_is_on_only_while_the_window_shows(
    qtbot: QtBot, tray_app: StethoscopeApp
) -> None:
    # Qt ages a cache that holds anything on a timer that would wake the idle tray.
    with qtbot.waitSignal(tray_app.scans.report_ready, timeout=10_000):
        tray_app.start()
    assert QPixmapCache.cacheLimit() == 0, "off while no window shows"
    assert not QPixmapCache.insert("probe", QPixmap(8, 8)), "nothing is kept while off"
    tray_app.show_window()
    assert QPixmapCache.cacheLimit() == tray_app.pixmap_cache.limit > 0
    assert QPixmapCache.insert("probe", QPixmap(8, 8))
    assert QPixmapCache.find("probe") is not None
    tray_app.window.close()  # hides it to the tray
    assert QPixmapCache.cacheLimit() == 0
    assert QPixmapCache.find("probe") is None, "emptied as the window hides"
    assert tray_app.tray is not None
    tray_app.tray.toggle_requested.emit()
    assert tray_app.window.isVisible() and QPixmapCache.cacheLimit() > 0, "on again"
