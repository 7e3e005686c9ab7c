"""The main window: header, notices, the banner of critical problems, the ranked cards, help.

From the top: the header (organisation, device, verdict, Check again); IT's notice
(`deprecationNotice` in config.yaml) as a banner; the notices that the app runs as an
administrator or that IT's files have errors; the banner of critical problems; the cards; IT's
checks done by hand, collapsed, apart from the cards (`ui.manual_checks`). At the bottom, always
in view, the Help bar: IT's help links, the all-devices page and Copy debug info.

Before the first report the header says a check is under way, in the bundled English, and the
Help bar offers Copy debug info alone; when a scan brings no report it says so and why, until
the next report.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from stethoscope_desktop.core.report import Report
from stethoscope_desktop.core.status import Status
from stethoscope_desktop.core.strings import ENGLISH, UiStrings, local_time
from stethoscope_desktop.core.support import Support
from stethoscope_desktop.ui.cards import CardList, LinkOpener, PracticeListModel, plain_label
from stethoscope_desktop.ui.manual_checks import ManualChecksSection
from stethoscope_desktop.ui.scanning import ScanFailure
from stethoscope_desktop.ui.theme import SYMBOLS

WINDOW_SIZE = (760, 820)
# How long "copied" shows beside Copy debug info.
COPIED_SHOWN_MS = 4000


def _link_button(text: str, name: str) -> QPushButton:
    """Return a flat button that reads as a link."""
    button = QPushButton(text)
    button.setObjectName(name)
    button.setFlat(True)
    button.setCursor(Qt.CursorShape.PointingHandCursor)
    return button


def _clear(layout: QHBoxLayout | QVBoxLayout) -> None:
    while layout.count():
        item = layout.takeAt(0)
        widget = item.widget() if item is not None else None
        if widget is not None:
            widget.deleteLater()


def _notice(text: str, name: str = "notice") -> tuple[QFrame, QLabel]:
    frame = QFrame()
    frame.setObjectName(name)
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(12, 8, 12, 8)
    label = plain_label(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    layout.addWidget(label)
    frame.setVisible(False)
    return frame, label


class MainWindow(QMainWindow):
    """Shows one report; asks for a rescan through `check_again_requested`."""

    check_again_requested = Signal()
    copy_debug_info_requested = Signal()

    def __init__(self, open_link: LinkOpener, *, quit_on_close: bool) -> None:
        super().__init__()
        self._open_link = open_link
        self._quit_on_close = quit_on_close
        self._instructions = ENGLISH
        self._organization = ""
        self._report: Report | None = None
        self._failure: ScanFailure | None = None
        self._scanning = False
        self._checked_by = ""
        self._support = Support()
        self.setWindowTitle("Stethoscope")
        self.resize(*WINDOW_SIZE)

        # Header: who, what, when, and the Check again button.
        header = QFrame()
        header.setObjectName("header")
        self.organization = plain_label()
        self.organization.setObjectName("organization")
        self.device = plain_label()
        self.device.setObjectName("muted")
        self.device.setWordWrap(True)
        self.overall = plain_label()
        self.overall.setObjectName("overall")
        self.overall.setWordWrap(True)
        self.last_checked = plain_label()
        self.last_checked.setObjectName("muted")
        self.check_again = QPushButton()
        self.check_again.setDefault(True)
        self.check_again.clicked.connect(self.check_again_requested)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setMaximumWidth(140)
        self.progress.setTextVisible(False)
        self.progress.setVisible(False)
        top = QHBoxLayout()
        who = QVBoxLayout()
        who.addWidget(self.organization)
        who.addWidget(self.device)
        top.addLayout(who, 1)
        buttons = QVBoxLayout()
        buttons.addWidget(self.check_again)
        buttons.addWidget(self.progress)
        top.addLayout(buttons)
        header_layout = QVBoxLayout(header)
        header_layout.setContentsMargins(18, 14, 18, 12)
        header_layout.addLayout(top)
        header_layout.addWidget(self.overall)
        header_layout.addWidget(self.last_checked)

        # Page: IT's notice, the app's notices, banner, cards.
        self.it_notice = QFrame()
        self.it_notice.setObjectName("itNotice")
        self.it_notice_heading = plain_label()
        self.it_notice_heading.setObjectName("itNoticeHeading")
        self.it_notice_text = plain_label()
        for label in (self.it_notice_heading, self.it_notice_text):
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.it_notice_link = _link_button("", "itNoticeLink")
        self.it_notice_link.clicked.connect(lambda: self._open(self._notice_url()))
        it_notice_layout = QVBoxLayout(self.it_notice)
        it_notice_layout.setContentsMargins(14, 10, 14, 10)
        it_notice_layout.setSpacing(4)
        it_notice_layout.addWidget(self.it_notice_heading)
        it_notice_layout.addWidget(self.it_notice_text)
        it_notice_layout.addWidget(self.it_notice_link, 0, Qt.AlignmentFlag.AlignLeft)
        self.it_notice.setVisible(False)
        self.admin_notice, self.admin_label = _notice("")
        self.policy_notice, self.policy_label = _notice("")
        self.banner = QFrame()
        self.banner.setObjectName("banner")
        self.banner_title = plain_label()
        self.banner_title.setObjectName("bannerTitle")
        self.banner_links = QVBoxLayout()
        self.banner_links.setSpacing(0)
        banner_layout = QVBoxLayout(self.banner)
        banner_layout.setContentsMargins(14, 10, 14, 10)
        banner_layout.addWidget(self.banner_title)
        banner_layout.addLayout(self.banner_links)
        self.banner.setVisible(False)
        self.model = PracticeListModel(self)
        self.cards = CardList(self.model, open_link)
        self.manual_checks = ManualChecksSection(open_link)
        page = QWidget()
        page.setObjectName("page")
        page_layout = QVBoxLayout(page)
        page_layout.setContentsMargins(16, 14, 16, 16)
        page_layout.setSpacing(10)
        for widget in (
            self.it_notice,
            self.admin_notice,
            self.policy_notice,
            self.banner,
            self.cards,
            self.manual_checks,
        ):
            page_layout.addWidget(widget)
        page_layout.addStretch(1)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setWidget(page)

        # Help bar: IT's links, the all-devices page, Copy debug info.
        self.help_bar = QFrame()
        self.help_bar.setObjectName("helpBar")
        # Links in a label that wraps: however many IT lists, in whatever language, the bar
        # never makes the window wider.
        self.help_links = QLabel()  # rich text we build from escaped parts
        self.help_links.setObjectName("helpLinks")
        self.help_links.setWordWrap(True)
        self.help_links.setTextFormat(Qt.TextFormat.RichText)
        self.help_links.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.help_links.linkActivated.connect(self._open)
        self.copied = plain_label()
        self.copied.setObjectName("muted")
        self.copied.setWordWrap(True)
        self.copied.setVisible(False)
        self._copied_timer = QTimer(self)
        self._copied_timer.setSingleShot(True)
        self._copied_timer.setInterval(COPIED_SHOWN_MS)
        self._copied_timer.timeout.connect(lambda: self.copied.setVisible(False))
        self.copy_debug_info = QPushButton()
        self.copy_debug_info.clicked.connect(self.copy_debug_info_requested)
        help_layout = QHBoxLayout(self.help_bar)
        help_layout.setContentsMargins(18, 6, 18, 6)
        help_layout.addWidget(self.help_links, 3)
        help_layout.addWidget(self.copied, 2)
        help_layout.addWidget(self.copy_debug_info)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(header)
        layout.addWidget(self.scroll_area, 1)
        layout.addWidget(self.help_bar)
        self.setCentralWidget(central)
        QShortcut(
            QKeySequence(QKeySequence.StandardKey.Refresh), self, self.check_again_requested.emit
        )
        QShortcut(QKeySequence(QKeySequence.StandardKey.Close), self, self.close)
        self._refresh_texts()
        self._refresh_support()

    # -- inputs -----------------------------------------------------------------------------

    def set_instructions(self, instructions: UiStrings, organization: str) -> None:
        """Use these texts (the report's language) and organisation name."""
        self._instructions = instructions
        self._organization = organization
        self.cards.set_instructions(instructions)
        self.manual_checks.set_strings(instructions, organization)
        self._refresh_texts()
        self._refresh_support()

    def set_support(self, support: Support) -> None:
        """Show IT's help links and all-devices page in the Help bar, and IT's notice on top."""
        self._support = support
        self._refresh_support()

    def show_debug_info_copied(self) -> None:
        """Say for a moment that the debug info is on the clipboard."""
        self.copied.setVisible(True)
        self._copied_timer.start()

    def set_checked_by(self, label: str) -> None:
        """Say which web app asked for the last check (empty: none)."""
        self._checked_by = label
        self._refresh_texts()

    def set_scanning(self, scanning: bool) -> None:
        """Show that a scan is running; the window stays usable."""
        self._scanning = scanning
        self.progress.setVisible(scanning)
        self.check_again.setEnabled(not scanning)
        self._refresh_texts()

    def show_report(self, report: Report) -> None:
        """Show a new report: header, notices, banner and cards (a failure shown is over)."""
        self._report = report
        self._failure = None
        self.model.set_practices(report.practices)
        self.manual_checks.show_report(report)
        self._rebuild_banner(report)
        self._refresh_texts()

    def show_failure(self, failure: ScanFailure | None) -> None:
        """Say in the header that the last scan brought no report, and why (None: it did)."""
        self._failure = failure
        self._refresh_texts()

    def report(self) -> Report | None:
        """Return the report on show."""
        return self._report

    def focus_practice(self, key: str) -> None:
        """Scroll to a practice's card, expand it and give it the keyboard focus."""
        card = self.cards.card(key)
        if card is None:
            return
        card.set_expanded(True)
        card.toggle.setFocus(Qt.FocusReason.OtherFocusReason)
        # The layout settles after the card expands: scroll then.
        QTimer.singleShot(0, lambda: self.scroll_area.ensureWidgetVisible(card, 0, 40))

    def bring_to_front(self) -> None:
        """Show the window, raised and active."""
        self.showNormal()
        self.raise_()
        self.activateWindow()

    # -- rendering --------------------------------------------------------------------------

    def _open(self, url: str) -> None:
        if url:
            self._open_link(QUrl(url))

    def _notice_url(self) -> str:
        notice = self._support.notice
        return notice.link_url if notice is not None else ""

    def _rebuild_banner(self, report: Report) -> None:
        _clear(self.banner_links)
        critical = report.critical()
        for practice in critical:
            link = _link_button(f"{SYMBOLS[Status.FAIL]}  {practice.title}", "bannerLink")
            link.setAccessibleName(practice.title)
            link.clicked.connect(lambda _=False, key=practice.key: self.focus_practice(key))
            self.banner_links.addWidget(link)
        self.banner.setVisible(bool(critical))

    def _refresh_support(self) -> None:
        """Show IT's notice and fill the Help bar (its links are made anew)."""
        strings = self._instructions
        notice = self._support.notice
        if notice is not None:
            self.it_notice_heading.setText(notice.heading)
            self.it_notice_heading.setVisible(bool(notice.heading))
            self.it_notice_text.setText(notice.sub_heading)
            self.it_notice_text.setVisible(bool(notice.sub_heading))
            self.it_notice_link.setText(notice.link_label)
            self.it_notice_link.setVisible(bool(notice.link_url))
        self.it_notice.setVisible(notice is not None and not notice.is_empty())
        entries = self._support.entries(strings.string("allDevices"))
        links = " &nbsp;·&nbsp; ".join(
            f'<a href="{html.escape(entry.url)}">{html.escape(entry.label)}</a>'
            for entry in entries
        )
        title = html.escape(strings.string("help"))
        self.help_links.setText(f"<b>{title}</b> &nbsp; {links}" if entries else "")
        self.copy_debug_info.setText(strings.string("copyDebugInfo"))
        self.copied.setText(strings.string("debugInfoCopied"))

    def _refresh_texts(self) -> None:
        strings = self._instructions
        self.check_again.setText(
            strings.string("checking") if self._scanning else strings.string("checkAgain")
        )
        self.check_again.setAccessibleName(strings.string("checkAgain"))
        self.organization.setText(self._organization or "Stethoscope")
        report = self._report
        if report is None:
            self.device.setText("")
            self._show_overall(Status.UNKNOWN, strings.string("checking"))
            self.last_checked.setText("")
            self._show_failure()
            return
        device = report.device
        parts = [
            device.device_name,
            f"{device.os_name or device.platform_name} {device.os_version}".strip(),
            f"{device.hardware_vendor} {device.hardware_model}".strip(),
        ]
        self.device.setText(" · ".join(part for part in parts if part))
        self._show_overall(report.status, f"{SYMBOLS[report.status]}  {report.summary}")
        when = [
            strings.string("lastChecked", time=local_time(report.started_at)),
            strings.string("scanDuration", duration=f"{report.duration_seconds * 1000:.0f} ms"),
        ]
        if self._checked_by:
            when.append(strings.string("lastCheckedBy", label=self._checked_by))
        self.last_checked.setText(" · ".join(when))
        count = len(report.critical())
        self.banner_title.setText(
            strings.string("bannerTitleOne" if count == 1 else "bannerTitleOther", count=count)
        )
        self.admin_label.setText(strings.string("runningAsAdmin"))
        self.admin_notice.setVisible(device.running_as_admin)
        problems = (*report.policy_problems, *report.check_problems)
        self.policy_label.setText(
            strings.string("policyErrors") + "".join(f"\n• {problem}" for problem in problems)
        )
        self.policy_notice.setVisible(bool(problems))
        self._show_failure()

    def _show_overall(self, status: Status, text: str) -> None:
        self.overall.setText(text)
        self.overall.setProperty("status", status.value)
        self.overall.style().unpolish(self.overall)
        self.overall.style().polish(self.overall)

    def _show_failure(self) -> None:
        """Put the failure over the state in words; its detail goes in the fine print below."""
        failure = self._failure
        if failure is None:
            return
        words = failure.words(self._instructions)
        self._show_overall(Status.UNKNOWN, f"{SYMBOLS[Status.UNKNOWN]}  {words}")
        when = self.last_checked.text()
        self.last_checked.setText(f"{when} · {failure.detail}" if when else failure.detail)

    # -- closing ----------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        """Hide to the tray; quit only where there is no tray to come back from."""
        if self._quit_on_close:
            event.accept()
            return
        event.ignore()
        self.hide()
