"""Corrections of the known mistakes in IT's osquery SQL, for `import-fleet`.

Fleet's published Linux policies read a table `sysctl` (osquery's is `system_controls`, whose
value is `current_value`) and `systemd_units.name` (osquery's column is `id`, which holds the
unit's name, `ssh.service`). Neither osquery nor the built-in engine can run such a query.
`correct_for_osquery` renames those identifiers, and only those:

- The query is cut into tokens (strings, comments, quoted and bare identifiers, punctuation), so
  a word inside a string literal or a comment is never touched and the rest of the text is kept
  as it is, byte for byte.
- Each SELECT (the whole query, each parenthesised subquery, each CTE body, each side of a
  UNION) is a scope with the tables its FROM and JOINs read, under their aliases. A table named
  in `TABLE_CORRECTIONS` is renamed where a FROM or JOIN names it (not where a CTE of that name
  is meant). A column of `COLUMN_CORRECTIONS` is renamed where it is meant for that table:
  qualified (`s.value`, `sysctl.value`) by the alias or table it names, looked up from the
  innermost scope outwards; unqualified only in a scope that reads the table, and only when no
  other table of that scope could have a column of that name (`name` beside `deb_packages` is
  ambiguous and is left alone). `deb_packages WHERE name = 'cron'` in a sibling subquery keeps
  its `name`.
- Safety net: a correction is kept only when osquery's schema (prepared, never run, for the
  check's platforms) rejects the original for the very tables and columns renamed, accepts the
  corrected query without a mistake, and the corrected query is still one read-only statement.
  Otherwise the original stays (and `import-fleet` warns about it as before).

Only renames that keep the meaning are listed: the same fact under osquery's name, with the
same values. `systemd_units.enabled` (a 0/1 in other tools, osquery's `unit_file_state` is a
word), `state` (active or sub state?), `packages` (deb or rpm?) and `glob` (osquery's `file`
takes a LIKE pattern, not a glob) need a person, so they are never corrected.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

# Tables people name that osquery calls otherwise, where the rename keeps the meaning.
TABLE_CORRECTIONS: Mapping[str, str] = {
    "sysctl": "system_controls",
    "sysctls": "system_controls",
}
# osquery's table -> {column people write: osquery's column for the same value}.
COLUMN_CORRECTIONS: Mapping[str, Mapping[str, str]] = {
    "system_controls": {"value": "current_value"},
    "systemd_units": {"name": "id", "unit": "id", "enabled_state": "unit_file_state"},
    "users": {"name": "username"},
    "groups": {"name": "groupname"},
    "kernel_modules": {"module": "name"},
}

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))
    | (?P<string>'(?:[^']|'')*(?:'|\Z))
    | (?P<quoted>"(?:[^"]|"")*(?:"|\Z)|`(?:[^`]|``)*(?:`|\Z)|\[[^\]]*(?:\]|\Z))
    | (?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<word>[^\W\d][\w$]*)
    | (?P<punct>\|\||<=|>=|<>|!=|==|<<|>>|.)
    """,
    re.VERBOSE | re.DOTALL,
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_QUOTES = {'"': '"', "`": "`", "[": "]"}
# Words that end a FROM clause or stand where an alias could.
_CLAUSE_WORDS = _words(
    "where group having order limit window union intersect except on using join inner left "
    "right full outer cross natural returning"
)
_JOIN_WORDS = _words("join")
_COMPOUND_WORDS = _words("union intersect except")
_QUERY_STARTS = _words("select with values")


@dataclass
class _Token:
    kind: str  # space, comment, string, quoted, number, word, punct
    text: str

    @property
    def significant(self) -> bool:
        return self.kind not in ("space", "comment")

    @property
    def identifier(self) -> str | None:
        """Return the identifier it names (unquoted, lower case), None for other tokens."""
        if self.kind == "word":
            return self.text.lower()
        if self.kind == "quoted":
            close = _QUOTES[self.text[0]]
            return self.text[1:-1].replace(close * 2, close).lower()
        return None

    def keyword(self, *words: str) -> bool:
        return self.kind == "word" and self.text.lower() in words

    def renamed(self, name: str) -> str:
        """Return `name` written as this identifier is written (quoted alike)."""
        if self.kind == "quoted":
            close = _QUOTES[self.text[0]]
            return self.text[0] + name.replace(close, close * 2) + close
        return name


def tokenize(sql: str) -> list[_Token]:
    """Cut `sql` into tokens whose texts, joined, give `sql` back exactly."""
    return [_Token(match.lastgroup or "punct", match.group()) for match in _TOKEN.finditer(sql)]


@dataclass
class _Source:
    """A table (or subquery, CTE, table function) a scope reads, and the name it goes by."""

    table: str | None  # the table's name as the query has it; None: not a plain table
    alias: str | None
    token: int | None  # the table name's token, for a rename
    cte: bool = False


@dataclass
class _Scope:
    parent: _Scope | None
    sources: list[_Source] = field(default_factory=list)
    # (qualifier token or None, column token) of every identifier that may be a column.
    columns: list[tuple[int | None, int]] = field(default_factory=list)


class _Unparsable(Exception):
    """The query's parentheses do not match: nothing is corrected."""


class _Parser:
    """Finds the scopes of a query: the tables each SELECT reads and the columns it names."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.sig = [i for i, token in enumerate(tokens) if token.significant]
        self.closing = self._match_parentheses()
        self.scopes: list[_Scope] = []
        self.ctes: set[str] = set()

    def _match_parentheses(self) -> dict[int, int]:
        closing: dict[int, int] = {}
        stack: list[int] = []
        for position, index in enumerate(self.sig):
            text = self.tokens[index].text
            if text == "(":
                stack.append(position)
            elif text == ")":
                if not stack:
                    raise _Unparsable
                closing[stack.pop()] = position
        if stack:
            raise _Unparsable
        return closing

    def tok(self, position: int) -> _Token:
        return self.tokens[self.sig[position]]

    def starts_query(self, position: int, end: int) -> bool:
        return position < end and self.tok(position).keyword(*_QUERY_STARTS)

    def query(self, start: int, end: int, parent: _Scope | None) -> None:
        """Read a query (WITH …, SELECT cores joined by UNION …) between two positions."""
        position = start
        if position < end and self.tok(position).keyword("with"):
            position = self._with_clause(position + 1, end, parent)
        scope = self._new_scope(parent)
        self._core(position, end, scope)

    def _with_clause(self, position: int, end: int, parent: _Scope | None) -> int:
        if position < end and self.tok(position).keyword("recursive"):
            position += 1
        while position < end:
            name = self.tok(position).identifier
            if name is None:
                return position
            self.ctes.add(name)
            position += 1
            if position < end and self.tok(position).text == "(":  # the CTE's column names
                position = self.closing[position] + 1
            while position < end and self.tok(position).text != "(":
                position += 1  # AS [NOT] [MATERIALIZED]
            if position >= end:
                return position
            close = self.closing[position]
            self.query(position + 1, close, parent)
            position = close + 1
            if position < end and self.tok(position).text == ",":
                position += 1
            else:
                return position
        return position

    def _new_scope(self, parent: _Scope | None) -> _Scope:
        scope = _Scope(parent)
        self.scopes.append(scope)
        return scope

    def _core(self, position: int, end: int, scope: _Scope, *, in_from: bool = False) -> None:
        """Read SELECT cores; a compound operator starts a sibling scope.

        `in_from`: the tokens start inside a FROM clause (a join in parentheses).
        """
        expect_source = in_from
        while position < end:
            token = self.tok(position)
            if token.keyword(*_COMPOUND_WORDS):
                scope = self._new_scope(scope.parent)
                in_from = expect_source = False
                position += 1
                continue
            if token.keyword("from"):
                in_from = expect_source = True
                position += 1
                continue
            if in_from and token.keyword(*_JOIN_WORDS):
                expect_source = True
                position += 1
                continue
            if in_from and token.text == ",":
                expect_source = True
                position += 1
                continue
            if in_from and token.keyword(*_CLAUSE_WORDS):
                if token.keyword("where", "group", "having", "order", "limit", "window"):
                    in_from = False
                position += 1
                continue
            if expect_source:
                expect_source = False
                position = self._source(position, end, scope)
                continue
            if token.text == "(":
                position = self._parenthesised(position, scope)
                continue
            position = self._maybe_column(position, end, scope)

    def _source(self, position: int, end: int, scope: _Scope) -> int:
        """Read one table of a FROM clause with its alias; return the position after it."""
        token = self.tok(position)
        source: _Source
        if token.text == "(":
            close = self.closing[position]
            if self.starts_query(position + 1, close):
                self.query(position + 1, close, scope)
            else:
                self._core(position + 1, close, scope, in_from=True)  # (a JOIN b)
            source = _Source(None, None, None)
            position = close + 1
        else:
            name = token.identifier
            index = self.sig[position]
            position += 1
            # schema.table
            if position + 1 < end and self.tok(position).text == ".":
                name = self.tok(position + 1).identifier
                index = self.sig[position + 1]
                position += 2
            if position < end and self.tok(position).text == "(":  # a table-valued function
                close = self.closing[position]
                self._expression(position + 1, close, scope)
                position = close + 1
                source = _Source(None, None, None)
            else:
                cte = name in self.ctes
                source = _Source(name, None, None if cte else index, cte=cte)
        if position < end and self.tok(position).keyword("as"):
            position += 1
        if position < end:
            alias = self.tok(position)
            if alias.identifier is not None and not alias.keyword(*_CLAUSE_WORDS):
                source.alias = alias.identifier
                position += 1
        scope.sources.append(source)
        return position

    def _parenthesised(self, position: int, scope: _Scope) -> int:
        """Read a subquery (a scope of its own) or an expression in parentheses (`scope`'s)."""
        close = self.closing[position]
        if self.starts_query(position + 1, close):
            self.query(position + 1, close, scope)
        else:
            self._expression(position + 1, close, scope)
        return close + 1

    def _expression(self, position: int, end: int, scope: _Scope) -> None:
        """Read an expression in parentheses: its columns belong to `scope`."""
        while position < end:
            token = self.tok(position)
            if token.text == "(":
                position = self._parenthesised(position, scope)
                continue
            position = self._maybe_column(position, end, scope)

    def _maybe_column(self, position: int, end: int, scope: _Scope) -> int:
        """Note an identifier that may be a column (`c`, `q.c`); return the next position."""
        token = self.tok(position)
        if token.identifier is None or (
            token.kind == "word" and token.text.lower() in _NOT_COLUMNS
        ):
            return position + 1
        previous = self.tok(position - 1) if position > 0 else None
        if previous is not None and (previous.keyword("as", "collate") or previous.text == "."):
            return position + 1  # an alias, a type, a collation; or a qualified name's tail
        following = self.tok(position + 1) if position + 1 < end else None
        if following is not None and following.text == "(":
            return position + 1  # a function
        if following is not None and following.text == "." and position + 2 < end:
            column = self.tok(position + 2)
            if column.identifier is not None:
                scope.columns.append((self.sig[position], self.sig[position + 2]))
            return position + 3
        scope.columns.append((None, self.sig[position]))
        return position + 1


# Keywords that are never a column where they stand in the queries read here.
_NOT_COLUMNS = _words(
    "select distinct all from where and or not in is null like glob regexp match between "
    "exists case when then else end as cast on using group by having order asc desc limit "
    "offset collate escape true false current_date current_time current_timestamp"
)


CORRECTED_PREFIX = "corrected for osquery: "


@dataclass(frozen=True)
class QueryCorrection:
    """A query with the known mistakes renamed, and what was renamed."""

    query: str
    # "table sysctl → system_controls", "column value → current_value in system_controls"
    changes: tuple[str, ...]
    tables: tuple[str, ...] = ()  # the names renamed, as the original has them
    columns: tuple[str, ...] = ()
    # Bare columns that may be a mistake but that two tables of their SELECT could own.
    ambiguous: tuple[str, ...] = ()

    @property
    def comment(self) -> str:
        """Say what changed, for the comment above the query in the converted file."""
        return CORRECTED_PREFIX + "; ".join(self.changes)


def rewrite_query(sql: str, known_columns: Mapping[str, Collection[str]]) -> QueryCorrection | None:
    """Rename the known mistakes of `sql` by its scopes; None when there is nothing to rename.

    `known_columns` are the columns of every table the query may read (osquery's, ours): a table
    not in it could have any column, so an unqualified column beside it is ambiguous.
    """
    tokens = tokenize(sql)
    try:
        parser = _Parser(tokens)
        parser.query(0, len(parser.sig), None)
    except (_Unparsable, KeyError):
        return None
    renames: dict[int, str] = {}
    changes: dict[str, None] = {}
    tables: dict[str, None] = {}
    columns: dict[str, None] = {}
    left_alone: dict[str, None] = {}
    effective: dict[int, str | None] = {}  # id(source) -> the table it reads after correction
    for scope in parser.scopes:
        for source in scope.sources:
            table = source.table
            if table is not None and not source.cte and source.token is not None:
                corrected = TABLE_CORRECTIONS.get(table)
                if corrected is not None:
                    renames[source.token] = tokens[source.token].renamed(corrected)
                    changes[f"table {table} → {corrected}"] = None
                    tables[table] = None
                    table = corrected
            effective[id(source)] = None if source.cte else table
    for scope in parser.scopes:
        for qualifier, column_index in scope.columns:
            column = tokens[column_index].identifier or ""
            if qualifier is None:
                owner, ambiguous = _unqualified_owner(scope, column, effective, known_columns)
                if ambiguous:
                    left_alone[column] = None
            else:
                owner = _qualified_owner(scope, tokens[qualifier].identifier or "", effective)
            if owner is None:
                continue
            source, table = owner
            if qualifier is not None and source.alias is None and source.table != table:
                renames[qualifier] = tokens[qualifier].renamed(table)  # sysctl.name
            right = COLUMN_CORRECTIONS.get(table, {}).get(column)
            if right is not None:
                renames[column_index] = tokens[column_index].renamed(right)
                changes[f"column {column} → {right} in {table}"] = None
                columns[column] = None
    if not renames:
        return None
    text = "".join(renames.get(index, token.text) for index, token in enumerate(tokens))
    return QueryCorrection(text, tuple(changes), tuple(tables), tuple(columns), tuple(left_alone))


def _qualified_owner(
    scope: _Scope, qualifier: str, effective: Mapping[int, str | None]
) -> tuple[_Source, str] | None:
    """Return the source `qualifier.` names, from the innermost scope outwards."""
    current: _Scope | None = scope
    while current is not None:
        for source in current.sources:
            table = effective[id(source)]
            named = source.alias if source.alias is not None else source.table
            if named == qualifier or (source.alias is None and table == qualifier):
                return (source, table) if table is not None else None
        current = current.parent
    return None


def _unqualified_owner(
    scope: _Scope,
    column: str,
    effective: Mapping[int, str | None],
    known_columns: Mapping[str, Collection[str]],
) -> tuple[tuple[_Source, str] | None, bool]:
    """Return the one source of `scope` a bare `column` is meant for, and whether it is ambiguous.

    None when no table of the scope has that mistake, or when another could own the column.
    """
    owners: list[tuple[_Source, str]] = []
    could_own = 0
    for source in scope.sources:
        table = effective[id(source)]
        if table is not None and column in COLUMN_CORRECTIONS.get(table, {}):
            owners.append((source, table))
            could_own += 1
        elif table is None or table not in known_columns or column in known_columns[table]:
            could_own += 1
    if len(owners) == 1 and could_own == 1:
        return owners[0], False
    return None, bool(owners)


@functools.cache
def known_columns() -> Mapping[str, frozenset[str]]:
    """Return the columns of osquery's (and fleetd's) tables on any platform, and ours."""
    from stethoscope_desktop.engines.osquery_schema import (
        PLATFORMS,
        builtin_columns,
        osquery_tables,
    )

    columns: dict[str, set[str]] = {}
    for name, table in osquery_tables().items():
        for platform in table.platforms:
            columns.setdefault(name, set()).update(c.lower() for c in table.columns(platform))
    for platform in PLATFORMS:
        for name, names in builtin_columns(platform).items():
            columns.setdefault(name, set()).update(c.lower() for c in names)
    return {name: frozenset(names) for name, names in columns.items()}


def correct_for_osquery(sql: str, platforms: Sequence[str] | None) -> QueryCorrection | None:
    """Return `sql` with its known mistakes corrected, or None to keep it as it is.

    `platforms` are the check's (None: every platform). The correction is kept only when the
    original fails to prepare on osquery's schema for the tables or columns renamed, and only
    for them, and the corrected query prepares there without a mistake and is still one
    read-only statement.
    """
    from stethoscope_desktop.core.custom_checks import query_problem
    from stethoscope_desktop.engines.osquery_schema import prepares, query_mistakes

    correction = rewrite_query(sql, known_columns())
    if correction is None or correction.ambiguous or query_problem(correction.query):
        return None
    mistakes = query_mistakes(sql, platforms)
    if not mistakes or not all(_explained_by(mistake, correction) for mistake in mistakes):
        return None
    if query_mistakes(correction.query, platforms):
        return None
    targets = platforms if platforms is not None else ("darwin", "linux", "windows")
    outcomes = [prepares(correction.query, platform) for platform in targets]
    if not (all(outcomes) if platforms is not None else any(outcomes)):
        return None
    return correction


def _explained_by(mistake: str, correction: QueryCorrection) -> bool:
    """Return True if osquery's schema rejected the original for a name the correction renamed."""
    return any(f"`{table}` is not" in mistake for table in correction.tables) or any(
        f"has no column `{column}`" in mistake for column in correction.columns
    )
