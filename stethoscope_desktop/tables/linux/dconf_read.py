"""fleetd's `dconf_read`: one GNOME setting (a dconf key) of one user, as `dconf read` prints it.

fleetd (orbit/pkg/table/dconf_read) runs, as root, `sudo -u USERNAME dconf read KEY` for the
first `username = …` and `key = …` of the query and returns one row whose `value` is what dconf
printed, its final newline included (so `value LIKE '%…%'` is how Fleet's queries compare it);
a key that is not set prints nothing and gives an empty value. Without both constraints, or when
the command fails, fleetd fails the query.

This app runs as you, so it reads only your own settings: `username` must be the user this app
runs as (LOGNAME, USER), and then `dconf read KEY` runs directly, with a timeout. Another user's
settings fail the query with that reason (fleetd, as root, would read them).
"""

from __future__ import annotations

from collections.abc import Iterable

from stethoscope_desktop.tables.base import (
    Column,
    Operator,
    QueryContext,
    Row,
    TableError,
    TablePlugin,
)
from stethoscope_desktop.tables.system import CommandError, System

DCONF_TIMEOUT_S = 5.0


def _first_equal(context: QueryContext, column: str) -> str:
    for constraint in context.constraints:
        if constraint.column == column and constraint.op is Operator.EQUALS:
            return constraint.expr
    return ""


class DconfRead(TablePlugin):
    """fleetd's `dconf_read`: `dconf read KEY` for the user this app runs as."""

    name = "dconf_read"
    columns = (
        Column("username", "text", index=True, required=True),
        Column("key", "text", index=True, required=True),
        Column("value"),
    )
    platforms = ("linux",)

    def __init__(self, system: System) -> None:
        self._system = system

    def _current_user(self) -> str:
        for variable in ("LOGNAME", "USER"):
            value = self._system.env.get(variable, "").strip()
            if value:
                return value
        raise TableError("dconf_read: cannot tell which user this app runs as (no LOGNAME, USER)")

    def generate(self, context: QueryContext) -> Iterable[Row]:
        """Return the row of `dconf read KEY` for the queried (and current) user."""
        username = _first_equal(context, "username")
        if not username:
            raise TableError("dconf_read needs a username: WHERE username = '…'")
        key = _first_equal(context, "key")
        if not key:
            raise TableError("dconf_read needs a key: WHERE key = '/org/gnome/…'")
        current = self._current_user()
        if username != current:
            raise TableError(
                f"dconf_read: only your own settings ({current}) can be read without root; "
                f"the query asks for {username}'s"
            )
        try:
            result = self._system.run(["dconf", "read", key], timeout=DCONF_TIMEOUT_S)
        except CommandError as error:
            raise TableError(f"dconf_read: {error}") from error
        if not result.ok:
            detail = result.stderr.strip() or f"exit status {result.returncode}"
            raise TableError(f"dconf read {key} failed: {detail}")
        return [{"username": username, "key": key, "value": result.stdout}]
