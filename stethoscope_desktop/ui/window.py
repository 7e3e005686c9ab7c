"""The main window: a summary on top, IT's notices, the cards in sections by state, help.

From the top: the header, always in view — the organisation (where config.yaml names one), the
state in words beside its status icon, how many practices are in each state, the device and
when it was last checked, and a prominent Check again with a progress bar while a check runs.
Below it, scrolling: IT's notice (`deprecationNotice` in config.yaml) as a banner; the notices
that the app runs as an administrator or that IT's files have errors (a plain line, the file
and line of each error in its collapsed Details); the cards in sections
(`ui.cards`: needs attention, suggestions, couldn't check, all good — the last collapsed); IT's
checks done by hand, collapsed (`ui.manual_checks`). At the bottom, always in view, the Help
bar: IT's help links, the all-devices page and Copy debug info.

The content is one centred column at most `CONTENT_MAX_WIDTH` wide, so lines stay readable on a
wide screen. The window opens at `WINDOW_SIZE` or smaller where the screen is (never larger than
the screen's free area) and cannot shrink below `MINIMUM_SIZE`, where the header still fits.

Before the first report the header says a check is under way, in the bundled English, and the
Help bar offers Copy debug info alone; when a scan brings no report it says so and why, until
the next report.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QPoint, QRect, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLayoutItem,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from stethoscope_desktop import __version__
from stethoscope_desktop.core.report import Report
from stethoscope_desktop.core.status import Status
from stethoscope_desktop.core.strings import ENGLISH, UiStrings, local_time, organization_named
from stethoscope_desktop.core.support import HelpLink, Support
from stethoscope_desktop.ui.cards import CardList, LinkOpener, PracticeListModel, plain_label
from stethoscope_desktop.ui.icons import TrayIconState, state_for, status_icon
from stethoscope_desktop.ui.manual_checks import ManualChecksSection
from stethoscope_desktop.ui.scanning import ScanFailure
from stethoscope_desktop.ui.theme import SYMBOLS, link_colour

WINDOW_SIZE = (860, 760)
MINIMUM_SIZE = (500, 420)
# Room left around the window on a screen smaller than WINDOW_SIZE (title bar, panels).
SCREEN_MARGIN = 40
# The widest the content column grows: about 90 characters a line in the cards.
CONTENT_MAX_WIDTH = 760
STATUS_ICON_SIZE = 40
# How long "copied" shows beside Copy debug info.
COPIED_SHOWN_MS = 4000


def _link_button(text: str, name: str) -> QPushButton:
    """Return a flat button that reads as a link."""
    button = QPushButton(text)
    button.setObjectName(name)
    button.setFlat(True)
    button.setCursor(Qt.CursorShape.PointingHandCursor)
    return button


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


def _centred(content: QWidget, name: str) -> QFrame:
    """Return a full-width widget holding `content` centred, at most CONTENT_MAX_WIDTH wide."""
    content.setMaximumWidth(CONTENT_MAX_WIDTH)
    outer = QFrame()  # a frame paints the background the style sheet gives `name`
    outer.setObjectName(name)
    layout = QHBoxLayout(outer)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addStretch(0)
    layout.addWidget(content, 1)
    layout.addStretch(0)
    return outer


class FlowLayout(QLayout):
    """Lays its widgets out in a row that wraps onto the next line where it runs out of width."""

    def __init__(self, spacing: int = 6) -> None:
        super().__init__()
        self._items: list[QLayoutItem] = []
        self._gap = spacing
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item: QLayoutItem) -> None:
        """Add an item at the end."""
        self._items.append(item)

    def count(self) -> int:
        """Return how many items there are."""
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        """Return the item at `index`, or None."""
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        """Remove and return the item at `index`, or None."""
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:
        """Return that it never asks for more room than its rows."""
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        """Return True: its height depends on its width."""
        return True

    def heightForWidth(self, width: int) -> int:
        """Return the height the rows take at `width`."""
        return self._arrange(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:
        """Place the items in rows within `rect`."""
        super().setGeometry(rect)
        self._arrange(rect, move=True)

    def sizeHint(self) -> QSize:
        """Return the size of one row of every item."""
        return self.minimumSize()

    def minimumSize(self) -> QSize:
        """Return the size of the widest item."""
        size = QSize()
        for item in self._items:
            size = size.expandedTo(item.minimumSize())
        return size

    def _arrange(self, rect: QRect, *, move: bool) -> int:
        x, y, row_height = rect.x(), rect.y(), 0
        for item in self._items:
            widget = item.widget()
            if widget is not None and widget.isHidden():
                continue
            hint = item.sizeHint()
            if x + hint.width() > rect.right() + 1 and x > rect.x():
                x, y, row_height = rect.x(), y + row_height + self._gap, 0
            if move:
                item.setGeometry(QRect(QPoint(x, y), hint))
            x += hint.width() + self._gap
            row_height = max(row_height, hint.height())
        return y + row_height - rect.y()


class ProblemsNotice(QFrame):
    """IT's file problems: one plain line, and the file, line and key of each in Details."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("notice")
        self.summary = plain_label()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_toggle = QPushButton()
        self.details_toggle.setObjectName("detailsToggle")
        self.details_toggle.setCheckable(True)
        self.details_toggle.setCursor(Qt.CursorShape.PointingHandCursor)
        self.details_toggle.toggled.connect(self._on_details_toggled)
        self.details = plain_label()
        self.details.setObjectName("detailLine")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setVisible(False)
        self._title = ""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.setSpacing(4)
        layout.addWidget(self.summary)
        layout.addWidget(self.details_toggle, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.details)
        self.setVisible(False)

    def show_problems(self, summary: str, problems: tuple[str, ...], details_title: str) -> None:
        """Show the plain line and hold `problems` in Details (none: the notice hides)."""
        self._title = details_title
        self.summary.setText(summary)
        self.details.setText("\n".join(problems))
        self.details_toggle.setAccessibleName(details_title)
        self._on_details_toggled(self.details_toggle.isChecked())
        self.setVisible(bool(problems))

    def details_shown(self) -> bool:
        """Return True when the problems' lines are shown."""
        return self.details_toggle.isChecked()

    def _on_details_toggled(self, shown: bool) -> None:
        self.details.setVisible(shown)
        self.details_toggle.setText(f"{'▾' if shown else '▸'}  {self._title}")


def fitted_size(available: QRect) -> QSize:
    """Return the size the window opens at on a screen with this free area."""
    width = min(WINDOW_SIZE[0], available.width() - SCREEN_MARGIN)
    height = min(WINDOW_SIZE[1], available.height() - SCREEN_MARGIN)
    return QSize(max(width, MINIMUM_SIZE[0]), max(height, MINIMUM_SIZE[1]))


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
        self._fitted = False
        self.setWindowTitle("Stethoscope")
        self.setMinimumSize(*MINIMUM_SIZE)
        self.resize(*WINDOW_SIZE)

        # Header: the summary and Check again.
        self.organization = plain_label()
        self.organization.setObjectName("organization")
        self.status_icon = plain_label()
        self.status_icon.setObjectName("statusIcon")
        self.status_icon.setFixedSize(STATUS_ICON_SIZE, STATUS_ICON_SIZE)
        self.overall = plain_label()
        self.overall.setObjectName("overall")
        self.overall.setWordWrap(True)
        self.counts: dict[Status, QLabel] = {}
        counts_row = FlowLayout(6)
        for status in (Status.FAIL, Status.NUDGE, Status.UNKNOWN, Status.PASS):
            count = plain_label()
            count.setObjectName("countChip")
            count.setProperty("status", status.value)
            count.setVisible(False)
            self.counts[status] = count
            counts_row.addWidget(count)
        self.device = plain_label()
        self.device.setObjectName("muted")
        self.device.setWordWrap(True)
        self.last_checked = plain_label()
        self.last_checked.setObjectName("muted")
        self.last_checked.setWordWrap(True)
        self.check_again = QPushButton()
        self.check_again.setObjectName("checkAgain")
        self.check_again.setDefault(True)
        self.check_again.setCursor(Qt.CursorShape.PointingHandCursor)
        self.check_again.clicked.connect(self.check_again_requested)
        self.progress = QProgressBar()
        self.progress.setObjectName("checkProgress")
        self.progress.setRange(0, 0)
        self.progress.setFixedHeight(4)
        self.progress.setTextVisible(False)
        self.progress.setVisible(False)
        words = QVBoxLayout()
        words.setSpacing(4)
        words.addWidget(self.organization)
        words.addWidget(self.overall)
        words.addLayout(counts_row)
        words.addWidget(self.device)
        words.addWidget(self.last_checked)
        button_column = QVBoxLayout()
        button_column.setSpacing(4)
        button_column.addWidget(self.check_again)
        button_column.addWidget(self.progress)
        button_column.addStretch(1)
        top = QHBoxLayout()
        top.setSpacing(14)
        top.addWidget(self.status_icon, 0, Qt.AlignmentFlag.AlignTop)
        top.addLayout(words, 1)
        top.addLayout(button_column)
        header_content = QWidget()
        header_content.setLayout(top)
        top.setContentsMargins(18, 14, 18, 12)
        self.header = _centred(header_content, "header")

        # Page: IT's notice, the app's notices, the sections of cards, checks by hand.
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
        self.policy_notice = ProblemsNotice()
        self.model = PracticeListModel(self)
        self.cards = CardList(self.model, open_link)
        self.manual_checks = ManualChecksSection(open_link)
        column = QWidget()
        column_layout = QVBoxLayout(column)
        column_layout.setContentsMargins(18, 16, 18, 18)
        column_layout.setSpacing(12)
        for widget in (
            self.it_notice,
            self.admin_notice,
            self.policy_notice,
            self.cards,
            self.manual_checks,
        ):
            column_layout.addWidget(widget)
        column_layout.addStretch(1)
        self.column = column
        page = _centred(column, "page")
        self.scroll_area = QScrollArea()
        self.scroll_area.setObjectName("pageScroll")
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setWidget(page)

        # Help bar: IT's links, the all-devices page, Copy debug info.
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
        self.copy_debug_info.setObjectName("secondaryButton")
        self.copy_debug_info.clicked.connect(self.copy_debug_info_requested)
        # About: the app's version and the device key's thumbprint (selectable, to compare
        # with what IT enrolled).
        self.about = plain_label()
        self.about.setObjectName("muted")
        self.about.setWordWrap(True)
        self.about.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._device_key: tuple[str, str] | None = None
        help_content = QWidget()
        help_column = QVBoxLayout(help_content)
        help_column.setContentsMargins(18, 6, 18, 6)
        help_column.setSpacing(2)
        help_layout = QHBoxLayout()
        help_layout.addWidget(self.help_links, 3)
        help_layout.addWidget(self.copied, 2)
        help_layout.addWidget(self.copy_debug_info)
        help_column.addLayout(help_layout)
        help_column.addWidget(self.about)
        self.help_bar = _centred(help_content, "helpBar")

        central = QWidget()
        central.setObjectName("central")
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.header)
        layout.addWidget(self.scroll_area, 1)
        layout.addWidget(self.help_bar)
        self.setCentralWidget(central)
        QShortcut(
            QKeySequence(QKeySequence.StandardKey.Refresh), self, self.check_again_requested.emit
        )
        QShortcut(QKeySequence(QKeySequence.StandardKey.Close), self, self.close)
        self._fit_to_screen()
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
        changed = self._contact(support) != self._contact(self._support)
        self._support = support
        self.cards.set_contact(self._contact(support))
        if changed and self._report is not None:
            self.model.set_practices(self._report.practices)  # the cards offer Contact IT anew
        self._refresh_support()

    def set_device_key(self, kid: str | None, protection: str = "") -> None:
        """Show the device key's thumbprint and protection in the About line (None: no key)."""
        self._device_key = (kid, protection) if kid else None
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
        """Show a new report: header, notices and cards (a failure shown is over)."""
        self._report = report
        self._failure = None
        self.model.set_practices(report.practices)
        self.manual_checks.show_report(report)
        self._refresh_texts()

    def show_failure(self, failure: ScanFailure | None) -> None:
        """Say in the header that the last scan brought no report, and why (None: it did)."""
        self._failure = failure
        self._refresh_texts()

    def report(self) -> Report | None:
        """Return the report on show."""
        return self._report

    def focus_practice(self, key: str) -> None:
        """Scroll to a practice's card, open it and its section, and give it the focus."""
        card = self.cards.card(key)
        if card is None:
            return
        self.cards.section(card.practice.status).set_expanded(True)
        card.set_expanded(True)
        card.toggle.setFocus(Qt.FocusReason.OtherFocusReason)
        # The layout settles after the card expands: scroll then.
        QTimer.singleShot(0, lambda: self.scroll_area.ensureWidgetVisible(card, 0, 40))

    def bring_to_front(self) -> None:
        """Show the window, raised and active."""
        self.showNormal()
        self.raise_()
        self.activateWindow()

    # -- size -------------------------------------------------------------------------------

    def _fit_to_screen(self) -> None:
        """Open no larger than the screen's free area (an 800 by 600 screen shows all of it)."""
        screen = self.screen()
        if screen is None:
            return
        available = screen.availableGeometry()
        self.resize(fitted_size(available))
        minimum = QSize(
            min(MINIMUM_SIZE[0], available.width()), min(MINIMUM_SIZE[1], available.height())
        )
        self.setMinimumSize(minimum)

    def showEvent(self, event: QShowEvent) -> None:
        """Fit the window to its screen the first time it shows (it may not be the primary)."""
        if not self._fitted:
            self._fitted = True
            self._fit_to_screen()
        super().showEvent(event)

    # -- rendering --------------------------------------------------------------------------

    @staticmethod
    def _contact(support: Support) -> HelpLink | None:
        """Return the link "Contact IT" opens: IT's first help entry (none: no button)."""
        return support.help_links[0] if support.help_links else None

    def _open(self, url: str) -> None:
        if url:
            self._open_link(QUrl(url))

    def _notice_url(self) -> str:
        notice = self._support.notice
        return notice.link_url if notice is not None else ""

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
        colour = link_colour()
        links = " &nbsp;·&nbsp; ".join(
            f'<a href="{html.escape(entry.url)}">{html.escape(entry.label)}</a>'
            for entry in entries
        )
        title = html.escape(strings.string("help"))
        style = f"<style>a {{ color: {colour}; }}</style>"
        self.help_links.setText(f"{style}<b>{title}</b> &nbsp; {links}" if entries else "")
        self.copy_debug_info.setText(strings.string("copyDebugInfo"))
        self.copied.setText(strings.string("debugInfoCopied"))
        about = [strings.string("appVersion", version=__version__)]
        if self._device_key is not None:
            kid, protection = self._device_key
            about.append(strings.string("deviceKey", kid=kid, protection=protection))
        self.about.setText(" · ".join(about))

    def _refresh_texts(self) -> None:
        strings = self._instructions
        self.check_again.setText(
            strings.string("checking") if self._scanning else strings.string("checkAgain")
        )
        self.check_again.setAccessibleName(strings.string("checkAgain"))
        named = organization_named(self._organization)
        self.organization.setText(named)
        self.organization.setVisible(bool(named))
        report = self._report
        if report is None:
            self.device.setText("")
            self.device.setVisible(False)
            self._show_overall(None, strings.string("checking"))
            self.last_checked.setText("")
            for count in self.counts.values():
                count.setVisible(False)
            self._show_failure()
            return
        device = report.device
        parts = [
            device.device_name,
            f"{device.os_name or device.platform_name} {device.os_version}".strip(),
            f"{device.hardware_vendor} {device.hardware_model}".strip(),
        ]
        self.device.setText(" · ".join(part for part in parts if part))
        self.device.setVisible(bool(self.device.text()))
        counts = report.counts()
        # The state alone; its counts are the chips beside it (each said once).
        self._show_overall(
            report.status, strings.summary_head(report.status, counts, self._organization)
        )
        for status, label in self.counts.items():
            number = counts.get(status, 0)
            phrase = strings.count_phrase(status, number)
            label.setText(f"{SYMBOLS[status]} {phrase}")
            label.setAccessibleName(phrase)
            label.setVisible(number > 0)
        when = [
            strings.string("lastChecked", time=local_time(report.started_at)),
            strings.string("scanDuration", duration=f"{report.duration_seconds * 1000:.0f} ms"),
        ]
        if self._checked_by:
            when.append(strings.string("lastCheckedBy", label=self._checked_by))
        self.last_checked.setText(" · ".join(when))
        self.admin_label.setText(strings.string("runningAsAdmin"))
        self.admin_notice.setVisible(device.running_as_admin)
        problems = (*report.policy_problems, *report.check_problems)
        self.policy_notice.show_problems(
            report.policy_problems_summary or strings.string("policyErrors"),
            problems,
            strings.string("sectionDetails"),
        )
        self._show_failure()

    def _show_overall(self, status: Status | None, text: str) -> None:
        """Show the state in words, coloured, beside its icon (None: checking, no report yet)."""
        self.overall.setText(text)
        self.overall.setAccessibleName(text)
        shown = status if status is not None else Status.UNKNOWN
        self.overall.setProperty("status", shown.value)
        self.overall.style().unpolish(self.overall)
        self.overall.style().polish(self.overall)
        state = TrayIconState.SCANNING if status is None else state_for(status, False)
        ratio = max(1.0, self.devicePixelRatioF())
        pixmap = status_icon(state, dark=False).pixmap(
            QSize(STATUS_ICON_SIZE, STATUS_ICON_SIZE), ratio
        )
        self.status_icon.setPixmap(pixmap)
        self.status_icon.setAccessibleName(text)

    def _show_failure(self) -> None:
        """Put the failure over the state in words; its detail goes in the fine print below."""
        failure = self._failure
        if failure is None:
            return
        words = failure.words(self._instructions)
        self._show_overall(Status.UNKNOWN, words)
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
