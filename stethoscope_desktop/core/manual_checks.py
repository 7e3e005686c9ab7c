"""Checks done by hand: Fleet's manual-check placeholders, recognised by what their query can do.

Fleet's CIS benchmarks hold controls that no query can check. Fleet gives each a placeholder query
that never returns rows (`SELECT 1 WHERE 0;`, `SELECT 1 WHERE 1 = 0`, …), `purpose: Manual
Validation Required`, and a resolution such as "Manual: follow the CIS 'Audit' procedure…". Run as
checks they would always fail, telling the person something is wrong where nothing was checked;
so they are "check by hand" items instead: shown apart from the ranked list, never a verdict.

**What makes a check manual: its query, never its labels.** A query is a placeholder when it
provably returns no rows whatever the device. It must name no table: no `FROM` outside its strings
and comments (so `SELECT 1 WHERE 0 AND EXISTS (SELECT 1 FROM users)`, which SQLite's optimiser folds
to nothing before it looks for `users`, is still a real check). And it is run once on an empty
in-memory SQLite database, under an authorizer that lets it read no table at all (not even
`sqlite_master`, which osquery fills with its tables, nor a table-valued function such as
`json_each`) and call only deterministic built-in functions, with its steps and string lengths
bounded; it must run and return nothing. What reads no table and depends on nothing returns the same
on every device, so one run proves it. Anything else — a table read, an osquery function, `random()`
or the clock, an error, a step limit reached — is not a placeholder, and the check runs as usual. So
`SELECT 1 WHERE 0 OR EXISTS (SELECT 1 FROM users …)` is a real check, and so is `SELECT 1 FROM users
WHERE 0` (it reads a table, however it is written).

**When Fleet's `purpose` says otherwise, the query wins.** Fleet's own CIS Linux file marks at
least one real query "Manual Validation Required" (a time-synchronisation control whose query
reads `systemd_units`): Fleet runs that query and reports its result, and so do we; `import-fleet`
notes the disagreement. A placeholder query without that purpose is a manual
check all the same: it can never pass, so its failure would say nothing. The resolution text is
no signal at all: Fleet's file begins real checks' resolutions with "Manual: follow the CIS
'Audit' procedure…" too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

from stethoscope_desktop.core.yamlfile import KeyPath, Problem, YamlDocument

# Fleet's `purpose` of a control that needs checking by hand.
MANUAL_PURPOSE = "Manual Validation Required"
# Built-in SQLite functions whose result depends only on their arguments, and which cannot make
# big values (no printf width, zeroblob or char of a long list): what a placeholder may call.
DETERMINISTIC_FUNCTIONS = frozenset(
    {
        "abs",
        "coalesce",
        "ifnull",
        "iif",
        "nullif",
        "length",
        "lower",
        "upper",
        "trim",
        "ltrim",
        "rtrim",
        "substr",
        "substring",
        "instr",
        "like",
        "glob",
        "typeof",
        "min",
        "max",
        "round",
        "sign",
        "count",
        "sum",
        "total",
        "avg",
    }
)
# SQLite virtual machine steps a placeholder may take (a recursive CTE must not run forever).
MAX_STEPS = 100_000
_PROGRESS_EVERY = 1_000
MAX_VALUE_BYTES = 100_000
# Strings, quoted names and comments, where a FROM is no keyword.
_QUOTED_OR_COMMENT = re.compile(
    r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|`[^`]*`|\[[^\]]*\]|--[^\n]*|/\*.*?(?:\*/|\Z)", re.DOTALL
)
_FROM = re.compile(r"\bFROM\b", re.IGNORECASE)


def _authorizer() -> Callable[..., int]:
    """Return an authorizer that allows a SELECT and deterministic built-in functions only.

    It denies every read of a table. Python's `sqlite3` (the system's libsqlite3, about 1.5 MiB)
    is imported only when a query is tried: a scan without IT's placeholders never needs it.
    """
    import sqlite3

    allowed = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_RECURSIVE})

    def authorize(action: int, first: str | None, second: str | None, *_: Any) -> int:
        if action in allowed:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_FUNCTION and (second or "").lower() in DETERMINISTIC_FUNCTIONS:
            return sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY

    return authorize


@lru_cache(maxsize=4096)
def never_returns_rows(sql: str) -> bool:
    """Return True when `sql` reads nothing and provably returns no rows on any device.

    Fleet's placeholders (`SELECT 1 WHERE 0;`) are; a query that names a table (has a FROM),
    calls a function outside `DETERMINISTIC_FUNCTIONS`, fails, or runs past `MAX_STEPS` is not.
    """
    if _FROM.search(_QUOTED_OR_COMMENT.sub(" ", sql)):
        return False
    import sqlite3

    connection = sqlite3.connect(":memory:")  # no tables: its own, so no other thread's
    try:
        connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
        connection.set_authorizer(_authorizer())
        steps = [0]

        def progress() -> int:
            steps[0] += _PROGRESS_EVERY
            return 1 if steps[0] > MAX_STEPS else 0

        connection.set_progress_handler(progress, _PROGRESS_EVERY)
        try:
            return connection.execute(sql).fetchone() is None
        except (sqlite3.Error, sqlite3.Warning, ValueError, OverflowError):
            return False  # cannot run without the device (or at all): not a placeholder
    finally:
        connection.close()


def is_manual_purpose(purpose: Any) -> bool:
    """Return True for Fleet's purpose of a control checked by hand (any case and spacing)."""
    return isinstance(purpose, str) and " ".join(purpose.split()).casefold() == (
        MANUAL_PURPOSE.casefold()
    )


def _entries(data: Any, path: KeyPath) -> Iterator[tuple[KeyPath, dict[str, Any]]]:
    """Yield each check entry (a mapping with a query) of a checks document, with its path."""
    if isinstance(data, list):
        for index, item in enumerate(data):
            yield from _entries(item, (*path, index))
    elif isinstance(data, dict) and len(path) <= 3:
        if "query" in data:
            yield path, data
        else:
            for key, value in data.items():
                yield from _entries(value, (*path, key))


def purpose_notes(doc: YamlDocument) -> list[Problem]:
    """Return a note for each check Fleet marks "Manual Validation Required" that runs anyway.

    Its query reads the device, so it is a real check (see the module's docstring).
    """
    return [
        doc.problem(
            (*path, "purpose"),
            f"Fleet's purpose of {entry.get('name')!r} is {MANUAL_PURPOSE}, but its query "
            "reads the device: it runs as a check",
        )
        for path, entry in _entries(doc.data, ())
        if is_manual_purpose(entry.get("purpose"))
        and isinstance(entry.get("query"), str)
        and not never_returns_rows(entry["query"])
    ]
