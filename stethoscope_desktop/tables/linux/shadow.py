"""osquery's `shadow` table on Linux: password state and ageing of local accounts, from /etc/shadow.

/etc/shadow is readable only by root (and the shadow group), and osquery's table is empty unless
osquery runs as root. Unprivileged, this table raises an error that says so, so a check built on
it is UNKNOWN with that reason instead of passing or failing on no rows. When the file can be
read (the app running as root), rows are filled as osquery fills them:
- password_status: "not_set" for `!!`, "locked" when the field starts with `!`, `*` or `x`,
  "empty" when it is empty, else "active";
- hash_alg: the id of a `$id$...` crypt hash ("6" for SHA-512, "y" for yescrypt), else NULL;
- last_change, min, max, warning, inactive, expire, flag: the numbers, -1 where a field is empty
  (glibc's convention); lines glibc would reject are skipped.
A `username = '...'` constraint gives that account's first line only (getspnam).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from stethoscope_desktop.tables.base import Column, QueryContext, Row
from stethoscope_desktop.tables.linux._common import (
    MachineTable,
    root_only_read_error,
)

SHADOW_PATH = "/etc/shadow"
_SHADOW_LIMIT = 16 * 1024 * 1024
_HASH_ALG = re.compile(r"^\$(\w+)\$")
_NUMBER = re.compile(r"-?[0-9]+")
_NUMERIC_COLUMNS = ("last_change", "min", "max", "warning", "inactive", "expire", "flag")


def password_status(password: str) -> str:
    """Classify a shadow password field as osquery does."""
    if password == "!!":
        return "not_set"
    if password.startswith(("!", "*", "x")):
        return "locked"
    if password == "":
        return "empty"
    return "active"


def parse_shadow(text: str) -> list[Row]:
    """Parse shadow(5) lines into rows of osquery's columns."""
    rows: list[Row] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split(":")
        if len(fields) < 2 or not fields[0]:
            continue
        numbers: list[int] = []
        for text_value in (fields[2:9] + [""] * 7)[:7]:
            if text_value == "":
                numbers.append(-1)
            elif _NUMBER.fullmatch(text_value):
                numbers.append(int(text_value))
            else:
                break
        if len(numbers) < 7:
            continue
        password = fields[1]
        match = _HASH_ALG.search(password)
        row: Row = {
            "password_status": password_status(password),
            "hash_alg": match.group(1) if match else None,
            "username": fields[0],
        }
        row.update(zip(_NUMERIC_COLUMNS, numbers, strict=True))
        rows.append(row)
    return rows


class Shadow(MachineTable):
    """Local accounts' password state and ageing (osquery's `shadow`); root only."""

    name = "shadow"
    columns = (
        Column("password_status", "text"),
        Column("hash_alg", "text"),
        Column("last_change", "bigint"),
        Column("min", "bigint"),
        Column("max", "bigint"),
        Column("warning", "bigint"),
        Column("inactive", "bigint"),
        Column("expire", "bigint"),
        Column("flag", "bigint"),
        Column("username", "text", index=True),
    )
    platforms = ("linux",)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        try:
            text = self._system.read_text(SHADOW_PATH, limit=_SHADOW_LIMIT)
        except FileNotFoundError:
            return []
        except OSError as error:
            raise root_only_read_error(
                "shadow", SHADOW_PATH, error, "password states and ageing"
            ) from error
        rows = parse_shadow(text)
        names = context.equals("username")
        if not names:
            return rows
        first: dict[str, Row] = {}
        for row in rows:
            first.setdefault(str(row["username"]), row)
        return [first[name] for name in sorted(names) if name in first]
