"""osquery's tables and columns, and what a query that names a wrong one got wrong.

`resources/osquery/tables.json` lists every table real osquery builds, per platform, with its
columns (fleetd's own tables, from Fleet's agent, are marked "source": "fleetd"). It is read once,
the first time a question needs it. From it:

- `explain_missing_table` / `explain_missing_column` turn SQLite's "no such table" and "no such
  column" into a reason that says whether osquery itself could run the query, and the fix:
  "`sysctl` is not an osquery table; osquery's is `system_controls`", "`systemd_units` has no
  column `name`; osquery's is `id`". Both engines word the same mistake the same way.
  `explain_sql_failure` also says whether the query itself is at fault (osquery could not run it
  here either) or only this engine lacks what it reads: the report words the two differently for
  the person using the device.
- `schema_connection` is an in-memory SQLite database with a plain table for each table of a
  platform (osquery's, and the ones Stethoscope builds in), so that `query_mistakes` finds those
  mistakes in IT's checks by preparing (never running) their SQL, for `check-policy` and
  `import-fleet`.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
import sys
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import apsw

from stethoscope_desktop.engines.sql_functions import register_osquery_functions
from stethoscope_desktop.resources import resources_dir

PLATFORM_NAMES = {"darwin": "macOS", "linux": "Linux", "windows": "Windows"}
PLATFORMS = tuple(PLATFORM_NAMES)

# Tables people name that osquery calls otherwise (what a spelling match cannot find).
KNOWN_TABLE_MISTAKES: Mapping[str, str] = {
    "sysctl": "system_controls",
    "sysctls": "system_controls",
    "packages": "deb_packages",
    "services": "systemd_units",
    "kernel_module": "kernel_modules",
    "group": "groups",
    "user": "users",
    "process": "processes",
    "glob": "file",  # osquery lists a folder's matches with `file WHERE path LIKE '…/%'`
}
# (table, column) -> osquery's column for what the query meant.
KNOWN_COLUMN_MISTAKES: Mapping[tuple[str, str], str] = {
    ("systemd_units", "name"): "id",
    ("systemd_units", "unit"): "id",
    ("systemd_units", "state"): "active_state",
    ("systemd_units", "enabled"): "unit_file_state",
    ("systemd_units", "enabled_state"): "unit_file_state",
    ("system_controls", "value"): "current_value",
    ("kernel_modules", "module"): "name",
    ("users", "name"): "username",
    ("groups", "name"): "groupname",
}

_NO_SUCH_TABLE = re.compile(r"no such table: (?:main\.)?([\w.]+)")
_NO_SUCH_COLUMN = re.compile(r"no such column: ([\w.]+)")
_SYNTAX_ERROR = re.compile(r"syntax error|incomplete input|unrecognized token")


def host_platform() -> str:
    """Return osquery's name for the platform this runs on."""
    if sys.platform.startswith("win"):
        return "windows"
    return "darwin" if sys.platform == "darwin" else "linux"


@dataclass(frozen=True)
class OsqueryTable:
    """One table of osquery (or of fleetd): its platforms and its columns on each."""

    name: str
    platforms: tuple[str, ...]
    source: str  # "osquery" or "fleetd"
    columns_by_platform: Mapping[str, tuple[str, ...]]

    def columns(self, platform: str) -> tuple[str, ...]:
        """Return the table's column names on `platform` (hidden ones included)."""
        return self.columns_by_platform.get(platform, ())


def _columns_on(spec: Mapping[str, object], platform: str) -> tuple[str, ...]:
    names: list[str] = []
    for column in spec.get("columns", ()):  # type: ignore[attr-defined]
        options = column[2] if len(column) > 2 else {}
        only = options.get("platforms")
        if only is None or platform in only or (platform == "windows" and "win32" in only):
            names.append(column[0])
    return tuple(names)


@functools.cache
def osquery_tables() -> Mapping[str, OsqueryTable]:
    """Return every table of resources/osquery/tables.json by name (read on first use)."""
    path = resources_dir() / "osquery" / "tables.json"
    specs = json.loads(path.read_text(encoding="utf-8"))["tables"]
    tables: dict[str, OsqueryTable] = {}
    for name, spec in specs.items():
        platforms = tuple(p for p in spec.get("platforms", ()) if p in PLATFORM_NAMES)
        tables[name] = OsqueryTable(
            name=name,
            platforms=platforms,
            source=spec.get("source", "osquery"),
            columns_by_platform={p: _columns_on(spec, p) for p in platforms},
        )
    return tables


def _platform_list(platforms: Sequence[str]) -> str:
    names = [PLATFORM_NAMES.get(p, p) for p in platforms]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _similar(word: str, candidates: Collection[str]) -> str | None:
    matches = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=0.75)
    return matches[0] if matches else None


def table_suggestion(name: str, platform: str, served: Collection[str] = ()) -> str | None:
    """Return the table a query most likely meant by `name`, or None."""
    known = KNOWN_TABLE_MISTAKES.get(name.lower())
    if known is not None:
        return known
    candidates = {n for n, t in osquery_tables().items() if platform in t.platforms}
    return _similar(name.lower(), candidates | set(served))


def explain_missing_table(
    name: str, platform: str, *, served: Collection[str] = (), osquery: str = ""
) -> str:
    """Say why table `name` cannot be read, and whether osquery could read it.

    `served` are the tables the engine has. `osquery` is "" on the embedded engine, else the
    osqueryd that answered ("osquery 5.12.1").
    """
    table = osquery_tables().get(name.lower())
    here = PLATFORM_NAMES.get(platform, platform)
    if table is not None and table.source == "fleetd":
        return (
            f"needs Fleet's agent: `{name}` is a table of fleetd (Fleet's osquery extension), "
            "not of osquery"
        )
    if table is not None and platform in table.platforms:
        if osquery:
            return f"needs a table {osquery} does not have here: {name}"
        return f"needs osquery: table {name} is not built into Stethoscope on this platform"
    if table is not None:
        return (
            f"`{name}` is an osquery table on {_platform_list(table.platforms)} only, not on {here}"
        )
    kind = "a Stethoscope" if name.lower().startswith("stethoscope_") else "an osquery"
    suggestion = table_suggestion(name, platform, served)
    if suggestion is not None:
        owner = "osquery's" if suggestion in osquery_tables() else "Stethoscope's"
        return f"`{name}` is not {kind} table; {owner} is `{suggestion}`"
    return f"`{name}` is not {kind} table"


_STRING_OR_COMMENT = re.compile(r"'(?:[^']|'')*'|--[^\n]*|/\*.*?(?:\*/|$)", re.S)


def without_literals(sql: str) -> str:
    """Return `sql` with its string literals and comments blanked out (an empty string each)."""
    return _STRING_OR_COMMENT.sub(lambda m: "''" if m.group().startswith("'") else " ", sql)


def tables_named_in(sql: str, names: Sequence[str]) -> list[str]:
    """Return which of `names` appear as words in `sql` (the tables a query may read).

    Words inside string literals and comments don't count: `WHERE groupname = 'shadow'` names
    no table `shadow`.
    """
    lowered = without_literals(sql).lower()
    found: list[str] = []
    for name in names:
        start = lowered.find(name)
        while start >= 0:
            end = start + len(name)
            before = lowered[start - 1] if start else " "
            after = lowered[end] if end < len(lowered) else " "
            if not (before.isalnum() or before == "_") and not (after.isalnum() or after == "_"):
                found.append(name)
                break
            start = lowered.find(name, end)
    return found


def _alias_target(sql: str, qualifier: str, tables: Collection[str]) -> str | None:
    """Return the table that `qualifier` (a table name or an alias) stands for in `sql`."""
    if qualifier.lower() in tables:
        return qualifier.lower()
    pattern = re.compile(rf"\b(\w+)\s+(?:as\s+)?{re.escape(qualifier)}\b", re.IGNORECASE)
    for match in pattern.finditer(sql):
        if match.group(1).lower() in tables:
            return match.group(1).lower()
    return None


def explain_missing_column(
    reference: str,
    sql: str,
    platform: str,
    *,
    served_columns: Mapping[str, Sequence[str]] | None = None,
) -> str | None:
    """Say which table of `sql` lacks column `reference` ("name" or "alias.name") and the fix.

    `served_columns` are the columns of the engine's own tables, which win over osquery's list.
    Returns None when no table of the query can be blamed.
    """
    qualifier, _, column = reference.rpartition(".")
    column = column.lower()
    known: dict[str, tuple[str, ...]] = {
        name: table.columns(platform)
        for name, table in osquery_tables().items()
        if platform in table.platforms
    }
    for name, columns in (served_columns or {}).items():
        known[name] = tuple(c.lower() for c in columns)
    if qualifier:
        target = _alias_target(sql, qualifier, known)
        suspects = [target] if target is not None else []
    else:
        suspects = tables_named_in(sql, sorted(known))
    lacking = [name for name in suspects if column not in known[name]]
    if not lacking:
        return None
    fixes = {
        name: KNOWN_COLUMN_MISTAKES.get((name, column)) or _similar(column, known[name])
        for name in lacking
    }
    # An unqualified column in a query of several tables belongs to one of them; where some of
    # them have a likely fix, those are the ones meant (`name` beside `systemd_units`, not
    # beside `file_lines` in another subquery).
    if any(fixes.values()):
        lacking = [name for name in lacking if fixes[name]]
    reasons = []
    for name in lacking:
        owner = "osquery's" if name in osquery_tables() else "its"
        fix = fixes[name]
        if fix is not None:
            reasons.append(f"`{name}` has no column `{column}`; {owner} is `{fix}`")
        else:
            reasons.append(
                f"`{name}` has no column `{column}` (its columns: {', '.join(known[name])})"
            )
    return "; ".join(reasons)


@dataclass(frozen=True)
class SqlErrorReason:
    """Why a query was refused, in words, and whether the query itself is at fault.

    `query_mistake` is True when osquery could not run the query on this platform either (a
    table that is not osquery's here, a column its table lacks, text that is not valid SQL):
    the check is wrong, not the device. False when the query is right but this engine lacks
    what it reads (a table only osquery or Fleet's agent has).
    """

    text: str
    query_mistake: bool


def _table_is_a_mistake(name: str, platform: str) -> bool:
    """Return True when no osquery (or fleetd) could give table `name` on `platform`."""
    table = osquery_tables().get(name.lower())
    if table is None:
        return True
    return table.source != "fleetd" and platform not in table.platforms


def explain_sql_failure(
    message: str,
    sql: str,
    platform: str,
    *,
    served: Collection[str] = (),
    served_columns: Mapping[str, Sequence[str]] | None = None,
    osquery: str = "",
) -> SqlErrorReason | None:
    """Return the reason for SQLite's "no such table", "no such column" or syntax error, else None.

    None too when osquery's list cannot be read (a broken install): then SQLite's words stand.
    """
    try:
        osquery_tables()
    except (OSError, ValueError, KeyError, TypeError):
        return None
    table = _NO_SUCH_TABLE.search(message)
    if table is not None:
        name = table.group(1)
        return SqlErrorReason(
            explain_missing_table(name, platform, served=served, osquery=osquery),
            _table_is_a_mistake(name, platform),
        )
    column = _NO_SUCH_COLUMN.search(message)
    if column is not None:
        text = explain_missing_column(column.group(1), sql, platform, served_columns=served_columns)
        return None if text is None else SqlErrorReason(text, query_mistake=True)
    if _SYNTAX_ERROR.search(message):
        said = message.removeprefix("SQLError: ").strip()
        return SqlErrorReason(
            f"the query is not valid SQL ({said}); osquery cannot run it either",
            query_mistake=True,
        )
    return None


def schema_connection(
    platform: str, extra: Mapping[str, Sequence[str]] | None = None
) -> apsw.Connection:
    """Return an in-memory database with a plain table per osquery table of `platform`.

    fleetd's tables are left out (a check naming one is told so); `extra` adds tables (ours)
    by name and columns, over osquery's of the same name. osquery's SQL functions are there, so
    a query prepares as it would on an engine.
    """
    connection = apsw.Connection(":memory:")
    tables = {
        name: table.columns(platform)
        for name, table in osquery_tables().items()
        if platform in table.platforms and table.source != "fleetd"
    }
    tables.update({name: tuple(columns) for name, columns in (extra or {}).items()})
    with connection:
        for name, columns in tables.items():
            declared = ", ".join(f'"{c}"' for c in columns)
            connection.execute(f'CREATE TABLE "{name}" ({declared})')
    register_osquery_functions(connection)
    return connection


@functools.cache
def builtin_columns(platform: str) -> Mapping[str, tuple[str, ...]]:
    """Return the columns of every table Stethoscope builds in on `platform`, by table."""
    from stethoscope_desktop.tables.catalog import builtin_tables
    from stethoscope_desktop.tables.system import LocalSystem

    return {
        table.name: tuple(column.name for column in table.columns)
        for table in builtin_tables(platform, LocalSystem())
    }


@functools.cache
def _platform_schema(platform: str) -> apsw.Connection:
    return schema_connection(platform, builtin_columns(platform))


def query_mistake(sql: str, platform: str) -> str | None:
    """Return why `sql` could not run on osquery on `platform` (a table or column it lacks).

    The query is prepared against osquery's schema, never run. None when it prepares, or when
    it fails for another reason (a syntax error, which running it reports).
    """
    error = _prepare_error(sql, platform)
    return None if error is None else _explain_for_checks(error, sql, platform)


def _explain_for_checks(error: str, sql: str, platform: str) -> str | None:
    ours = builtin_columns(platform)
    reason = explain_sql_failure(error, sql, platform, served=ours, served_columns=ours)
    return None if reason is None else reason.text


def _prepare_error(sql: str, platform: str) -> str | None:
    """Return SQLite's message when `sql` does not prepare against `platform`'s schema."""
    connection = _platform_schema(platform)
    try:
        connection.cursor().execute(sql, explain=1).fetchall()
    except apsw.SQLError as error:
        return str(error)
    except apsw.Error:
        return None
    return None


def _names_a_table_of_another_platform(error: str, platform: str) -> bool:
    missing = _NO_SUCH_TABLE.search(error)
    table = osquery_tables().get(missing.group(1).lower()) if missing else None
    return table is not None and bool(table.platforms) and platform not in table.platforms


def query_mistakes(sql: str, platforms: Sequence[str] | None) -> list[str]:
    """Return the mistakes of `sql` on the platforms a check runs on, each platform named.

    A check for every platform (`platforms` None) is only blamed when it fails on each of them:
    Fleet's policies without a platform often read a table that only one platform has.
    """
    targets = PLATFORMS if platforms is None else tuple(p for p in platforms if p in PLATFORMS)
    errors = {platform: _prepare_error(sql, platform) for platform in targets}
    if platforms is None:
        if any(error is None for error in errors.values()):
            return []
        # On the platforms that have the table, the mistake is what matters.
        errors = {
            platform: error
            for platform, error in errors.items()
            if error is not None and not _names_a_table_of_another_platform(error, platform)
        } or errors
    found = {
        platform: None if error is None else _explain_for_checks(error, sql, platform)
        for platform, error in errors.items()
    }
    by_reason: dict[str, list[str]] = {}
    for platform, reason in found.items():
        if reason is not None:
            by_reason.setdefault(reason, []).append(platform)
    return [f"{reason} (on {_platform_list(where)})" for reason, where in by_reason.items()]


def prepares(sql: str, platform: str) -> bool:
    """Return True when `sql` prepares against osquery's (and our) tables of `platform`."""
    connection = _platform_schema(platform)
    try:
        connection.cursor().execute(sql, explain=1).fetchall()
    except apsw.Error:
        return False
    return True
