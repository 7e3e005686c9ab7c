"""The main window: header, notices, the banner of critical problems and the ranked cards.

Before the first report the header says a check is under way, in the bundled English; when a
scan brings no report it says so and why, until the next report.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
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
from stethoscope_desktop.ui.cards import CardList, LinkOpener, PracticeListModel
from stethoscope_desktop.ui.scanning import ScanFailure
from stethoscope_desktop.ui.theme import SYMBOLS

WINDOW_SIZE = (760, 820)


def _notice(text: str, name: str = "notice") -> tuple[QFrame, QLabel]:
    frame = QFrame()
    frame.setObjectName(name)
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(12, 8, 12, 8)
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    layout.addWidget(label)
    frame.setVisible(False)
    return frame, label


class MainWindow(QMainWindow):
    """Shows one report; asks for a rescan through `check_again_requested`."""

    check_again_requested = Signal()

    def __init__(self, open_link: LinkOpener, *, quit_on_close: bool) -> None:
        super().__init__()
        self._quit_on_close = quit_on_close
        self._instructions = ENGLISH
        self._organization = ""
        self._report: Report | None = None
        self._failure: ScanFailure | None = None
        self._scanning = False
        self._checked_by = ""
        self.setWindowTitle("Stethoscope")
        self.resize(*WINDOW_SIZE)

        # Header: who, what, when, and the Check again button.
        header = QFrame()
        header.setObjectName("header")
        self.organization = QLabel()
        self.organization.setObjectName("organization")
        self.device = QLabel()
        self.device.setObjectName("muted")
        self.device.setWordWrap(True)
        self.overall = QLabel()
        self.overall.setObjectName("overall")
        self.overall.setWordWrap(True)
        self.last_checked = QLabel()
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

        # Page: notices, banner, cards.
        self.admin_notice, self.admin_label = _notice("")
        self.policy_notice, self.policy_label = _notice("")
        self.banner = QFrame()
        self.banner.setObjectName("banner")
        self.banner_title = QLabel()
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
        page = QWidget()
        page.setObjectName("page")
        page_layout = QVBoxLayout(page)
        page_layout.setContentsMargins(16, 14, 16, 16)
        page_layout.setSpacing(10)
        for widget in (self.admin_notice, self.policy_notice, self.banner, self.cards):
            page_layout.addWidget(widget)
        page_layout.addStretch(1)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setWidget(page)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(header)
        layout.addWidget(self.scroll_area, 1)
        self.setCentralWidget(central)
        QShortcut(
            QKeySequence(QKeySequence.StandardKey.Refresh), self, self.check_again_requested.emit
        )
        QShortcut(QKeySequence(QKeySequence.StandardKey.Close), self, self.close)
        self._refresh_texts()

    # -- inputs -----------------------------------------------------------------------------

    def set_instructions(self, instructions: UiStrings, organization: str) -> None:
        """Use these texts (the report's language) and organisation name."""
        self._instructions = instructions
        self._organization = organization
        self.cards.set_instructions(instructions)
        self._refresh_texts()

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

    def _rebuild_banner(self, report: Report) -> None:
        while self.banner_links.count():
            item = self.banner_links.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        critical = report.critical()
        for practice in critical:
            link = QPushButton(f"{SYMBOLS[Status.FAIL]}  {practice.title}")
            link.setObjectName("bannerLink")
            link.setFlat(True)
            link.setCursor(Qt.CursorShape.PointingHandCursor)
            link.setAccessibleName(practice.title)
            link.clicked.connect(lambda _=False, key=practice.key: self.focus_practice(key))
            self.banner_links.addWidget(link)
        self.banner.setVisible(bool(critical))

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
