"""Check definitions (`checks/*.yaml`): how each fact is measured, in osquery SQL per platform.

A check names its kind (what its rows mean) and one query per platform it supports:

- `state`: rows with `enabled` (1 on, 0 off, NULL could not tell) and optional `detail`/`source`;
  every row on means ON, any row off means OFF.
- `value`: the first row's `value` column (a version, a number of seconds).
- `list`: rows with `name` and `version` (and optional `path`, `source`): installed applications.
- `record`: one row of named facts (the device's identity).

The file name (without `.yaml`) is the check's id.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from stethoscope_desktop.core.fileformat import (
    INVALID,
    Choice,
    Converted,
    Field,
    FileFormat,
    MapOf,
    Reading,
    Record,
    Text,
)
from stethoscope_desktop.core.yamlfile import (
    KeyPath,
    Problem,
    YamlDocument,
    YamlFileError,
    load_yaml,
)

PLATFORMS = ("darwin", "linux", "windows")
_KIND_MISSING = "missing; one of state, value, list, record"
_SQL_MISSING = "must be a non-empty SQL query"
_SQL_MAP = "must map platforms (darwin, linux, windows) to osquery SQL"
CHECK_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_SQL_CHARS = 20_000
# What people write instead of osquery's platform names, for "did you mean" hints.
PLATFORM_ALIASES = {
    "macos": "darwin",
    "mac": "darwin",
    "osx": "darwin",
    "win32": "windows",
    "win": "windows",
    "win64": "windows",
}


class CheckKind(StrEnum):
    """What a check's rows mean."""

    STATE = "state"
    VALUE = "value"
    LIST = "list"
    RECORD = "record"


@dataclass(frozen=True)
class Check:
    """One way to measure one fact, per platform."""

    id: str
    kind: CheckKind
    description: str
    sql: Mapping[str, str]
    file: str = ""

    def sql_for(self, platform: str) -> str | None:
        """Return the query for `platform` (osquery's name: darwin, linux, windows), if any."""
        return self.sql.get(platform)


@dataclass(frozen=True)
class CheckSet:
    """All loaded checks by id, and what was wrong with the files that did not load."""

    checks: Mapping[str, Check]
    problems: tuple[Problem, ...] = ()

    def get(self, check_id: str) -> Check | None:
        """Return the check with this id, if loaded."""
        return self.checks.get(check_id)


def _check(reading: Reading, path: KeyPath, values: dict[str, Any]) -> Check:
    # The id (the file's name) is set by `parse_check`.
    return Check("", file=reading.doc.file, **{"description": "", **values})


CHECK_FORMAT = FileFormat(
    "check",
    "Stethoscope Desktop check (checks/<id>.yaml)",
    "How one fact is measured: osquery SQL per platform, and what its rows mean. The file's "
    "name (lower_snake_case, without .yaml) is the check's id.",
    Converted(
        Record(
            [
                Field(
                    "kind",
                    Choice(
                        {
                            "state": "Rows with enabled (1 on, 0 off, NULL could not tell) and "
                            "optional detail and source; every row on means ON, any row off "
                            "means OFF.",
                            "value": "The first row's value column (a version, a number of "
                            "seconds).",
                            "list": "Rows with name and version (and optional path, source): "
                            "installed applications.",
                            "record": "One row of named facts (the device's identity).",
                        },
                        null_message=_KIND_MISSING,
                        convert=CheckKind,
                    ),
                    "What the check's rows mean.",
                    missing=_KIND_MISSING,
                ),
                Field("description", Text(), "What the check measures, for people."),
                Field(
                    "sql",
                    MapOf(
                        {
                            "darwin": "The query on macOS.",
                            "linux": "The query on Linux.",
                            "windows": "The query on Windows.",
                        },
                        Text(
                            message=_SQL_MISSING,
                            missing=_SQL_MISSING,
                            max_length=MAX_SQL_CHARS,
                        ),
                        message=_SQL_MAP,
                        aliases=PLATFORM_ALIASES,
                        non_empty=True,
                    ),
                    "osquery SQL per platform (osquery's names: darwin, linux, windows), using "
                    "osquery's tables and ours (stethoscope_*).",
                    missing=_SQL_MAP,
                ),
            ],
            message="a check must be a mapping with kind, description and sql",
            whole=True,
        ),
        _check,
    ),
)


def parse_check(doc: YamlDocument, check_id: str) -> tuple[Check | None, list[Problem]]:
    """Validate one check document; return the check (or None) and its problems."""
    check, problems = CHECK_FORMAT.read(doc)
    if check is INVALID:
        return None, problems
    return dataclasses.replace(check, id=check_id), []


def load_checks(folder: Path) -> CheckSet:
    """Load every `*.yaml` in `folder`; a broken file is reported and skipped, never fatal."""
    checks: dict[str, Check] = {}
    problems: list[Problem] = []
    for path in sorted(folder.glob("*.yaml")):
        check_id = path.stem
        if not CHECK_ID.match(check_id):
            problems.append(
                Problem(
                    str(path), "a check's file name must be lower_snake_case, e.g. firewall.yaml"
                )
            )
            continue
        try:
            doc = load_yaml(path)
        except YamlFileError as error:
            problems.append(error.problem)
            continue
        check, found = parse_check(doc, check_id)
        problems += found
        if check is not None:
            checks[check_id] = check
    return CheckSet(checks, tuple(problems))
