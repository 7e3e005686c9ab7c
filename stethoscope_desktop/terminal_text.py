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


def inline_pieces(text: str, styles: frozenset[str] = frozenset()) -> list[Piece]:
    """Return the pieces of one paragraph's Markdown text."""
    pieces: list[Piece] = []
    plain: list[str] = []

    def flush() -> None:
        if plain:
            pieces.append(Piece((Fragment("".join(plain), styles),)))
            plain.clear()

    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in _ESCAPABLE:
            plain.append(text[i + 1])
            i += 2
            continue
        if char == "\\" and text[i + 1 : i + 2] == "\n":  # a hard line break
            flush()
            pieces.append(Piece((Fragment("\n"),)))
            i += 2
            continue
        if char == "`":
            run = len(text[i:]) - len(text[i:].lstrip("`"))
            close = _closing_backticks(text, i + run, run)
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
        if char == "&":
            entity = _ENTITY.match(text, i)
            if entity:
                plain.append(html.unescape(entity.group(0)))
                i = entity.end()
                continue
        if char == "<":
            autolink = _AUTOLINK.match(text, i)
            if autolink:
                flush()
                pieces.append(Piece((Fragment(autolink.group(1), styles | {URL}),), whole=True))
                i = autolink.end()
                continue
        if char == "[" or (char == "!" and text[i + 1 : i + 2] == "["):
            start = i + 1 if char == "[" else i + 2
            link = _link_at(text, start)
            if link is not None:
                label, url, end = link
                flush()
                pieces.append(_link_piece(label, url, styles))
                i = end
                continue
        if char in "*_":
            run = len(text[i:]) - len(text[i:].lstrip(char))
            strong = run >= 2
            delimiter = char * (2 if strong else 1)
            close = _closing_emphasis(text, i, delimiter)
            if close > 0:
                flush()
                inner = text[i + len(delimiter) : close]
                pieces += inline_pieces(inner, styles | {BOLD if strong else ITALIC})
                i = close + len(delimiter)
                continue
            plain.append(text[i : i + run])
            i += run
            continue
        plain.append(char)
        i += 1
    flush()
    return pieces


def _closing_backticks(text: str, start: int, run: int) -> int:
    """Return where a run of exactly `run` backticks starts after `start`, or -1."""
    for match in re.finditer(r"`+", text[start:]):
        if len(match.group(0)) == run:
            return start + match.start()
    return -1


def _closing_emphasis(text: str, start: int, delimiter: str) -> int:
    """Return where the emphasis opened at `start` closes, or -1 where it does not open."""
    after = start + len(delimiter)
    if after >= len(text) or text[after].isspace():
        return -1
    underscore = delimiter[0] == "_"
    if underscore and start > 0 and text[start - 1].isalnum():
        return -1  # snake_case is no emphasis
    position = after + 1
    while True:
        close = text.find(delimiter, position)
        if close < 0:
            return -1
        end = close + len(delimiter)
        next_char = text[end : end + 1]
        run_goes_on = next_char == delimiter[0]
        flanking = not text[close - 1].isspace() and text[close - 1] != "\\"
        if flanking and not run_goes_on and not (underscore and next_char.isalnum()):
            return close
        position = close + 1


def _link_at(text: str, start: int) -> tuple[str, str, int] | None:
    """Return (label, url, end) of a link whose label starts at `start` (after `[`)."""
    depth = 0
    i = start
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == "`":
            run = len(text[i:]) - len(text[i:].lstrip("`"))
            close = _closing_backticks(text, i + run, run)
            i = close + run if close >= 0 else i + run
            continue
        if char == "[":
            depth += 1
        elif char == "]":
            if depth == 0:
                target = _LINK_TARGET.match(text, i + 1)
                if target is None:
                    return None
                url = target.group(1)
                url = url[1:-1] if url.startswith("<") else url
                return text[start:i], _unescaped(url), target.end()
            depth -= 1
        i += 1
    return None


def _unescaped(text: str) -> str:
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", html.unescape(text))


def _link_piece(label: str, url: str, styles: frozenset[str]) -> Piece:
    """Return a link as its text and "(URL)", or as the URL alone where the text is the URL."""
    fragments = [f for piece in inline_pieces(label, styles | {LINK}) for f in piece.fragments]
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
