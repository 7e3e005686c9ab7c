"""The part of Handlebars that Netflix Stethoscope's instruction texts are written in, as a tree.

Stethoscope compiled each title and each platform's directions as a Handlebars template and
rendered it with the device's facts (see `core.stethoscope_instructions`, which gives each name
its meaning here). This module only reads the template language into nodes: text,
`{{name param…}}` and `{{{name param…}}}` (a value or a helper call), and blocks
`{{#name param…}}…{{else}}…{{/name}}` (with `{{else if …}}` chains and `{{^name}}…{{/name}}`
inverted sections). Comments (`{{! … }}`, `{{!-- … --}}`) are dropped, and `~` trims the
whitespace beside a tag as Handlebars does. A template Handlebars would refuse (a block not
closed, a close without its opening) raises `TemplateError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Comments first: `{{!-- … --}}` may contain `}}`.
_TAG = re.compile(
    r"\{\{(?P<left>~?)!--.*?--(?P<cright>~?)\}\}"
    r"|\{\{(?P<tleft>~?)!.*?\}\}"
    r"|\{\{(?P<l>~?)(?P<open>\{?)(?P<body>.*?)(?P<close>\}?)(?P<r>~?)\}\}",
    re.S,
)
_LINE_END = re.compile(r"[ \t]*(?:\r?\n|$)")
_PARAM = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|[^\s\"']+")


class TemplateError(ValueError):
    """A template Handlebars would not compile."""


@dataclass(frozen=True)
class Literal:
    """A quoted string parameter, without its quotes: `'Install macOS updates'`."""

    text: str


# A parameter: a name or path (`passing`, `this.label`), or a quoted string.
Param = str | Literal


@dataclass(frozen=True)
class Text:
    """Text outside any tag, as written."""

    text: str


@dataclass(frozen=True)
class Mustache:
    """`{{name param…}}`: a value (no parameters) or a helper call; `raw` for `{{{…}}}`."""

    name: str
    params: tuple[Param, ...] = ()
    raw: bool = False


@dataclass(frozen=True)
class Block:
    """`{{#name param…}}body{{else}}inverse{{/name}}`; `{{^name}}…` is `unless name`."""

    name: str
    params: tuple[Param, ...]
    body: tuple[Node, ...]
    inverse: tuple[Node, ...] = ()


Node = Text | Mustache | Block


@dataclass(frozen=True)
class _Tag:
    """One tag of the template: its kind (#, /, else, ^, or "" for a value) and its words."""

    kind: str
    name: str
    params: tuple[Param, ...]
    raw: bool


_Token = Text | _Tag


def parse(template: str) -> tuple[Node, ...]:
    """Return the template's nodes; raise TemplateError where Handlebars would refuse it."""
    tokens = _tokens(template)
    nodes, end = _nodes(tokens, 0, None)
    if end < len(tokens):
        tag = tokens[end]
        assert isinstance(tag, _Tag)
        raise TemplateError(f"{_written(tag)} without an opening {{{{#{tag.name}}}}}")
    return nodes


def text_of(template: str) -> str:
    """Return a template's text with every tag left out (for a template that cannot be read)."""
    return _TAG.sub("", template)


def _tokens(template: str) -> list[_Token]:
    """Split a template into text and tags, applying `~` and standalone-line whitespace rules.

    As in Handlebars, a line holding only a block tag, an `{{else}}` or a comment (and blanks)
    leaves no line behind.
    """
    tokens: list[_Token] = []
    trim_next = False
    position = 0
    for match in _TAG.finditer(template):
        tag = None if match.group("body") is None else _tag(match.group("body"), match["open"])
        before, position = _text_before(template, match, position, tag, trim_next)
        if before:
            tokens.append(Text(before))
        if tag is not None:
            tokens.append(tag)
        trim_next = bool(match.group("cright") or match.group("r"))
    rest = template[position:]
    if trim_next:
        rest = rest.lstrip()
    if rest:
        tokens.append(Text(rest))
    return tokens


def _text_before(
    template: str, match: re.Match[str], position: int, tag: _Tag | None, trim: bool
) -> tuple[str, int]:
    """Return the text from `position` to a tag, trimmed, and where the text after it starts.

    `tag` is None for a comment; `trim` says the tag before ended with `~`.
    """
    before = template[position : match.start()]
    end = match.end()
    if trim:
        before = before.lstrip()
    if match.group("left") or match.group("tleft") or match.group("l"):
        before = before.rstrip()
    if (tag is None or tag.kind) and (after := _standalone(template, match)) is not None:
        before, end = before.rstrip(" \t"), after
    return before, end


def _standalone(template: str, match: re.Match[str]) -> int | None:
    """Return where the line after a tag alone on its line starts; None if it is not alone."""
    line_start = template.rfind("\n", 0, match.start()) + 1
    if template[line_start : match.start()].strip(" \t"):
        return None
    after = _LINE_END.match(template, match.end())
    return after.end() if after else None


def _tag(body: str, brace: str) -> _Tag:
    """Read one tag's inside: `#if passing`, `/if`, `else`, `else if x`, `^x`, `name 'a' b`.

    `brace` is the third opening brace of a `{{{…}}}`, if any.
    """
    raw = bool(brace)
    body = body.strip()
    kind = ""
    if body[:1] in ("#", "/", "^"):
        kind, body = body[0], body[1:].strip()
    words = [_param(word) for word in _PARAM.findall(body)]
    if kind == "^" and not words:
        return _Tag("else", "", (), raw)
    if kind == "" and words and words[0] == "else":
        return _Tag("else", "", tuple(words[1:]), raw)
    name = words[0] if words and isinstance(words[0], str) else ""
    return _Tag(kind, name, tuple(words[1:]), raw)


def _param(word: str) -> Param:
    """Return a quoted word as a Literal; only an escaped quote is unescaped, as in Handlebars."""
    quote = word[:1]
    if quote in ("'", '"'):
        return Literal(word[1:-1].replace("\\" + quote, quote))
    return word


def _nodes(tokens: list[_Token], start: int, block: _Tag | None) -> tuple[tuple[Node, ...], int]:
    """Read nodes from `start` up to the `{{else}}` or `{{/…}}` that ends them (or the end).

    Return the nodes and the index of the token that ended them.
    """
    nodes: list[Node] = []
    index = start
    while index < len(tokens):
        token = tokens[index]
        if isinstance(token, Text):
            nodes.append(token)
        elif token.kind in ("/", "else"):
            return tuple(nodes), index
        elif token.kind in ("#", "^"):
            node, index = _block(tokens, index)
            nodes.append(node)
        else:
            nodes.append(Mustache(token.name, token.params, token.raw))
        index += 1
    if block is not None:
        raise TemplateError(f"{_written(block)} is not closed")
    return tuple(nodes), index


def _block(tokens: list[_Token], start: int, closer: str = "") -> tuple[Block, int]:
    """Read the block opened at `start`; return it and the index of its closing tag.

    `closer` is the name its closing tag must have, where that is not its own (`{{else if}}`
    blocks are closed by the tag of the block they continue).
    """
    opening = tokens[start]
    assert isinstance(opening, _Tag)
    closer = closer or opening.name
    name, params = opening.name, opening.params
    if opening.kind == "^":
        name, params = "unless", (opening.name, *opening.params)
    body, index = _nodes(tokens, start + 1, opening)
    inverse: tuple[Node, ...] = ()
    ending = tokens[index]
    assert isinstance(ending, _Tag)
    if ending.kind == "else" and ending.params:
        # `{{else if x}}`: a block of its own, ended by this block's closing tag.
        chained = _Tag("#", str(ending.params[0]), ending.params[1:], False)
        nested, index = _block([*tokens[:index], chained, *tokens[index + 1 :]], index, closer)
        inverse = (nested,)
    elif ending.kind == "else":
        inverse, index = _nodes(tokens, index + 1, opening)
    ending = tokens[index]
    assert isinstance(ending, _Tag)
    if ending.kind != "/" or ending.name != closer:
        raise TemplateError(f"{_written(opening)} is closed by {_written(ending)}")
    return Block(name, params, body, inverse), index


def _written(tag: _Tag) -> str:
    """Return a tag roughly as written, for a message."""
    words = " ".join(
        f"'{word.text}'" if isinstance(word, Literal) else word for word in (tag.name, *tag.params)
    )
    prefix = "" if tag.kind == "else" else tag.kind
    return "{{" + prefix + ("else " if tag.kind == "else" else "") + words.strip() + "}}"
