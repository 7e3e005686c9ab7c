"""Safe loading of the YAML files IT and we write, with line numbers for every key.

Every problem names the file, the line and the key path (`osVersion.darwin.ok`,
`applications[2].name`), so IT can find it. Files are size-bounded, and anchors/aliases are
bounded by counting the nodes a document expands to, so a "billion laughs" file is refused
instead of eating the machine.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


class _BoundedLoader(yaml.SafeLoader):
    """A SafeLoader that stops composing at MAX_DEPTH levels and MAX_NODES nodes.

    The composer is recursive and builds every node before `_Builder` sees them, so without
    these bounds a deep (`[[[[…`) or long (`[1,1,1,…`) file costs seconds before it is refused.
    """

    def __init__(self, stream: str, file: str) -> None:
        super().__init__(stream)
        self._file = file
        self._path: list[str | int | None] = []
        self._composed = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        # `index` is the key node for a mapping value, the position for a list item, else None.
        part = index.value if isinstance(index, yaml.ScalarNode) else index
        self._path.append(part if isinstance(part, str | int) else None)
        try:
            self._composed += 1
            if self._composed > MAX_NODES:
                raise YamlFileError(Problem(self._file, _too_many_values()))
            if len(self._path) > MAX_DEPTH + 1:
                path = tuple(p for p in self._path if p is not None)
                line = self.peek_event().start_mark.line + 1  # type: ignore[no-untyped-call]
                raise YamlFileError(
                    Problem(
                        self._file, f"nested deeper than {MAX_DEPTH} levels", format_key(path), line
                    )
                )
            return super().compose_node(parent, index)
        finally:
            self._path.pop()


def _too_many_values() -> str:
    return (
        f"the document expands to more than {MAX_NODES} values "
        "(too many aliases or entries); refusing to load it"
    )


class _Builder:
    """Turns composed YAML nodes into Python data, recording lines and bounding expansion."""

    def __init__(self, file: str, loader: yaml.SafeLoader) -> None:
        self._file = file
        self._loader = loader
        self._nodes = 0
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
            raise YamlFileError(Problem(self._file, _too_many_values()))
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


def _loader(text: str, file: str) -> _BoundedLoader:
    try:
        return _BoundedLoader(text, file)
    except yaml.reader.ReaderError as error:
        # Control characters (NUL, ESC, BEL…) are refused as soon as the reader sees the text.
        line = text.count("\n", 0, error.position) + 1
        code = ord(error.character) if isinstance(error.character, str) else error.character
        raise YamlFileError(
            Problem(
                file, f"not valid YAML: the control character U+{code:04X} is not allowed", "", line
            )
        ) from error


def _syntax_problem(error: yaml.MarkedYAMLError, text: str, file: str) -> Problem:
    mark = error.problem_mark or error.context_mark
    reason = " ".join(part for part in (error.context, error.problem) if part)
    if "'\\t'" in reason:
        reason += " (indent with spaces, not tabs)"
    elif "block scalar" in reason:
        reason += ' (put ranges such as ">=14.6" in quotes)'
    context = error.context_mark
    if context is not None and ("end of stream" in reason or "<stream end>" in reason):
        # An unclosed quote or bracket: where it opened is what IT needs to look at.
        reason += " (it is not closed before the end of the file)"
        mark = context
    # A mark at the very end of the text is on the line after the last one; name the last.
    last_line = max(1, text.count("\n") + (0 if text.endswith("\n") else 1))
    at = min(mark.line + 1, last_line) if mark else None
    return Problem(file, f"not valid YAML: {reason}", "", at)


def _parse(text: str | bytes, file: str, *, multiple: bool) -> list[YamlDocument]:
    decoded = _decode(text, file)
    loader = _loader(decoded, file)
    documents: list[YamlDocument] = []
    builder = _Builder(file, loader)
    try:
        if not multiple:
            node = loader.get_single_node()
            if node is None:
                return [YamlDocument(file, None, {})]
            return [YamlDocument(file, builder.build(node, ()), builder.take_lines())]
        while loader.check_node():
            node = loader.get_node()
            data = None if node is None else builder.build(node, ())
            documents.append(YamlDocument(file, data, builder.take_lines()))
        return documents
    except yaml.MarkedYAMLError as error:
        raise YamlFileError(_syntax_problem(error, decoded, file), tuple(documents)) from error
    except yaml.YAMLError as error:
        raise YamlFileError(Problem(file, f"not valid YAML: {error}"), tuple(documents)) from error
    except RecursionError as error:
        raise YamlFileError(
            Problem(file, "the document is nested too deeply"), tuple(documents)
        ) from error
    except YamlFileError as error:
        raise YamlFileError(error.problem, tuple(documents)) from error
    finally:
        loader.dispose()


def parse_yaml(text: str | bytes, file: str) -> YamlDocument:
    """Parse one YAML document from `text`; raise YamlFileError naming `file` and the line."""
    return _parse(text, file, multiple=False)[0]


def parse_yaml_documents(text: str | bytes, file: str) -> list[YamlDocument]:
    """Parse every document of a `---`-separated YAML stream, with the same bounds.

    The size, depth and expansion limits apply to the whole file, not to each document. On a
    syntax error, the YamlFileError's `documents` holds the documents read before it.
    """
    return _parse(text, file, multiple=True)


def _read(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
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
