"""The practice cards, in sections by state: needs attention, suggestions, couldn't check, all good.

Every card has one design: the practice's icon, its title (with the rating below it where the
report gives it in words: beside "Needs attention"), one status chip of one width and shape in
both palettes, and a disclosure button. Opened, a card shows the report's plain one-line summary
of what was found, why the practice matters, the directions as numbered steps (every command in
them with a Copy button beside it, every link to a settings pane with an "Open settings" button),
"Contact IT" where IT names a help link, and a collapsed "Details" with the report's technical
lines. The words are the report's (`status_text`, `rating_text`, `summary`, `details`), so the
window, the terminal report and the API say the same.

The directions are Markdown: a step is a top-level numbered item, a command a code block or a
code span with a space in it (`sudo ufw enable`; a single word such as `sudo` or a file name stays
in the sentence).
"""

from __future__ import annotations

import itertools
import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    Property,
    QAbstractListModel,
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import QFont, QFontDatabase, QFontMetrics, QGuiApplication, QTextDocument
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from stethoscope_desktop.core.report import Link, PracticeResult
from stethoscope_desktop.core.status import Status
from stethoscope_desktop.core.strings import UiStrings
from stethoscope_desktop.core.support import HelpLink
from stethoscope_desktop.ui.icons import practice_icon
from stethoscope_desktop.ui.theme import SYMBOLS, link_colour

LinkOpener = Callable[[QUrl], Any]
PracticeRole = Qt.ItemDataRole.UserRole + 1
Index = QModelIndex | QPersistentModelIndex
ICON_SIZE = 22
CHIP_HEIGHT = 24
COPIED_SHOWN_MS = 2000

# Links that open a settings pane rather than a web page: macOS System Settings, Windows
# Settings and Windows Security, and GNOME/KDE settings where a direction names one.
SETTINGS_SCHEMES = (
    "x-apple.systempreferences:",
    "ms-settings:",
    "windowsdefender:",
    "gnome-control-center:",
    "settings:",
    "systemsettings:",
)

# The sections, in order: the state, the string key of its heading, whether it starts open.
SECTIONS = (
    (Status.FAIL, "sectionAttention", True),
    (Status.NUDGE, "sectionSuggestions", True),
    (Status.UNKNOWN, "sectionCouldNotCheck", True),
    (Status.PASS, "sectionAllGood", False),
)


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
    label.setIndent(0)  # a label the style sheet pads would otherwise indent its text
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
    # Qt writes the application palette's link colour into every link (a style sheet cannot
    # change it): use the theme's, readable on the light or dark page.
    colour = link_colour()
    return _LINK_COLOUR.sub(
        lambda match: f'{match.group(1)}<span style=" color:{colour};">', document.toHtml()
    )


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


# -- the directions as steps and commands ----------------------------------------------------


@dataclass(frozen=True)
class DirectionsBlock:
    """A part of the directions: a numbered step (`number` > 0) or a paragraph between steps."""

    number: int
    markdown: str


@dataclass(frozen=True)
class Segment:
    """A part of a step: Markdown text, or a command (the text to copy)."""

    text: str
    is_command: bool


_LINK_COLOUR = re.compile(r'(<a [^>]*>)<span style=" color:#[0-9a-fA-F]{6};">')
_STEP = re.compile(r"^(\d+)[.)]\s+(.*)$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE = re.compile(
    r"(?P<fence>^[ \t]*(?P<mark>```|~~~)[^\n]*\n(?P<block>.*?)^[ \t]*(?P=mark)[ \t]*$)"
    r"|(?P<ticks>`+)(?P<span>.+?)(?P=ticks)",
    re.M | re.S,
)
_MARKDOWN_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_NOTHING_BUT_PUNCTUATION = re.compile(r"^[\s.,;:!?)(\-\u2013\u2014]*$")


def parse_directions(markdown: str) -> list[DirectionsBlock]:
    """Split directions into top-level numbered steps and the paragraphs around them.

    A step runs from its `1.` line over every indented line (and blank lines between them);
    code fences inside a step stay with it.
    """
    blocks: list[DirectionsBlock] = []
    number = 0
    lines: list[str] = []
    in_fence = False

    def flush() -> None:
        text = "\n".join(lines).strip("\n")
        if text.strip():
            blocks.append(DirectionsBlock(number, textwrap.dedent(text) if not number else text))

    for line in markdown.splitlines():
        if in_fence:
            lines.append(line)
            in_fence = not _FENCE.match(line)
            continue
        step = _STEP.match(line)
        if step:
            flush()
            number, lines = int(step.group(1)), [step.group(2)]
        elif number and (not line.strip() or line[:1] in " \t"):
            lines.append(line)
        else:
            if number:
                flush()
                number, lines = 0, []
            lines.append(line)
        if _FENCE.match(line):
            in_fence = True
    flush()
    return blocks


def _step_body(markdown: str) -> str:
    """Return a step's text with its continuation lines dedented to the step's own level."""
    first, _, rest = markdown.partition("\n")
    return f"{first}\n{textwrap.dedent(rest)}" if rest else first


def split_commands(markdown: str) -> list[Segment]:
    """Split Markdown at its commands: code blocks, and code spans that hold a space.

    Where every command ends its line (`Install it with `sudo apt install ufw`.`, a list item
    `- Fedora: `sudo dnf upgrade``), the text is cut there and each command stands in its place.
    Where a command sits inside a sentence (`Run `a`, then check with `b`: …`), the sentence stays
    whole and its commands follow it, so no sentence is cut in two.
    """
    found: list[tuple[int, int, str]] = []
    for match in _CODE.finditer(markdown):
        if match.group("fence"):
            found.append((match.start(), match.end(), match.group("block").strip("\n")))
            continue
        command = match.group("span").strip()
        if re.search(r"\s", command):  # a word such as `sudo` or a file name stays in the text
            found.append((match.start(), match.end(), command))
    ends_line = all(
        _NOTHING_BUT_PUNCTUATION.match(markdown[end:].split("\n", 1)[0]) for _, end, _ in found
    )
    segments: list[Segment] = []
    if not ends_line:
        segments = [Segment(markdown, False), *(Segment(command, True) for *_, command in found)]
    else:
        position = 0
        for start, end, command in found:
            segments += [Segment(markdown[position:start], False), Segment(command, True)]
            position = end
            rest = markdown[position:].split("\n", 1)
            position += len(rest[0])  # the punctuation after the command goes with it
        segments.append(Segment(markdown[position:], False))
    kept = []
    for segment in segments:
        if segment.is_command:
            kept.append(segment)
            continue
        text = segment.text.strip("\n")
        text = textwrap.dedent(text) if text.startswith((" ", "\t")) else text
        if not _NOTHING_BUT_PUNCTUATION.match(text):
            kept.append(Segment(text.strip(), False))
    return kept


def settings_links(markdown: str) -> list[Link]:
    """Return the Markdown links in `markdown` that open a settings pane, each URL once."""
    found: dict[str, Link] = {}
    for text, url in _MARKDOWN_LINK.findall(markdown):
        if url.lower().startswith(SETTINGS_SCHEMES) and url not in found:
            found[url] = Link(text, url)
    return list(found.values())


class CommandRow(QFrame):
    """A command from the directions, in a monospace box, with a Copy button beside it."""

    def __init__(self, command: str, strings: UiStrings) -> None:
        super().__init__()
        self.command = command
        self._strings = strings
        self.setObjectName("command")
        self.text = plain_label(command)
        self.text.setObjectName("commandText")
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setAccessibleName(command)
        self.copy = QPushButton(strings.string("copyCommand"))
        self.copy.setObjectName("copyButton")
        self.copy.setCursor(Qt.CursorShape.PointingHandCursor)
        self.copy.setAccessibleName(f"{strings.string('copyCommand')}: {command}")
        self.copy.clicked.connect(self._on_copy_clicked)
        self._reset = QTimer(self)
        self._reset.setSingleShot(True)
        self._reset.setInterval(COPIED_SHOWN_MS)
        self._reset.timeout.connect(self._on_reset_timeout)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 4, 4, 4)
        layout.setSpacing(8)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.copy, 0, Qt.AlignmentFlag.AlignTop)

    def _on_copy_clicked(self) -> None:
        QGuiApplication.clipboard().setText(self.command)
        self.copy.setText(self._strings.string("commandCopied"))
        self._reset.start()

    def _on_reset_timeout(self) -> None:
        self.copy.setText(self._strings.string("copyCommand"))


class StepsView(QWidget):
    """Directions as numbered steps: text, commands with Copy buttons, Open settings buttons."""

    def __init__(self, markdown: str, strings: UiStrings, on_link: Callable[[str], Any]) -> None:
        super().__init__()
        self.setObjectName("steps")
        self.setProperty("markdown", markdown)
        self.commands: list[CommandRow] = []
        self.settings_buttons: list[QPushButton] = []
        self.texts: list[QLabel] = []
        self.numbers: list[int] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        for block in parse_directions(markdown):
            body = QVBoxLayout()
            body.setSpacing(4)
            body.setContentsMargins(0, 0, 0, 0)
            text = _step_body(block.markdown) if block.number else block.markdown
            for segment in split_commands(text):
                if segment.is_command:
                    row = CommandRow(segment.text, strings)
                    self.commands.append(row)
                    body.addWidget(row)
                else:
                    label = directions_label(segment.text, on_link)
                    self.texts.append(label)
                    body.addWidget(label)
            buttons = QHBoxLayout()
            buttons.setContentsMargins(0, 0, 0, 0)
            for link in settings_links(text):
                button = QPushButton(f"{strings.string('openSettings')}: {link.text}")
                button.setObjectName("settingsButton")
                button.setCursor(Qt.CursorShape.PointingHandCursor)
                button.setAccessibleName(f"{strings.string('openSettings')}: {link.text}")
                button.setProperty("url", link.url)
                button.clicked.connect(lambda _=False, url=link.url: on_link(url))
                self.settings_buttons.append(button)
                buttons.addWidget(button)
            if buttons.count():
                buttons.addStretch(1)
                body.addLayout(buttons)
            if not block.number:
                layout.addLayout(body)
                continue
            self.numbers.append(block.number)
            step = QHBoxLayout()
            step.setSpacing(10)
            badge = plain_label(str(block.number))
            badge.setObjectName("stepNumber")
            badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
            badge.setFixedSize(22, 22)
            badge.setAccessibleName(str(block.number))
            step.addWidget(badge, 0, Qt.AlignmentFlag.AlignTop)
            step.addLayout(body, 1)
            layout.addLayout(step)


# -- the card -----------------------------------------------------------------------------------


class PracticeIcon(QLabel):
    """A practice's icon, tinted by the style sheet (`qproperty-iconColor`)."""

    def __init__(self, practice: str) -> None:
        super().__init__()
        self.setObjectName("practiceIcon")
        self.setTextFormat(Qt.TextFormat.PlainText)  # a picture, never rich text
        self._practice = practice
        self._colour = "#57606a"
        self.setFixedSize(ICON_SIZE, ICON_SIZE)
        self._draw()

    def practice(self) -> str:
        """Return the practice whose icon this is."""
        return self._practice

    def _get_icon_color(self) -> str:
        return self._colour

    def _set_icon_color(self, colour: str) -> None:
        if colour != self._colour:
            self._colour = colour
            self._draw()

    iconColor = Property(str, _get_icon_color, _set_icon_color)

    def _draw(self) -> None:
        ratio = max(1.0, self.devicePixelRatioF())
        pixmap = practice_icon(self._practice, self._colour, round(ICON_SIZE * ratio))
        pixmap.setDevicePixelRatio(ratio)
        self.setPixmap(pixmap)


def chip_width(strings: UiStrings, font: QFont) -> int:
    """Return the one width every status chip has: the widest status name in this language."""
    bold = QFont(font)
    bold.setWeight(QFont.Weight.DemiBold)
    metrics = QFontMetrics(bold)
    widest = max(
        metrics.horizontalAdvance(f"{SYMBOLS[status]}  {strings.status_name(status)}")
        for status in Status
    )
    return widest + 24


def status_words(practice: PracticeResult, strings: UiStrings) -> tuple[str, str]:
    """Return the practice's state and rating in words, as the report says them.

    A report from before the report carried its words (`status_text` empty) gets them from the
    UI strings, by the same rule (`UiStrings.rating_text`).
    """
    if practice.status_text:
        return practice.status_text, practice.rating_text
    return strings.status_name(practice.status), strings.rating_text(
        practice.status, practice.rating
    )


class PracticeCard(QFrame):
    """One practice: icon, title, chip and a disclosure button; the rest when opened."""

    expanded_changed = Signal(bool)

    def __init__(
        self,
        practice: PracticeResult,
        instructions: UiStrings,
        open_link: LinkOpener,
        parent: QWidget | None = None,
        *,
        contact: HelpLink | None = None,
        chip_width_px: int = 0,
    ) -> None:
        super().__init__(parent)
        self.practice = practice
        self._open_link = open_link
        self.setObjectName("card")
        self.setProperty("status", practice.status.value)
        status_text, rating_text = status_words(practice, instructions)

        self.icon = PracticeIcon(practice.practice)
        self.chip = plain_label(f"{SYMBOLS[practice.status]}  {status_text}")
        self.chip.setObjectName("chip")
        self.chip.setProperty("status", practice.status.value)
        self.chip.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.chip.setFixedSize(chip_width_px or chip_width(instructions, self.font()), CHIP_HEIGHT)
        self.chip.setAccessibleName(status_text)
        self.title = plain_label(practice.title)
        self.title.setObjectName("cardTitle")
        self.title.setWordWrap(True)
        self.rating = _label(rating_text, name="rating", wrap=False, muted=True)
        self.rating.setVisible(bool(rating_text))
        self.toggle = QPushButton("▸")
        self.toggle.setObjectName("cardToggle")
        self.toggle.setFixedSize(30, 30)
        self.toggle.setCheckable(True)
        self.toggle.setCursor(Qt.CursorShape.PointingHandCursor)
        spoken = [practice.title, status_text, rating_text]
        self.toggle.setAccessibleName(", ".join(part for part in spoken if part))
        self.toggle.setAccessibleDescription(instructions.string("sectionHow"))
        self.toggle.toggled.connect(self._on_toggle_toggled)
        self.toggle.installEventFilter(self)

        title_column = QVBoxLayout()
        title_column.setSpacing(0)
        title_column.addWidget(self.title)
        title_column.addWidget(self.rating)
        header = QHBoxLayout()
        header.setSpacing(12)
        header.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignVCenter)
        header.addLayout(title_column, 1)
        header.addWidget(self.chip, 0, Qt.AlignmentFlag.AlignVCenter)
        header.addWidget(self.toggle, 0, Qt.AlignmentFlag.AlignVCenter)

        self.details = QWidget()
        self.details.setObjectName("cardBody")
        body = QVBoxLayout(self.details)
        body.setContentsMargins(ICON_SIZE + 12, 6, 0, 2)
        body.setSpacing(6)
        self.summary: QLabel | None = None
        if practice.summary:
            self.summary = _label(practice.summary, name="cardSummary")
            body.addWidget(self.summary)
        self.description: QLabel | None = None
        if practice.description:
            body.addWidget(_label(instructions.string("sectionWhy"), name="sectionTitle"))
            self.description = _label(practice.description)
            body.addWidget(self.description)
        self.directions: StepsView | None = None
        if practice.directions and practice.status is not Status.PASS:
            body.addWidget(_label(instructions.string("sectionHow"), name="sectionTitle"))
            self.directions = StepsView(
                practice.directions, instructions, self._on_directions_link_activated
            )
            self.directions.setAccessibleName(instructions.string("sectionHow"))
            body.addWidget(self.directions)
        self.contact: QPushButton | None = None
        if contact is not None and practice.status is not Status.PASS:
            self.contact = QPushButton(instructions.string("contactIt"))
            self.contact.setObjectName("linkButton")
            self.contact.setCursor(Qt.CursorShape.PointingHandCursor)
            self.contact.setToolTip(contact.url)
            self.contact.setAccessibleDescription(contact.label)
            self.contact.clicked.connect(lambda: open_link(QUrl(contact.url)))
            body.addWidget(self.contact, 0, Qt.AlignmentFlag.AlignLeft)
        self.details_toggle: QPushButton | None = None
        self.evidence = QWidget()
        self.evidence.setObjectName("evidenceBox")
        evidence = QVBoxLayout(self.evidence)
        evidence.setContentsMargins(12, 8, 12, 8)
        evidence.setSpacing(4)
        self.detail_lines = [_label(line, name="detailLine") for line in practice.details]
        for line in self.detail_lines:
            evidence.addWidget(line)
        if self.detail_lines:
            title = instructions.string("sectionDetails")
            self.details_toggle = QPushButton(f"▸  {title}")
            self.details_toggle.setObjectName("detailsToggle")
            self.details_toggle.setCheckable(True)
            self.details_toggle.setCursor(Qt.CursorShape.PointingHandCursor)
            self.details_toggle.setAccessibleName(title)
            self.details_toggle.toggled.connect(
                lambda shown: self._on_details_toggled(shown, title)
            )
            body.addWidget(self.details_toggle, 0, Qt.AlignmentFlag.AlignLeft)
            body.addWidget(self.evidence)
        self.evidence.setVisible(False)
        self.details.setVisible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 10, 10)
        layout.setSpacing(0)
        layout.addLayout(header)
        layout.addWidget(self.details)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    def is_expanded(self) -> bool:
        """Return True when the card is open."""
        return self.toggle.isChecked()

    def set_expanded(self, expanded: bool) -> None:
        """Open or close the card."""
        self.toggle.setChecked(expanded)

    def details_shown(self) -> bool:
        """Return True when Details is open."""
        return self.details_toggle is not None and self.details_toggle.isChecked()

    def _on_toggle_toggled(self, expanded: bool) -> None:
        self.details.setVisible(expanded)
        self.toggle.setText("▾" if expanded else "▸")
        self.expanded_changed.emit(expanded)

    def _on_details_toggled(self, shown: bool, title: str) -> None:
        self.evidence.setVisible(shown)
        if self.details_toggle is not None:
            self.details_toggle.setText(f"{'▾' if shown else '▸'}  {title}")

    def _on_directions_link_activated(self, link: str) -> None:
        self._open_link(QUrl(link))

    def eventFilter(self, watched: Any, event: Any) -> bool:
        """Mark the card while its disclosure button has the keyboard focus (a visible ring)."""
        if watched is self.toggle and event.type() in (QEvent.Type.FocusIn, QEvent.Type.FocusOut):
            self.setProperty("focused", event.type() == QEvent.Type.FocusIn)
            self.style().unpolish(self)
            self.style().polish(self)
        return super().eventFilter(watched, event)

    def mousePressEvent(self, event: Any) -> None:
        """Open or close the card when its header row is clicked."""
        if event.position().y() < self.toggle.geometry().bottom() + 8:
            self.set_expanded(not self.is_expanded())
            self.toggle.setFocus(Qt.FocusReason.MouseFocusReason)
        super().mousePressEvent(event)


class StatusSection(QWidget):
    """The cards of one state under a heading that opens and closes the section."""

    def __init__(self, status: Status, key: str, expanded: bool) -> None:
        super().__init__()
        self.status = status
        self.setObjectName("section")
        self._key = key
        self._count = 0
        self._strings = UiStrings()
        self.cards: list[PracticeCard] = []
        self.toggle = QPushButton()
        self.toggle.setObjectName("sectionToggle")
        self.toggle.setProperty("status", status.value)
        self.toggle.setCheckable(True)
        self.toggle.setChecked(expanded)
        self.toggle.setCursor(Qt.CursorShape.PointingHandCursor)
        self.toggle.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        self.toggle.toggled.connect(self._on_toggled)
        self.body = QWidget()
        self._body = QVBoxLayout(self.body)
        self._body.setContentsMargins(0, 0, 0, 0)
        self._body.setSpacing(8)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.toggle, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.body)
        self.body.setVisible(expanded)

    def title(self) -> str:
        """Return the heading in words (without the count)."""
        return self._strings.string(self._key)

    def is_expanded(self) -> bool:
        """Return True when the section's cards are shown."""
        return self.toggle.isChecked()

    def set_expanded(self, expanded: bool) -> None:
        """Show or hide the section's cards."""
        self.toggle.setChecked(expanded)

    def set_cards(self, cards: list[PracticeCard], strings: UiStrings) -> None:
        """Hold these cards (the old ones are deleted)."""
        for card in self.cards:
            self._body.removeWidget(card)
            card.deleteLater()
        self.cards = cards
        for card in cards:
            self._body.addWidget(card)
        self._strings = strings
        self._count = len(cards)
        self._refresh()
        self.setVisible(bool(cards))

    def _on_toggled(self, expanded: bool) -> None:
        self.body.setVisible(expanded)
        self._refresh()

    def _refresh(self) -> None:
        arrow = "▾" if self.is_expanded() else "▸"
        self.toggle.setText(f"{arrow}  {self.title()}  ({self._count})")
        self.toggle.setAccessibleName(f"{self.title()} ({self._count})")


class CardList(QWidget):
    """The cards of a PracticeListModel in sections by state, rebuilt on every model reset."""

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
        self._contact: HelpLink | None = None
        self._cards: list[PracticeCard] = []
        self.sections = [StatusSection(status, key, open_) for status, key, open_ in SECTIONS]
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(16)
        for section in self.sections:
            section.setVisible(False)
            layout.addWidget(section)
        model.modelReset.connect(self._on_model_reset)

    def set_instructions(self, instructions: UiStrings) -> None:
        """Use these texts for the next rebuild."""
        self._instructions = instructions

    def set_contact(self, contact: HelpLink | None) -> None:
        """Offer "Contact IT" on the cards, opening this link (None: IT names none)."""
        self._contact = contact

    def cards(self) -> list[PracticeCard]:
        """Return the cards, in rank order."""
        return list(self._cards)

    def card(self, key: str) -> PracticeCard | None:
        """Return the card of the practice with this key."""
        return next((c for c in self._cards if c.practice.key == key), None)

    def section(self, status: Status) -> StatusSection:
        """Return the section of a state."""
        return next(s for s in self.sections if s.status is status)

    def _on_model_reset(self) -> None:
        expanded = {card.practice.key for card in self._cards if card.is_expanded()}
        width = chip_width(self._instructions, self.font())
        self._cards = []
        for section in self.sections:
            cards = []
            for practice in self._model.practices():
                if practice.status is not section.status:
                    continue
                card = PracticeCard(
                    practice,
                    self._instructions,
                    self._open_link,
                    section.body,
                    contact=self._contact,
                    chip_width_px=width,
                )
                card.set_expanded(practice.key in expanded)
                cards.append(card)
            section.set_cards(cards, self._instructions)
            self._cards += cards
        # Tab goes down the page: a section's heading, then each card's button and what its
        # open body holds (links, Copy, Open settings, Details), card by card.
        chain: list[QWidget] = []
        for section in self.sections:
            chain.append(section.toggle)
            for card in section.cards:
                chain.append(card.toggle)
                chain += [
                    widget
                    for widget in card.details.findChildren(QWidget)
                    if widget.focusPolicy() & Qt.FocusPolicy.TabFocus
                ]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)
