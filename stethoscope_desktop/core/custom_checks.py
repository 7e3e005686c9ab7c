"""IT's own checks: Fleet-style policies in `policy.yaml` (`customChecks:`) or in `checks.d/`.

An entry has Fleet's policy keys: `name`, `query` (osquery SQL), `platform` (Fleet's
comma-separated `darwin,windows,linux`, or a list; absent or empty means every platform),
`description`, `resolution` (Markdown, shown as the directions) and `critical` (true/false).
Fleet's bookkeeping keys (`team`, `id`, `author_*`, `tags`, `contributors`, `purpose`,
`platforms`, `configuration_profile`, `labels_*`, `install_software`, `run_script`…) are accepted
and ignored; any other key is an error with a suggestion. Fleet's `chrome` platform is accepted
and ignored: a check only for ChromeOS never applies to a desktop.

Semantics, as Fleet's: a query that returns rows passes, one that returns none fails. A failing
`critical: true` check is a FAIL (a critical finding: red, in the banner, notified) with the
rating critical; a failing non-critical check is a NUDGE (a suggestion) with the rating medium.
A query that cannot run is UNKNOWN with the reason (on the embedded engine, "needs osquery:
table X …" for a table it does not serve). A check whose platform excludes this device is left
out. Each check is reported under the key `custom/<slug of its name>` (its letters and digits, in
lower case, up to 80 characters); two checks whose names give the same key are duplicates, and
the later one is reported, naming both, and ignored.

A query that never returns rows whatever the device (Fleet's manual-check placeholders,
`SELECT 1 WHERE 0;`) makes a check done by hand: it is not run, and the report lists it apart
from the verdicts (`core.manual_checks`).

A file in `checks.d/` (`*.yaml` or `*.yml`) holds our format — a list of such entries, which is
also a valid Fleet policies file — or Fleet's own exports: `apiVersion: v1` / `kind: policy`
documents with a `spec` (several in one file, separated by `---`; documents of another kind,
such as Fleet's `kind: query`, are skipped), or a Fleet GitOps file with a `policies:` list. A
broken entry is reported with file, line and key and left out; the file's other entries load.
So is a document of a multi-document file that is not valid YAML (`read_checks_file`), named by
its line and, where it can be read off the text, its check's name.

The query must be one read-only statement (`SELECT`, `WITH … SELECT` or `VALUES`), as osquery
runs only those.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from stethoscope_desktop.core.fileformat import (
    INVALID,
    Converted,
    Field,
    FileFormat,
    Flag,
    JsonSchema,
    KeyType,
    ListOf,
    OrNull,
    Reading,
    Record,
    SchemaWriter,
    Text,
    unknown_keys,
)
from stethoscope_desktop.core.manual_checks import never_returns_rows, purpose_notes
from stethoscope_desktop.core.platforms import DESKTOP_PLATFORMS
from stethoscope_desktop.core.status import Rating, Status
from stethoscope_desktop.core.yamlfile import (
    KeyPath,
    Problem,
    YamlDocument,
    YamlFileError,
    YamlStream,
    format_key,
    load_yaml_stream,
    suggest,
)

CHECKS_FOLDER = "checks.d"
CHECK_FILE_SUFFIXES = (".yaml", ".yml")
CUSTOM_PRACTICE = "custom"
CUSTOM_KEY_PREFIX = "custom/"
# Keys Fleet writes into policy files and exports that mean nothing on a single device.
FLEET_METADATA_KEYS = (
    "id",
    "team",
    "team_id",
    "author",
    "author_id",
    "author_name",
    "author_email",
    "tags",
    "contributors",
    "purpose",
    "platforms",
    "remediation",
    "configuration_profile",
    "calendar_events_enabled",
    "conditional_access_enabled",
    "labels_include_any",
    "labels_include_all",
    "labels_exclude_any",
    "continuous_automations_enabled",
    "install_software",
    "run_script",
    "software_title_id",
    "script_id",
    "query_id",
    "query_name",
    "passing_host_count",
    "failing_host_count",
    "host_count_updated_at",
    "created_at",
    "updated_at",
)
# Fleet's fix-it scripts, which its standard query library gives beside a policy's query: accepted
# so those files load unchanged, and never run (this app never changes a setting).
FLEET_SCRIPT_KEYS = ("bash", "powershell", "script")
FLEET_PLATFORMS = (*DESKTOP_PLATFORMS, "chrome")
# What people write instead of Fleet's platform names, for "did you mean" hints.
PLATFORM_ALIASES = {
    "macos": "darwin",
    "mac": "darwin",
    "osx": "darwin",
    "macosx": "darwin",
    "win32": "windows",
    "win": "windows",
    "win10": "windows",
    "win64": "windows",
    "ubuntu": "linux",
    "debian": "linux",
    "fedora": "linux",
    "rhel": "linux",
    "chromeos": "chrome",
}
FLEET_DOCUMENT_KEYS = ("apiVersion", "kind", "spec")
MAX_NAME_CHARS = 255
MAX_KEY_CHARS = 80  # of a check's key after `custom/`: longer names are cut (`slug`)
MAX_TEXT_CHARS = 20_000
MAX_SQL_CHARS = 20_000
MAX_CUSTOM_CHECKS = 500
MAX_CHECK_FILES = 200
READ_ONLY_KEYWORDS = ("SELECT", "WITH", "VALUES")
_WORD = re.compile(r"[A-Za-z_]+")
# Where a query's text stops being plain: a quote or bracket, a comment, a semicolon.
_SQL_SPECIAL = re.compile(r"['\"`\[;()]|--|/\*")


def slug(name: str) -> str:
    """Return the key part made from a check's name: `Disk: encrypted?` → `disk-encrypted`."""
    text = re.sub(r"[\W_]+", "-", name.casefold()).strip("-")
    return text[:MAX_KEY_CHARS].rstrip("-") or "check"


@dataclass(frozen=True)
class CustomCheck:
    """One of IT's own checks: a query that passes when it returns rows."""

    name: str
    query: str
    # osquery platform names it runs on; None: every platform; (): none of ours (chrome only).
    platforms: tuple[str, ...] | None = None
    description: str = ""
    resolution: str = ""
    critical: bool = False
    file: str = ""
    where: str = ""  # the entry's key path in its file, e.g. customChecks[2] or spec
    line: int | None = None

    @cached_property
    def key(self) -> str:
        """Return the check's key in the report: `custom/<slug>` (made once per check)."""
        return CUSTOM_KEY_PREFIX + slug(self.name)

    @property
    def rating(self) -> Rating:
        """Return the rating: critical for a critical check, else medium."""
        return Rating.CRITICAL if self.critical else Rating.MEDIUM

    @property
    def failing_status(self) -> Status:
        """Return the status when the query returns no rows: FAIL if critical, else NUDGE."""
        return Status.FAIL if self.critical else Status.NUDGE

    @cached_property
    def manual(self) -> bool:
        """Return True for a check done by hand, shown apart and never run.

        Its query never returns rows: Fleet's manual-check placeholders (`core.manual_checks`).
        """
        return never_returns_rows(self.query)

    def applies_to(self, platform: str) -> bool:
        """Return True if the check runs on `platform` (osquery's name: darwin, linux, windows)."""
        return self.platforms is None or platform in self.platforms

    def problem(self, message: str) -> Problem:
        """Return a problem about this check, located at its name."""
        return Problem(
            self.file, message, f"{self.where}.name" if self.where else "name", self.line
        )


def custom_check_status(check: CustomCheck, rows: int | None) -> Status:
    """Return the verdict: rows → PASS, none → FAIL or NUDGE, could not run (None) → UNKNOWN."""
    if rows is None:
        return Status.UNKNOWN
    return Status.PASS if rows > 0 else check.failing_status


# -- SQL -------------------------------------------------------------------------------------


def _statements(sql: str) -> list[str]:
    """Split SQL at its top-level semicolons, leaving comments out; raise ValueError if unclosed.

    A semicolon inside parentheses does not end a statement: it is a syntax error of that one
    statement (Fleet's CIS file has two such queries), which SQLite reports when the check runs.
    SQLite stops compiling there, so nothing after it can run.
    """
    statements: list[str] = []
    current: list[str] = []
    position = 0
    depth = 0
    closing = {"'": "'", '"': '"', "`": "`", "[": "]"}
    while position < len(sql):
        special = _SQL_SPECIAL.search(sql, position)
        if special is None:
            current.append(sql[position:])
            break
        current.append(sql[position : special.start()])
        position = special.start()
        char = special.group()
        if char in closing:
            end = sql.find(closing[char], position + 1)
            # A quote is escaped by doubling it: 'it''s'.
            while end != -1 and char != "[" and sql.startswith(closing[char], end + 1):
                end = sql.find(closing[char], end + 2)
            if end == -1:
                raise ValueError(f"a {char} is not closed")
            current.append(sql[position : end + 1])
            position = end + 1
        elif char == "--":
            end = sql.find("\n", position)
            position = len(sql) if end == -1 else end
            current.append(" ")
        elif char == "/*":
            end = sql.find("*/", position + 2)
            position = len(sql) if end == -1 else end + 2
            current.append(" ")
        elif char in "()":
            depth = depth + 1 if char == "(" else max(depth - 1, 0)
            current.append(char)
            position += 1
        elif depth:  # a ; inside parentheses
            current.append(char)
            position += 1
        else:  # ;
            statements.append("".join(current))
            current = []
            position += 1
    statements.append("".join(current))
    return [statement for statement in statements if statement.strip()]


def query_problem(sql: str) -> str | None:
    """Return what is wrong with a check's query, or None: one read-only statement, bounded."""
    if len(sql) > MAX_SQL_CHARS:
        return f"longer than {MAX_SQL_CHARS} characters"
    if "\0" in sql:
        line = sql.count("\n", 0, sql.index("\0")) + 1
        return f"contains a NUL character (\\0) on its line {line}, which SQLite cannot run"
    try:
        statements = _statements(sql)
    except ValueError as error:
        return f"not valid SQL: {error}"
    if not statements:
        return "must be an osquery SQL query"
    if len(statements) > 1:
        return f"must be one SQL statement (this has {len(statements)})"
    word = _WORD.match(statements[0].lstrip())
    if word is None or word.group(0).upper() not in READ_ONLY_KEYWORDS:
        found = word.group(0) if word else statements[0].strip()[:20]
        return f"must be a SELECT query (osquery runs only SELECT), not {found!r}"
    return None


# -- the declaration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FleetPlatforms(KeyType):
    """Fleet's `platform`: comma-separated names (`darwin,linux`) or a list of them.

    Absent or empty means every platform (None); `chrome` is accepted and is none of ours.
    """

    def read(self, reading: Reading, path: KeyPath, value: Any) -> Any:
        """Return the desktop platforms named (in our order), None for every platform."""
        if value is None or value == "" or value == []:
            return None
        names = _platform_names(value)
        if names is None:
            return reading.fail(
                path, 'must be "darwin", "linux", "windows" or several, e.g. "darwin,linux"'
            )
        unknown = [name for name in names if name not in FLEET_PLATFORMS]
        for name in unknown:
            hint = suggest(name, FLEET_PLATFORMS, PLATFORM_ALIASES) if name else ""
            what = f"{name!r} is not a platform" if name else "an empty platform name"
            reading.fail(path, f"{what}; use darwin, linux, windows (or chrome){hint}")
        if unknown:
            return INVALID
        return tuple(p for p in DESKTOP_PLATFORMS if p in names)

    def schema(self, writer: SchemaWriter) -> JsonSchema:
        """Return the comma-separated text, the list, or null."""
        name = "(?:" + "|".join(FLEET_PLATFORMS) + ")"
        return {
            "anyOf": [
                {
                    "type": "string",
                    "pattern": rf"^(?:\s*{name}\s*(?:,\s*{name}\s*)*)?$",
                    "patternErrorMessage": "Use darwin, linux, windows (or chrome), several "
                    'separated by commas: "darwin,linux".',
                },
                {"type": "array", "items": {"enum": list(FLEET_PLATFORMS)}},
                {"type": "null"},
            ]
        }


def _platform_names(value: Any) -> list[str] | None:
    """Return the names in Fleet's comma-separated text or list, or None for another value."""
    if isinstance(value, str):
        return [name.strip() for name in value.split(",")]
    if isinstance(value, list) and all(isinstance(name, str) for name in value):
        return [name.strip() for name in value]
    return None


def _custom_check(reading: Reading, path: KeyPath, values: dict[str, Any]) -> CustomCheck:
    return CustomCheck(
        **{"platforms": None, **values},
        file=reading.doc.file,
        where=format_key(path),
        line=reading.doc.line((*path, "name")),
    )


_QUERY_MISSING = "missing; the osquery SQL of the check"
_NAME_MISSING = "missing; it must be text"
CHECK_RECORD = Record(
    [
        Field(
            "name",
            Text(missing=_NAME_MISSING, max_length=MAX_NAME_CHARS),
            "The check's title in the window and the report; unique among the checks.",
            missing=_NAME_MISSING,
        ),
        Field(
            "query",
            Text(
                message=_QUERY_MISSING,
                missing=_QUERY_MISSING,
                max_length=MAX_SQL_CHARS,
                check=query_problem,
            ),
            "One osquery SQL SELECT statement. Rows returned: the check passes; no rows: it "
            "fails. On the built-in engine a table it does not have makes the check UNKNOWN "
            '("needs osquery: table …").',
            missing=_QUERY_MISSING,
        ),
        Field(
            "platform",
            FleetPlatforms(),
            'Where the check runs, as Fleet writes it: "darwin", "linux", "windows" or several, '
            'comma-separated ("darwin,linux") or as a list. Absent or empty: every platform. '
            '"chrome" is accepted and never applies to a desktop.',
            attribute="platforms",
        ),
        Field(
            "description",
            OrNull(Text(max_length=MAX_TEXT_CHARS), ""),
            "Why the check matters, shown with it.",
        ),
        Field(
            "resolution",
            OrNull(Text(max_length=MAX_TEXT_CHARS), ""),
            "How to fix a failing check: Markdown with links, shown as its directions.",
        ),
        Field(
            "critical",
            OrNull(Flag(), False),
            "true: failing is a critical finding (FAIL, rated critical, notified). false or "
            "absent: failing is a suggestion (NUDGE, rated medium).",
        ),
    ],
    message="each check must be a mapping with a name and a query",
    name="customCheck",
    description="One of IT's own checks in Fleet's policy format (name, query, platform, "
    "description, resolution, critical). Its result appears in the report as custom/<name as "
    "a slug>.",
    whole=True,
    ignored={
        **{
            key: "Fleet metadata: accepted so Fleet files load unchanged, and ignored."
            for key in FLEET_METADATA_KEYS
        },
        **{
            key: "Fleet's fix-it script: accepted so Fleet files load unchanged, and never run "
            "(this app never changes a setting)."
            for key in FLEET_SCRIPT_KEYS
        },
    },
)
CHECK_KEYS = CHECK_RECORD.keys


@dataclass(frozen=True)
class _CheckEntry(KeyType):
    """One entry read as a `CustomCheck`; a GitOps `path:` reference is named as such."""

    def read(self, reading: Reading, path: KeyPath, value: Any) -> Any:
        """Return the check, or INVALID after reporting what is wrong with the entry."""
        if isinstance(value, dict) and "path" in value and "query" not in value:
            return reading.fail(
                (*path, "path"),
                "refers to another file (a Fleet GitOps path); copy that file into checks.d "
                "instead",
            )
        return _CHECK.read(reading, path, value)

    def schema(self, writer: SchemaWriter) -> JsonSchema:
        """Return the entry's schema."""
        return writer.of(_CHECK)


_CHECK = Converted(CHECK_RECORD, _custom_check)
CHECK_ENTRY = _CheckEntry()
_CHECK_ENTRIES = ListOf(
    CHECK_ENTRY,
    message="must be a list of checks (name, query, platform, …)",
    max_items=MAX_CUSTOM_CHECKS,
    too_many=f"more than {MAX_CUSTOM_CHECKS} checks",
)


@dataclass(frozen=True)
class _UniqueChecks(KeyType):
    """A list of entries; a check whose key an earlier one has is reported and left out."""

    def read(self, reading: Reading, path: KeyPath, value: Any) -> Any:
        """Return the checks with distinct keys."""
        entries = _CHECK_ENTRIES.read(reading, path, value)
        if entries is INVALID:
            return INVALID
        checks: list[CustomCheck] = []
        add_unique(checks, entries, reading.problems)
        return checks

    def schema(self, writer: SchemaWriter) -> JsonSchema:
        """Return the list's schema."""
        return writer.of(_CHECK_ENTRIES)


CHECK_LIST = _UniqueChecks()


def add_unique(
    checks: list[CustomCheck], new: Iterable[CustomCheck], problems: list[Problem]
) -> None:
    """Append the checks of `new` whose key is not taken; report the others."""
    taken = {c.key: c for c in reversed(checks)}  # the first check of each key
    for check in new:
        first = taken.get(check.key)
        if first is None:
            checks.append(check)
            taken[check.key] = check
            continue
        problems.append(check.problem(duplicate_message(first, check)))


def duplicate_message(first: CustomCheck, later: CustomCheck) -> str:
    """Say that `later` is ignored because `first` has its key, naming both and the fix.

    Two names give the same key when they differ only in case, punctuation and spacing, or only
    after the key's first `MAX_KEY_CHARS` characters; the message says so and shows the key,
    which reports and the API use (so it is never made another way).
    """
    where = f"{first.file}:{first.line}" if first.line else first.file
    if first.name == later.name:
        return (
            f"a check named {later.name!r} (key {later.key!r}) is already at {where}; this one "
            "is ignored: remove it or rename one of them"
        )
    return (
        f"{later.name!r} gives the same key {later.key!r} as the check {first.name!r} at {where} "
        f"(a key keeps a name's letters and digits, in lower case, up to {MAX_KEY_CHARS} "
        "characters); this one is ignored: rename one of them so that their keys differ"
    )


# -- files -------------------------------------------------------------------------------------


@dataclass
class ChecksFile:
    """What one checks file holds: its valid checks, its errors, and what was passed over."""

    file: str
    checks: list[CustomCheck] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # Documents that are valid Fleet content but not policies (kind: query…): not errors.
    passed_over: list[Problem] = field(default_factory=list)
    unreadable: bool = False
    # What is worth saying about valid checks (Fleet calls one manual that runs as a check).
    notes: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class _DocumentChecks:
    """The checks of one document, and what it holds that is not checks (not an error)."""

    checks: list[CustomCheck]
    passed_over: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class _FleetDocument(KeyType):
    """A Fleet export document: `apiVersion: v1`, a `kind`, and for a policy, its `spec`."""

    name: str = "fleetDocument"
    description: str = (
        "A document of a Fleet export (fleetctl get policies): apiVersion v1, kind policy and "
        "the policy as spec (one, or a list). Documents of another kind (query, …) are passed "
        "over."
    )

    def read(self, reading: Reading, path: KeyPath, value: Any) -> Any:
        """Return the document's checks, or that it is another kind of Fleet document."""
        reading.problems += unknown_keys(reading.doc, value, path, FLEET_DOCUMENT_KEYS)
        kind = value.get("kind")
        version = value.get("apiVersion")
        if version != "v1":
            reading.fail((*path, "apiVersion"), f"must be v1 (Fleet's format), not {version!r}")
            return _DocumentChecks([])
        if kind is None:
            reading.fail((*path, "kind"), "missing; Fleet policies are kind: policy")
            return _DocumentChecks([])
        if kind != "policy":
            note = reading.doc.problem((*path, "kind"), f"a Fleet {kind} document, not a policy")
            return _DocumentChecks([], [note])
        spec = value.get("spec")
        if spec is None:
            reading.fail((*path, "spec"), "missing; the policy (name, query, platform, …)")
            return _DocumentChecks([])
        kind_of_spec = CHECK_LIST if isinstance(spec, list) else CHECK_ENTRY
        checks = kind_of_spec.read(reading, (*path, "spec"), spec)
        return _DocumentChecks(_as_list(checks))

    def schema(self, writer: SchemaWriter) -> JsonSchema:
        """Return the document's schema: a policy's spec is a check or a list of them."""
        return {
            "type": "object",
            "properties": {
                "apiVersion": {"const": "v1", "description": "Fleet's format: v1."},
                "kind": {
                    "type": "string",
                    "description": "policy; documents of other kinds are passed over.",
                },
                "spec": {
                    "anyOf": [writer.of(CHECK_ENTRY), writer.of(CHECK_LIST)],
                    "description": "The policy (name, query, platform, …), or a list of them.",
                },
            },
            "required": ["apiVersion", "kind"],
            "additionalProperties": False,
            "if": {"properties": {"kind": {"const": "policy"}}},
            "then": {"required": ["spec"]},
        }


def _as_list(checks: Any) -> list[CustomCheck]:
    if checks is INVALID:
        return []
    return checks if isinstance(checks, list) else [checks]


@dataclass(frozen=True)
class _GitOpsFile(KeyType):
    """A Fleet GitOps file: its `policies` are checks; its other keys are passed over."""

    name: str = "gitOpsFile"
    description: str = (
        "A Fleet GitOps file: the checks are its policies; its other keys (queries, controls, "
        "agent_options, …) are passed over."
    )

    def read(self, reading: Reading, path: KeyPath, value: Any) -> Any:
        """Return the checks of `policies`, and which other keys were passed over."""
        others = [key for key in value if key != "policies"]
        notes = []
        if others:
            notes.append(
                reading.doc.problem(path, f"the GitOps keys {', '.join(others)} are not checks")
            )
        checks = CHECK_LIST.read(reading, (*path, "policies"), value["policies"])
        return _DocumentChecks(_as_list(checks), notes)

    def schema(self, writer: SchemaWriter) -> JsonSchema:
        """Return an object with a list of checks as `policies`."""
        return {
            "type": "object",
            "properties": {
                "policies": writer.described(CHECK_LIST, "IT's checks, as Fleet policies.")
            },
            "required": ["policies"],
        }


_FLEET_DOCUMENT = _FleetDocument()
_GITOPS_FILE = _GitOpsFile()


@dataclass(frozen=True)
class _ChecksDocument(KeyType):
    """One document of a checks file: ours (a list or one check), a Fleet document or GitOps."""

    def read(self, reading: Reading, path: KeyPath, value: Any) -> Any:
        """Return the document's checks by its shape, or INVALID when it has none of them."""
        if isinstance(value, list):
            return _DocumentChecks(_as_list(CHECK_LIST.read(reading, path, value)))
        if isinstance(value, dict) and any(key in value for key in FLEET_DOCUMENT_KEYS):
            return _FLEET_DOCUMENT.read(reading, path, value)
        if isinstance(value, dict) and "policies" in value and "query" not in value:
            return _GITOPS_FILE.read(reading, path, value)
        if isinstance(value, dict):
            return _DocumentChecks(_as_list(CHECK_ENTRY.read(reading, path, value)))
        return reading.fail(
            path,
            "a checks file holds a list of checks (name, query, platform, …) or Fleet "
            "policy documents (apiVersion: v1, kind: policy)",
        )

    def schema(self, writer: SchemaWriter) -> JsonSchema:
        """Return any of the four shapes."""
        shapes = (CHECK_LIST, CHECK_ENTRY, _FLEET_DOCUMENT, _GITOPS_FILE)
        # An empty document (a file of comments, or before a leading ---) holds no checks.
        return {"anyOf": [*(writer.of(shape) for shape in shapes), {"type": "null"}]}


CHECKS_FILE_FORMAT = FileFormat(
    "checks",
    "Stethoscope Desktop checks file (checks.d/*.yaml)",
    "IT's own checks, each in Fleet's policy format: a query that returns rows passes, one that "
    "returns none fails. A file holds a list of checks (which is also a Fleet policies file), "
    "one check, Fleet export documents (apiVersion: v1, kind: policy; several separated by "
    "---), or a Fleet GitOps file with a policies list. Check a folder with "
    "`stethoscope-desktop check-policy FOLDER`.",
    _ChecksDocument(),
)


def scripts_not_run(doc: YamlDocument, data: Any, path: KeyPath) -> list[Problem]:
    """Return a note for each fix-it script beside a check's query: kept out, never run."""
    if isinstance(data, list):
        return [n for i, item in enumerate(data) for n in scripts_not_run(doc, item, (*path, i))]
    if not isinstance(data, dict) or len(path) > 3:
        return []
    if "query" in data:
        return [
            doc.problem((*path, key), f"Fleet's {key} fix-it script is not run here (the check is)")
            for key in FLEET_SCRIPT_KEYS
            if key in data
        ]
    return [n for k, v in data.items() for n in scripts_not_run(doc, v, (*path, k))]


def parse_checks_documents(docs: Sequence[YamlDocument], file: str) -> ChecksFile:
    """Read the checks in a checks file's documents (ours, Fleet's documents or GitOps file)."""
    result = ChecksFile(file)
    found_checks: list[CustomCheck] = []
    for doc in docs:
        if doc.data is None:
            continue  # an empty document, e.g. before a leading `---`
        found, problems = CHECKS_FILE_FORMAT.read(doc)
        result.problems += problems
        result.passed_over += scripts_not_run(doc, doc.data, ())
        result.notes += purpose_notes(doc)
        if found is not INVALID:
            result.passed_over += found.passed_over
            found_checks += found.checks
    add_unique(result.checks, found_checks, result.problems)
    if len(result.checks) > MAX_CUSTOM_CHECKS:
        result.problems.append(Problem(file, f"more than {MAX_CUSTOM_CHECKS} checks"))
        result.checks = result.checks[:MAX_CUSTOM_CHECKS]
    return result


def read_checks_file(path: Path) -> ChecksFile:
    """Load one checks file; never raises.

    A broken document of a multi-document file (Fleet's exports) is reported with the file, its
    line and, where it can be read off the text, its check's name, and only it is left out. A
    file that cannot be read as YAML at all keeps the documents read before the error and is
    `unreadable`, as is one none of whose documents could be read.
    """
    try:
        stream = load_yaml_stream(path)
    except YamlFileError as error:
        result = parse_checks_documents(error.documents, str(path))
        result.problems.insert(0, error.problem)
        result.unreadable = True
        return result
    result = parse_checks_documents(stream.documents, str(path))
    if stream.broken:
        result.problems[:0] = _broken_documents_problems(stream, str(path))
        result.unreadable = not stream.documents
    return result


# A check's `name:` line in a document's text: `  name: X` under `spec:`, or `- name: X`.
_NAME_LINE = re.compile(
    r"^(?P<indent>[ ]*(?:-[ ]+)?)name:[ ]+(?P<value>[^\s#|>&*!{\[][^#\n]*?|'[^'\n]*'|\"[^\"\n]*\")"
    r"[ ]*(?:#.*)?$",
    re.MULTILINE,
)


def check_names_in_text(text: str) -> list[str]:
    """Return the names of the checks a document's text holds, read off its lines.

    For a document that is not valid YAML: its `name:` lines at the shallowest indentation
    (a Fleet document's `spec.name`, or each entry's of a list), with a plain or quoted one-line
    value. An empty list when none can be read so simply.
    """
    found = [(len(m["indent"]), m["value"]) for m in _NAME_LINE.finditer(text)]
    if not found:
        return []
    shallowest = min(indent for indent, _ in found)
    names = []
    for indent, value in found:
        if indent == shallowest:
            quoted = len(value) >= 2 and value[0] == value[-1] and value[0] in "'\""
            names.append(value[1:-1] if quoted else value)
    return names


def _broken_documents_problems(stream: YamlStream, file: str) -> list[Problem]:
    """Return a problem for each document that could not be read, and how much is left out."""
    problems = []
    left_out = 0
    for broken in stream.broken:
        names = check_names_in_text(broken.text)
        left_out += max(1, len(names))
        which = ", ".join(f"the check {name!r}" for name in names) or "its checks"
        problems.append(
            replace(
                broken.problem,
                message=f"{broken.problem.message}; the document from line {broken.line}"
                f" ({which}) is left out",
            )
        )
    read = stream.parts - len(stream.broken)
    problems.append(
        Problem(
            file,
            f"{left_out} check(s) left out until fixed: {len(stream.broken)} of the file's"
            f" {stream.parts} documents are not valid YAML; the other {read} are read",
        )
    )
    return problems


def checks_files(folder: Path) -> tuple[list[Path], list[Problem]]:
    """Return the checks files in a `checks.d` folder, in name order, and any problem with it."""
    try:
        paths = sorted(
            path
            for path in folder.iterdir()
            if path.suffix in CHECK_FILE_SUFFIXES and not path.name.startswith(".")
        )
    except OSError as error:
        return [], [Problem(str(folder), f"cannot read: {error.strerror or error}")]
    problems = []
    if len(paths) > MAX_CHECK_FILES:
        problems.append(
            Problem(str(folder), f"more than {MAX_CHECK_FILES} files; only the first are read")
        )
    return paths[:MAX_CHECK_FILES], problems


# -- Fleet import ------------------------------------------------------------------------------


MANUAL_IMPORT_CHOICES = ("keep", "skip")


@dataclass(frozen=True)
class FleetImport:
    """The checks a Fleet file converts to, and every entry left out with the reason."""

    checks: tuple[CustomCheck, ...]
    skipped: tuple[Problem, ...]
    notes: tuple[Problem, ...] = ()
    # Checks done by hand (`CustomCheck.manual`) among the checks, and those `manual="skip"`
    # left out (also in `skipped`).
    manual_kept: int = 0
    manual_skipped: int = 0
    # (check key, what was corrected) for each check whose query had a known mistake renamed
    # to osquery's names (`core.query_corrections`).
    corrected: tuple[tuple[str, str], ...] = ()


def import_fleet(
    source: ChecksFile, platform: str = "all", manual: str = "keep", *, correct: bool = False
) -> FleetImport:
    """Keep the policies of a Fleet file that run on `platform` (darwin, linux, windows or all).

    `manual`: "keep" the checks done by hand (Fleet's manual-check placeholders), which the app
    shows apart and never runs, or "skip" them. `correct`: rename the known mistakes of the
    queries (`sysctl`, `systemd_units.name`…) to osquery's names where osquery's schema shows
    the correction is right (`core.query_corrections.correct_for_osquery`); never at scan time.
    """
    if manual not in MANUAL_IMPORT_CHOICES:
        raise ValueError(f"manual must be keep or skip, not {manual!r}")
    skipped = [*source.problems, *source.passed_over]
    kept: list[CustomCheck] = []
    manual_skipped = 0
    for check in source.checks:
        if check.platforms == ():
            skipped.append(check.problem(f"{check.name!r} is only for ChromeOS (chrome)"))
        elif platform != "all" and not check.applies_to(platform):
            only = ", ".join(check.platforms or ())
            skipped.append(check.problem(f"{check.name!r} is only for {only}, not {platform}"))
        elif manual == "skip" and check.manual:
            manual_skipped += 1
            skipped.append(
                check.problem(f"{check.name!r} is a check by hand (its query never returns rows)")
            )
        else:
            kept.append(check)
    corrected: list[tuple[str, str]] = []
    if correct:
        from stethoscope_desktop.core.query_corrections import correct_for_osquery

        for index, check in enumerate(kept):
            correction = None if check.manual else correct_for_osquery(check.query, check.platforms)
            if correction is not None:
                kept[index] = replace(check, query=correction.query)
                corrected.append((check.key, correction.comment))
    return FleetImport(
        tuple(kept),
        tuple(skipped),
        tuple(source.notes),
        manual_kept=sum(check.manual for check in kept),
        manual_skipped=manual_skipped,
        corrected=tuple(corrected),
    )


class _BlockDumper(yaml.SafeDumper):
    """Writes text with line breaks as `|` blocks, as people write queries and directions."""


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_BlockDumper.add_representer(str, _represent_text)


def dump_checks(
    checks: Iterable[CustomCheck], header: str = "", comments: Mapping[str, str] | None = None
) -> str:
    """Return checks as a `checks.d` file: a list of Fleet-style entries.

    `comments` (by check key) are written as a comment above that check's query.
    """
    parts: list[str] = []
    for check in checks:
        entry: dict[str, Any] = {"name": check.name}
        if check.platforms is not None:
            entry["platform"] = ",".join(check.platforms)
        entry["critical"] = check.critical
        if check.description:
            entry["description"] = check.description
        if check.resolution:
            entry["resolution"] = check.resolution
        entry["query"] = check.query
        text = yaml.dump(
            [entry], Dumper=_BlockDumper, allow_unicode=True, sort_keys=False, width=100
        )
        comment = (comments or {}).get(check.key)
        if comment:
            # The query is the entry's last key, at the entry's indentation (block texts are
            # indented deeper), so its line is found without reading the YAML back.
            at = text.rindex("\n  query:") + 1
            text = text[:at] + "".join(f"  # {line}\n" for line in comment.splitlines()) + text[at:]
        parts.append(text)
    lines = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return lines + ("".join(parts) if parts else "[]\n")
