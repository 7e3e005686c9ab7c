"""How many of IT's Fleet policies the built-in engine can judge on this machine: the coverage.

    .venv/bin/python tests/compat/fleet_coverage.py FILE [FILE...]
        [--platform linux|darwin|windows|all] [--engine embedded|osquery|auto] [--keep-queries]
        [--json]

Each FILE is a Fleet policies file (an export of `kind: policy` documents, a GitOps file with
`policies:`, or a list of policies: IT's own or Fleet's published ones). It is converted as
`stethoscope-desktop import-fleet FILE --platform P` converts it (`core.custom_checks`: with the
known mistakes of the queries corrected for osquery, `core.query_corrections`; `--keep-queries`
measures them as Fleet wrote them, as `import-fleet --keep-queries` does), and every check it keeps is run as a scan runs IT's checks (`core.scanner.run_custom_check` in one engine
session, the verdict by `custom_check_status`) on this machine. It prints:

- what the import kept and what it left out: for another platform, or dropped with the reason;
  how many queries it corrected for osquery;
- how many kept checks are manual-check placeholders (a query that reads nothing and can never
  return a row, such as `SELECT 1 WHERE 0`: Fleet's "check by hand" items) and how many are real
  automated queries;
- **the coverage**: how many automated queries get a verdict (PASS, FAIL or NUDGE) rather than
  UNKNOWN, and the UNKNOWN reasons grouped (missing table, missing column, other) and counted;
- what the automated queries use, read off osquery's schema (`resources/osquery/tables.json`)
  by SQLite itself (the tables and columns each query reads, found by preparing it on empty
  tables of osquery's columns): every table and column with the number of queries using it and
  whether our engine serves it; which tables are not osquery's at all; every SQL function called
  and whether our engine has it (SQLite's built-ins and `engines/sql_functions.py`); and notable
  SQL patterns (LIKE on a path, `%%`, CTEs, joins, subqueries, …).

The order of every list is fixed (most used first, then by name). Exit status: 0 when it ran,
2 when a FILE cannot be read (the message names it), 3 when the engine cannot start.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import apsw

from stethoscope_desktop.core.custom_checks import (
    CustomCheck,
    custom_check_status,
    import_fleet,
    read_checks_file,
)
from stethoscope_desktop.core.platforms import DESKTOP_PLATFORMS, current_platform
from stethoscope_desktop.core.scanner import run_custom_check
from stethoscope_desktop.core.status import Status
from stethoscope_desktop.core.yamlfile import Problem
from stethoscope_desktop.engines.base import QueryEngine
from stethoscope_desktop.engines.factory import EngineUnavailable, create_engine
from stethoscope_desktop.engines.sql_functions import register_osquery_functions
from stethoscope_desktop.resources import resources_dir

EXIT_UNREADABLE = 2
EXIT_NO_ENGINE = 3
VERDICTS = (Status.PASS, Status.FAIL, Status.NUDGE)
_NEEDS_TABLE = re.compile(r"needs osquery: table (\w+)")
# The engine's reasons (engines/osquery_schema.py), in the order they are recognised.
_UNKNOWN_KINDS = (
    ("missing table", _NEEDS_TABLE),
    ("missing table", re.compile(r"needs a table .*? does not have here: (\w+)")),
    ("fleetd's table, not built in", re.compile(r"needs Fleet's agent: `(\w+)`")),
    ("another platform's table", re.compile(r"`(\w+)` is an osquery table on ")),
    ("not an osquery table", re.compile(r"`(\w+)` is not an? [\w ]*table")),
    ("missing column", re.compile(r"`(\w+)` has no column `(\w+)`")),
)
_NO_COLUMN = re.compile(r"no such column: ([\w.]+)")
_NO_TABLE = re.compile(r"no such table: (\w+)")
_NO_FUNCTION = re.compile(r"no such function: (\w+)")
_CALL = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\(")
# Notable SQL patterns, looked for in a query with its comments left out.
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("LIKE on path/directory", re.compile(r"\b(?:path|directory)\s+(?:NOT\s+)?LIKE\b", re.I)),
    ("LIKE with %% (recursive path)", re.compile(r"LIKE\s+'[^']*%%", re.I)),
    ("path = constraint", re.compile(r"\b(?:path|directory)\s*=\s*'", re.I)),
    ("path IN (…) constraint", re.compile(r"\b(?:path|directory)\s+IN\s*\(", re.I)),
    ("WITH (CTE)", re.compile(r"^\s*WITH\b", re.I)),
    ("JOIN", re.compile(r"\bJOIN\b", re.I)),
    ("comma join (FROM a, b)", re.compile(r"\bFROM\s+\w+(?:\s+(?:AS\s+)?\w+)?\s*,\s*\w+", re.I)),
    ("subquery", re.compile(r"\(\s*SELECT\b", re.I)),
    ("EXISTS / NOT EXISTS", re.compile(r"\bEXISTS\s*\(", re.I)),
    ("UNION", re.compile(r"\bUNION\b", re.I)),
    ("CASE", re.compile(r"\bCASE\b", re.I)),
    ("GROUP BY / HAVING", re.compile(r"\bGROUP\s+BY\b|\bHAVING\b", re.I)),
    ("COLLATE", re.compile(r"\bCOLLATE\b", re.I)),
    ("REGEXP / GLOB operator", re.compile(r"\w\s+(?:NOT\s+)?(?:REGEXP|GLOB)\s+'", re.I)),
    ("CAST", re.compile(r"\bCAST\s*\(", re.I)),
    ("COUNT(*) compared", re.compile(r"COUNT\s*\(\s*\*\s*\)\s*\)?\s*(?:=|>|<|!=|<>)", re.I)),
)


# -- what a check is -----------------------------------------------------------------------


def manual_check_placeholder(check: CustomCheck) -> bool:
    """Return True for a "check by hand" placeholder, as the app itself decides it."""
    return check.manual


# -- what a query uses, by osquery's schema ---------------------------------------------------


@dataclass
class QueryUse:
    """What one query reads and calls, and what in it is not osquery's."""

    tables: set[str] = field(default_factory=set)
    columns: set[tuple[str, str]] = field(default_factory=set)
    functions: set[str] = field(default_factory=set)
    not_osquery: list[str] = field(default_factory=list)  # "table sysctl", "column name", …
    patterns: set[str] = field(default_factory=set)


class OsquerySchema:
    """Empty tables of osquery's columns on SQLite, to see what a query reads without running it.

    SQLite resolves the query (CTEs, aliases, subqueries) and its authorizer names each
    (table, column) read; a table, column or function that osquery lacks fails the preparation
    with its name, which is recorded and, for a function, stood in for so the rest is seen.
    """

    def __init__(self) -> None:
        specs = json.loads((resources_dir() / "osquery" / "tables.json").read_text("utf-8"))
        self.tables: dict[str, list[str]] = {
            name: [column[0] for column in table["columns"]]
            for name, table in specs["tables"].items()
        }
        self._connection = self._open()
        self.known_functions = function_names(self._connection)
        self._reads: set[tuple[str, str]] = set()

    def _note(self, code: int, table: str | None, column: str | None, *_: str | None) -> int:
        if code == apsw.SQLITE_READ and table and table != "sqlite_master":
            self._reads.add((table, column or ""))
        return apsw.SQLITE_OK

    def _opened_tables(self, sql: str) -> set[tuple[str, str]]:
        """Return (table, column) for each table the query's program opens, column by column."""
        roots = {
            page: name
            for name, page in self._connection.execute(
                "SELECT name, rootpage FROM sqlite_schema WHERE type = 'table'"
            )
        }
        columns = {
            name: [row[1] for row in self._connection.execute(f'PRAGMA table_info("{name}")')]
            for name in set(roots.values())
        }
        cursors: dict[int, str] = {}
        found: set[tuple[str, str]] = set()
        for _, opcode, p1, p2, *_ in self._connection.execute(f"EXPLAIN {sql}"):
            if opcode in ("OpenRead", "ReopenIdx") and p2 in roots:
                cursors[p1] = roots[p2]
                found.add((roots[p2], ""))
            elif opcode == "Column" and p1 in cursors:
                names = columns[cursors[p1]]
                if 0 <= p2 < len(names):
                    found.add((cursors[p1], names[p2]))
        return found

    def use_of(self, sql: str) -> QueryUse:
        """Return what `sql` reads and calls, and what of it osquery does not have."""
        use = QueryUse()
        self._reads = set()
        stood_in = False
        stand_in_tables: set[str] = set()
        code = without_strings(without_comments(sql))
        words = sorted({w.lower() for w in re.findall(r"[A-Za-z_]\w*", code)})
        named = [n for n in re.findall(r"\b(?:FROM|JOIN)\s+(\w+)", code, re.I) if n in self.tables]
        self._connection.authorizer = self._note
        try:
            for _ in range(20):
                try:
                    self._reads |= self._opened_tables(sql)
                    break
                except apsw.SQLError as error:
                    message = str(error).removeprefix("SQLError: ")
                    function = _NO_FUNCTION.search(message)
                    table = _NO_TABLE.search(message)
                    column = _NO_COLUMN.search(message)
                    if function:
                        name = function.group(1).lower()
                        use.not_osquery.append(f"function {name}")
                        self._connection.create_scalar_function(name, _stand_in)
                    elif table:
                        # A stand-in with every word of the query as a column, to see the rest.
                        use.not_osquery.append(f"table {table.group(1)}")
                        stand_in_tables.add(table.group(1))
                        body = ", ".join(f'"{word}"' for word in words)
                        self._connection.execute(f'CREATE TABLE "{table.group(1)}" ({body})')
                    elif column and self._add_missing_column(column.group(1), named, use):
                        pass
                    else:
                        use.not_osquery.append(
                            f"column {column.group(1)}" if column else f"SQL error: {message}"
                        )
                        break
                    stood_in = True
                except apsw.Error as error:
                    use.not_osquery.append(f"SQLite: {error}")
                    break
        finally:
            self._connection.authorizer = None
            if stood_in:  # a stand-in must not hide what osquery lacks from the next query
                self._connection.close()
                self._connection = self._open()
        if any(entry.startswith(("column ", "SQL error", "SQLite")) for entry in use.not_osquery):
            self._reads |= {(name, "") for name in named}  # not prepared: at least these
        known = set(self.tables) | stand_in_tables
        self._reads = {(table, column) for table, column in self._reads if table in known}
        use.tables = {table for table, _ in self._reads}
        use.columns = {(table, column) for table, column in self._reads if column}
        text = without_comments(sql)
        called = {name.lower() for name in _CALL.findall(without_strings(text))}
        stand_ins = {
            e.removeprefix("function ") for e in use.not_osquery if e.startswith("function ")
        }
        use.functions = {name for name in called if name in self.known_functions | stand_ins}
        use.patterns = {name for name, pattern in PATTERNS if pattern.search(text)}
        return use

    def _add_missing_column(self, reference: str, named: Sequence[str], use: QueryUse) -> bool:
        """Stand in for a column osquery's table lacks, when the query shows whose it is."""
        qualifier, _, column = reference.rpartition(".")
        candidates = sorted(
            {
                table
                for table in named
                if (not qualifier or qualifier == table or len(set(named)) == 1)
                and column not in self.tables[table]
            }
        )
        if len(candidates) != 1 or f"column {candidates[0]}.{column}" in use.not_osquery:
            return False
        use.not_osquery.append(f"column {candidates[0]}.{column}")
        self._connection.execute(f'ALTER TABLE "{candidates[0]}" ADD COLUMN "{column}"')
        return True

    def _open(self) -> apsw.Connection:
        connection = apsw.Connection(":memory:")
        register_osquery_functions(connection)
        for name, columns in self.tables.items():
            body = ", ".join(f'"{column}"' for column in columns)
            connection.execute(f'CREATE TABLE "{name}" ({body})')
        return connection


def _stand_in(*_: Any) -> None:
    return None


def function_names(connection: apsw.Connection) -> set[str]:
    """Return the names of the SQL functions a connection has (built-in and registered)."""
    return {row[0].lower() for row in connection.execute("SELECT name FROM pragma_function_list")}


def engine_functions() -> set[str]:
    """Return the SQL functions of the built-in engine: SQLite's and osquery's of ours."""
    connection = apsw.Connection(":memory:")
    try:
        register_osquery_functions(connection)
        return function_names(connection)
    finally:
        connection.close()


def without_comments(sql: str) -> str:
    """Return `sql` without its `--` and `/* */` comments (strings kept)."""
    out: list[str] = []
    position = 0
    while position < len(sql):
        char = sql[position]
        if char == "'":
            end = position + 1
            while True:
                end = sql.find("'", end)
                if end == -1 or not sql.startswith("''", end):
                    break
                end += 2
            end = len(sql) - 1 if end == -1 else end
            out.append(sql[position : end + 1])
            position = end + 1
        elif sql.startswith("--", position):
            end = sql.find("\n", position)
            position = len(sql) if end == -1 else end
        elif sql.startswith("/*", position):
            end = sql.find("*/", position + 2)
            position = len(sql) if end == -1 else end + 2
        else:
            out.append(char)
            position += 1
    return "".join(out)


def without_strings(sql: str) -> str:
    """Return `sql` with its string literals emptied."""
    return re.sub(r"'(?:[^']|'')*'", "''", sql)


# -- running the checks ------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportedFile:
    """One FILE as import-fleet converts it."""

    file: str
    checks: tuple[CustomCheck, ...]
    other_platform: tuple[Problem, ...]
    dropped: tuple[Problem, ...]
    notes: tuple[Problem, ...]
    corrected: int = 0  # queries import-fleet corrected for osquery


@dataclass
class Outcome:
    """One kept check: a placeholder, or an automated query with its verdict and what it uses."""

    check: CustomCheck
    manual: bool
    status: Status | None = None
    reason: str = ""
    use: QueryUse = field(default_factory=QueryUse)


class UnreadableFile(Exception):
    """A FILE that cannot be read as a policies file; the message names it."""


def import_file(path: Path, platform: str, *, correct: bool = True) -> ImportedFile:
    """Convert `path` as `import-fleet` does; raise UnreadableFile when it cannot be read.

    `correct`: as import-fleet does by default; False as with its `--keep-queries`.
    """
    if not path.is_file():
        raise UnreadableFile(f"{path}: no such file")
    loaded = read_checks_file(path)
    if loaded.unreadable:
        raise UnreadableFile(f"{path}: cannot be read: {loaded.problems[0]}")
    result = import_fleet(loaded, platform, correct=correct)
    errors = {id(problem) for problem in loaded.problems}
    notes = {id(problem) for problem in loaded.passed_over}
    return ImportedFile(
        str(path),
        result.checks,
        tuple(p for p in result.skipped if id(p) not in errors and id(p) not in notes),
        tuple(loaded.problems),
        tuple(loaded.passed_over),
        len(result.corrected),
    )


def run_checks(engine: QueryEngine, checks: Sequence[CustomCheck]) -> list[Outcome]:
    """Run the automated checks in one scan session, as a scan runs IT's checks."""
    outcomes = [Outcome(check, manual_check_placeholder(check)) for check in checks]
    automated = [outcome for outcome in outcomes if not outcome.manual]
    with engine.begin_scan() as session:
        session.prepare([outcome.check.query for outcome in automated])
        for outcome in automated:
            fact = run_custom_check(session, outcome.check)
            count = fact.value if fact.ok and isinstance(fact.value, int) else None
            outcome.status = custom_check_status(outcome.check, count)
            outcome.reason = fact.reason
    return outcomes


def unknown_reason(outcome: Outcome) -> tuple[str, str]:
    """Return (kind, what) of an UNKNOWN, read off the reason the engine gave."""
    reason = outcome.reason
    for kind, pattern in _UNKNOWN_KINDS:
        found = pattern.search(reason)
        if found:
            return kind, ".".join(group for group in found.groups() if group)
    column = _NO_COLUMN.search(reason)
    if column:
        qualified = [
            entry.removeprefix("column ")
            for entry in outcome.use.not_osquery
            if entry.startswith("column ") and entry.endswith(column.group(1).rpartition(".")[2])
        ]
        return "missing column", qualified[0] if qualified else column.group(1)
    return "other error", reason[:300]


def _ranked(counter: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))


def coverage_report(
    files: Sequence[ImportedFile], outcomes: Sequence[Outcome], served: Iterable[str]
) -> dict[str, Any]:
    """Return every figure of the report, as JSON-ready data in a fixed order."""
    served_tables = set(served)
    automated = [outcome for outcome in outcomes if not outcome.manual]
    statuses = Counter(outcome.status.name for outcome in automated if outcome.status)
    verdicts = sum(statuses[status.name] for status in VERDICTS)
    unknown: dict[str, Counter[str]] = {}
    for outcome in automated:
        if outcome.status is Status.UNKNOWN:
            kind, what = unknown_reason(outcome)
            unknown.setdefault(kind, Counter())[what] += 1
    needing: Counter[str] = Counter()
    only_missing: Counter[str] = Counter()
    tables: Counter[str] = Counter()
    columns: dict[str, Counter[str]] = {}
    functions: Counter[str] = Counter()
    not_osquery: Counter[str] = Counter()
    patterns: Counter[str] = Counter()
    for outcome in automated:
        use = outcome.use
        tables.update(use.tables)
        for table, column in use.columns:
            columns.setdefault(table, Counter())[column] += 1
        functions.update(use.functions)
        not_osquery.update(dict.fromkeys(use.not_osquery, 1))
        patterns.update(use.patterns)
        missing = sorted(use.tables - served_tables)
        needing.update(missing)
        if len(missing) == 1:
            only_missing[missing[0]] += 1
    valid = [outcome for outcome in automated if not outcome.use.not_osquery]
    valid_verdicts = sum(1 for outcome in valid if outcome.status in VERDICTS)
    ours = engine_functions()
    keys = Counter(outcome.check.key for outcome in outcomes)
    return {
        "files": [
            {
                "file": imported.file,
                "kept": len(imported.checks),
                "other_platform": len(imported.other_platform),
                "dropped": [str(problem) for problem in imported.dropped],
                "notes": len(imported.notes),
                "corrected": imported.corrected,
            }
            for imported in files
        ],
        "kept": len(outcomes),
        "corrected": sum(imported.corrected for imported in files),
        "other_platform": sum(len(imported.other_platform) for imported in files),
        "dropped": _ranked(Counter(p.message for f in files for p in f.dropped)),
        "notes": _ranked(Counter(p.message for f in files for p in f.notes)),
        "duplicate_keys": sorted(key for key, count in keys.items() if count > 1),
        "manual_placeholders": len(outcomes) - len(automated),
        "automated": len(automated),
        "statuses": {name: statuses[name] for name in sorted(statuses)},
        "verdicts": verdicts,
        "coverage_percent": round(100 * verdicts / len(automated), 1) if automated else None,
        "valid_on_osquery": len(valid),
        "valid_verdicts": valid_verdicts,
        "valid_coverage_percent": (round(100 * valid_verdicts / len(valid), 1) if valid else None),
        "unknown_reasons": {
            kind: _ranked(unknown[kind])
            for kind in dict.fromkeys(
                [kind for kind, _ in _UNKNOWN_KINDS] + ["missing column", "other error"]
            )
            if kind in unknown
        },
        "missing_tables": [
            {"table": table, "queries": count, "only_missing_table": only_missing[table]}
            for table, count in _ranked(needing)
        ],
        "not_osquery": _ranked(not_osquery),
        "tables": [
            {
                "table": table,
                "queries": count,
                "served": table in served_tables,
                "columns": _ranked(columns.get(table, Counter())),
            }
            for table, count in _ranked(tables)
        ],
        "functions": [
            {"function": name, "queries": count, "engine_has": name in ours}
            for name, count in _ranked(functions)
        ],
        "patterns": _ranked(patterns),
    }


def measure(files: Sequence[ImportedFile], engine: QueryEngine) -> dict[str, Any]:
    """Run the files' checks on `engine`, read what they use off osquery's schema: the report."""
    outcomes = run_checks(engine, [check for imported in files for check in imported.checks])
    schema = OsquerySchema()
    for outcome in outcomes:
        if not outcome.manual:
            outcome.use = schema.use_of(outcome.check.query)
    return coverage_report(files, outcomes, engine.available_tables())


def print_report(report: dict[str, Any], platform: str, *, keep_queries: bool = False) -> None:
    """Print the report for a person."""
    for entry in report["files"]:
        print(
            f"{entry['file']}: {entry['kept']} kept for {platform}, "
            f"{entry['other_platform']} for other platforms, {len(entry['dropped'])} dropped, "
            f"{entry['notes']} notes"
        )
        for problem in entry["dropped"]:
            print(f"  dropped: {problem}")
    print(
        f"\nImported: {report['kept']} checks for {platform} "
        f"({report['other_platform']} for other platforms left out, "
        f"{sum(count for _, count in report['dropped'])} problems dropped entries)"
    )
    print(
        f"Queries corrected for osquery by import-fleet: {report['corrected']}"
        + (" (--keep-queries: none corrected)" if keep_queries else "")
    )
    _print_counts("Dropped, why", report["dropped"])
    _print_counts("Notes (not errors)", report["notes"])
    if report["duplicate_keys"]:
        print(f"Same key in more than one check: {', '.join(report['duplicate_keys'])}")
    print(f"Manual-check placeholders: {report['manual_placeholders']}")
    print(f"Automated queries: {report['automated']}")
    statuses = ", ".join(f"{name} {count}" for name, count in report["statuses"].items())
    percent = report["coverage_percent"]
    print(
        f"\nCoverage: {report['verdicts']} of {report['automated']} automated queries get a "
        f"verdict ({'-' if percent is None else f'{percent} %'}); {statuses or 'none run'}"
    )
    valid_percent = report["valid_coverage_percent"]
    print(
        f"Of the {report['valid_on_osquery']} automated queries that name only osquery's (or "
        f"fleetd's) tables and columns, {report['valid_verdicts']} get a verdict "
        f"({'-' if valid_percent is None else f'{valid_percent} %'}); the other "
        f"{report['automated'] - report['valid_on_osquery']} cannot run on osquery either."
    )
    for kind, reasons in report["unknown_reasons"].items():
        _print_counts(f"UNKNOWN: {kind}", reasons)
    if report["missing_tables"]:
        print("\nTables the automated queries need that the engine lacks (queries; only missing):")
        for entry in report["missing_tables"]:
            print(f"  {entry['table']:32} {entry['queries']:4}  ({entry['only_missing_table']})")
    _print_counts("Not osquery's (cannot run on osquery either)", report["not_osquery"])
    print("\nTables and columns the automated queries use (queries):")
    for entry in report["tables"]:
        served = "" if entry["served"] else "  [not served here]"
        print(f"  {entry['table']:32} {entry['queries']:4}{served}")
        for column, count in entry["columns"]:
            print(f"      {column:28} {count:4}")
    print("\nSQL functions called (queries):")
    for entry in report["functions"]:
        has = "" if entry["engine_has"] else "  [not in the built-in engine]"
        print(f"  {entry['function']:32} {entry['queries']:4}{has}")
    _print_counts("Notable SQL patterns (queries)", report["patterns"])


def _print_counts(title: str, counts: Sequence[tuple[str, int]]) -> None:
    if counts:
        print(f"\n{title}:")
        for what, count in counts:
            print(f"  {count:4}  {what}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("files", metavar="FILE", nargs="+", type=Path, help="Fleet policy files")
    parser.add_argument(
        "--platform",
        choices=(*DESKTOP_PLATFORMS, "all"),
        default=current_platform(),
        help="the policies to import (default: this machine's platform)",
    )
    parser.add_argument("--engine", choices=("embedded", "osquery", "auto"), default="embedded")
    parser.add_argument(
        "--keep-queries",
        action="store_true",
        help="measure the queries as Fleet wrote them (import-fleet --keep-queries); by default "
        "their known mistakes are corrected, as import-fleet does",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    try:
        files = [
            import_file(path, args.platform, correct=not args.keep_queries) for path in args.files
        ]
    except UnreadableFile as error:
        print(error, file=sys.stderr)
        return EXIT_UNREADABLE
    try:
        engine = create_engine(args.engine, current_platform())
    except EngineUnavailable as error:
        print(f"engine {args.engine}: {error}", file=sys.stderr)
        return EXIT_NO_ENGINE
    try:
        report = measure(files, engine)
    finally:
        engine.close()
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print_report(report, args.platform, keep_queries=args.keep_queries)
    return 0


if __name__ == "__main__":
    sys.exit(main())
