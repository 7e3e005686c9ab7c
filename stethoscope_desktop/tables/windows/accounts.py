r"""osquery's `users`, `groups` and `user_groups` tables on Windows, as osquery fills them.

Read through the `Accounts` adapter (netapi32 and advapi32, the calls osquery makes) and the
registry's ProfileList (HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion\
ProfileList), all readable by every user:
- users: first the normal local accounts (type "local"), then every ProfileList SID not among
  them: "special" for the well-known service SIDs (S-1-5-18 SYSTEM, -19, -20, …), "roaming"
  for the others (domain and Entra ID users who have a profile here). uid is the SID's last
  number (its RID); gid the RID of the user's first local group, else its primary group id,
  else the uid; a profile SID that no longer resolves to a name has username '' and gid
  4294967295 (gid_signed -1). description is the account's comment, directory the profile's
  ProfileImagePath as stored (unexpanded), shell always C:\Windows\system32\cmd.exe (osquery
  hard-codes it), uuid the SID.
- groups: the local groups, gid the RID of their SID, with group_sid and comment.
- user_groups: for each user, the local groups NetUserGetLocalGroups gives with indirect
  membership (through domain groups too), matched to `groups` by name. Without a uid
  constraint SYSTEM, LOCAL SERVICE and NETWORK SERVICE are skipped, as osquery skips them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from stethoscope_desktop.tables._shared import (
    GROUPS_COLUMNS,
    USER_GROUPS_COLUMNS,
    USERS_COLUMNS,
    signed32,
)
from stethoscope_desktop.tables.base import Column, QueryContext, Row, TableError
from stethoscope_desktop.tables.system import System
from stethoscope_desktop.tables.windows._accounts import (
    AccountGroup,
    Accounts,
    AccountsError,
    NetApiAccounts,
)
from stethoscope_desktop.tables.windows._common import WindowsTable
from stethoscope_desktop.tables.windows._registry import Registry, read_value

PROFILE_LIST = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList"
SHELL = "C:\\Windows\\system32\\cmd.exe"
WELL_KNOWN_SIDS = frozenset(
    [f"S-1-5-{n}" for n in (1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 18, 19, 20, 21, 32)]
)
SERVICE_ACCOUNTS = frozenset(["LOCAL SERVICE", "SYSTEM", "NETWORK SERVICE"])
_SID = re.compile(r"^S-1-\d+(?:-\d+)*$", re.IGNORECASE)
UNRESOLVED_GID = 0xFFFFFFFF


def rid(sid: str) -> int | None:
    """Return a SID's last sub-authority (its RID), None when `sid` is not a SID string."""
    if not _SID.match(sid):
        return None
    return int(sid.rsplit("-", 1)[-1]) & 0xFFFFFFFF


class AccountsTable(WindowsTable):
    """A Windows table that also reads the local account database."""

    def __init__(self, system: System, registry: Registry, accounts: Accounts | None = None):
        super().__init__(system, registry)
        self._accounts: Accounts = accounts if accounts is not None else NetApiAccounts()

    def _groups(self) -> list[AccountGroup]:
        try:
            return self._accounts.groups()
        except AccountsError as error:
            raise TableError(f"cannot list the local groups: {error}") from error

    def _gid(self, name: str, groups: dict[str, AccountGroup]) -> int | None:
        """osquery's getGidFromUsername: the first local group's RID, else the primary group."""
        first = self._accounts.local_groups_of(name, indirect=False)
        if first:
            group = groups.get(first[0].casefold())
            sid = group.sid if group is not None else self._accounts.account_sid(first[0])
            return rid(sid) if sid is not None else None
        user = self._accounts.user(name)
        return user.primary_group_id if user is not None else None

    def _profile_dir(self, sid: str) -> str:
        try:
            found = read_value(self._registry, f"{PROFILE_LIST}\\{sid}", "ProfileImagePath")
        except OSError:
            return ""
        if found is None or found.type not in ("REG_SZ", "REG_EXPAND_SZ", "REG_MULTI_SZ"):
            return ""
        data = found.data
        return (
            data[0] if isinstance(data, tuple) and data else data if isinstance(data, str) else ""
        )

    def _profile_sids(self) -> list[str]:
        try:
            return self._registry.subkeys(PROFILE_LIST) or []
        except OSError:
            return []  # osquery lists the local accounts alone then

    def user_rows(self) -> list[Row]:
        """Every row of `users`, in osquery's order: local accounts, then other profiles."""
        try:
            local = self._accounts.users()
        except AccountsError as error:
            raise TableError(f"cannot list the local users: {error}") from error
        groups = {group.name.casefold(): group for group in self._groups()}
        rows: list[Row] = []
        seen: set[str] = set()
        for user in local:
            uid = rid(user.sid)
            if uid is None:
                continue
            seen.add(user.sid.casefold())
            gid = self._gid(user.name, groups)
            rows.append(self._row(user.name, uid, uid if gid is None else gid, user.sid, "local"))
            rows[-1]["description"] = user.comment
        for sid in self._profile_sids():
            uid = rid(sid)
            if uid is None or sid.casefold() in seen:
                continue
            kind = "special" if sid.upper() in WELL_KNOWN_SIDS else "roaming"
            name = self._accounts.account_name(sid)
            if name is None:
                rows.append(self._row("", uid, UNRESOLVED_GID, sid, kind))
                continue
            gid = self._gid(name, groups)
            row = self._row(name, uid, uid if gid is None else gid, sid, kind)
            found = self._accounts.user(name)
            row["description"] = found.comment if found is not None else ""
            rows.append(row)
        return rows

    def _row(self, name: str, uid: int, gid: int, sid: str, kind: str) -> Row:
        return {
            "uid": uid,
            "gid": gid,
            "uid_signed": signed32(uid),
            "gid_signed": signed32(gid),
            "username": name,
            "description": "",
            "directory": self._profile_dir(sid),
            "shell": SHELL,
            "uuid": sid,
            "type": kind,
        }


class Users(AccountsTable):
    """Local and profile user accounts (osquery's `users` on Windows)."""

    name = "users"
    columns = (
        *USERS_COLUMNS,
        Column("type", "text"),
    )
    platforms = ("windows",)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        return self.user_rows()


class Groups(AccountsTable):
    """Local groups (osquery's `groups` on Windows)."""

    name = "groups"
    columns = (
        *GROUPS_COLUMNS,
        Column("group_sid", "text", index=True),
        Column("comment", "text"),
    )
    platforms = ("windows",)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        rows: list[Row] = []
        for group in self._groups():
            gid = rid(group.sid)
            if gid is None:
                continue
            rows.append(
                {
                    "gid": gid,
                    "gid_signed": signed32(gid),
                    "groupname": group.name,
                    "group_sid": group.sid,
                    "comment": group.comment,
                }
            )
        return rows


class UserGroups(AccountsTable):
    """Which local groups each user is in, directly or through domain groups (`user_groups`)."""

    name = "user_groups"
    columns = USER_GROUPS_COLUMNS
    platforms = ("windows",)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        users = self.user_rows()
        wanted: set[int] = set()
        for text in context.equals("uid"):
            try:
                wanted.add(int(text.strip()) & 0xFFFFFFFF)
            except ValueError:
                continue
        if context.equals("uid"):
            users = [user for user in users if user["uid"] in wanted]
        else:
            users = [user for user in users if user["username"] not in SERVICE_ACCOUNTS]
        groups = {group.name.casefold(): group for group in self._groups()}
        rows: list[Row] = []
        for user in users:
            name = str(user["username"])
            if not name:
                continue
            for group_name in self._accounts.local_groups_of(name, indirect=True):
                group = groups.get(group_name.casefold())
                gid = rid(group.sid) if group is not None else None
                if gid is not None:
                    rows.append({"uid": user["uid"], "gid": gid})
        return rows
