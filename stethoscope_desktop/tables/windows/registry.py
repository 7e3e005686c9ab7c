r"""osquery's `registry` table on Windows, for IT's own checks (Fleet policies often read it).

Like osquery, a row is a value (`path` = key\name) or a subkey (`type` "subkey"). The registry is
far too big to list, so the table answers queries that name what they want in `path` (osquery's
indexed column): `path = 'HKEY_…\Key\Value'` reads that value; `path LIKE 'HKEY_…\Key\%'` reads
a key's values and subkeys, and a `%` standing for a whole key name in the middle
(`'HKEY_USERS\%\Control Panel\Desktop\ScreenSaveTimeOut'`) walks each subkey there, as osquery
expands it. Keys this user may not read are left out. mtime is not read (NULL).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from stethoscope_desktop.tables.base import Column, Operator, QueryContext, Row, TableError
from stethoscope_desktop.tables.windows._common import WindowsTable
from stethoscope_desktop.tables.windows._registry import normalize_key, value_of

MAX_KEYS = 5000


def _like(pattern: str) -> re.Pattern[str]:
    """Compile one path component of a LIKE pattern (% any run, _ one character)."""
    body = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL)


class RegistryTable(WindowsTable):
    """Registry values and subkeys under the paths a query names."""

    name = "registry"
    columns = (
        Column("key", "text"),
        Column("path", "text", index=True),
        Column("name", "text"),
        Column("type", "text"),
        Column("data", "text"),
        Column("mtime", "bigint"),
    )
    platforms = ("windows",)

    def _keys_matching(self, parts: list[str]) -> list[str]:
        """Return the existing keys matching `parts` (hive first), expanding LIKE wildcards."""
        current = [parts[0]]
        for part in parts[1:]:
            following: list[str] = []
            for key in current:
                if "%" in part or "_" in part:
                    try:
                        children = self._registry.subkeys(key) or []
                    except OSError:
                        continue
                    pattern = _like(part)
                    following += [f"{key}\\{child}" for child in children if pattern.match(child)]
                else:
                    following.append(f"{key}\\{part}")
                if len(following) > MAX_KEYS:
                    raise TableError(f"registry: the pattern matches more than {MAX_KEYS} keys")
            current = following
        return current

    def _value_rows(self, key: str, name_pattern: str) -> list[Row]:
        try:
            values = self._registry.values(key)
            subkeys = self._registry.subkeys(key)
        except OSError:
            return []
        if values is None:
            return []
        rows: list[Row] = []
        pattern = _like(name_pattern)
        for name, value in values.items():
            if pattern.match(name or "(Default)"):
                rows.append(
                    {
                        "key": key,
                        "path": f"{key}\\{name}",
                        "name": name or "(Default)",
                        "type": value.type,
                        "data": value.as_text(),
                        "mtime": None,
                    }
                )
        for child in subkeys or []:
            if pattern.match(child):
                rows.append(
                    {
                        "key": key,
                        "path": f"{key}\\{child}",
                        "name": child,
                        "type": "subkey",
                        "data": "",
                        "mtime": None,
                    }
                )
        return rows

    def _exact(self, path: str) -> list[Row]:
        key, _, name = normalize_key(path).rpartition("\\")
        try:
            value = value_of(self._registry.values(key), name)
        except OSError:
            return []
        if value is None:
            return []
        return [
            {
                "key": key,
                "path": f"{key}\\{value.name}",
                "name": value.name,
                "type": value.type,
                "data": value.as_text(),
                "mtime": None,
            }
        ]

    def generate(self, context: QueryContext) -> Iterable[Row]:
        wanted = [
            c
            for c in context.constraints
            if c.column == "path" and c.op in (Operator.EQUALS, Operator.LIKE)
        ]
        if not wanted:
            raise TableError(
                "the registry table needs the keys it reads named in the query: "
                "WHERE path = 'HKEY_…\\Key\\Value' or path LIKE 'HKEY_…\\Key\\%'"
            )
        rows: list[Row] = []
        for constraint in wanted:
            try:
                normalized = normalize_key(constraint.expr)
            except ValueError as error:
                raise TableError(f"registry: {error}") from error
            if constraint.op is Operator.EQUALS:
                rows += self._exact(normalized)
                continue
            parts = normalized.split("\\")
            for key in self._keys_matching(parts[:-1]):
                rows += self._value_rows(key, parts[-1])
        return rows
