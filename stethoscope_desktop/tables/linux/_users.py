"""The users osquery's usersFromContext picks on Linux, for tables that read each user's files.

Each `uid = N` the query names (a uid not in /etc/passwd is asked of NSS, as `users` does with
include_remote = 1); without one, only the user running the query (osquery's default, `all` false).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from stethoscope_desktop.tables.base import Constraint, Operator, QueryContext
from stethoscope_desktop.tables.system import System


@dataclass(frozen=True)
class UserHome:
    """A user a table reads the files of: ids and home folder."""

    uid: int
    gid: int
    home: str


def current_uid() -> int | None:
    """Return the uid of this process, or None where the platform has none."""
    getuid = getattr(os, "getuid", None)
    return int(getuid()) if getuid is not None else None


def users_from_context(system: System, context: QueryContext, uid: int | None) -> list[UserHome]:
    """Return the users a query's `uid` constraints name, else the user `uid` (this process's)."""
    from stethoscope_desktop.tables.linux.accounts import Users

    uids = sorted(context.equals("uid"))
    ask_nss = bool(uids)
    if not uids:
        if uid is None:
            return []
        uids = [str(uid)]
    users = Users(system)
    found: list[UserHome] = []
    for text in uids:
        by_uid = Constraint("uid", Operator.EQUALS, text)
        chosen = list(users.generate(QueryContext((by_uid,))))
        if not chosen and ask_nss:
            remote = Constraint("include_remote", Operator.EQUALS, "1")
            chosen = list(users.generate(QueryContext((by_uid, remote))))
        for user in chosen:
            home, user_id, gid = user.get("directory"), user.get("uid"), user.get("gid")
            if isinstance(home, str) and home and isinstance(user_id, int):
                found.append(UserHome(user_id, gid if isinstance(gid, int) else -1, home))
    return found
