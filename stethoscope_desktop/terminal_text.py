"""Markdown and plain text laid out for a terminal: wrapped, styled, with colour only where wanted.

The directions of our instruction files and IT's (Fleet's resolutions) are Markdown. A terminal
shows them rendered: **bold** and `code` styled (or plain, without colour), a link as "text
(URL)" (just the URL where the text is the URL), lists with their markers and numbered steps
numbered in order (IT's "1. … 1. … 1." shown 1, 2, 3, as Markdown counts them), headings bold,
fenced code kept line by line. What CommonMark escapes (a backslash before `*` or `_`: values
filled into templates are escaped so) shows as the character, an entity (`&amp;`) as what it
stands for.

Lines are wrapped at spaces only: a word, a URL or a command is never cut, and a link or a code
span stays on one line whenever it fits in one. Colour follows https://no-color.org: never with
`NO_COLOR` set (not empty) or `TERM=dumb`, otherwise only on a terminal, unless forced.
"""

from __future__ import annotations

import bisect
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass

# Styles of inline text, and their SGR codes where colour is on.
BOLD = "bold"
ITALIC = "italic"
CODE = "code"
LINK = "link"
URL = "url"
DIM = "dim"
_SGR = {BOLD: "1", ITALIC: "3", CODE: "36", LINK: "4", URL: "2", DIM: "2"}
RESET = "\033[0m"

_ESCAPABLE = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_AUTOLINK = re.compile(r"<([A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*|[^\s<>@]+@[^\s<>@]+\.[^\s<>@]+)>")
_LINK_TARGET = re.compile(
    r"\(\s*(<[^<>\n]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)(?:\s+\"[^\"]*\")?\s*\)"
)
_LIST_ITEM = re.compile(r"^( *)([-*+]|[0-9]{1,9}[.)])( +|$)(.*)$")
_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")


def colour_wanted(choice: str, *, is_terminal: bool, environ: Mapping[str, str]) -> bool:
    """Return whether to colour: `choice` is always, never or auto (a terminal, not dumb)."""
    if choice in ("always", "never"):
        return choice == "always"  # the command line wins over the environment
    if environ.get("NO_COLOR", ""):
        return False
    if environ.get("TERM") == "dumb":
        return False
    return is_terminal


@dataclass(frozen=True)
class Fragment:
    """Text in one set of styles."""

    text: str
    styles: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Piece:
    """Inline text that wraps at its spaces, or (`whole`) only before or after it."""

    fragments: tuple[Fragment, ...]
    whole: bool = False


class Painter:
    """Turns fragments into text, with SGR codes when colour is on."""

    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def paint(self, text: str, *styles: str) -> str:
        """Return `text` in `styles` (as it is without colour)."""
        return self.fragment(Fragment(text, frozenset(styles)))

    def fragment(self, fragment: Fragment) -> str:
        """Return one fragment's text, styled."""
        if not self.colour or not fragment.styles or not fragment.text:
            return fragment.text
        codes = ";".join(sorted(_SGR[style] for style in fragment.styles))
        return f"\033[{codes}m{fragment.text}{RESET}"


# --- inline Markdown -----------------------------------------------------------------------------


MAX_NESTING = 8
"""Emphasis and links nested deeper than this show their delimiters as text."""
_DELIMITER_RUN = re.compile(r"\*+|_+|`+")


def inline_pieces(text: str, styles: frozenset[str] = frozenset()) -> list[Piece]:
    """Return the pieces of one paragraph's Markdown text.

    Linear in the text's length whatever it holds (IT's texts are hostile input): the closing
    delimiter of every opening one is looked up in indexes made in one pass.
    """
    return _Inline(text).pieces(0, len(text), styles, 0)


class _Inline:
    """One paragraph's text with where each of its delimiters can close."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.escaped = _escaped_positions(text)
        # Per delimiter ("*", "**", "_", "__", or a backtick run's length): where runs that
        # could close it start, in order.
        self.closers: dict[str, list[int]] = {}
        self.ticks: dict[int, list[int]] = {}
        self.runs: dict[int, int] = {}  # where a run of * _ ` starts → its length
        for match in _DELIMITER_RUN.finditer(text):
            start, run = match.start(), len(match.group(0))
            if start in self.escaped:  # a backslash before the run: its first one is text
                start, run = start + 1, run - 1
                if not run:
                    continue
            self.runs[start] = run
            character = text[start]
            if character == "`":
                self.ticks.setdefault(run, []).append(start)
                continue
            after = text[start + run : start + run + 1]
            if start == 0 or text[start - 1].isspace():
                continue  # not preceded by text: cannot close
            if character == "_" and after.isalnum():
                continue  # snake_case
            for size in (1, 2):
                if run == size:
                    self.closers.setdefault(character * size, []).append(start)
        self.brackets = _matching_brackets(text, self.escaped)

    def _next(self, positions: list[int], after: int, end: int) -> int:
        index = bisect.bisect_left(positions, after)
        return positions[index] if index < len(positions) and positions[index] < end else -1

    def pieces(self, start: int, end: int, styles: frozenset[str], depth: int) -> list[Piece]:
        """Return the pieces of text[start:end]."""
        text = self.text
        pieces: list[Piece] = []
        plain: list[str] = []

        def flush() -> None:
            if plain:
                pieces.append(Piece((Fragment("".join(plain), styles),)))
                plain.clear()

        i = start
        while i < end:
            char = text[i]
            if char == "\\" and i + 1 < end and text[i + 1] in _ESCAPABLE:
                plain.append(text[i + 1])
                i += 2
                continue
            if char == "\\" and text[i + 1 : i + 2] == "\n":  # a hard line break
                flush()
                pieces.append(Piece((Fragment("\n"),)))
                i += 2
                continue
            run = self.runs.get(i, 0)
            if char == "`" and run:
                close = self._next(self.ticks.get(run, []), i + run, end)
                if close < 0:
                    plain.append("`" * run)
                    i += run
                    continue
                code = text[i + run : close].replace("\n", " ")
                if code.startswith(" ") and code.endswith(" ") and code.strip():
                    code = code[1:-1]
                flush()
                pieces.append(Piece((Fragment(code, styles | {CODE}),), whole=True))
                i = close + run
                continue
            if char == "&" and (entity := _ENTITY.match(text, i, end)):
                plain.append(html.unescape(entity.group(0)))
                i = entity.end()
                continue
            if char == "<" and (autolink := _AUTOLINK.match(text, i, end)):
                flush()
                pieces.append(Piece((Fragment(autolink.group(1), styles | {URL}),), whole=True))
                i = autolink.end()
                continue
            if char == "[" or (char == "!" and text[i + 1 : i + 2] == "["):
                opening = i if char == "[" else i + 1
                closing = self.brackets.get(opening, -1)
                target = _LINK_TARGET.match(text, closing + 1, end) if closing > 0 else None
                if target is not None and depth < MAX_NESTING:
                    url = target.group(1)
                    url = _unescaped(url[1:-1] if url.startswith("<") else url)
                    label = self.pieces(opening + 1, closing, styles | {LINK}, depth + 1)
                    flush()
                    pieces.append(_link_piece(label, url, styles))
                    i = target.end()
                    continue
            if char in "*_" and run:
                size = 2 if run >= 2 else 1
                after = text[i + size : i + size + 1]
                opens = after and not after.isspace() and depth < MAX_NESTING
                if opens and char == "_" and i > 0 and text[i - 1].isalnum():
                    opens = False  # snake_case
                close = self._next(self.closers.get(char * size, []), i + size + 1, end)
                if opens and close > 0:
                    flush()
                    emphasis = BOLD if size == 2 else ITALIC
                    pieces += self.pieces(i + size, close, styles | {emphasis}, depth + 1)
                    i = close + size
                    continue
                plain.append(text[i : i + run])
                i += run
                continue
            plain.append(char)
            i += 1
        flush()
        return pieces


def _escaped_positions(text: str) -> set[int]:
    """Return the positions of characters a backslash escapes."""
    escaped: set[int] = set()
    i = text.find("\\")
    while 0 <= i < len(text) - 1:
        if text[i + 1] in _ESCAPABLE:
            escaped.add(i + 1)
            i = text.find("\\", i + 2)
        else:
            i = text.find("\\", i + 1)
    return escaped


def _matching_brackets(text: str, escaped: set[int]) -> dict[int, int]:
    """Return where each [ of the text closes (innermost pairs first, as a stack pairs them)."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    for match in re.finditer(r"[\[\]]", text):
        position = match.start()
        if position in escaped:
            continue
        if match.group(0) == "[":
            stack.append(position)
        elif stack:
            pairs[stack.pop()] = position
    return pairs


def _unescaped(text: str) -> str:
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", html.unescape(text))


def _link_piece(label: list[Piece], url: str, styles: frozenset[str]) -> Piece:
    """Return a link as its text and "(URL)", or as the URL alone where the text is the URL."""
    fragments = [fragment for piece in label for fragment in piece.fragments]
    shown = "".join(fragment.text for fragment in fragments).strip()
    if not shown or shown == url or f"mailto:{shown}" == url:
        return Piece((Fragment(url, styles | {URL}),), whole=True)
    return Piece(
        (*fragments, Fragment(" ("), Fragment(url, styles | {URL}), Fragment(")")), whole=True
    )


# --- wrapping ------------------------------------------------------------------------------------

Word = list[Fragment]


def _words(pieces: list[Piece], width: int) -> list[Word | None]:
    """Split pieces into words at their spaces; None is a hard line break."""
    words: list[Word | None] = []
    current: Word = []

    def end_word() -> None:
        nonlocal current
        if current:
            words.append(current)
        current = []

    for piece in pieces:
        if piece.fragments == (Fragment("\n"),):
            end_word()
            words.append(None)
            continue
        length = sum(len(fragment.text) for fragment in piece.fragments)
        if piece.whole and length <= width:
            current += list(piece.fragments)
            continue
        for fragment in piece.fragments:
            parts = re.split(r"[ \t\n]+", fragment.text)
            for index, part in enumerate(parts):
                if index:
                    end_word()
                if part:
                    current.append(Fragment(part, fragment.styles))
    end_word()
    return words


def wrap_pieces(
    pieces: list[Piece], width: int, first: str, rest: str, painter: Painter
) -> list[str]:
    """Return pieces wrapped into lines of at most `width` columns where the words allow.

    The first line starts with `first`, the others with `rest` (as wide as `first`).
    """
    available = max(width - len(first), 20)
    lines: list[list[Fragment]] = []
    line: list[Fragment] = []
    used = 0
    for word in _words(pieces, available):
        if word is None:
            lines.append(line)
            line, used = [], 0
            continue
        length = sum(len(fragment.text) for fragment in word)
        if line and used + 1 + length > available:
            lines.append(line)
            line, used = [], 0
        if line:
            # The space between two words in one style is in that style (one SGR run).
            same = line[-1].styles == word[0].styles
            line.append(Fragment(" ", line[-1].styles if same else frozenset()))
            used += 1
        line += word
        used += length
    if line or not lines:
        lines.append(line)
    return [
        (first if index == 0 else rest) + "".join(painter.fragment(f) for f in _runs(fragments))
        for index, fragments in enumerate(lines)
    ]


def _runs(fragments: list[Fragment]) -> list[Fragment]:
    """Return fragments with neighbours of the same styles joined."""
    runs: list[Fragment] = []
    for fragment in fragments:
        if runs and runs[-1].styles == fragment.styles:
            runs[-1] = Fragment(runs[-1].text + fragment.text, fragment.styles)
        else:
            runs.append(fragment)
    return runs


def wrap_plain(
    text: str, width: int, indent: str, painter: Painter, *styles: str, first: str | None = None
) -> list[str]:
    """Return plain (not Markdown) text wrapped at its spaces, each of its lines kept apart.

    `first` (as wide as `indent`) begins the first line instead, such as a bullet.
    """
    lines: list[str] = []
    for line in text.splitlines() or [""]:
        pieces = [Piece((Fragment(line, frozenset(styles)),))]
        start = first if first is not None and not lines else indent
        lines += wrap_pieces(pieces, width, start, indent, painter)
    return lines


# --- blocks --------------------------------------------------------------------------------------


@dataclass
class _Block:
    kind: str  # paragraph, item, heading, code, rule, blank
    text: str = ""
    column: int = 0  # where its first line's text (a list item: its marker) starts
    marker: str = ""  # of a list item: -, *, +, or the number with . or )
    content: int = 0  # of a list item: the column its text starts at


def _blocks(markdown: str) -> list[_Block]:
    """Return the blocks of a Markdown text, with the lazy continuation lines of each."""
    blocks: list[_Block] = []
    lines = markdown.expandtabs(4).splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        column = len(line) - len(line.lstrip())
        previous = blocks[-1] if blocks else None
        fence = _FENCE.match(line)
        item = _LIST_ITEM.match(line)
        if not line.strip():
            blocks.append(_Block("blank"))
        elif fence:
            character, length = fence.group(2)[0], len(fence.group(2))
            body: list[str] = []
            i += 1
            while i < len(lines) and not re.match(
                rf"^ {{0,3}}{re.escape(character)}{{{length},}}\s*$", lines[i]
            ):
                body.append(lines[i][min(column, len(lines[i]) - len(lines[i].lstrip())) :])
                i += 1
            blocks.append(_Block("code", "\n".join(body), column))
        elif _RULE.match(line) and not (previous and previous.kind == "paragraph"):
            blocks.append(_Block("rule", column=column))
        elif heading := _HEADING.match(line):
            blocks.append(_Block("heading", heading.group(2) or "", column))
        elif item and not (previous and previous.kind == "paragraph" and _no_interrupt(item)):
            marker, spaces, text = item.group(2), item.group(3), item.group(4)
            content = column + len(marker) + (len(spaces) if text and len(spaces) <= 4 else 1)
            blocks.append(_Block("item", text, column, marker, content))
        elif previous is not None and previous.kind in ("paragraph", "item"):
            previous.text += "\n" + line.lstrip()  # a lazy continuation
        else:
            blocks.append(_Block("paragraph", line.lstrip(), column))
        i += 1
    return blocks


def _no_interrupt(item: re.Match[str]) -> bool:
    """Whether a list marker goes on the paragraph before it instead of starting a list.

    CommonMark: only an item with text, and of an ordered list only one numbered 1, interrupts
    a paragraph ("in" and "2018. a year" on the next line are one sentence).
    """
    marker = item.group(2)
    return not item.group(4).strip() or (marker[0].isdigit() and marker[:-1] != "1")


@dataclass
class _OpenList:
    marker_column: int
    content_column: int  # in the source
    kind: str  # its bullet, or its numbers' . or )
    next_number: int | None
    indent: int  # of its items' text, as rendered


def render_markdown(markdown: str, width: int, indent: str, painter: Painter) -> list[str]:
    """Return Markdown as terminal lines, each starting with `indent`, at most `width` wide.

    Blocks are apart by one blank line, list items (nested ones too) by none. An ordered list
    is numbered on from its first item's number, whatever numbers the items after it carry.
    """
    out: list[str] = []
    lists: list[_OpenList] = []
    previous_kind = ""
    for block in _blocks(markdown):
        if block.kind == "blank":
            continue
        if block.kind == "item":
            while lists and block.column < lists[-1].marker_column:
                lists.pop()
            kind = block.marker[-1] if block.marker[0].isdigit() else block.marker
            number = int(block.marker[:-1]) if block.marker[0].isdigit() else None
            if lists and block.column < lists[-1].content_column:
                sibling = lists.pop()  # an item of this list, or the first of another one
                if sibling.kind == kind:
                    number = sibling.next_number
            parent = lists[-1].indent if lists else 0
            shown = "•" if number is None else f"{number}{kind}"
            first = indent + " " * parent + shown + " "
            lists.append(
                _OpenList(
                    block.column,
                    block.content,
                    kind,
                    None if number is None else number + 1,
                    len(first) - len(indent),
                )
            )
            if out and previous_kind != "item":
                out.append("")
            text = _hard_breaks(block.text)
            out += wrap_pieces(inline_pieces(text), width, first, " " * len(first), painter)
            previous_kind = "item"
            continue
        while lists and block.column < lists[-1].content_column:
            lists.pop()
        at = indent + " " * (lists[-1].indent if lists else 0)
        if out:
            out.append("")
        if block.kind == "heading":
            out += wrap_pieces(inline_pieces(block.text, frozenset({BOLD})), width, at, at, painter)
        elif block.kind == "code":
            out += [at + "  " + painter.paint(line, CODE) for line in block.text.splitlines()]
        elif block.kind == "rule":
            out.append(at + painter.paint("─" * max(3, min(40, width - len(at))), DIM))
        else:
            out += wrap_pieces(inline_pieces(_hard_breaks(block.text)), width, at, at, painter)
        previous_kind = block.kind
    return out


def _hard_breaks(text: str) -> str:
    """Return text with Markdown's hard line breaks (two spaces at a line's end) as backslash."""
    return re.sub(r" {2,}\n", "\\\n", text).strip()
