"""The window's section of IT's checks done by hand, apart from the ranked cards.

Fleet's manual-check placeholders (a query that never returns rows) get no verdict: the report
lists them in `manual_checks`. The section sits below the cards, collapsed: its header says how
many there are ("Check by hand (12)"); opened, it says they were not checked and lists each
check's title and IT's directions (Markdown, links opened by the system). Where IT's setting left
them out (`manualChecks: skip`) it is one muted line saying how many.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QUrl
from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QVBoxLayout, QWidget

from stethoscope_desktop.core.report import ManualCheck, Report
from stethoscope_desktop.core.strings import UiStrings
from stethoscope_desktop.ui.cards import LinkOpener, directions_label, plain_label


def _text(text: str, name: str = "") -> QLabel:
    label = plain_label(text)
    if name:
        label.setObjectName(name)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class ManualCheckItem(QWidget):
    """One check done by hand: its title and IT's directions."""

    def __init__(self, check: ManualCheck, open_link: LinkOpener) -> None:
        super().__init__()
        self.check = check
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.setSpacing(2)
        self.title = _text(check.title, "cardTitle")
        layout.addWidget(self.title)
        self.directions: QLabel | None = None
        if check.directions:
            self.directions = directions_label(check.directions, lambda url: open_link(QUrl(url)))
            layout.addWidget(self.directions)


class ManualChecksSection(QFrame):
    """IT's checks done by hand: a collapsed header with the count, the checks when opened."""

    def __init__(self, open_link: LinkOpener, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._open_link = open_link
        self._checks: tuple[ManualCheck, ...] = ()
        self._left_out = 0
        self._strings = UiStrings()
        self._organization = ""
        self.items: list[ManualCheckItem] = []
        self.setObjectName("manualChecks")
        self.toggle = QPushButton()
        self.toggle.setObjectName("manualChecksHeader")
        self.toggle.setFlat(True)
        self.toggle.setCheckable(True)
        self.toggle.setCursor(Qt.CursorShape.PointingHandCursor)
        self.toggle.toggled.connect(self._on_toggled)
        self.left_out = _text("", "muted")
        self.details = QWidget()
        self.intro = _text("", "muted")
        self._details_layout = QVBoxLayout(self.details)
        self._details_layout.setContentsMargins(4, 0, 0, 4)
        self._details_layout.setSpacing(4)
        self._details_layout.addWidget(self.intro)
        self.details.setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.setSpacing(4)
        layout.addWidget(self.toggle, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.left_out)
        layout.addWidget(self.details)
        self.setVisible(False)

    def set_strings(self, strings: UiStrings, organization: str) -> None:
        """Use these texts (the report's language) and organisation name."""
        self._strings = strings
        self._organization = organization
        self._refresh_texts()

    def show_report(self, report: Report) -> None:
        """Show the report's checks done by hand (or how many IT's setting left out)."""
        changed = report.manual_checks != self._checks
        self._checks = report.manual_checks
        self._left_out = report.manual_checks_left_out
        if changed:
            for item in self.items:
                self._details_layout.removeWidget(item)
                item.deleteLater()
            self.items = [ManualCheckItem(check, self._open_link) for check in self._checks]
            for item in self.items:
                self._details_layout.addWidget(item)
        self.toggle.setVisible(bool(self._checks))
        self.left_out.setVisible(not self._checks and self._left_out > 0)
        if not self._checks:
            self.set_expanded(False)
        self.setVisible(bool(self._checks) or self._left_out > 0)
        self._refresh_texts()

    def is_expanded(self) -> bool:
        """Return True when the checks are shown."""
        return self.toggle.isChecked()

    def set_expanded(self, expanded: bool) -> None:
        """Show or hide the checks."""
        self.toggle.setChecked(expanded)

    def _on_toggled(self, expanded: bool) -> None:
        self.details.setVisible(expanded)
        self._refresh_texts()

    def _refresh_texts(self) -> None:
        strings = self._strings
        count = len(self._checks)
        arrow = "▾" if self.is_expanded() else "▸"
        title = strings.string("manualTitle", count=count)
        self.toggle.setText(f"{arrow}  {title}")
        self.toggle.setAccessibleName(title)
        organization = strings.organization_words(self._organization)
        self.intro.setText(strings.string("manualIntro", organization=organization))
        self.left_out.setText(strings.plural("manualLeftOut", self._left_out))
