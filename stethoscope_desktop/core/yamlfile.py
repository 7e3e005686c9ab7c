"""Safe loading of the YAML files IT and we write, with line numbers for every key.

Every problem names the file, the line and the key path (`osVersion.darwin.ok`,
`applications[2].name`), so IT can find it. Files are size-bounded, and anchors/aliases are
bounded by counting the nodes a document expands to, so a "billion laughs" file is refused
instead of eating the machine.

A multi-document file (Fleet's exports: hundreds of `---`-separated policies) that does not
parse is read again document by document (`parse_yaml_stream`): a broken document costs only
itself, named with the file and its line, and the bounds still cover the whole file.

Where PyYAML has libyaml, its C parser reads the text (some 30 times faster than PyYAML's
Python scanner) and composing and building stay ours, with the same bounds. A text libyaml
refuses, or one it would accept where PyYAML does not, is read by the pure-Python loader, so the
data, the lines and every message are the same with or without libyaml.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

MAX_FILE_BYTES = 1024 * 1024
MAX_NODES = 50_000
MAX_DEPTH = 64

KeyPath = tuple[str | int, ...]


def format_key(path: KeyPath) -> str:
    """Return a key path as IT would write it: `applications[2].name`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one file, located by line and key."""

    file: str
    message: str
    key: str = ""
    line: int | None = None

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class YamlFileError(Exception):
    """A file could not be read as YAML at all.

    For a multi-document file, `documents` holds the documents read before the one that broke.
    """

    def __init__(self, problem: Problem, documents: tuple[YamlDocument, ...] = ()) -> None:
        super().__init__(str(problem))
        self.problem = problem
        self.documents = documents


class _TooManyValues(YamlFileError):
    """The file composes or expands to more than MAX_NODES values: a bound on the whole file."""


@dataclass
class YamlDocument:
    """A parsed YAML document and the line of each key path in it."""

    file: str
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line(self, path: KeyPath) -> int | None:
        """Return the line of `path`, or of its nearest ancestor that has one."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]

    def problem(self, path: KeyPath, message: str) -> Problem:
        """Return a problem located at `path`."""
        return Problem(self.file, message, format_key(path), self.line(path))


def plain_document(file: str, data: Any) -> YamlDocument:
    """Wrap data that did not come from a file (a web page's JSON policy) as a document."""
    return YamlDocument(file, data, {})


_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_SCALAR_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "null", "bool", "int", "float", "binary", "timestamp")
)


def _tag_name(tag: str) -> str:
    return (
        "!!" + tag.removeprefix("tag:yaml.org,2002:")
        if tag.startswith("tag:yaml.org,2002:")
        else tag
    )


class _Bounds(yaml.composer.Composer, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
    """Composes at most MAX_DEPTH levels and MAX_NODES nodes, whichever parser reads the text.

    The composer is recursive and builds every node before `_Builder` sees them, so without
    these bounds a deep (`[[[[…`) or long (`[1,1,1,…`) file costs seconds before it is refused.
    Aliases are composed as one more node each (never expanded here), so an alias bomb composes
    to a small graph; `_Builder` bounds what it expands to.
    """

    if TYPE_CHECKING:  # given by the parser each loader is built on

        def peek_event(self) -> yaml.Event: ...

        def get_event(self) -> yaml.Event: ...

        def dispose(self) -> None: ...

    def _start_bounds(self, file: str, composed: int = 0) -> None:
        # `composed`: the values the file's earlier documents composed (read one by one).
        self._file = file
        self._path: list[str | int | None] = []
        self._composed = composed

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._composed += 1
        if self._composed > MAX_NODES:
            raise _TooManyValues(Problem(self._file, _too_many_values()))
        event = self.peek_event()
        if (
            type(event) is yaml.ScalarEvent
            and event.anchor is None
            and len(self._path) <= MAX_DEPTH
            and not self.yaml_path_resolvers
        ):
            # Most nodes: a plain value, composed as PyYAML's Composer does, in fewer calls.
            self.get_event()
            tag = event.tag
            if tag is None or tag == "!":
                tag = self.resolve(yaml.ScalarNode, event.value, event.implicit)  # type: ignore[no-untyped-call]
            # (libyaml's marks are its own class, with the same line and column.)
            start, end = event.start_mark, event.end_mark
            return yaml.ScalarNode(tag, event.value, start, end, style=event.style)  # type: ignore[arg-type]
        # `index` is the key node for a mapping value, the position for a list item, else None.
        part = index.value if isinstance(index, yaml.ScalarNode) else index
        self._path.append(part if isinstance(part, str | int) else None)
        try:
            if len(self._path) > MAX_DEPTH + 1:
                path = tuple(p for p in self._path if p is not None)
                mark = self.peek_event().start_mark
                line = mark.line + 1 if mark is not None else None
                raise YamlFileError(
                    Problem(
                        self._file, f"nested deeper than {MAX_DEPTH} levels", format_key(path), line
                    )
                )
            return super().compose_node(parent, index)
        finally:
            self._path.pop()


class _BoundedLoader(_Bounds, yaml.SafeLoader):
    """PyYAML's pure-Python SafeLoader, bounded: the reference for every result and message."""

    def __init__(self, stream: str, file: str, composed: int = 0) -> None:
        yaml.SafeLoader.__init__(self, stream)
        self._start_bounds(file, composed)


_FastLoaderType = Callable[[str, str, int], _Bounds]


def _libyaml_loader() -> _FastLoaderType | None:
    """Return the loader on libyaml's C parser, or None where PyYAML was built without it.

    libyaml scans and parses (the costly part in Python: about 1.7 ms per check document);
    composing stays `_Bounds`', so the bounds are the same code on both. Its error messages are
    worded differently, so a text it refuses is read again by `_BoundedLoader` for the message.
    """
    if not yaml.__with_libyaml__:
        return None
    from yaml._yaml import CParser  # present only where libyaml is

    class _BoundedCLoader(_Bounds, CParser):
        def __init__(self, stream: str, file: str, composed: int = 0) -> None:
            CParser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
            yaml.composer.Composer.__init__(self)
            self._start_bounds(file, composed)

    return _BoundedCLoader


_FAST_LOADER = _libyaml_loader()
_NON_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE
# What libyaml accepts and PyYAML refuses (see `_libyaml_reads_as_pyyaml`).
_LIBYAML_LENIENT = re.compile("[\t\ufeff]|[|>][-+0-9]*#")
# Half of a UTF-16 pair, which only an escape ("\ud800") can put in a text; a pair; a half
# without its other half.
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")
_LONE_SURROGATE = re.compile(
    "[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]"
)


def _too_many_values() -> str:
    return (
        f"the document expands to more than {MAX_NODES} values "
        "(too many aliases or entries); refusing to load it"
    )


class _Builder:
    """Turns composed YAML nodes into Python data, recording lines and bounding expansion."""

    def __init__(self, file: str, loader: _Bounds, built: int = 0) -> None:
        self._file = file
        self._loader = loader
        self._nodes = built  # the values the file's earlier documents built (read one by one)
        self.lines: dict[KeyPath, int] = {}

    def take_lines(self) -> dict[KeyPath, int]:
        """Return the lines of the document just built and start afresh for the next one.

        The count of values built carries on, so the expansion bound covers the whole file.
        """
        lines, self.lines = self.lines, {}
        return lines

    def build(self, node: yaml.Node, path: KeyPath, depth: int = 0) -> Any:
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise _TooManyValues(Problem(self._file, _too_many_values()))
        if depth > MAX_DEPTH:
            raise YamlFileError(
                Problem(
                    self._file,
                    f"nested deeper than {MAX_DEPTH} levels",
                    format_key(path),
                    node.start_mark.line + 1,
                )
            )
        self.lines.setdefault(path, node.start_mark.line + 1)
        if not self._allowed_tag(node):
            raise YamlFileError(
                Problem(
                    self._file,
                    f"the tag {_tag_name(node.tag)} is not allowed; write plain YAML values",
                    format_key(path),
                    node.start_mark.line + 1,
                )
            )
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise YamlFileError(
                        Problem(
                            self._file,
                            "a key must be a plain value",
                            format_key(path),
                            key_node.start_mark.line + 1,
                        )
                    )
                key = None if key_node.tag == _MERGE_TAG else self._construct_key(key_node, path)
                if key_node.tag == _MERGE_TAG or key == "<<":
                    raise YamlFileError(
                        Problem(
                            self._file,
                            "merge keys (<<) are not supported",
                            format_key(path),
                            key_node.start_mark.line + 1,
                        )
                    )
                # Name a key as it is written (`null`, `yes`), not as Python prints it.
                key_text = key if isinstance(key, str) else str(key_node.value)
                if key_text in result:
                    raise YamlFileError(
                        Problem(
                            self._file,
                            "this key appears twice",
                            format_key((*path, key_text)),
                            key_node.start_mark.line + 1,
                        )
                    )
                self.lines[(*path, key_text)] = key_node.start_mark.line + 1
                result[key_text] = self.build(value_node, (*path, key_text), depth + 1)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [
                self.build(item, (*path, index), depth + 1) for index, item in enumerate(node.value)
            ]
        return self._scalar(node, path)

    def _scalar(self, node: yaml.Node, path: KeyPath) -> Any:
        if _SURROGATE.search(node.value):
            node.value = self._joined_pairs(node, path)
        if node.tag == _STR_TAG:
            return node.value  # what SafeConstructor makes of text, without its bookkeeping
        try:
            return self._loader.construct_object(node)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as error:
            # PyYAML's constructors raise these for values such as 2001-02-30 or !!int abc.
            raise YamlFileError(
                Problem(
                    self._file,
                    f"{node.value!r} is not a valid {_tag_name(node.tag)} value"
                    " (put it in quotes if it is text)",
                    format_key(path),
                    node.start_mark.line + 1,
                )
            ) from error

    def _joined_pairs(self, node: yaml.Node, path: KeyPath) -> str:
        r"""Return a text with its escaped UTF-16 pairs as the characters they stand for.

        YAML's escapes, like JSON's, can write a surrogate (`"\ud83d\ude00"`, as JSON tools
        write 😀): a pair is joined into its character, as JSON reads it; a lone half is no
        character at all (nothing could print or store it) and is refused.
        """
        lone = _LONE_SURROGATE.search(node.value)
        if lone is not None:
            raise YamlFileError(
                Problem(
                    self._file,
                    f"\\u{ord(lone.group()):04x} is half of a UTF-16 surrogate pair, not a "
                    "character; write the character itself",
                    format_key(path),
                    node.start_mark.line + 1,
                )
            )
        return _SURROGATE_PAIR.sub(
            lambda pair: pair.group().encode("utf-16-le", "surrogatepass").decode("utf-16-le"),
            node.value,
        )

    def _allowed_tag(self, node: yaml.Node) -> bool:
        if isinstance(node, yaml.MappingNode):
            return bool(node.tag == _MAP_TAG)
        if isinstance(node, yaml.SequenceNode):
            return bool(node.tag == _SEQ_TAG)
        return node.tag in _SCALAR_TAGS

    def _construct_key(self, key_node: yaml.Node, path: KeyPath) -> Any:
        if not self._allowed_tag(key_node):
            raise YamlFileError(
                Problem(
                    self._file,
                    f"the tag {_tag_name(key_node.tag)} is not allowed; write plain YAML values",
                    format_key(path),
                    key_node.start_mark.line + 1,
                )
            )
        return self._scalar(key_node, path)


def _decode(text: str | bytes, file: str) -> str:
    """Return the file's text, refusing what is too big, binary, UTF-16 or not UTF-8."""
    if len(text) > MAX_FILE_BYTES:
        raise YamlFileError(
            Problem(
                file, f"the file is larger than {MAX_FILE_BYTES // 1024} KiB; refusing to read it"
            )
        )
    if isinstance(text, str):
        return text
    if text.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise YamlFileError(Problem(file, "the file is UTF-16 text; save it as UTF-8"))
    if b"\x00" in text:
        raise YamlFileError(Problem(file, "the file is binary, not YAML text"))
    try:
        return text.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise YamlFileError(
            Problem(
                file,
                f"the file is not UTF-8 text (byte 0x{text[error.start]:02X} at offset"
                f" {error.start}); save it as UTF-8",
                "",
                text.count(b"\n", 0, error.start) + 1,
            )
        ) from error


def _loader(text: str, file: str, composed: int = 0) -> _BoundedLoader:
    try:
        return _BoundedLoader(text, file, composed)
    except yaml.reader.ReaderError as error:
        # Control characters (NUL, ESC, BEL…) are refused as soon as the reader sees the text.
        line = text.count("\n", 0, error.position) + 1
        code = ord(error.character) if isinstance(error.character, str) else error.character
        raise YamlFileError(
            Problem(
                file, f"not valid YAML: the control character U+{code:04X} is not allowed", "", line
            )
        ) from error


def _syntax_problem(
    error: yaml.MarkedYAMLError, text: str, file: str, end: str = "the file"
) -> Problem:
    mark = error.problem_mark or error.context_mark
    reason = " ".join(part for part in (error.context, error.problem) if part)
    if "mapping values are not allowed here" in reason:
        reason += " (is a key indented differently from the keys beside it?)"
    elif "'\\t'" in reason:
        reason += " (indent with spaces, not tabs)"
    elif "block scalar" in reason:
        reason += ' (put ranges such as ">=14.6" in quotes)'
    context = error.context_mark
    if context is not None and ("end of stream" in reason or "<stream end>" in reason):
        # An unclosed quote or bracket: where it opened is what IT needs to look at.
        reason += f" (it is not closed before the end of {end})"
        mark = context
    # A mark at the very end of the text is on the line after the last one; name the last.
    last_line = max(1, text.count("\n") + (0 if text.endswith("\n") else 1))
    at = min(mark.line + 1, last_line) if mark else None
    return Problem(file, f"not valid YAML: {reason}", "", at)


class _Stopped(Exception):
    """Reading stopped at `error`, after the complete documents in `documents`."""

    def __init__(self, error: Exception, documents: tuple[YamlDocument, ...]) -> None:
        super().__init__(str(error))
        self.error = error
        self.documents = documents


@dataclass
class _Counts:
    """The values composed and built so far in the file: the bounds are the whole file's."""

    composed: int = 0
    built: int = 0


def _documents(
    loader: _Bounds, file: str, counts: _Counts, *, multiple: bool
) -> list[YamlDocument]:
    """Compose and build the loader's document(s); raise _Stopped on any failure.

    `counts` starts the bounds where the file's earlier documents left them and is moved on past
    what these cost, read or refused: a broken document's values count towards the bounds too.
    """
    documents: list[YamlDocument] = []
    builder = _Builder(file, loader, counts.built)
    try:
        if not multiple:
            node = loader.get_single_node()
            if node is None:
                documents = [YamlDocument(file, None, {})]
            else:
                documents = [YamlDocument(file, builder.build(node, ()), builder.take_lines())]
        else:
            while loader.check_node():
                node = loader.get_node()
                data = None if node is None else builder.build(node, ())
                documents.append(YamlDocument(file, data, builder.take_lines()))
    except (yaml.YAMLError, RecursionError, YamlFileError) as error:
        raise _Stopped(error, tuple(documents)) from error
    finally:
        counts.composed, counts.built = loader._composed, builder._nodes
    return documents


def _parse(text: str | bytes, file: str, *, multiple: bool) -> list[YamlDocument]:
    return _parse_decoded(_decode(text, file), file, _Counts(), multiple=multiple)


def _parse_decoded(
    decoded: str, file: str, counts: _Counts, *, multiple: bool, end: str = "the file"
) -> list[YamlDocument]:
    """Parse decoded text; `end` names what an unclosed quote or bracket runs to the end of."""
    # libyaml first, where it is. A text it refuses, or that breaks a bound, is read again by the
    # pure-Python loader, whose messages are the ones IT sees: they never depend on which parser
    # this machine has. Characters PyYAML refuses go straight to it, whatever libyaml makes of them.
    # Except past MAX_NODES: that message names no line or key, and composing as many values again
    # in Python would cost seconds (some 2 s for a 120 KB file) for the same words.
    if _FAST_LOADER is not None and _libyaml_reads_as_pyyaml(decoded):
        fast = _FAST_LOADER(decoded, file, counts.composed)
        trial = _Counts(counts.composed, counts.built)  # a text libyaml refuses is read again
        try:
            documents = _documents(fast, file, trial, multiple=multiple)
            counts.composed, counts.built = trial.composed, trial.built
            return _on_the_last_line_at_most(documents, decoded)
        except _Stopped as stopped:
            if isinstance(stopped.error, _TooManyValues):
                counts.composed, counts.built = trial.composed, trial.built
                read = _on_the_last_line_at_most(list(stopped.documents), decoded)
                raise _TooManyValues(stopped.error.problem, tuple(read)) from stopped.error
        finally:
            fast.dispose()
    loader = _loader(decoded, file, counts.composed)
    try:
        return _documents(loader, file, counts, multiple=multiple)
    except _Stopped as stopped:
        problem = _stopped_problem(stopped.error, decoded, file, end)
        kind = _TooManyValues if isinstance(stopped.error, _TooManyValues) else YamlFileError
        raise kind(problem, stopped.documents) from stopped.error
    finally:
        loader.dispose()


_LINE_BREAKS = ("\n", "\r", "\x85", "\u2028", "\u2029")


def _on_the_last_line_at_most(documents: list[YamlDocument], text: str) -> list[YamlDocument]:
    """Return libyaml's documents with their lines as PyYAML gives them.

    At the end of a text without a final line break, libyaml puts an empty value (`---` and
    nothing after it) a line past the text; PyYAML puts it on the last line.
    """
    last = len(text.splitlines()) + (1 if text.endswith(_LINE_BREAKS) else 0)
    for document in documents:
        for path, line in document.lines.items():
            if line > last:
                document.lines[path] = last
    return documents


def _libyaml_reads_as_pyyaml(text: str) -> bool:
    """Return False for a text libyaml may accept where PyYAML refuses it.

    libyaml accepts tabs where PyYAML's scanner refuses them, skips a byte order mark anywhere
    (PyYAML: only at the start), takes a comment right after a block scalar's `|` or `>`
    (PyYAML wants a space first) and lets through characters PyYAML's reader refuses. Such a
    text goes straight to the pure-Python loader, whose verdict is the one IT gets.
    """
    return not _LIBYAML_LENIENT.search(text) and not _NON_PRINTABLE.search(text)


def _stopped_problem(error: Exception, text: str, file: str, end: str = "the file") -> Problem:
    """Return the problem that stopped the pure-Python loader."""
    if isinstance(error, YamlFileError):
        return error.problem
    if isinstance(error, yaml.MarkedYAMLError):
        return _syntax_problem(error, text, file, end)
    if isinstance(error, RecursionError):
        return Problem(file, "the document is nested too deeply")
    return Problem(file, f"not valid YAML: {error}")


def parse_yaml(text: str | bytes, file: str) -> YamlDocument:
    """Parse one YAML document from `text`; raise YamlFileError naming `file` and the line."""
    return _parse(text, file, multiple=False)[0]


def parse_yaml_documents(text: str | bytes, file: str) -> list[YamlDocument]:
    """Parse every document of a `---`-separated YAML stream, with the same bounds.

    The size, depth and expansion limits apply to the whole file, not to each document. On a
    syntax error, the YamlFileError's `documents` holds the documents read before it.
    """
    return _parse(text, file, multiple=True)


# -- one broken document of many ---------------------------------------------------------------

# One line and its break, as YAML counts lines (PyYAML's reader and libyaml alike).
_YAML_LINE = re.compile("[^\r\n\x85\u2028\u2029]*(?:\r\n|[\r\n\x85\u2028\u2029]|$)")
_MARKER_END = frozenset(" \t\r\n\x85\u2028\u2029")


def _marker(line: str, marker: str) -> bool:
    """Return whether `line` is the document marker `---` or `...` (at column 0, then a blank)."""
    return line.startswith(marker) and (len(line) == 3 or line[3] in _MARKER_END)


def _holds_content(line: str) -> bool:
    """Return whether a line between documents is more than a blank, a comment or a directive."""
    stripped = line.strip(" \t\r\n\x85\u2028\u2029\ufeff")
    return bool(stripped) and not stripped.startswith("#") and not line.startswith("%")


@dataclass(frozen=True)
class DocumentText:
    """The text of one document of a file as written, and the line of the file it starts on."""

    line: int
    text: str


def document_texts(text: str) -> list[DocumentText]:
    """Cut a YAML text at its document markers: `---` and `...` lines, at column 0.

    A `---` or `...` at column 0 always ends what comes before it in YAML, even a block scalar's
    text (whose lines must be indented) or an unclosed quote or bracket (an error there), so each
    part reads alone as it reads in the file. Comments and directives (`%YAML`) before a `---`
    go with the document it starts; anything else after a `...` stays with the document it ends,
    where YAML refuses it as it does in the file. Joined, the parts are the text.
    """
    parts: list[tuple[int, list[str]]] = []  # each part's first line (from 0) and its lines
    lines: list[str] = []
    first = 0
    document = False  # the part has a marker or content: not just what precedes a `---`
    after_end = False  # the part started right after a `...`

    def close() -> None:
        if after_end and parts:
            parts[-1][1].extend(lines)  # what follows a `...` without a `---`: an error there
        else:
            parts.append((first, lines))

    for number, match in enumerate(_YAML_LINE.finditer(text)):
        line = match.group()
        if not line:
            break  # the empty match at the end of the text
        bare = line.removeprefix("\ufeff") if number == 0 else line
        starts = _marker(bare, "---")
        if document and starts:
            close()
            lines, first = [], number
        after_end = after_end and not starts
        lines.append(line)
        document = document or starts or _holds_content(line)
        if _marker(bare, "..."):
            close()
            lines, first, document, after_end = [], number + 1, False, True
    if lines:
        close()  # a last document, or comments after the last `...`
    return [DocumentText(line + 1, "".join(part)) for line, part in parts]


@dataclass(frozen=True)
class BrokenDocument:
    """A document of a multi-document file that could not be read; the others were."""

    problem: Problem  # what is wrong with it, with the file's name and line
    line: int  # the line of the file it starts on
    text: str  # its text as written


@dataclass(frozen=True)
class YamlStream:
    """The documents of a file that could be read, and each one that could not."""

    documents: tuple[YamlDocument, ...]
    broken: tuple[BrokenDocument, ...] = ()
    parts: int = 0  # how many documents the file was cut into when one was broken


def _moved(problem: Problem, lines: int) -> Problem:
    return replace(problem, line=problem.line + lines) if problem.line else problem


def parse_yaml_stream(text: str | bytes, file: str) -> YamlStream:
    """Parse a multi-document YAML file, keeping every document that parses.

    A file that parses is read as `parse_yaml_documents` reads it. One that does not, and holds
    several documents, is cut at its markers (`document_texts`) and each document read alone,
    with the file's line numbers: each broken one is in `broken`, the others are read. The size,
    depth and expansion bounds stay the whole file's: a file that breaks one of them, or a file
    of one document, raises YamlFileError as `parse_yaml_documents` does.
    """
    decoded = _decode(text, file)
    try:
        return YamlStream(tuple(_parse_decoded(decoded, file, _Counts(), multiple=True)))
    except _TooManyValues:
        raise
    except YamlFileError:
        parts = document_texts(decoded)
        if len(parts) < 2:
            raise
    documents: list[YamlDocument] = []
    broken: list[BrokenDocument] = []
    counts = _Counts()  # the bounds carry on from one document to the next
    for part in parts:
        below = part.line - 1
        try:
            found = _parse_decoded(part.text, file, counts, multiple=True, end="the document")
        except _TooManyValues as error:
            raise YamlFileError(error.problem, tuple(documents)) from error
        except YamlFileError as error:
            broken.append(BrokenDocument(_moved(error.problem, below), part.line, part.text))
            continue
        for document in found:
            document.lines = {path: line + below for path, line in document.lines.items()}
        documents += found
    return YamlStream(tuple(documents), tuple(broken), len(parts))


_NOT_REGULAR = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
)


def _read(path: Path) -> bytes:
    """Return the first MAX_FILE_BYTES + 1 bytes of a regular file (following symlinks).

    A named pipe, device or socket would block the read or never end: it is refused without
    reading, opened without blocking (a pipe with no writer would hold `open` itself).
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        raise YamlFileError(
            Problem(str(path), f"cannot read: {error.strerror or error}")
        ) from error
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        kind = next((name for test, name in _NOT_REGULAR if test(mode)), "not a file")
        raise YamlFileError(Problem(str(path), f"cannot read: it is {kind}, not a regular file"))
    with os.fdopen(descriptor, "rb") as handle:
        try:
            return handle.read(MAX_FILE_BYTES + 1)
        except OSError as error:
            raise YamlFileError(
                Problem(str(path), f"cannot read: {error.strerror or error}")
            ) from error


def load_yaml(path: Path) -> YamlDocument:
    """Read and parse a YAML file; raise YamlFileError naming the file and what is wrong."""
    return parse_yaml(_read(path), str(path))


def load_yaml_documents(path: Path) -> list[YamlDocument]:
    """Read and parse every document of a YAML file (see `parse_yaml_documents`)."""
    return parse_yaml_documents(_read(path), str(path))


def load_yaml_stream(path: Path) -> YamlStream:
    """Read a multi-document YAML file, keeping every document that parses (`parse_yaml_stream`)."""
    return parse_yaml_stream(_read(path), str(path))


def suggest(word: str, choices: Iterable[str], aliases: Mapping[str, str] | None = None) -> str:
    """Return ` (did you mean "x"?)` for the closest of `choices`, or an empty string.

    `aliases` maps other names people use (`macos`) to the right choice (`darwin`).
    """
    options = list(choices)
    alias = (aliases or {}).get(word.lower())
    if alias in options:
        return f' (did you mean "{alias}"?)'
    lowered = {choice.lower(): choice for choice in options}
    if word.lower() in lowered:
        return f' (did you mean "{lowered[word.lower()]}"?)'
    match = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return f' (did you mean "{lowered[match[0]]}"?)' if match else ""
