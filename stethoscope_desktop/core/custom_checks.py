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
out. Each check is reported under the key `custom/<slug of its name>`; two checks whose names
give the same key are duplicates, and the later one is reported and ignored.

A file in `checks.d/` (`*.yaml` or `*.yml`) holds our format — a list of such entries, which is
also a valid Fleet policies file — or Fleet's own exports: `apiVersion: v1` / `kind: policy`
documents with a `spec` (several in one file, separated by `---`; documents of another kind,
such as Fleet's `kind: query`, are skipped), or a Fleet GitOps file with a `policies:` list. A
broken entry is reported with file, line and key and left out; the file's other entries load.

The query must be one read-only statement (`SELECT`, `WITH … SELECT` or `VALUES`), as osquery
runs only those.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stethoscope_desktop.core.platforms import DESKTOP_PLATFORMS
from stethoscope_desktop.core.status import Rating, Status
from stethoscope_desktop.core.yamlfile import (
    KeyPath,
    Problem,
    YamlDocument,
    YamlFileError,
    format_key,
    load_yaml_documents,
    suggest,
    unknown_keys,
)

CHECKS_FOLDER = "checks.d"
CHECK_FILE_SUFFIXES = (".yaml", ".yml")
CUSTOM_PRACTICE = "custom"
CUSTOM_KEY_PREFIX = "custom/"
CHECK_KEYS = ("name", "query", "platform", "description", "resolution", "critical")
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
    "labels_exclude_any",
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
MAX_TEXT_CHARS = 20_000
MAX_SQL_CHARS = 20_000
MAX_CUSTOM_CHECKS = 500
MAX_CHECK_FILES = 200
READ_ONLY_KEYWORDS = ("SELECT", "WITH", "VALUES")
_WORD = re.compile(r"[A-Za-z_]+")


def slug(name: str) -> str:
    """Return the key part made from a check's name: `Disk: encrypted?` → `disk-encrypted`."""
    text = re.sub(r"[\W_]+", "-", name.casefold()).strip("-")
    return text[:80].rstrip("-") or "check"


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

    @property
    def key(self) -> str:
        """Return the check's key in the report: `custom/<slug>`."""
        return CUSTOM_KEY_PREFIX + slug(self.name)

    @property
    def rating(self) -> Rating:
        """Return the rating: critical for a critical check, else medium."""
        return Rating.CRITICAL if self.critical else Rating.MEDIUM

    @property
    def failing_status(self) -> Status:
        """Return the status when the query returns no rows: FAIL if critical, else NUDGE."""
        return Status.FAIL if self.critical else Status.NUDGE

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
    """Split SQL at its top-level semicolons, leaving comments out; raise ValueError if unclosed."""
    statements: list[str] = []
    current: list[str] = []
    position = 0
    closing = {"'": "'", '"': '"', "`": "`", "[": "]"}
    while position < len(sql):
        char = sql[position]
        if char in closing:
            end = sql.find(closing[char], position + 1)
            # A quote is escaped by doubling it: 'it''s'.
            while end != -1 and char != "[" and sql.startswith(closing[char], end + 1):
                end = sql.find(closing[char], end + 2)
            if end == -1:
                raise ValueError(f"a {char} is not closed")
            current.append(sql[position : end + 1])
            position = end + 1
        elif sql.startswith("--", position):
            end = sql.find("\n", position)
            position = len(sql) if end == -1 else end
            current.append(" ")
        elif sql.startswith("/*", position):
            end = sql.find("*/", position + 2)
            position = len(sql) if end == -1 else end + 2
            current.append(" ")
        elif char == ";":
            statements.append("".join(current))
            current = []
            position += 1
        else:
            current.append(char)
            position += 1
    statements.append("".join(current))
    return [statement for statement in statements if statement.strip()]


def query_problem(sql: str) -> str | None:
    """Return what is wrong with a check's query, or None: one read-only statement, bounded."""
    if len(sql) > MAX_SQL_CHARS:
        return f"longer than {MAX_SQL_CHARS} characters"
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


# -- entries -----------------------------------------------------------------------------------


def _platforms(
    doc: YamlDocument, path: KeyPath, value: Any, problems: list[Problem]
) -> tuple[bool, tuple[str, ...] | None]:
    """Return (valid, platforms) for a `platform` value: Fleet's comma-separated text or a list."""
    if value is None or value == "" or value == []:
        return True, None
    if isinstance(value, str):
        names = [name.strip() for name in value.split(",")]
    elif isinstance(value, list) and all(isinstance(name, str) for name in value):
        names = [name.strip() for name in value]
    else:
        problems.append(
            doc.problem(
                path, 'must be "darwin", "linux", "windows" or several, e.g. "darwin,linux"'
            )
        )
        return False, None
    valid = True
    for name in names:
        if name not in FLEET_PLATFORMS:
            hint = suggest(name, FLEET_PLATFORMS, PLATFORM_ALIASES) if name else ""
            what = f"{name!r} is not a platform" if name else "an empty platform name"
            problems.append(
                doc.problem(path, f"{what}; use darwin, linux, windows (or chrome){hint}")
            )
            valid = False
    return valid, tuple(p for p in DESKTOP_PLATFORMS if p in names)


def _text(
    doc: YamlDocument, path: KeyPath, value: Any, problems: list[Problem], *, required: bool
) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.append(doc.problem(path, "missing; it must be text"))
        return ""
    if not isinstance(value, str):
        problems.append(doc.problem(path, "must be text"))
        return ""
    if len(value) > MAX_TEXT_CHARS:
        problems.append(doc.problem(path, f"longer than {MAX_TEXT_CHARS} characters"))
        return ""
    return value.strip()


def parse_entry(
    doc: YamlDocument, path: KeyPath, item: Any
) -> tuple[CustomCheck | None, list[Problem]]:
    """Validate one Fleet-style entry at `path`; return the check (or None) and its problems."""
    if not isinstance(item, dict):
        return None, [doc.problem(path, "each check must be a mapping with a name and a query")]
    if "path" in item and "query" not in item:
        return None, [
            doc.problem(
                (*path, "path"),
                "refers to another file (a Fleet GitOps path); copy that file into checks.d "
                "instead",
            )
        ]
    problems = unknown_keys(doc, item, path, (*CHECK_KEYS, *FLEET_METADATA_KEYS))
    name = _text(doc, (*path, "name"), item.get("name"), problems, required=True)
    if len(name) > MAX_NAME_CHARS:
        problems.append(doc.problem((*path, "name"), f"longer than {MAX_NAME_CHARS} characters"))
    query = item.get("query")
    if not isinstance(query, str) or not query.strip():
        problems.append(doc.problem((*path, "query"), "missing; the osquery SQL of the check"))
        query = ""
    elif (wrong := query_problem(query)) is not None:
        problems.append(doc.problem((*path, "query"), wrong))
    valid, platforms = _platforms(doc, (*path, "platform"), item.get("platform"), problems)
    texts = {
        key: _text(doc, (*path, key), item.get(key), problems, required=False)
        for key in ("description", "resolution")
    }
    critical = item.get("critical", False)
    if critical is None:
        critical = False
    if not isinstance(critical, bool):
        problems.append(doc.problem((*path, "critical"), "must be true or false"))
    if problems or not valid:
        return None, problems
    return (
        CustomCheck(
            name=name,
            query=query.strip(),
            platforms=platforms,
            description=texts["description"],
            resolution=texts["resolution"],
            critical=bool(critical),
            file=doc.file,
            where=format_key(path),
            line=doc.line((*path, "name")),
        ),
        [],
    )


def add_unique(
    checks: list[CustomCheck], new: Iterable[CustomCheck], problems: list[Problem]
) -> None:
    """Append the checks of `new` whose key is not taken; report the others."""
    for check in new:
        first = next((c for c in checks if c.key == check.key), None)
        if first is None:
            checks.append(check)
            continue
        where = f"{first.file}:{first.line}" if first.line else first.file
        same = "a check" if first.name == check.name else f"the check {first.name!r}"
        problems.append(
            check.problem(
                f"{same} with the key {check.key!r} is already at {where}; this one is ignored"
            )
        )


def parse_entries(
    doc: YamlDocument, path: KeyPath, value: Any
) -> tuple[list[CustomCheck], list[Problem]]:
    """Validate a list of entries at `path` (`customChecks`, a file's top level, `policies`)."""
    if not isinstance(value, list):
        return [], [doc.problem(path, "must be a list of checks (name, query, platform, …)")]
    if len(value) > MAX_CUSTOM_CHECKS:
        return [], [doc.problem(path, f"more than {MAX_CUSTOM_CHECKS} checks")]
    checks: list[CustomCheck] = []
    problems: list[Problem] = []
    for index, item in enumerate(value):
        check, found = parse_entry(doc, (*path, index), item)
        problems += found
        if check is not None:
            add_unique(checks, [check], problems)
    return checks, problems


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


def _fleet_document(doc: YamlDocument, data: dict[str, Any], result: ChecksFile) -> None:
    result.problems += unknown_keys(doc, data, (), FLEET_DOCUMENT_KEYS)
    kind = data.get("kind")
    version = data.get("apiVersion")
    if version != "v1":
        result.problems.append(
            doc.problem(("apiVersion",), f"must be v1 (Fleet's format), not {version!r}")
        )
        return
    if kind is None:
        result.problems.append(doc.problem(("kind",), "missing; Fleet policies are kind: policy"))
        return
    if kind != "policy":
        result.passed_over.append(doc.problem(("kind",), f"a Fleet {kind} document, not a policy"))
        return
    spec = data.get("spec")
    if isinstance(spec, list):
        checks, problems = parse_entries(doc, ("spec",), spec)
    else:
        check, problems = parse_entry(doc, ("spec",), spec)
        checks = [check] if check is not None else []
        if spec is None:
            problems = [doc.problem(("spec",), "missing; the policy (name, query, platform, …)")]
    result.problems += problems
    add_unique(result.checks, checks, result.problems)


def parse_checks_documents(docs: Sequence[YamlDocument], file: str) -> ChecksFile:
    """Read the checks in a checks file's documents (ours, Fleet's documents or GitOps file)."""
    result = ChecksFile(file)
    for doc in docs:
        data = doc.data
        if data is None:
            continue  # an empty document, e.g. before a leading `---`
        if isinstance(data, list):
            checks, problems = parse_entries(doc, (), data)
        elif isinstance(data, dict) and any(key in data for key in FLEET_DOCUMENT_KEYS):
            _fleet_document(doc, data, result)
            continue
        elif isinstance(data, dict) and "policies" in data and "query" not in data:
            # A Fleet GitOps file: its other keys (queries, controls, agent_options…) are
            # not checks.
            others = [key for key in data if key != "policies"]
            if others:
                result.passed_over.append(
                    doc.problem((), f"the GitOps keys {', '.join(others)} are not checks")
                )
            checks, problems = parse_entries(doc, ("policies",), data["policies"])
        elif isinstance(data, dict):
            check, problems = parse_entry(doc, (), data)
            checks = [check] if check is not None else []
        else:
            checks = []
            problems = [
                doc.problem(
                    (),
                    "a checks file holds a list of checks (name, query, platform, …) or Fleet "
                    "policy documents (apiVersion: v1, kind: policy)",
                )
            ]
        result.problems += problems
        add_unique(result.checks, checks, result.problems)
    if len(result.checks) > MAX_CUSTOM_CHECKS:
        result.problems.append(Problem(file, f"more than {MAX_CUSTOM_CHECKS} checks"))
        result.checks = result.checks[:MAX_CUSTOM_CHECKS]
    return result


def read_checks_file(path: Path) -> ChecksFile:
    """Load one checks file; never raises. A YAML error keeps the documents read before it."""
    try:
        docs = load_yaml_documents(path)
    except YamlFileError as error:
        result = parse_checks_documents(error.documents, str(path))
        result.problems.insert(0, error.problem)
        result.unreadable = True
        return result
    return parse_checks_documents(docs, str(path))


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


@dataclass(frozen=True)
class FleetImport:
    """The checks a Fleet file converts to, and every entry left out with the reason."""

    checks: tuple[CustomCheck, ...]
    skipped: tuple[Problem, ...]


def import_fleet(source: ChecksFile, platform: str = "all") -> FleetImport:
    """Keep the policies of a Fleet file that run on `platform` (darwin, linux, windows or all)."""
    skipped = [*source.problems, *source.passed_over]
    kept: list[CustomCheck] = []
    for check in source.checks:
        if check.platforms == ():
            skipped.append(check.problem(f"{check.name!r} is only for ChromeOS (chrome)"))
        elif platform != "all" and not check.applies_to(platform):
            only = ", ".join(check.platforms or ())
            skipped.append(check.problem(f"{check.name!r} is only for {only}, not {platform}"))
        else:
            kept.append(check)
    return FleetImport(tuple(kept), tuple(skipped))


class _BlockDumper(yaml.SafeDumper):
    """Writes text with line breaks as `|` blocks, as people write queries and directions."""


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_BlockDumper.add_representer(str, _represent_text)


def dump_checks(checks: Iterable[CustomCheck], header: str = "") -> str:
    """Return checks as a `checks.d` file: a list of Fleet-style entries."""
    entries: list[dict[str, Any]] = []
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
        entries.append(entry)
    body = yaml.dump(entries, Dumper=_BlockDumper, allow_unicode=True, sort_keys=False, width=100)
    comments = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comments + body
