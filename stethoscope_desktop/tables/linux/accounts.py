"""osquery's `users`, `groups` and `user_groups` tables on Linux, from /etc/passwd and /etc/group.

osquery's `users` reads /etc/passwd itself (fgetpwent) so that it never asks an LDAP directory,
unless the query sets the hidden column `include_remote = 1`; then it asks NSS (getpwent), which
here is `getent passwd`. Its `groups` and `user_groups` ask NSS (getgrent, getpwent and
getgrouplist); on a machine without a directory service NSS answers from the same two files, and
these tables read them directly: a directory's groups are not listed.

Lines are parsed as glibc's files backend parses them: blank lines and `#` comments are skipped,
a line whose ids are not numbers is skipped, the shell is the rest of the line. Columns are filled
as osquery fills them: `uid_signed`/`gid_signed` are the ids as signed 32-bit numbers (4294967294
is -2), `description` is the GECOS field, `uuid` is NULL (osquery sets it only on macOS and
Windows), `pid_with_namespace` is 0 and `include_remote` says which source answered.

A `pid_with_namespace = N` constraint reads the files of process N's root (/proc/N/root/etc/...),
which is what osquery's run inside that process's namespaces gives; only the user's own processes
can be read so without root.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from stethoscope_desktop.tables._shared import (
    GROUPS_COLUMNS,
    USER_GROUPS_COLUMNS,
    USERS_COLUMNS,
    signed32,
)
from stethoscope_desktop.tables.base import Column, QueryContext, Row, TableError
from stethoscope_desktop.tables.linux._common import (
    MachineTable,
    command_reason,
    os_error_reason,
    run_quiet,
)
from stethoscope_desktop.tables.system import System

PASSWD_PATH = "/etc/passwd"
GROUP_PATH = "/etc/group"
# Account databases are small; a 16 MiB one would be a directory's dump, still readable.
_ACCOUNTS_FILE_LIMIT = 16 * 1024 * 1024
_ID = re.compile(r"[0-9]+")
_MAX_ID = 0xFFFFFFFF


def _parse_id(text: str) -> int | None:
    if not _ID.fullmatch(text):
        return None
    value = int(text)
    return value if value <= _MAX_ID else None


def _content_lines(text: str) -> Iterable[str]:
    for raw in text.splitlines():
        line = raw.lstrip()
        if line and not line.startswith("#"):
            yield raw


@dataclass(frozen=True)
class PasswdEntry:
    """One account of a passwd file."""

    name: str
    uid: int
    gid: int
    gecos: str
    directory: str
    shell: str


@dataclass(frozen=True)
class GroupEntry:
    """One group of a group file, with its listed (supplementary) members."""

    name: str
    gid: int
    members: tuple[str, ...]


def parse_passwd(text: str) -> list[PasswdEntry]:
    """Parse passwd(5) lines; lines that glibc would not accept are skipped."""
    entries: list[PasswdEntry] = []
    for line in _content_lines(text):
        fields = line.split(":", 6)
        if len(fields) < 7 or not fields[0]:
            continue
        uid, gid = _parse_id(fields[2]), _parse_id(fields[3])
        if uid is None or gid is None:
            continue
        entries.append(PasswdEntry(fields[0], uid, gid, fields[4], fields[5], fields[6]))
    return entries


def parse_group(text: str) -> list[GroupEntry]:
    """Parse group(5) lines; lines that glibc would not accept are skipped."""
    entries: list[GroupEntry] = []
    for line in _content_lines(text):
        fields = line.split(":", 3)
        if len(fields) < 3 or not fields[0]:
            continue
        gid = _parse_id(fields[2])
        if gid is None:
            continue
        members = fields[3] if len(fields) > 3 else ""
        entries.append(
            GroupEntry(fields[0], gid, tuple(m.strip() for m in members.split(",") if m.strip()))
        )
    return entries


def read_account_file(system: System, path: str) -> str:
    """Return an account database file's text; raise TableError saying why it cannot be read."""
    try:
        return system.read_text(path, limit=_ACCOUNTS_FILE_LIMIT)
    except OSError as error:
        raise TableError(f"cannot read {path}: {os_error_reason(error)}") from error


def requested_ids(context: QueryContext, column: str) -> set[int]:
    """Return the ids a query asks `column` to equal, as osquery reads them (base 10)."""
    ids: set[int] = set()
    for text in context.equals(column):
        try:
            ids.add(int(text.strip(), 10) & _MAX_ID)
        except ValueError:
            continue
    return ids


def namespace_pids(context: QueryContext) -> list[int]:
    """Return the pids of a `pid_with_namespace = N` constraint (non-numbers are dropped)."""
    pids: list[int] = []
    for text in sorted(context.equals("pid_with_namespace")):
        try:
            pid = int(text.strip())
        except ValueError:
            continue
        if pid > 0:
            pids.append(pid)
    return pids


def namespace_file(system: System, pid: int, path: str) -> str:
    """Return `path` as process `pid` sees it; raise TableError when it cannot be read."""
    rooted = f"/proc/{pid}/root{path}"
    try:
        return system.read_text(rooted, limit=_ACCOUNTS_FILE_LIMIT)
    except FileNotFoundError:
        if not system.exists(f"/proc/{pid}"):
            return ""
        raise TableError(f"cannot read {rooted}: not found") from None
    except OSError as error:
        raise TableError(
            f"cannot read {rooted}: {os_error_reason(error)}; another user's process can be "
            "looked into only by root"
        ) from error


class Users(MachineTable):
    """Local user accounts (osquery's `users`)."""

    name = "users"
    columns = (
        *USERS_COLUMNS,
        Column("pid_with_namespace", "integer", hidden=True),
        Column("include_remote", "integer", hidden=True),
    )
    platforms = ("linux",)

    @staticmethod
    def _row(entry: PasswdEntry, *, include_remote: int, pid_with_namespace: int = 0) -> Row:
        return {
            "uid": entry.uid,
            "gid": entry.gid,
            "uid_signed": signed32(entry.uid),
            "gid_signed": signed32(entry.gid),
            "username": entry.name,
            "description": entry.gecos,
            "directory": entry.directory,
            "shell": entry.shell,
            "uuid": None,
            "pid_with_namespace": pid_with_namespace,
            "include_remote": include_remote,
        }

    @staticmethod
    def _selected(entries: Sequence[PasswdEntry], context: QueryContext) -> list[PasswdEntry]:
        # osquery's local reader: username constraints win over uid constraints.
        names = context.equals("username")
        if names:
            return [entry for entry in entries if entry.name in names]
        uids = requested_ids(context, "uid")
        if context.equals("uid"):
            return [entry for entry in entries if entry.uid in uids]
        return list(entries)

    def _remote_entries(self, context: QueryContext) -> list[PasswdEntry]:
        keys: list[str] = []
        if context.equals("uid"):
            keys = [str(uid) for uid in sorted(requested_ids(context, "uid"))]
            if not keys:
                return []
        elif context.equals("username"):
            keys = sorted(context.equals("username"))
        entries: list[PasswdEntry] = []
        for key_set in [[key] for key in keys] if keys else [[]]:
            result = run_quiet(self._system, ["getent", "passwd", *key_set])
            if isinstance(result, str):
                raise TableError(f"users with include_remote = 1 asks NSS (getent): {result}")
            if result.returncode == 2:  # getent: key not found / nothing to enumerate
                continue
            if not result.ok:
                raise TableError(f"getent passwd failed: {command_reason(result)}")
            # getpwuid/getpwnam give the first match only.
            found = parse_passwd(result.stdout)
            entries += found[:1] if key_set else found
        return entries

    def generate(self, context: QueryContext) -> Iterable[Row]:
        pids = namespace_pids(context)
        if pids:
            rows: list[Row] = []
            for pid in pids:
                entries = parse_passwd(namespace_file(self._system, pid, PASSWD_PATH))
                rows += [
                    self._row(entry, include_remote=0, pid_with_namespace=pid)
                    for entry in self._selected(entries, context)
                ]
            return rows
        if "1" in {value.strip() for value in context.equals("include_remote")}:
            return [self._row(entry, include_remote=1) for entry in self._remote_entries(context)]
        entries = parse_passwd(read_account_file(self._system, PASSWD_PATH))
        return [self._row(entry, include_remote=0) for entry in self._selected(entries, context)]


class Groups(MachineTable):
    """Local groups (osquery's `groups`), one row per gid."""

    name = "groups"
    columns = (
        *GROUPS_COLUMNS,
        Column("pid_with_namespace", "integer", hidden=True),
    )
    platforms = ("linux",)

    @staticmethod
    def _rows(entries: Sequence[GroupEntry], context: QueryContext, pid: int) -> list[Row]:
        # getgrent lists each gid once (the first line wins); getgrgid gives the first match.
        first: dict[int, GroupEntry] = {}
        for entry in entries:
            first.setdefault(entry.gid, entry)
        chosen = list(first.values())
        if context.equals("gid"):
            gids = requested_ids(context, "gid")
            chosen = [entry for entry in chosen if entry.gid in gids]
        return [
            {
                "gid": entry.gid,
                "gid_signed": signed32(entry.gid),
                "groupname": entry.name,
                "pid_with_namespace": pid,
            }
            for entry in chosen
        ]

    def generate(self, context: QueryContext) -> Iterable[Row]:
        pids = namespace_pids(context)
        if pids:
            rows: list[Row] = []
            for pid in pids:
                text = namespace_file(self._system, pid, GROUP_PATH)
                rows += self._rows(parse_group(text), context, pid)
            return rows
        return self._rows(parse_group(read_account_file(self._system, GROUP_PATH)), context, 0)


def group_list(user: PasswdEntry, groups: Sequence[GroupEntry]) -> list[int]:
    """Return a user's groups as getgrouplist(3) gives them.

    The primary gid first, then each group that lists the user as a member, in file order, each
    gid once.
    """
    gids = [user.gid]
    for group in groups:
        if user.name in group.members and group.gid not in gids:
            gids.append(group.gid)
    return gids


class UserGroups(MachineTable):
    """Which groups each local user is in (osquery's `user_groups`): primary and supplementary."""

    name = "user_groups"
    columns = USER_GROUPS_COLUMNS
    platforms = ("linux",)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        users = parse_passwd(read_account_file(self._system, PASSWD_PATH))
        groups = parse_group(read_account_file(self._system, GROUP_PATH))
        chosen: dict[int, PasswdEntry] = {}
        for user in users:
            chosen.setdefault(user.uid, user)  # getpwent: each uid once; getpwuid: the first
        if context.equals("uid"):
            uids = requested_ids(context, "uid")
            chosen = {uid: user for uid, user in chosen.items() if uid in uids}
        return [
            {"uid": user.uid, "gid": gid}
            for user in chosen.values()
            for gid in group_list(user, groups)
        ]
