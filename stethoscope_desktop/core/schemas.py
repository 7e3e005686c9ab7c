"""The JSON Schemas in `resources/schemas/`, written from the declarations, never by hand.

The formats IT writes come from their `FileFormat` declarations (`core.policy`, `core.config`,
`core.instructions`, `core.custom_checks`, `core.checks`); the report's from the report's
dataclasses, their fields' types and the docstring under each field. `make schemas` runs
`python -m stethoscope_desktop.core.schemas`, and a test fails while a committed schema differs
from what this writes.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import itertools
import json
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any

from stethoscope_desktop.core.checks import CHECK_FORMAT
from stethoscope_desktop.core.config import CONFIG_FORMAT
from stethoscope_desktop.core.custom_checks import CHECKS_FILE_FORMAT
from stethoscope_desktop.core.fileformat import DRAFT_2020_12, FileFormat, JsonSchema, SchemaWriter
from stethoscope_desktop.core.instructions import INSTRUCTIONS_FORMAT
from stethoscope_desktop.core.policy import POLICY_FORMAT, REQUIREMENT
from stethoscope_desktop.core.report import REPORT_SCHEMA_VERSION, Report
from stethoscope_desktop.resources import resources_dir

FILE_FORMATS: tuple[FileFormat, ...] = (
    POLICY_FORMAT,
    CONFIG_FORMAT,
    INSTRUCTIONS_FORMAT,
    CHECKS_FILE_FORMAT,
    CHECK_FORMAT,
)
SUFFIX = ".schema.json"
_ISO_SECONDS = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$"
)
# What the report's schema says of some fields beyond their Python type.
_REPORT_DETAILS: Mapping[str, JsonSchema] = {
    "Report.started_at": {"format": "date-time", "pattern": _ISO_SECONDS},
    "Report.duration_seconds": {"minimum": 0},
    "Report.schema_version": {"const": REPORT_SCHEMA_VERSION},
    "TableTiming.seconds": {"minimum": 0},
    "TableTiming.rows": {"minimum": 0},
}
# Report fields typed as text whose values come from a declared choice.
_REPORT_CHOICES = {"ApplicationOutcome.assertion": REQUIREMENT}


class UndescribedField(Exception):
    """A report field has no docstring to describe it in the schema."""


def field_docstrings(cls: type) -> dict[str, str]:
    """Return the docstring written under each field of a dataclass (or a base), by name."""
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if dataclasses.is_dataclass(klass):
            found |= _docstrings_in(klass)
    return found


def _docstrings_in(cls: type) -> dict[str, str]:
    tree = ast.parse(inspect.cleandoc("\n" + inspect.getsource(cls)))
    body = next(node for node in tree.body if isinstance(node, ast.ClassDef)).body
    found: dict[str, str] = {}
    for node, after in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            found[node.target.id] = " ".join(inspect.cleandoc(after.value.value).split())
    return found


def _def_name(cls: type) -> str:
    return cls.__name__[0].lower() + cls.__name__[1:]


class _ReportSchema:
    """Writes the schema of a dataclass tree, naming each dataclass and enum under `$defs`."""

    def __init__(self) -> None:
        self.writer = SchemaWriter()

    def of_type(self, hint: Any, where: str) -> JsonSchema:
        if where in _REPORT_CHOICES:
            return self.writer.of(_REPORT_CHOICES[where])
        origin = typing.get_origin(hint)
        arguments = typing.get_args(hint)
        if origin in (types.UnionType, typing.Union):
            return self._union(arguments, where)
        if origin is tuple:
            return {"type": "array", "items": self.of_type(arguments[0], where)}
        if origin is dict:
            return {"type": "object", "additionalProperties": self.of_type(arguments[1], where)}
        return self._named(hint)

    def _union(self, arguments: tuple[Any, ...], where: str) -> JsonSchema:
        """Return `X | None` as X or null, and a union of plain types as a list of types."""
        others = [argument for argument in arguments if argument is not type(None)]
        nullable = len(others) < len(arguments)
        if len(others) == 1:
            schema = self.of_type(others[0], where)
            kind = schema.get("type")
            if not nullable:
                return schema
            if isinstance(kind, str):
                return {**schema, "type": [kind, "null"]}
            return {"anyOf": [schema, {"type": "null"}]}
        kinds = [self.of_type(other, where)["type"] for other in others]
        if "number" in kinds:  # JSON's numbers include the integers
            kinds = [kind for kind in kinds if kind != "integer"]
        return {"type": [*_unique(kinds), *(["null"] if nullable else [])]}

    def _named(self, hint: Any) -> JsonSchema:
        plain = {str: "string", bool: "boolean", int: "integer", float: "number"}
        if hint in plain:
            return {"type": plain[hint]}
        name = _def_name(hint)
        if name not in self.writer.defs:
            self.writer.defs[name] = {}
            if issubclass(hint, StrEnum):
                self.writer.defs[name] = self._enum(hint)
            else:
                self.writer.defs[name] = self.of_dataclass(hint)
        return {"$ref": f"#/$defs/{name}"}

    def _enum(self, cls: type[StrEnum]) -> JsonSchema:
        return {
            "type": "string",
            "enum": [member.value for member in cls],
            "description": " ".join(inspect.cleandoc(cls.__doc__ or "").split()),
        }

    def of_dataclass(self, cls: type) -> JsonSchema:
        hints = typing.get_type_hints(cls)
        described = field_docstrings(cls)
        properties: dict[str, JsonSchema] = {}
        for item in dataclasses.fields(cls):
            where = f"{cls.__name__}.{item.name}"
            if item.name not in described:
                raise UndescribedField(f"{where} has no docstring under it")
            schema = {**self.of_type(hints[item.name], where), **_REPORT_DETAILS.get(where, {})}
            properties[item.name] = {**schema, "description": described[item.name]}
        return {
            "type": "object",
            "description": " ".join(inspect.cleandoc(cls.__doc__ or "").split()),
            "properties": properties,
            "required": list(properties),
            "additionalProperties": False,
        }


def _unique(items: Sequence[Any]) -> list[Any]:
    return list(dict.fromkeys(items))


def report_schema(report: type = Report) -> JsonSchema:
    """Return the schema of `Report.to_dict()`, from the report's dataclasses."""
    writer = _ReportSchema()
    body = writer.of_dataclass(report)
    return {
        "$schema": DRAFT_2020_12,
        "title": "Stethoscope Desktop report",
        "description": "One scan's result as Report.to_dict() / Report.to_json() gives it (and "
        "`stethoscope-desktop scan --json` prints it): the overall status, every practice ranked "
        "(failures first, then nudges, unknowns, passes; by rating within each), the device, the "
        "engine and timings. Field names are the Python dataclass field names.",
        **{key: value for key, value in body.items() if key != "description"},
        "$defs": dict(sorted(writer.writer.defs.items())),
    }


def schemas() -> dict[str, JsonSchema]:
    """Return every schema by its file name in `resources/schemas/`."""
    written = {
        f"{file_format.name}{SUFFIX}": file_format.json_schema() for file_format in FILE_FORMATS
    }
    written[f"report{SUFFIX}"] = report_schema()
    return written


def schema_text(schema: JsonSchema) -> str:
    """Return a schema as it is written to its file."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Write the schemas into a folder (by default the project's `resources/schemas/`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=resources_dir() / "schemas")
    folder: Path = parser.parse_args(argv).folder
    folder.mkdir(parents=True, exist_ok=True)
    for name, schema in schemas().items():
        (folder / name).write_text(schema_text(schema), encoding="utf-8")
        print(folder / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
