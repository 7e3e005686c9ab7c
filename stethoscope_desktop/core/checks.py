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

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from stethoscope_desktop.core.yamlfile import (
    Problem,
    YamlDocument,
    YamlFileError,
    load_yaml,
    suggest,
    unknown_keys,
)

PLATFORMS = ("darwin", "linux", "windows")
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


def parse_check(doc: YamlDocument, check_id: str) -> tuple[Check | None, list[Problem]]:
    """Validate one check document; return the check (or None) and its problems."""
    data = doc.data
    if not isinstance(data, dict):
        return None, [doc.problem((), "a check must be a mapping with kind, description and sql")]
    problems = unknown_keys(doc, data, (), ("kind", "description", "sql"))
    kind_text = data.get("kind")
    kind: CheckKind | None = None
    if kind_text is None:
        problems.append(doc.problem(("kind",), "missing; one of state, value, list, record"))
    else:
        try:
            kind = CheckKind(str(kind_text))
        except ValueError:
            choices = [k.value for k in CheckKind]
            problems.append(
                doc.problem(
                    ("kind",),
                    f"{kind_text!r} is not one of {', '.join(choices)}"
                    + suggest(str(kind_text), choices),
                )
            )
    description = data.get("description", "")
    if not isinstance(description, str):
        problems.append(doc.problem(("description",), "must be text"))
        description = ""
    sql = data.get("sql")
    queries: dict[str, str] = {}
    if not isinstance(sql, dict) or not sql:
        problems.append(
            doc.problem(("sql",), "must map platforms (darwin, linux, windows) to osquery SQL")
        )
    else:
        problems += unknown_keys(doc, sql, ("sql",), PLATFORMS, PLATFORM_ALIASES)
        for platform, query in sql.items():
            if platform not in PLATFORMS:
                continue
            if not isinstance(query, str) or not query.strip():
                problems.append(doc.problem(("sql", platform), "must be a non-empty SQL query"))
            elif len(query) > MAX_SQL_CHARS:
                problems.append(
                    doc.problem(("sql", platform), f"longer than {MAX_SQL_CHARS} characters")
                )
            else:
                queries[platform] = query.strip()
    if problems or kind is None:
        return None, problems
    return Check(check_id, kind, description.strip(), queries, doc.file), []


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
