"""macOS users and groups from recorded `dscl -plist . -readall` outputs, as osquery fills them."""

from __future__ import annotations

from pathlib import Path

import pytest

from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.tables.base import TableError
from stethoscope_desktop.tables.catalog import builtin_tables
from stethoscope_desktop.tables.darwin.accounts import READ_USERS, Groups, UserGroups, Users
from tests.fakes import FakeSystem, result
from tests.tables.darwin.helpers import load_mac
from tests.tables.linux.helpers import equals, rows


def test_users_sorted_by_record_name_with_osquerys_columns(tmp_path: Path) -> None:
    generated = rows(Users(load_mac("sonoma-14", tmp_path)))
    assert [r["username"] for r in generated] == [
        "_www",
        "daemon",
        "dana",
        "it-support",
        "nobody",
        "root",
    ]
    by_name = {r["username"]: r for r in generated}
    assert by_name["dana"] == {
        "username": "dana",
        "is_hidden": 0,
        "uid": 501,
        "gid": 20,
        "uid_signed": 501,
        "gid_signed": 20,
        "description": "Dana Whitfield",
        "directory": "/Users/dana",
        "shell": "/bin/zsh",
        "uuid": "A47D2E33-1E4A-4B72-88F6-33F2C7A6D003",
    }
    nobody = by_name["nobody"]
    assert (nobody["uid"], nobody["uid_signed"], nobody["gid_signed"]) == (4294967294, -2, -2)
    assert by_name["it-support"]["is_hidden"] == 1


def test_users_uid_constraint_and_synthesized_uuid(tmp_path: Path) -> None:
    system = FakeSystem(
        tmp_path,
        commands=dict(
            [
                result(
                    READ_USERS,
                    "<plist><array><dict>"
                    "<key>dsAttrTypeStandard:RecordName</key><array><string>svc</string></array>"
                    "<key>dsAttrTypeStandard:UniqueID</key><array><string>248</string></array>"
                    "<key>dsAttrTypeStandard:PrimaryGroupID</key><array><string>-2</string></array>"
                    "</dict></array></plist>",
                )
            ]
        ),
    )
    (row,) = rows(Users(system), equals("uid", "248", "9"))
    assert (row["uuid"], row["description"], row["gid"]) == (
        "FFFFEEEE-DDDD-CCCC-BBBB-AAAA000000F8",
        "",
        4294967294,
    )


def test_users_when_dscl_fails(tmp_path: Path) -> None:
    with pytest.raises(TableError, match="cannot list the local users"):
        rows(Users(FakeSystem(tmp_path)))
    broken = FakeSystem(tmp_path, commands=dict([result(READ_USERS, "not a plist")]))
    with pytest.raises(TableError, match="no property list"):
        rows(Users(broken))


def test_groups(tmp_path: Path) -> None:
    system = load_mac("ventura-13", tmp_path)
    generated = rows(Groups(system))
    assert [(r["groupname"], r["gid"], r["gid_signed"]) for r in generated][:3] == [
        ("admin", 80, 80),
        ("com.apple.access_ssh-disabled", 399, 399),
        ("daemon", 1, 1),
    ]
    assert [r["is_hidden"] for r in generated if r["gid"] == 399] == [1]
    assert [r["groupname"] for r in rows(Groups(system), equals("gid", "4294967295"))] == [
        "nogroup"
    ]


def test_only_root_has_uid_0_on_a_mac(tmp_path: Path) -> None:
    engine = EmbeddedEngine(builtin_tables("darwin", load_mac("sequoia-15", tmp_path)))
    try:
        with engine.begin_scan() as session:
            others = session.query(
                "SELECT username FROM users WHERE uid = 0 AND username != 'root'"
            ).rows
            admins = session.query(
                "SELECT u.username FROM users u JOIN groups g ON g.gid = u.gid "
                "WHERE g.groupname = 'staff' AND u.is_hidden = 0"
            ).rows
    finally:
        engine.close()
    assert others == ()
    assert admins == ({"username": "eli"},)


def test_user_groups_resolve_membership_nesting_and_implicit_groups(tmp_path: Path) -> None:
    generated = rows(UserGroups(load_mac("sonoma-14", tmp_path)))
    by_uid: dict[object, list[object]] = {}
    for row in generated:
        by_uid.setdefault(row["uid"], []).append(row["gid"])
    # Users in record-name order; each user's primary gid first, then ascending.
    assert list(by_uid) == [70, 1, 501, 502, 4294967294, 0]
    # admin by name, then nested into _lpadmin and _developer, and through _developer into
    # the ssh access group; everyone and localaccounts hold every local user.
    assert by_uid[501] == [20, 12, 61, 80, 98, 204, 399]
    # it-support is in admin only by its GeneratedUID (GroupMembers, another letter case).
    assert by_uid[502] == by_uid[501]
    assert by_uid[0] == [0, 1, 12, 20, 61, 80, 98, 204, 399]
    assert by_uid[70] == [70, 12, 61]
    assert by_uid[4294967294] == [4294967294, 12, 61]


def test_user_groups_uid_constraint(tmp_path: Path) -> None:
    system = load_mac("sequoia-15", tmp_path)
    chosen = rows(UserGroups(system), equals("uid", "501", "777"))
    assert [(r["uid"], r["gid"]) for r in chosen] == [
        (501, 20),
        (501, 12),
        (501, 61),
        (501, 80),
        (501, 98),
        (501, 204),
        (501, 399),
    ]


def test_user_groups_without_membership_attributes(tmp_path: Path) -> None:
    # A recorded Mac whose groups carry no membership (and no localaccounts record): the primary
    # group and everyone, which holds every user without listing them.
    generated = rows(UserGroups(load_mac("ventura-13", tmp_path)), equals("uid", "501"))
    assert [r["gid"] for r in generated] == [20, 12]


def test_admins_by_user_groups_on_the_engine(tmp_path: Path) -> None:
    engine = EmbeddedEngine(builtin_tables("darwin", load_mac("sonoma-14", tmp_path)))
    try:
        with engine.begin_scan() as session:
            admins = session.query(
                "SELECT u.username FROM users u JOIN user_groups ug USING (uid) "
                "JOIN groups g ON g.gid = ug.gid WHERE g.groupname = 'admin' ORDER BY u.username"
            ).rows
    finally:
        engine.close()
    assert admins == ({"username": "dana"}, {"username": "it-support"}, {"username": "root"})


def test_user_groups_when_dscl_fails(tmp_path: Path) -> None:
    with pytest.raises(TableError, match="cannot list the local users"):
        rows(UserGroups(FakeSystem(tmp_path)))
