"""The practice cards: a model of ranked results, and one expandable card widget per practice."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, QUrl, Signal
from PySide6.QtGui import QFont, QKeyEvent, QTextDocument
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from stethoscope_desktop.core.report import PracticeResult
from stethoscope_desktop.core.status import Status
from stethoscope_desktop.core.strings import UiStrings
from stethoscope_desktop.ui.theme import SYMBOLS

LinkOpener = Callable[[QUrl], Any]
MAX_EVIDENCE_ROWS = 12
PracticeRole = Qt.ItemDataRole.UserRole + 1
Index = QModelIndex | QPersistentModelIndex


class PracticeListModel(QAbstractListModel):
    """The ranked practices of the current report, as a Qt list model."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._practices: tuple[PracticeResult, ...] = ()

    def set_practices(self, practices: Sequence[PracticeResult]) -> None:
        """Replace the practices (already ranked by the report)."""
        self.beginResetModel()
        self._practices = tuple(practices)
        self.endResetModel()

    def practices(self) -> tuple[PracticeResult, ...]:
        """Return the practices in rank order."""
        return self._practices

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt API
        """Return how many practices there are."""
        return 0 if parent.isValid() else len(self._practices)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Return the title (display role) or the PracticeResult (PracticeRole)."""
        if not index.isValid() or not 0 <= index.row() < len(self._practices):
            return None
        practice = self._practices[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return practice.title
        if role == PracticeRole:
            return practice
        return None


def plain_label(text: str = "") -> QLabel:
    """Return a label that shows `text` as it is: never as HTML, whatever it contains.

    Text from the machine (a Wi-Fi name, an app name) or from IT (a title, a reason) must not
    render as rich text, which QLabel's automatic format would do for `<h1>…` or `<a href=…>`.
    """
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def _label(text: str, *, name: str = "", wrap: bool = True, muted: bool = False) -> QLabel:
    label = plain_label(text)
    if name:
        label.setObjectName(name)
    label.setWordWrap(wrap)
    if muted:
        label.setProperty("muted", True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def markdown_to_html(markdown: str, font: QFont) -> str:
    """Return Markdown rendered by Qt as HTML, with raw HTML in it shown as text.

    QLabel's MarkdownText follows GitHub's dialect, which passes raw HTML (`<img>`, `<h1>`,
    `<a href>`) through; we render with `MarkdownNoHTML` so tags in IT's directions or in a value
    filled into them show literally, and links are only Markdown's own.
    """
    document = QTextDocument()
    document.setDefaultFont(font)
    features = QTextDocument.MarkdownFeature
    document.setMarkdown(
        markdown,
        features(features.MarkdownDialectGitHub.value | features.MarkdownNoHTML.value),
    )
    return document.toHtml()


def directions_label(markdown: str, on_link: Callable[[str], Any]) -> QLabel:
    """Return a label showing Markdown directions; a link clicked goes to `on_link`.

    The label's `markdown` property holds the Markdown it shows.
    """
    label = QLabel()
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setText(markdown_to_html(markdown, label.font()))
    label.setProperty("markdown", markdown)
    label.setWordWrap(True)
    label.setOpenExternalLinks(False)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
    label.linkActivated.connect(on_link)
    return label


def evidence_text(practice: PracticeResult) -> str:
    """Return the rows behind a verdict as short `column = value` lines."""
    lines: list[str] = []
    for row in practice.evidence.rows[:MAX_EVIDENCE_ROWS]:
        shown = [f"{k} = {v}" for k, v in row.items() if v not in (None, "") and k != "detail"]
        if shown:
            lines.append(", ".join(shown))
    hidden = len(practice.evidence.rows) - MAX_EVIDENCE_ROWS
    if hidden > 0:
        lines.append(f"… {hidden} more")
    if practice.evidence.tables:
        lines.append(f"({', '.join(practice.evidence.tables)})")
    return "\n".join(lines)


class PracticeCard(QFrame):
    """One practice: a status chip, its title and rating; details when expanded."""

    expanded_changed = Signal(bool)

    def __init__(
        self,
        practice: PracticeResult,
        instructions: UiStrings,
        open_link: LinkOpener,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.practice = practice
        self._open_link = open_link
        self.setObjectName("card")
        self.setProperty("status", practice.status.value)
        status_text = instructions.status_name(practice.status)
        rating_text = instructions.rating_name(practice.rating)

        self.chip = plain_label(f"{SYMBOLS[practice.status]}  {status_text}")
        self.chip.setObjectName("chip")
        self.chip.setProperty("status", practice.status.value)
        self.chip.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.chip.setAccessibleName(status_text)
        self.title = plain_label(practice.title)
        self.title.setObjectName("cardTitle")
        self.title.setWordWrap(True)
        self.rating = _label(rating_text, name="muted", wrap=False)
        self.toggle = QPushButton("▸")
        self.toggle.setObjectName("cardHeader")
        self.toggle.setFlat(True)
        self.toggle.setFixedWidth(28)
        self.toggle.setCheckable(True)
        self.toggle.setAccessibleName(f"{practice.title}: {status_text}, {rating_text}")
        self.toggle.setAccessibleDescription(instructions.string("sectionHow"))
        self.toggle.toggled.connect(self._on_toggle_toggled)

        header = QHBoxLayout()
        header.setSpacing(10)
        header.addWidget(self.chip, 0, Qt.AlignmentFlag.AlignTop)
        header.addWidget(self.title, 1)
        header.addWidget(self.rating, 0, Qt.AlignmentFlag.AlignTop)
        header.addWidget(self.toggle, 0, Qt.AlignmentFlag.AlignTop)

        self.details = QWidget()
        details = QVBoxLayout(self.details)
        details.setContentsMargins(0, 4, 0, 0)
        details.setSpacing(4)
        self.reason: QLabel | None = None
        self.reason_for_it: QLabel | None = None
        if practice.unknown_by_query_mistake():
            # The check is wrong, not the device: say so; IT's technical reason smaller below.
            self.reason = _label(instructions.string("queryMistake"))
            details.addWidget(self.reason)
            self.reason_for_it = _label(
                instructions.string("queryMistakeForIt", reason=practice.reason),
                name="reasonForIt",
                muted=True,
            )
            details.addWidget(self.reason_for_it)
        elif practice.status is Status.UNKNOWN:
            self.reason = _label(instructions.string("couldNotCheck", reason=practice.reason))
            details.addWidget(self.reason)
        if practice.description:
            details.addWidget(_label(instructions.string("sectionWhy"), name="sectionTitle"))
            details.addWidget(_label(practice.description))
        self.directions: QLabel | None = None
        if practice.directions and practice.status is not Status.PASS:
            details.addWidget(_label(instructions.string("sectionHow"), name="sectionTitle"))
            self.directions = directions_label(
                practice.directions, self._on_directions_link_activated
            )
            self.directions.setAccessibleName(instructions.string("sectionHow"))
            details.addWidget(self.directions)
        evidence = evidence_text(practice)
        if practice.observed or evidence:
            details.addWidget(_label(instructions.string("sectionEvidence"), name="sectionTitle"))
            if practice.observed:
                details.addWidget(_label(practice.observed))
            if evidence:
                details.addWidget(_label(evidence, name="evidence"))
        self.details.setVisible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 10, 10)
        layout.addLayout(header)
        layout.addWidget(self.details)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    def is_expanded(self) -> bool:
        """Return True when the details are shown."""
        return self.toggle.isChecked()

    def set_expanded(self, expanded: bool) -> None:
        """Show or hide the details."""
        self.toggle.setChecked(expanded)

    def _on_toggle_toggled(self, expanded: bool) -> None:
        self.details.setVisible(expanded)
        self.toggle.setText("▾" if expanded else "▸")
        self.expanded_changed.emit(expanded)

    def _on_directions_link_activated(self, link: str) -> None:
        self._open_link(QUrl(link))

    def mousePressEvent(self, event: Any) -> None:
        """Toggle the details when the card's header area is clicked."""
        if event.position().y() < self.toggle.geometry().bottom() + 6:
            self.set_expanded(not self.is_expanded())
            self.toggle.setFocus()
        super().mousePressEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Space and Enter on the card toggle it, as on its button."""
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.set_expanded(not self.is_expanded())
            return
        super().keyPressEvent(event)


class CardList(QWidget):
    """The cards of a PracticeListModel, rebuilt whenever the model is reset."""

    def __init__(
        self,
        model: PracticeListModel,
        open_link: LinkOpener,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._model = model
        self._open_link = open_link
        self._instructions = UiStrings()
        self._cards: list[PracticeCard] = []
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(8)
        self._layout.addStretch(1)
        model.modelReset.connect(self._on_model_reset)

    def set_instructions(self, instructions: UiStrings) -> None:
        """Use these texts for the next rebuild."""
        self._instructions = instructions

    def cards(self) -> list[PracticeCard]:
        """Return the cards, in rank order."""
        return list(self._cards)

    def card(self, key: str) -> PracticeCard | None:
        """Return the card of the practice with this key."""
        return next((c for c in self._cards if c.practice.key == key), None)

    def _on_model_reset(self) -> None:
        expanded = {card.practice.key for card in self._cards if card.is_expanded()}
        for card in self._cards:
            self._layout.removeWidget(card)
            card.deleteLater()
        self._cards = []
        for row, practice in enumerate(self._model.practices()):
            card = PracticeCard(practice, self._instructions, self._open_link, self)
            card.set_expanded(practice.key in expanded)
            self._layout.insertWidget(row, card)
            self._cards.append(card)
        previous: QWidget | None = None
        for card in self._cards:
            if previous is not None:
                QWidget.setTabOrder(previous, card.toggle)
            previous = card.toggle
