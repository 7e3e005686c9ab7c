"""Declaring a file format once: typed keys that validate IT's YAML and publish its JSON Schema.

Each format IT writes (`policy.yaml`, `config.yaml`, `instructions.<lang>.yaml`, the checks of
`checks.d/` and `checks/`) is a tree of the key types below, declared once in the module that
loads the format. The same tree does two things:

- **reads** a parsed document: `kind.read(reading, path, value)` returns the value in Python
  form, or `INVALID` after adding a problem that names the file, the line and the key
  (`osVersion.darwin.ok`), with a "did you mean" for a misspelt key or option. A `Record`
  either keeps its valid keys (a file that is partly wrong still applies) or is all or nothing
  (one application rule, one check);
- **publishes** the JSON Schema IT's editors use: `SchemaWriter` turns the tree into draft
  2020-12, with every key's description. `core.schemas` writes `resources/schemas/` from it.

What a declaration can't say — layering, cross-references, duplicates — stays in Python beside
the declaration that it completes.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from stethoscope_desktop.core.outside_patterns import pattern_problem
from stethoscope_desktop.core.versions import (
    MAX_RANGE_LENGTH,
    MAX_VERSION_LENGTH,
    NumericRange,
    NumericRangeError,
    VersionRange,
    VersionRangeError,
)
from stethoscope_desktop.core.yamlfile import KeyPath, Problem, YamlDocument, suggest

JsonSchema = dict[str, Any]


class _Invalid:
    """The type of `INVALID`."""

    _instance: _Invalid | None = None

    def __new__(cls) -> _Invalid:
        """Return the one instance."""
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        """Return `INVALID`."""
        return "INVALID"


# What `read` returns for a value that is wrong (after reporting why).
INVALID: Final = _Invalid()


@dataclass
class Reading:
    """One document being read: where problems are located, and the problems found so far."""

    doc: YamlDocument
    problems: list[Problem] = field(default_factory=list)

    def fail(self, path: KeyPath, message: str) -> _Invalid:
        """Report a problem at `path`; return INVALID."""
        self.problems.append(self.doc.problem(path, message))
        return INVALID


class KeyType(ABC):
    """What one value of a file may be: how to read it, and its JSON Schema."""

    # A named type is published once under `$defs/<name>` and referred to where it is used.
    name: str = ""
    description: str = ""

    @abstractmethod
    def read(self, reading: Reading, path: KeyPath, value: Any) -> Any:
        """Return `value` in Python form, or INVALID after reporting what is wrong with it."""

    @abstractmethod
    def schema(self, writer: SchemaWriter) -> JsonSchema:
        """Return this type's JSON Schema (without its description)."""


class SchemaWriter:
    """Writes key types as JSON Schema, collecting the named ones under `$defs`."""

    def __init__(self) -> None:
        """Start with no definitions."""
        self.defs: dict[str, JsonSchema] = {}

    def of(self, kind: KeyType) -> JsonSchema:
        """Return the schema of `kind`: a `$ref` for a named type, else the schema itself."""
        if not kind.name:
            return kind.schema(self)
        if kind.name not in self.defs:
            self.defs[kind.name] = {}  # taken before writing, so a type may refer to itself
            self.defs[kind.name] = _described(kind.schema(self), kind.description)
        return {"$ref": f"#/$defs/{kind.name}"}

    def described(self, kind: KeyType, description: str) -> JsonSchema:
        """Return the schema of `kind` with a description of how it is used here."""
        return _described(self.of(kind), description)


def _described(schema: JsonSchema, description: str) -> JsonSchema:
    return {**schema, "description": description} if description else schema


def _choices_message(value: Any, options: Sequence[str]) -> str:
    hint = suggest(value, options) if isinstance(value, str) else ""
    return f"{value!r} is not one of {', '.join(options)}{hint}"


# -- scalars -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Text(KeyType):
    """A text, stripped of surrounding blanks.

    `missing` makes it required: a blank text (or none) is reported with that message. `pattern`
    is a regular expression the text must contain a match of, here and in the schema alike;
    `check` is a further test that returns the problem, or None.
    """

    message: str = "must be text"
    missing: str = ""
    max_length: int | None = None
    pattern: str = ""
    pattern_message: str = ""
    check: Callable[[str], str | None] | None = field(default=None, compare=False)
    strip: bool = True

    def read(self, reading: Reading, path: KeyPath, value: Any) -> Any:
        """Return the text, stripped; report a wrong type, a blank required text, a bad one."""
        blank = value is None or (isinstance(value, str) and not value.strip())
        if blank and self.missing:
            return reading.fail(path, self.missing)
        if not isinstance(value, str):
            return reading.fail(path, self.message)
        if "\0" in value:
            # Shown to people or passed on as C strings, where it would cut the text short.
            return reading.fail(path, "contains a NUL character (\\0), which no text may hold")
        if self.pattern and not re.search(self.pattern, value):
            return reading.fail(path, self.pattern_message)
        if self.max_length is not None and len(value) > self.max_length:
            return reading.fail(path, f"longer than {self.max_length} characters")
        if self.check is not None and (problem := self.check(value)) is not None:
            return reading.fail(path, problem)
        return value.strip() if self.strip else value

    def schema(self, writer: SchemaWriter) -> JsonSchema:
        """Return a string schema with the same bounds."""
        schema: JsonSchema = {"type": "string"}
        if self.missing:
            schema["minLength"] = 1
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        if self.missing or self.pattern:
            schema["pattern"] = self.pattern or r"\S"
        if self.pattern_message or self.missing:
            schema["patternErrorMessage"] = self.pattern_message or self.missing
        return schema


@dataclass(frozen=True)
class Flag(KeyType):
    """true or false."""

    def read(self, reading: Reading, path: KeyPath, value: Any) -> Any:
        """Return the boolean; report anything else."""
        if isinstance(value, bool):
            return value
        return reading.fail(path, "must be true or false")

    def schema(self, writer: SchemaWriter) -> JsonSchema:
        """Return a boolean schema."""
        return {"type": "boolean"}


@dataclass(frozen=True)
class WholeNumber(KeyType):
    """An integer within bounds; `below_message` and `above_message` word a bound's problem."""

    message: str
    minimum: int | None = None
    maximum: int | None = None
    below_message: str = ""
    above_message: str = ""

    def read(self, reading: Reading, path: KeyPath, value: Any) -> Any:
        """Return the integer; report another type or a number out of bounds."""
        if isinstance(value, bool) or not isinstance(value, int):
            return reading.fail(path, self.message)
        if self.minimum is not None and value < self.minimum:
            return reading.fail(path, self.below_message or self.message)
        if self.maximum is not None and value > self.maximum:
            return reading.fail(path, self.above_message or self.message)
        return value

    def schema(self, writer: SchemaWriter) -> JsonSchema:
        """Return an integer schema with the same bounds."""
        schema: JsonSchema = {"type": "integer"}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema


@dataclass(frozen=True)
class Number(KeyType):
    """A finite number (integer or decimal) at least `minimum`, read as a float."""

    message: str
    minimum: float | None = None

    def read(self, reading: Reading, path: KeyPath, value: Any) -> Any:
        """Return the number as a float; report another type, one not finite or below `minimum`.

        NaN, infinity and a number beyond a float's range (10**400) are not finite.
        """
        if isinstance(value, bool) or not isinstance(value, int | float):
            return reading.fail(path, self.message)
        try:
            number = float(value)
        except OverflowError:
            return reading.fail(path, self.message)
        if not math.isfinite(number) or (self.minimum is not None and number < self.minimum):
            return reading.fail(path, self.message)
        return number

    def schema(self, writer: SchemaWriter) -> JsonSchema:
        """Return a number schema with the same bound."""
        schema: JsonSchema = {"type": "number"}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        return schema


@dataclass(frozen=True)
class Choice(KeyType):
    """One of a few words, each with what it means; `convert` makes the Python value.

    With `any_case`, an option in other letter case (`Always`) reads as the option, as
    Stethoscope read its policy's values.
    """

    options: Mapping[str, str]  # option -> what it means
    name: str = ""
    description: str = ""
    null_message: str = ""
    convert: Callable[[str], Any] = field(default=str, compare=False)
    any_case: bool = False

    def read(self, reading: Reading, path: KeyPath, value: Any) -> Any:
        """Return the option, converted; report anything else with the closest option."""
        if value is None and self.null_message:
            return reading.fail(path, self.null_message)
        if isinstance(value, str) and value in self.options:
            return self.convert(value)
        if self.any_case and isinstance(value, str):
            folded = {option.casefold(): option for option in self.options}
            if (option := folded.get(value.casefold())) is not None:
                return self.convert(option)
        return reading.fail(path, _choices_message(value, list(self.options)))

    def schema(self, writer: SchemaWriter) -> JsonSchema:
        """Return an enum schema with a description per option (and any case, where allowed)."""
        options = {"enum": list(self.options), "enumDescriptions": list(self.options.values())}
        if not self.any_case:
            return {"type": "string", **options}
        any_case = "|".join(
            "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in option)
            for option in self.options
        )
        return {"type": "string", "anyOf": [options, {"pattern": f"^(?:{any_case})$"}]}


@dataclass(frozen=True)
class Pattern(KeyType):
    """A regular expression in quotes, from outside: it must run on RE2 (`outside_patterns`)."""

    def read(self, reading: Reading, path: KeyPath, value: Any) -> Any:
        """Return the pattern; report one that is empty, not text or does not compile on RE2."""
        if not isinstance(value, str) or not value:
            return reading.fail(path, "must be a regular expression in quotes")
        if (problem := pattern_problem(value)) is not None:
            return reading.fail(path, str(problem))
        return value

    def schema(self, writer: SchemaWriter) -> JsonSchema:
        """Return a non-empty string schema of format regex."""
        return {"type": "string", "minLength": 1, "format": "regex"}


# A node-semver range, as a pattern for editors: every range the app accepts matches it, and it
# catches most mistakes (tests/test_formats.py fuzzes the two against each other).
_OPERATOR = r"(?:<=|>=|~>|<|>|=|~|\^)"
_PART = r"(?:[0-9]+|[xX*])"
_IDENTIFIERS = r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*"
_VERSION = rf"v?{_PART}(?:\.{_PART})*(?:-{_IDENTIFIERS})?(?:\+{_IDENTIFIERS})?"
_COMPARATOR = rf"(?:(?:{_OPERATOR}\s*)?{_VERSION}|-)"
_ALTERNATIVE = rf"{_COMPARATOR}(?:\s+{_COMPARATOR})*"
# A range that is not empty, unanchored: for patterns that hold a range among other text.
VERSION_RANGE_BODY = rf"{_ALTERNATIVE}(?:\s*\|\|\s*{_ALTERNATIVE})*"
VERSION_RANGE_PATTERN = rf"^\s*(?:{VERSION_RANGE_BODY})?\s*$"


@dataclass(frozen=True)
class VersionRangeText(KeyType):
    """A node-semver version range in quotes (`">=14.6"`), read as a `VersionRange`."""

    name: str = "versionRange"
    description: str = (
        'A node-semver version range in quotes: ">=14.6", "^1.2.3", "~1.2", "1.x", '
        '"1.2.3 - 2.3.4", ">=1.2 <2" (and), "<1.0 || >=2.0" (or). Versions may have more than '
        "three parts (10.0.19045.4894) and leading zeros (18.04). Quote it: YAML reads 10.10 "
        "unquoted as the number 10.1."
    )

    def read(self, reading: Reading, path: KeyPath, value: Any) -> Any:
        """Return the parsed range; report a value that is not text or not a range."""
        if not isinstance(value, str):
            return reading.fail(
                path, f'must be a version range in quotes, e.g. ">=14.6" (got {value!r})'
            )
        try:
            return VersionRange.parse(value)
        except VersionRangeError as error:
            return reading.fail(path, str(error))

    def schema(self, writer: SchemaWriter) -> JsonSchema:
        """Return a string schema with the range pattern."""
        return {
            "type": "string",
            "maxLength": MAX_RANGE_LENGTH,
            "pattern": VERSION_RANGE_PATTERN,
            "patternErrorMessage": 'Not a node-semver version range. Examples: ">=14.6", '
            '">=1.2 <2", "^1.2.3", "1.2.3 - 2.3.4", "<1.0 || >=2.0".',
        }


_SECONDS_COMPARATOR = r"(?:(?:<=|>=|<|>|=)\s*)?-?[0-9]{1,15}(?:\.[0-9]{1,15})?"
SECONDS_RANGE_PATTERN = rf"^\s*{_SECONDS_COMPARATOR}(?:\s+{_SECONDS_COMPARATOR})*\s*$"
_BARE_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_LARGEST_NUMBER = 999_999_999_999_999


@dataclass(frozen=True)
class SecondsRange(KeyType):
    """A numeric range of seconds (`"<=600"`); an unquoted number is the most allowed."""

    def read(self, reading: Reading, path: KeyPath, value: Any) -> Any:
        """Return the parsed `NumericRange`; a bare number 600 (or "600" unquoted) is "<=600"."""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            return reading.fail(path, 'must be a range of seconds in quotes, e.g. "<=600"')
        text = str(value).strip()
        if _BARE_NUMBER.fullmatch(text):
            text = f"<={text}"
        try:
            return NumericRange.parse(text)
        except NumericRangeError as error:
            return reading.fail(path, str(error))

    def schema(self, writer: SchemaWriter) -> JsonSchema:
        """Return a range text or a number."""
        return {
            "anyOf": [
                {
                    "type": "string",
                    "maxLength": MAX_VERSION_LENGTH,
                    "pattern": SECONDS_RANGE_PATTERN,
                    "patternErrorMessage": 'Not a range of seconds. Examples: "<=600", '
                    '">=60 <=600". "||" is not supported.',
                },
                {"type": "number", "minimum": -_LARGEST_NUMBER, "maximum": _LARGEST_NUMBER},
            ]
        }


@dataclass(frozen=True)
class Anything(KeyType):
    """Any value: a key that is accepted and ignored."""

    def read(self, reading: Reading, path: KeyPath, value: Any) -> Any:
        """Return the value as it is."""
        return value

    def schema(self, writer: SchemaWriter) -> JsonSchema:
        """Return the schema that accepts everything."""
        return {}


# -- combinations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrNull(KeyType):
    """`kind`, or null (an empty value in YAML) which reads as `empty`."""

    kind: KeyType
    empty: Any = None
    blank: bool = False  # an empty text ("") reads as `empty` too

    def read(self, reading: Reading, path: KeyPath, value: Any) -> Any:
        """Return `empty` for null (and for "" where `blank`), else what `kind` reads."""
        if value is None or (self.blank and value == ""):
            return self.empty
        return self.kind.read(reading, path, value)

    def schema(self, writer: SchemaWriter) -> JsonSchema:
        """Return the kind's schema with null allowed."""
        inner = writer.of(self.kind)
        kinds = inner.get("type")
        if isinstance(kinds, str) and "$ref" not in inner and "anyOf" not in inner:
            return {**inner, "type": [kinds, "null"]}
        if list(inner) == ["anyOf"]:
            return {"anyOf": [*inner["anyOf"], {"type": "null"}]}
        return {"anyOf": [inner, {"type": "null"}]}


@dataclass(frozen=True)
class Converted(KeyType):
    """`kind`, whose value once read is made into a Python object by `convert`.

    `convert` gets the reading (for the file's name), the value's path and the value read.
    """

    kind: KeyType
    convert: Callable[[Reading, KeyPath, Any], Any] = field(compare=False)

    def read(self, reading: Reading, path: KeyPath, value: Any) -> Any:
        """Return the converted value, or INVALID when `kind` found it wrong."""
        result = self.kind.read(reading, path, value)
        return result if result is INVALID else self.convert(reading, path, result)

    def schema(self, writer: SchemaWriter) -> JsonSchema:
        """Return the kind's schema."""
        return writer.of(self.kind)


@dataclass(frozen=True)
class EitherOf(KeyType):
    """`first` where it reads the value without a problem, else `second` (and its problems)."""

    first: KeyType
    second: KeyType

    def read(self, reading: Reading, path: KeyPath, value: Any) -> Any:
        """Return what the first kind reads, or else what the second reads."""
        trial = Reading(reading.doc)
        result = self.first.read(trial, path, value)
        if not trial.problems:
            return result
        return self.second.read(reading, path, value)

    def schema(self, writer: SchemaWriter) -> JsonSchema:
        """Return anyOf the two."""
        return {"anyOf": [writer.of(self.first), writer.of(self.second)]}


@dataclass(frozen=True)
class TextOr(KeyType):
    """`text` for a value written as text, `other` for any other value (a mapping, a list).

    For a key with a short form: `darwin: ">=13"` beside `darwin: {ok: ">=13"}`. Each form
    reports its own problems.
    """

    text: KeyType
    other: KeyType

    def read(self, reading: Reading, path: KeyPath, value: Any) -> Any:
        """Return what `text` reads of a text, and what `other` reads of anything else."""
        return (self.text if isinstance(value, str) else self.other).read(reading, path, value)

    def schema(self, writer: SchemaWriter) -> JsonSchema:
        """Return anyOf the two."""
        return {"anyOf": [writer.of(self.text), writer.of(self.other)]}


@dataclass(frozen=True)
class ListOf(KeyType):
    """A list of `item`s, of which the valid ones are kept.

    With `as_one`, a wrong item is reported as the list's `message` and the list is all wrong.
    With `min_items`, a shorter list is `too_few`.
    """

    item: KeyType
    message: str
    max_items: int | None = None
    too_many: str = ""
    as_one: bool = False
    min_items: int | None = None
    too_few: str = ""
    item_schema: JsonSchema = field(default_factory=dict, compare=False)

    def read(self, reading: Reading, path: KeyPath, value: Any) -> Any:
        """Return the list of the items read; report a value that is not a list, or too long."""
        if not isinstance(value, list):
            return reading.fail(path, self.message)
        if self.max_items is not None and len(value) > self.max_items:
            return reading.fail(path, self.too_many)
        if self.min_items is not None and len(value) < self.min_items:
            return reading.fail(path, self.too_few)
        items = []
        scratch = Reading(reading.doc) if self.as_one else reading
        for index, raw in enumerate(value):
            result = self.item.read(scratch, (*path, index), raw)
            if result is not INVALID:
                items.append(result)
        if self.as_one and scratch.problems:
            return reading.fail(path, self.message)
        return items

    def schema(self, writer: SchemaWriter) -> JsonSchema:
        """Return an array schema of the item's schema."""
        schema: JsonSchema = {
            "type": "array",
            "items": {**writer.of(self.item), **self.item_schema},
        }
        if self.max_items is not None:
            schema["maxItems"] = self.max_items
        if self.min_items is not None:
            schema["minItems"] = self.min_items
        return schema


@dataclass(frozen=True)
class Field:
    """One key of a `Record`: its type, what it means, and how it is read.

    `missing` makes the key required (the message when it is absent). `attribute` is the name it
    gets in the Python value read (the key itself by default); `default` is published in the
    schema.
    """

    key: str
    kind: KeyType
    description: str
    missing: str = ""
    attribute: str = ""
    default: Any = None

    @property
    def target(self) -> str:
        """Return the name this key's value has once read."""
        return self.attribute or self.key


@dataclass(frozen=True)
class Record(KeyType):
    """A mapping of declared keys, read into a dict of their values (by `Field.target`).

    An unknown key is a problem (with the closest known key as a suggestion), except the
    `ignored` ones (key -> why it is accepted), and any key of an `open` record. `spellings` are
    other names a key may be written as (`os version` for `osVersion`: spelling -> key), read as
    that key; a record that has both is told so. With `whole`,
    a record with any problem is INVALID; otherwise its valid keys are kept. `at_least_one`
    lists keys of which one must be given; `check` is what the declaration can't say about the
    record (it gets the raw mapping and the values read, and reports through the reading).
    """

    fields: Sequence[Field]
    message: str
    name: str = ""
    description: str = ""
    whole: bool = False
    open: bool = False  # other keys are passed over, not reported
    ignored: Mapping[str, str] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)
    spellings: Mapping[str, str] = field(default_factory=dict)
    at_least_one: tuple[tuple[str, ...], str] | None = None
    check: Callable[[Reading, KeyPath, Mapping[str, Any], dict[str, Any]], None] | None = field(
        default=None, compare=False
    )
    # What `check` tests, said to the schema (`if`/`then` and the like).
    schema_extra: JsonSchema = field(default_factory=dict, compare=False)

    @property
    def keys(self) -> tuple[str, ...]:
        """Return the declared keys, in order."""
        return tuple(f.key for f in self.fields)

    def field_of(self, key: str) -> Field:
        """Return the field declared for `key`."""
        return next(f for f in self.fields if f.key == key)

    def read(self, reading: Reading, path: KeyPath, value: Any) -> Any:
        """Return the values of the keys read; report unknown, wrong and missing keys."""
        if not isinstance(value, dict):
            return reading.fail(path, self.message)
        before = len(reading.problems)
        if not self.open:
            reading.problems += unknown_keys(reading.doc, value, path, self.known, self.aliases)
        parsed = self._values(reading, path, value)
        self._missing(reading, path, value)
        if self.check is not None:
            self.check(reading, path, value, parsed)
        if self.whole and len(reading.problems) > before:
            return INVALID
        return parsed

    def _values(self, reading: Reading, path: KeyPath, value: dict[str, Any]) -> dict[str, Any]:
        """Read the declared keys present, in the file's order; return the valid ones."""
        fields = {f.key: f for f in self.fields}
        parsed: dict[str, Any] = {}
        for key, raw in value.items():
            declared = self.spellings.get(key, key)
            if declared not in fields:
                continue
            if declared != key and declared in value:
                reading.fail(
                    (*path, key), f"ignored: the same as {declared}, which this file also sets"
                )
                continue
            result = fields[declared].kind.read(reading, (*path, key), raw)
            if result is not INVALID:
                parsed[fields[declared].target] = result
        return parsed

    def _missing(self, reading: Reading, path: KeyPath, value: dict[str, Any]) -> None:
        """Report the required keys that are absent, and a missing one-of."""
        given = {self.spellings.get(key, key) for key in value}
        for required in self.fields:
            if required.missing and required.key not in given:
                reading.fail((*path, required.key), required.missing)
        if self.at_least_one and not any(key in given for key in self.at_least_one[0]):
            reading.fail(path, self.at_least_one[1])

    @property
    def known(self) -> tuple[str, ...]:
        """Return every key the record accepts: declared, other spellings, then ignored."""
        return (*self.keys, *self.spellings, *self.ignored)

    def schema(self, writer: SchemaWriter) -> JsonSchema:
        """Return an object schema with a described property per key."""
        properties = {f.key: _property(writer, f) for f in self.fields}
        for spelling, key in self.spellings.items():
            declared = self.field_of(key)
            properties[spelling] = writer.described(
                declared.kind, f"Another spelling of {key} (Stethoscope's first policies)."
            )
        properties |= {key: {"description": why} for key, why in self.ignored.items()}
        schema: JsonSchema = {"type": "object", "properties": properties}
        if required := [f.key for f in self.fields if f.missing]:
            schema["required"] = required
        if self.at_least_one:
            schema["minProperties"] = 1
        if not self.open:
            schema["additionalProperties"] = False
        return {**schema, **self.schema_extra}

    def requiring(self, **missing: str) -> Requiring:
        """Return this record with more keys required: key = the message when it is absent."""
        return Requiring(self, missing)


def _property(writer: SchemaWriter, declared: Field) -> JsonSchema:
    schema = writer.described(declared.kind, declared.description)
    if declared.default is not None:
        schema["default"] = declared.default
    return schema


@dataclass(frozen=True)
class Requiring(KeyType):
    """A named record used where more of its keys are required."""

    record: Record
    missing: Mapping[str, str]  # key -> the message when it is absent

    def read(self, reading: Reading, path: KeyPath, value: Any) -> Any:
        """Read the record, then report each required key it lacks."""
        before = len(reading.problems)
        result = self.record.read(reading, path, value)
        if isinstance(value, dict):
            for key, message in self.missing.items():
                if key not in value:
                    reading.fail((*path, key), message)
        if self.record.whole and len(reading.problems) > before:
            return INVALID
        return result

    def schema(self, writer: SchemaWriter) -> JsonSchema:
        """Return the record's schema with the keys required."""
        required = [f.key for f in self.record.fields if f.missing] + list(self.missing)
        return {**writer.of(self.record), "required": required}


@dataclass(frozen=True)
class KeyPattern:
    """Keys that are not a fixed list, such as `darwin@>=13`.

    `check` returns a key's problem; `pattern` (a regular expression for editors) says the same,
    and `message` what a key that does not match is.
    """

    check: Callable[[str], str | None]
    pattern: str
    message: str
    description: str


@dataclass(frozen=True)
class MapOf(KeyType):
    """A mapping of chosen keys (key -> what it is, or a `KeyPattern`) to values of one kind.

    The valid entries are kept; with `non_empty`, a mapping with none is the `message`.
    """

    keys: Mapping[str, str] | KeyPattern
    value: KeyType
    message: str
    aliases: Mapping[str, str] = field(default_factory=dict)
    non_empty: bool = False

    def read(self, reading: Reading, path: KeyPath, value: Any) -> Any:
        """Return the entries read; report unknown keys (with a suggestion) and wrong values."""
        if not isinstance(value, dict) or (self.non_empty and not value):
            return reading.fail(path, self.message)
        entries: dict[str, Any] = {}
        for key, raw in value.items():
            if not self._known(reading, (*path, key), key):
                continue
            result = self.value.read(reading, (*path, key), raw)
            if result is not INVALID:
                entries[key] = result
        return entries

    def _known(self, reading: Reading, where: KeyPath, key: str) -> bool:
        if isinstance(self.keys, KeyPattern):
            problem = self.keys.check(key)
        elif key in self.keys:
            problem = None
        else:
            problem = "unknown key" + suggest(key, list(self.keys), self.aliases)
        if problem is not None:
            reading.fail(where, problem)
        return problem is None

    def schema(self, writer: SchemaWriter) -> JsonSchema:
        """Return an object schema: a described property per key, or a key pattern."""
        if isinstance(self.keys, KeyPattern):
            schema: JsonSchema = {
                "type": "object",
                "propertyNames": {
                    "pattern": self.keys.pattern,
                    "patternErrorMessage": self.keys.message,
                    "description": self.keys.description,
                },
                "additionalProperties": writer.of(self.value),
            }
        else:
            properties = {key: writer.described(self.value, why) for key, why in self.keys.items()}
            schema = {"type": "object", "properties": properties, "additionalProperties": False}
        if self.non_empty:
            schema["minProperties"] = 1
        return schema


def unknown_keys(
    doc: YamlDocument,
    mapping: Mapping[str, Any],
    path: KeyPath,
    known: Sequence[str],
    aliases: Mapping[str, str] | None = None,
) -> list[Problem]:
    """Return a problem for every key of `mapping` not in `known`, suggesting the right one."""
    return [
        doc.problem((*path, key), f"unknown key{suggest(key, known, aliases)}")
        for key in mapping
        if key not in known
    ]


# -- a whole format -----------------------------------------------------------------------------

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"


@dataclass(frozen=True)
class FileFormat:
    """A file format: its title and description for people, and the type of its documents."""

    name: str  # resources/schemas/<name>.schema.json
    title: str
    description: str
    root: KeyType

    def read(self, doc: YamlDocument) -> tuple[Any, list[Problem]]:
        """Read a whole document; return its value (or INVALID) and its problems in line order."""
        reading = Reading(doc)
        value = self.root.read(reading, (), doc.data)
        return value, sorted(reading.problems, key=lambda problem: problem.line or 0)

    def json_schema(self) -> JsonSchema:
        """Return the format's JSON Schema (draft 2020-12)."""
        writer = SchemaWriter()
        body = writer.of(self.root)
        schema: JsonSchema = {
            "$schema": DRAFT_2020_12,
            "title": self.title,
            "description": self.description,
            **body,
        }
        if writer.defs:
            schema["$defs"] = dict(sorted(writer.defs.items()))
        return schema
