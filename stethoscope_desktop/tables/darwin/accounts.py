"""osquery's `users` and `groups` tables on macOS, from the local directory node.

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
"""

from __future__ import annotations

import plistlib
from collections.abc import Iterable
from typing import Any

from stethoscope_desktop.tables._shared import (
    GROUPS_COLUMNS,
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
GROUP_ATTRIBUTES = ("RecordName", "PrimaryGroupID", IS_HIDDEN)
READ_USERS = [DSCL, "-plist", ".", "-readall", "/Users", *USER_ATTRIBUTES]
READ_GROUPS = [DSCL, "-plist", ".", "-readall", "/Groups", *GROUP_ATTRIBUTES]


def _first(record: dict[str, Any], attribute: str) -> str | None:
    key = attribute if ":" in attribute else f"dsAttrTypeStandard:{attribute}"
    values = record.get(key)
    if isinstance(values, list) and values and isinstance(values[0], str):
        return values[0]
    return None


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
