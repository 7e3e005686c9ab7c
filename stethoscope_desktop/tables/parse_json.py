"""fleetd's `parse_json` and `parse_jsonl`: a JSON file flattened into one row per value.

As fleetd fills them (its dataflattentable tables over the dataflatten package, from Kolide's
launcher):
- `path = X` reads X; `path LIKE P` turns every `%` into `*` and expands P as Go's filepath.Glob
  (as `file_lines` does). Without a `path` constraint the query fails, as fleetd's does.
- The document is flattened: every scalar is a row whose `fullkey` is the path of map keys and
  array indexes to it joined with `/` ("a/b/0/c"), `key` its last element, `parent` the rest ("" at
  the top). `value` is the scalar as text: strings as they are, `true`/`false`, numbers as Go
  prints a float64 without exponent ("1", "0.5", "1000000000000000000000"). JSON `null`, empty
  objects and empty arrays give no rows. A string that holds a property list (binary, or XML with
  a plist DOCTYPE) is flattened in its place, as fleetd's nested-plist option does.
- `parse_jsonl` reads a stream of JSON documents (one a line, or any whitespace between) and
  flattens them as one array: the first element of `fullkey` is the document's index.
- `query` filters while flattening, as dataflatten's query does: its `/`-separated terms match the
  path level by level; `*` matches anything, a leading or trailing `*` a suffix or prefix; on an
  array a number is an index, `k=>v` keeps elements whose key `k` matches `v`, and `#k` (or
  `#k=>v`) names the elements by their key `k` instead of their index. A term at the level of a
  scalar matches its value. Rows carry the query in the `query` column ("*" when none was given).
- A missing file, a folder, a file that is no regular file or no valid JSON gives no rows (fleetd
  logs and skips it).

Differences: fleetd runs as root, this as you: a file you may not read fails the query with that
reason. Map keys come in the document's order (Go's map order in fleetd is random).
Bounds: a file larger than MAX_FILE_BYTES, nested deeper than MAX_NESTING, or a pattern matching
more than MAX_MATCHES files fails the query with a reason rather than giving partial rows.
"""

from __future__ import annotations

import base64
import datetime
import json
import math
import plistlib
from collections.abc import Iterable
from decimal import Decimal
from typing import ClassVar

from stethoscope_desktop.tables.base import (
    Column,
    Operator,
    QueryContext,
    Row,
    TableError,
    TablePlugin,
)
from stethoscope_desktop.tables.file import (
    PathStyle,
    PatternExpander,
    expand_constraints,
    permission_denied,
)
from stethoscope_desktop.tables.system import System

MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_NESTING = 200
MAX_MATCHES = 1_000
WILDCARD = "*"
KEY_DENOTER = "#"

# What _read returns for a file fleetd would skip (missing, no regular file, not JSON).
_UNREADABLE = object()


class _TooDeep(Exception):
    """The document nests deeper than MAX_NESTING."""


class _InvalidJson(ValueError):
    """The text is not a JSON document Go's encoding/json accepts."""


def format_float(value: float) -> str:
    """Format a float64 as Go's strconv.FormatFloat(v, 'f', -1, 64): shortest, no exponent."""
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _go_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _InvalidJson(f"number {text} is out of range")
    return value


def _reject_constant(text: str) -> float:
    raise _InvalidJson(f"invalid value {text}")


def _loads(text: str) -> object:
    return json.loads(
        text, parse_float=_go_float, parse_int=_go_float, parse_constant=_reject_constant
    )


def parse_json_stream(text: str) -> list[object]:
    """Parse whitespace-separated JSON documents as Go's json.Decoder reads them."""
    decoder = json.JSONDecoder(
        parse_float=_go_float, parse_int=_go_float, parse_constant=_reject_constant
    )
    documents: list[object] = []
    offset = 0
    while True:
        while offset < len(text) and text[offset] in " \t\r\n":
            offset += 1
        if offset >= len(text):
            return documents
        document, offset = decoder.raw_decode(text, offset)
        documents.append(document)


def _looks_like_plist(data: bytes) -> bool:
    head = data[:30]
    return b"bplist0" in head or (
        b'xml version="1.0"' in head and b"<!DOCTYPE plist PUBLIC" in data
    )


def clean_text(text: str) -> str:
    """Replace lone surrogates (from JSON's unpaired escapes) as Go does, with U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= char <= "\udfff" else char for char in text)
    return text


def stringify(value: object) -> str:
    """Return a scalar as dataflatten's stringify writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
        return str(int(moment.timestamp()))
    if isinstance(value, plistlib.UID):
        return str(value.data)
    return str(value)


def match_string(value: str, term: str) -> bool:
    """Match a value against a query term: `*`, `*x*` (contains), `*x`, `x*`, or exactly."""
    if term == WILDCARD:
        return True
    if term.startswith(WILDCARD) and term.endswith(WILDCARD):
        return term[1:-1] in value
    if term.startswith(WILDCARD):
        return value.endswith(term[1:])
    if term.endswith(WILDCARD):
        return value.startswith(term[:-1])
    return value == term


def _go_atoi(text: str) -> int | None:
    body = text[1:] if text[:1] in "+-" else text
    if not body or not body.isascii() or not body.isdigit():
        return None
    return int(text)


class Flattener:
    """dataflatten's Flatten with a query and nested property lists expanded."""

    def __init__(self, query: list[str] | None) -> None:
        self._query = query
        self.rows: list[tuple[list[str], str]] = []

    def _term(self, depth: int) -> tuple[str, bool]:
        if self._query is None or depth + 1 > len(self._query):
            return WILDCARD, True
        term = self._query[depth]
        return term, term == WILDCARD

    def _match_stringify(self, value: object, term: str) -> bool:
        term = term.removeprefix(KEY_DENOTER)
        if term == WILDCARD:
            return True
        if value is None:
            return False
        return match_string(stringify(value), term)

    def _match_element(self, element: object, index: int, term: str) -> bool:
        term = term.removeprefix(KEY_DENOTER)
        if term == WILDCARD:
            return True
        number = _go_atoi(term)
        if number is not None:
            return number == index
        if isinstance(element, list):
            return False
        if isinstance(element, dict):
            pair = term.split("=>", 1)
            if len(pair) == 1:
                return pair[0] in element
            return any(
                match_string(key, pair[0]) and self._match_stringify(value, pair[1])
                for key, value in element.items()
            )
        return self._match_stringify(element, term)

    def descend(self, path: list[str], data: object, depth: int) -> None:
        """Flatten `data` found at `path` (`depth` levels down) into rows."""
        if depth > MAX_NESTING:
            raise _TooDeep
        term, matched = self._term(depth)
        if isinstance(data, list):
            for index, element in enumerate(data):
                key = str(index)
                if term.startswith(KEY_DENOTER):
                    name = term.removeprefix(KEY_DENOTER).split("=>", 1)[0]
                    if not isinstance(element, dict) or not isinstance(element.get(name), str):
                        continue
                    key = element[name]
                if matched or self._match_element(element, index, term):
                    self.descend([*path, key], element, depth + 1)
        elif isinstance(data, dict):
            for key, element in data.items():
                if matched or match_string(key, term):
                    self.descend([*path, key], element, depth + 1)
        elif data is None:
            return
        elif isinstance(data, str | bytes):
            raw = data.encode("utf-8") if isinstance(data, str) else data
            if _looks_like_plist(raw):
                try:
                    inner = plistlib.loads(raw)
                except Exception:  # any failure: dataflatten keeps the string
                    inner = None
                if inner is not None:
                    self.descend(path, inner, depth)
                    return
            self._leaf(path, data, depth)
        else:
            self._leaf(path, data, depth)

    def _leaf(self, path: list[str], value: object, depth: int) -> None:
        term, matched = self._term(depth)
        text = stringify(value)
        if matched or match_string(text, term):
            self.rows.append((path, text))


def flatten(data: object, query: str) -> list[tuple[list[str], str]]:
    """Return (path, value) rows of `data` under a dataflatten query ("*" or "" for none)."""
    terms = query.split("/")
    flattener = Flattener(None if terms == [""] else terms)
    flattener.descend([], data, 0)
    return flattener.rows


class ParseJson(TablePlugin):
    """fleetd's `parse_json`: the values of the JSON files a query names by `path`."""

    name = "parse_json"
    columns: ClassVar[tuple[Column, ...]] = (
        Column("path", "text", index=True, required=True),
        Column("fullkey"),
        Column("parent"),
        Column("key"),
        Column("value"),
        Column("query"),
    )
    platforms: ClassVar[tuple[str, ...]] = ("linux", "darwin", "windows")

    def __init__(self, system: System, platform: str) -> None:
        self._system = system
        self._style = PathStyle.for_platform(platform)

    def key_columns(self) -> tuple[str, ...]:
        """Return path and query: fleetd reads every constraint on both."""
        return ("path", "query")

    def _parse(self, text: str) -> object:
        return _loads(text)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        """Return a row per value of every file the `path` constraints name."""
        if not any(c.column == "path" for c in context.constraints):
            raise TableError(f"the {self.name} table needs a path: add WHERE path = '…'")
        expander = PatternExpander.as_go_glob(self._system, self._style, max_matches=MAX_MATCHES)
        queries = [
            c.expr
            for c in context.constraints
            if c.column == "query" and c.op in (Operator.EQUALS, Operator.LIKE)
        ] or [WILDCARD]
        rows: list[Row] = []
        for path in expand_constraints(context, "path", expander.expand_flat):
            data = self._read(path)
            if data is _UNREADABLE:
                continue
            for query in dict.fromkeys(queries):
                try:
                    flat = flatten(data, query)
                except _TooDeep:
                    raise TableError(
                        f"{path} nests deeper than {MAX_NESTING} levels; {self.name} reads only "
                        "documents up to that depth"
                    ) from None
                for keys, value in flat:
                    rows.append(
                        {
                            "path": path,
                            "fullkey": clean_text("/".join(keys)),
                            "parent": clean_text("/".join(keys[:-1])),
                            "key": clean_text(keys[-1]) if keys else "",
                            "value": clean_text(value),
                            "query": query,
                        }
                    )
        return rows

    def _read(self, path: str) -> object:
        try:
            if not self._system.stat(path).is_regular:
                return _UNREADABLE
            data = self._system.read_bytes(path, limit=MAX_FILE_BYTES + 1)
        except PermissionError:
            raise permission_denied(path) from None
        except OSError:
            return _UNREADABLE
        if len(data) > MAX_FILE_BYTES:
            raise TableError(
                f"{path} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; {self.name} reads "
                "only files up to that size"
            )
        try:
            return self._parse(data.decode("utf-8", "replace"))
        except RecursionError:
            raise TableError(
                f"{path} nests deeper than {self.name} can read; it reads documents up to "
                f"{MAX_NESTING} levels deep"
            ) from None
        except ValueError:  # not JSON (json.JSONDecodeError and _InvalidJson): fleetd skips it
            return _UNREADABLE


class ParseJsonl(ParseJson):
    """fleetd's `parse_jsonl`: a file of JSON documents, each flattened under its index."""

    name = "parse_jsonl"

    def _parse(self, text: str) -> object:
        return parse_json_stream(text)
