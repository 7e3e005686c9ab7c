"""The tray icon: draws the status it is given, toggles the window, and keeps its menu current.

The menu: Open, Check again, the state in words, IT's notice (when config.yaml has one), then
Snooze, Start at login (only where the system's autostart is supported), Help (IT's help links,
the all-devices page, Copy debug info and the version) and Quit. The menu is rebuilt whenever
what it says changes, not when it opens: a tray host that shows it through D-Bus
(StatusNotifierItem) sizes it by the layout it read before, and cuts off what a rebuild on
opening adds.

It speaks the bundled English (`core.strings.ENGLISH`) until the scan worker's strings arrive;
until the first report, Help holds only Copy debug info and the version.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from stethoscope_desktop import __version__
from stethoscope_desktop.core.notify import SNOOZE_CHOICES, SnoozeChoice
from stethoscope_desktop.core.report import Report
from stethoscope_desktop.core.strings import ENGLISH, UiStrings, local_time
from stethoscope_desktop.core.support import Support
from stethoscope_desktop.ui.icons import TrayIconState, state_for, status_icon
from stethoscope_desktop.ui.scanning import ScanFailure
from stethoscope_desktop.ui.theme import palette_is_dark

# The notice's line in the menu is cut after this many characters (the window shows it whole).
NOTICE_LINE_CHARS = 60
SNOOZE_STRINGS: dict[SnoozeChoice, str] = {
    "1h": "snoozeOneHour",
    "4h": "snoozeFourHours",
    "tomorrow": "snoozeTomorrow",
}


class Tray(QObject):
    """The status icon in the system tray and its menu."""

    open_requested = Signal()
    toggle_requested = Signal()
    check_requested = Signal()
    snooze_requested = Signal(str)  # a SnoozeChoice, or "" to resume
    autostart_toggled = Signal(bool)
    link_requested = Signal(str)  # a URL to open with the desktop's handler
    copy_debug_info_requested = Signal()
    quit_requested = Signal()

    def __init__(
        self,
        *,
        template_icons: bool,
        autostart_enabled: Callable[[], bool],
        snoozed_until: Callable[[], float],
        autostart_supported: bool = True,
    ) -> None:
        """`autostart_supported`: offer Start at login (not where the system has no autostart)."""
        super().__init__()
        self._template = template_icons
        self._autostart_supported = autostart_supported
        self._autostart_enabled = autostart_enabled
        self._snoozed_until = snoozed_until
        self._instructions = ENGLISH
        self._report: Report | None = None
        self._failure: ScanFailure | None = None
        self._scanning = False
        self._support = Support()
        self._built_for: tuple[float, bool] | None = None
        self.icon = QSystemTrayIcon()
        self.menu = QMenu()
        # The submenus live as long as the menu: a rebuild empties them (QMenu.clear deletes
        # a menu's actions, not the submenus made with addMenu, which would pile up).
        self.snooze_menu = QMenu(self.menu)
        self.help_menu = QMenu(self.menu)
        self.menu.aboutToShow.connect(self._rebuild_if_stale)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._on_icon_activated)
        self._draw()

    def show(self) -> None:
        """Put the icon in the tray, its menu ready (some trays read the menu only once)."""
        self.rebuild_menu()
        self.icon.show()

    def show_again(self) -> None:
        """Take the icon out of the tray and put it back (Qt registers it with the host anew)."""
        self.icon.hide()
        self.rebuild_menu()
        self.icon.show()

    def set_instructions(self, instructions: UiStrings) -> None:
        """Use these texts for the tooltip and the menu."""
        self._instructions = instructions
        self._changed()

    def set_report(self, report: Report) -> None:
        """Show a new report's status (a failure shown before is over)."""
        self._report = report
        self._failure = None
        self._changed()

    def set_support(self, support: Support) -> None:
        """Offer IT's help links and all-devices page in Help, and show IT's notice."""
        self._support = support
        self.rebuild_menu()

    def set_failure(self, failure: ScanFailure) -> None:
        """Show that the last scan brought no report, and why, until the next report."""
        self._failure = failure
        self._changed()

    def set_scanning(self, scanning: bool) -> None:
        """Show that a scan is running (only before the first report: later keep the verdict)."""
        self._scanning = scanning
        self._changed()

    def redraw(self) -> None:
        """Draw again, e.g. after the palette changed between light and dark."""
        self._draw()

    def tooltip(self) -> str:
        """Return the summary the tooltip shows."""
        strings = self._instructions
        report = self._report
        if self._failure is not None:
            return f"Stethoscope — {self._failure.words(strings)}"
        if report is None:
            return f"Stethoscope — {strings.string('checking')}"
        return f"Stethoscope — {self._state_words(report)}"

    def _state_words(self, report: Report) -> str:
        """Return the report's state in words: its counts ("2 need attention, 1 suggestion")."""
        strings = self._instructions
        parts = strings.count_phrases(report.counts())
        return ", ".join(parts) if parts else strings.string("statusPass")

    def icon_state(self) -> TrayIconState:
        """Return the state the icon shows.

        Scanning before the first report, unknown after a failure, else the report's status.
        """
        scanning = self._scanning and self._report is None
        if self._failure is not None and not scanning:
            return TrayIconState.UNKNOWN
        return state_for(self._report.status if self._report else None, scanning)

    def _changed(self) -> None:
        self._draw()
        self.rebuild_menu()

    def _menu_moment(self) -> tuple[float, bool]:
        """Return what the menu shows that changes without the tray being told.

        The snooze (while it lasts) and start at login.
        """
        until = self._snoozed_until()
        enabled = self._autostart_supported and self._autostart_enabled()
        return (until if until > datetime.now().timestamp() else 0.0, enabled)

    def _rebuild_if_stale(self) -> None:
        if self._menu_moment() != self._built_for:
            self.rebuild_menu()

    def _rebuild_soon(self) -> None:
        # Not from inside an action's own signal: rebuilding deletes that action.
        QTimer.singleShot(0, self.rebuild_menu)

    def _draw(self) -> None:
        state = self.icon_state()
        self.icon.setIcon(status_icon(state, dark=palette_is_dark(), template=self._template))
        self.icon.setToolTip(self.tooltip())

    def rebuild_menu(self) -> None:
        """Build the menu afresh (it shows the last check time and the snooze state)."""
        strings = self._instructions
        menu = self.menu
        menu.clear()
        self._built_for = self._menu_moment()
        menu.addAction(strings.string("open"), self.open_requested.emit)
        check = menu.addAction(strings.string("checkAgain"), self.check_requested.emit)
        check.setEnabled(not self._scanning)
        status_lines = []
        if self._scanning:
            status_lines.append(strings.string("checking"))
        elif self._failure is not None:
            status_lines.append(self._failure.words(strings))
        if not self._scanning and self._report is not None:
            status_lines.append(self._state_words(self._report))
            status_lines.append(
                strings.string("lastChecked", time=local_time(self._report.started_at))
            )
        for line in status_lines:
            menu.addAction(line).setEnabled(False)
        notice = self._support.notice
        if notice is not None:
            headline = notice.headline
            if len(headline) > NOTICE_LINE_CHARS:
                headline = headline[: NOTICE_LINE_CHARS - 1].rstrip() + "…"
            notice_line = menu.addAction(f"⚠ {headline}")
            if notice.link_url:
                url = notice.link_url
                notice_line.triggered.connect(lambda _=False: self.link_requested.emit(url))
            else:
                notice_line.setEnabled(False)
        menu.addSeparator()
        snooze = self._submenu(self.snooze_menu, strings.string("snooze"))
        until = self._snoozed_until()
        now = datetime.now().timestamp()
        if until > now:
            resume = snooze.addAction(
                strings.string(
                    "snoozedUntil", time=datetime.fromtimestamp(until).strftime("%a %H:%M")
                )
            )
            resume.triggered.connect(lambda: self._snooze(""))
            snooze.addSeparator()
        for choice in SNOOZE_CHOICES:
            action = snooze.addAction(strings.string(SNOOZE_STRINGS[choice]))
            action.triggered.connect(lambda _=False, c=choice: self._snooze(c))
        if self._autostart_supported:
            autostart = QAction(strings.string("startAtLogin"), menu)
            autostart.setCheckable(True)
            autostart.setChecked(self._autostart_enabled())
            autostart.toggled.connect(self._on_autostart_toggled)
            menu.addAction(autostart)
        self._add_help(self._submenu(self.help_menu, strings.string("help")), strings)
        menu.addSeparator()
        menu.addAction(strings.string("quit"), self.quit_requested.emit)

    def _snooze(self, choice: str) -> None:
        self.snooze_requested.emit(choice)
        self._rebuild_soon()

    def _on_autostart_toggled(self, enabled: bool) -> None:
        self.autostart_toggled.emit(enabled)
        self._rebuild_soon()

    def _submenu(self, submenu: QMenu, title: str) -> QMenu:
        """Return `submenu` emptied, titled and added to the menu."""
        submenu.clear()
        submenu.setTitle(title)
        self.menu.addMenu(submenu)
        return submenu

    def _add_help(self, help_menu: QMenu, strings: UiStrings) -> None:
        entries = self._support.entries(strings.string("allDevices"))
        for entry in entries:
            action = help_menu.addAction(entry.label)
            action.triggered.connect(lambda _=False, u=entry.url: self.link_requested.emit(u))
        if entries:
            help_menu.addSeparator()
        help_menu.addAction(strings.string("copyDebugInfo"), self.copy_debug_info_requested.emit)
        help_menu.addAction(strings.string("appVersion", version=__version__)).setEnabled(False)

    def _on_icon_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason is QSystemTrayIcon.ActivationReason.Trigger:
            self.toggle_requested.emit()
        elif reason is QSystemTrayIcon.ActivationReason.DoubleClick:
            self.open_requested.emit()

    @staticmethod
    def available() -> bool:
        """Return True when the desktop has a system tray."""
        return QSystemTrayIcon.isSystemTrayAvailable() and QGuiApplication.instance() is not None
