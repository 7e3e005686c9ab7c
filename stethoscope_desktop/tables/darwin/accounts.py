"""osquery's `users`, `groups` and `user_groups` tables on macOS, from the local directory node.

osquery lists the records of Open Directory's /Local/Default node, sorted by record name, and
fills each row from getpwnam/getgrnam: uid, gid, their signed 32-bit forms, the RealName as
description, NFSHomeDirectory, UserShell, the user's uuid (mbr_uid_to_uuid: the record's
GeneratedUID, or the synthesized FFFFEEEE-DDDD-CCCC-BBBB-AAAA<uid in hex> when it has none) and
is_hidden from the record's IsHidden attribute. Every user may read those attributes:
`dscl -plist . -readall /Users <attributes>` prints them as a property list, which is what is
read here (/usr/bin/dscl, so no PATH is needed).

A `uid = N` (`gid = N` for groups) constraint selects the first record with that id, as
getpwuid/getgrgid do for local accounts. Accounts from a network directory (Active Directory,
LDAP) are not in /Local/Default and osquery does not list them either, except when asked by uid.

`user_groups` lists, for each of those users (or the user a `uid = N` constraint names), what
getgrouplist(3) gives: the primary gid, then every group opendirectoryd resolves the user into.
That is computed here from the same `dscl` output of /Groups, without a process per user: a
group holds a user named in its GroupMembership or whose GeneratedUID is in its GroupMembers,
a group holds the members of every group whose GeneratedUID is in its NestedGroups (followed
transitively: admin is nested in _lpadmin, _developer, com.apple.access_ssh, …), and every local
user is in `everyone` and `localaccounts`, which list nobody. Rows come primary gid first, then
by ascending gid; osquery keeps opendirectoryd's order, which no query can rely on either.
"""

from __future__ import annotations

import plistlib
from collections.abc import Iterable
from typing import Any

from stethoscope_desktop.tables._shared import (
    GROUPS_COLUMNS,
    USER_GROUPS_COLUMNS,
    USERS_COLUMNS,
    MachineTable,
    command_reason,
    run_quiet,
    signed32,
)
from stethoscope_desktop.tables.base import Column, QueryContext, Row, TableError
from stethoscope_desktop.tables.darwin._common import plist_bool
from stethoscope_desktop.tables.system import System

DSCL = "/usr/bin/dscl"
IS_HIDDEN = "dsAttrTypeNative:IsHidden"
USER_ATTRIBUTES = (
    "RecordName",
    "UniqueID",
    "PrimaryGroupID",
    "RealName",
    "NFSHomeDirectory",
    "UserShell",
    "GeneratedUID",
    IS_HIDDEN,
)
GROUP_ATTRIBUTES = (
    "RecordName",
    "PrimaryGroupID",
    "GeneratedUID",
    "GroupMembership",
    "GroupMembers",
    "NestedGroups",
    IS_HIDDEN,
)
# Groups whose members opendirectoryd computes rather than lists: every user, every local user.
IMPLICIT_GROUPS = ("everyone", "localaccounts")
# NestedGroups chains longer than this are not followed (opendirectoryd stops far earlier).
MAX_NESTING = 16
READ_USERS = [DSCL, "-plist", ".", "-readall", "/Users", *USER_ATTRIBUTES]
READ_GROUPS = [DSCL, "-plist", ".", "-readall", "/Groups", *GROUP_ATTRIBUTES]


def _first(record: dict[str, Any], attribute: str) -> str | None:
    key = attribute if ":" in attribute else f"dsAttrTypeStandard:{attribute}"
    values = record.get(key)
    if isinstance(values, list) and values and isinstance(values[0], str):
        return values[0]
    return None


def _all(record: dict[str, Any], attribute: str) -> list[str]:
    values = record.get(f"dsAttrTypeStandard:{attribute}")
    if not isinstance(values, list):
        return []
    return [value for value in values if isinstance(value, str)]


def _id(record: dict[str, Any], attribute: str) -> int | None:
    text = _first(record, attribute)
    try:
        return int(text) & 0xFFFFFFFF if text is not None else None
    except ValueError:
        return None


def read_records(argv: list[str], what: str, system: System) -> list[dict[str, Any]]:
    """Run a `dscl -plist -readall` command and return its records sorted by record name."""
    result = run_quiet(system, argv)
    if isinstance(result, str):
        raise TableError(f"cannot list the local {what}: {result}")
    if not result.ok:
        raise TableError(f"cannot list the local {what}: dscl: {command_reason(result)}")
    try:
        records = plistlib.loads(result.stdout.encode("utf-8"))
    except (plistlib.InvalidFileException, ValueError) as error:
        raise TableError(f"dscl printed no property list of {what}: {error}") from error
    if not isinstance(records, list):
        raise TableError(f"dscl printed no list of {what}")
    named = [r for r in records if isinstance(r, dict) and _first(r, "RecordName")]
    return sorted(named, key=lambda r: str(_first(r, "RecordName")))


def user_uuid(record: dict[str, Any], uid: int) -> str:
    """Return what mbr_uid_to_uuid gives for a local user: its GeneratedUID, else synthesized."""
    generated = _first(record, "GeneratedUID")
    return generated.upper() if generated else f"FFFFEEEE-DDDD-CCCC-BBBB-AAAA{uid:08X}"


def _hidden(record: dict[str, Any]) -> int:
    return int(bool(plist_bool(_first(record, IS_HIDDEN))))


def _select(
    records: list[dict[str, Any]], context: QueryContext, column: str, attribute: str
) -> list[dict[str, Any]]:
    if not context.equals(column):
        return records
    chosen: list[dict[str, Any]] = []
    for text in sorted(context.equals(column)):
        try:
            wanted = int(text.strip()) & 0xFFFFFFFF
        except ValueError:
            continue
        match = next((r for r in records if _id(r, attribute) == wanted), None)
        if match is not None and match not in chosen:
            chosen.append(match)
    return chosen


class Users(MachineTable):
    """Local user accounts (osquery's `users` on macOS)."""

    name = "users"
    columns = (
        *USERS_COLUMNS,
        Column("is_hidden", "integer"),
    )
    platforms = ("darwin",)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        records = read_records(READ_USERS, "users", self._system)
        rows: list[Row] = []
        for record in _select(records, context, "uid", "UniqueID"):
            row: Row = {"username": _first(record, "RecordName"), "is_hidden": _hidden(record)}
            uid, gid = _id(record, "UniqueID"), _id(record, "PrimaryGroupID")
            if uid is not None and gid is not None:
                row.update(
                    {
                        "uid": uid,
                        "gid": gid,
                        "uid_signed": signed32(uid),
                        "gid_signed": signed32(gid),
                        "description": _first(record, "RealName") or "",
                        "directory": _first(record, "NFSHomeDirectory") or "",
                        "shell": _first(record, "UserShell") or "",
                        "uuid": user_uuid(record, uid),
                    }
                )
            rows.append(row)
        return rows


class Groups(MachineTable):
    """Local groups (osquery's `groups` on macOS)."""

    name = "groups"
    columns = (
        *GROUPS_COLUMNS,
        Column("is_hidden", "integer"),
    )
    platforms = ("darwin",)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        records = read_records(READ_GROUPS, "groups", self._system)
        rows: list[Row] = []
        for record in _select(records, context, "gid", "PrimaryGroupID"):
            row: Row = {"groupname": _first(record, "RecordName"), "is_hidden": _hidden(record)}
            gid = _id(record, "PrimaryGroupID")
            if gid is not None:
                row.update({"gid": gid, "gid_signed": signed32(gid)})
            rows.append(row)
        return rows


def group_memberships(
    user: dict[str, Any], groups: list[dict[str, Any]], primary: int
) -> list[int]:
    """Return the gids getgrouplist(3) gives a local user: primary first, then ascending."""
    name = _first(user, "RecordName")
    generated = (_first(user, "GeneratedUID") or "").upper()
    member_of: set[int] = set()
    holding: set[str] = set()  # GeneratedUIDs of the groups found to hold the user
    for group in groups:
        gid = _id(group, "PrimaryGroupID")
        direct = name in _all(group, "GroupMembership") or (
            bool(generated) and generated in {m.upper() for m in _all(group, "GroupMembers")}
        )
        if gid is not None and (direct or _first(group, "RecordName") in IMPLICIT_GROUPS):
            member_of.add(gid)
            holding.add((_first(group, "GeneratedUID") or "").upper())
    for _ in range(MAX_NESTING):
        added = False
        for group in groups:
            gid = _id(group, "PrimaryGroupID")
            if gid is None or gid in member_of:
                continue
            if holding & {n.upper() for n in _all(group, "NestedGroups")}:
                member_of.add(gid)
                holding.add((_first(group, "GeneratedUID") or "").upper())
                added = True
        if not added:
            break
    member_of.discard(primary)
    return [primary, *sorted(member_of)]


class UserGroups(MachineTable):
    """Which groups each local user is in (osquery's `user_groups` on macOS)."""

    name = "user_groups"
    columns = USER_GROUPS_COLUMNS
    platforms = ("darwin",)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        users = read_records(READ_USERS, "users", self._system)
        groups = read_records(READ_GROUPS, "groups", self._system)
        rows: list[Row] = []
        for user in _select(users, context, "uid", "UniqueID"):
            uid, gid = _id(user, "UniqueID"), _id(user, "PrimaryGroupID")
            if uid is None or gid is None:
                continue  # getpwnam finds no such account: osquery skips it too
            rows += [{"uid": uid, "gid": g} for g in group_memberships(user, groups, gid)]
        return rows
