"""Windows users, groups and user_groups from recorded NetAPI answers and the ProfileList."""

from __future__ import annotations

from pathlib import Path

import pytest

from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.tables.base import TableError
from stethoscope_desktop.tables.windows import windows_tables
from stethoscope_desktop.tables.windows.accounts import Groups, UserGroups, Users, rid
from tests.tables.linux.helpers import equals, rows
from tests.tables.windows.helpers import FakeRegistry, load_accounts, load_windows

MACHINE_SID = "S-1-5-21-3623811015-3361044348-30300820"
DOMAIN_SID = "S-1-5-21-1004336348-1177238915-682003330"


def _tables(tmp_path: Path) -> tuple[Users, Groups, UserGroups]:
    system, registry = load_windows("win11-23h2", tmp_path)
    accounts = load_accounts("win11-23h2")
    return (
        Users(system, registry, accounts),
        Groups(system, registry, accounts),
        UserGroups(system, registry, accounts),
    )


def test_users_local_then_profiles_as_osquery(tmp_path: Path) -> None:
    users, _, _ = _tables(tmp_path)
    generated = rows(users)
    assert [(r["username"], r["type"]) for r in generated] == [
        ("Administrator", "local"),
        ("DefaultAccount", "local"),
        ("Guest", "local"),
        ("itadmin", "local"),
        ("WDAGUtilityAccount", "local"),
        ("SYSTEM", "special"),
        ("LOCAL SERVICE", "special"),
        ("NETWORK SERVICE", "special"),
        ("", "roaming"),
        ("ben.ortiz", "roaming"),
    ]
    by_name = {r["username"]: r for r in generated}
    assert by_name["itadmin"] == {
        "uid": 1001,
        "gid": 544,  # its first local group, Administrators
        "uid_signed": 1001,
        "gid_signed": 544,
        "username": "itadmin",
        "description": "Local support account",
        "directory": "C:\\Users\\itadmin",
        "shell": "C:\\Windows\\system32\\cmd.exe",
        "uuid": f"{MACHINE_SID}-1001",
        "type": "local",
    }
    # No local group: the primary group id; no profile: no directory.
    assert (by_name["WDAGUtilityAccount"]["gid"], by_name["WDAGUtilityAccount"]["directory"]) == (
        513,
        "",
    )
    system = by_name["SYSTEM"]
    assert (system["uid"], system["gid"], system["directory"]) == (
        18,
        18,
        "%systemroot%\\system32\\config\\systemprofile",
    )
    ben = by_name["ben.ortiz"]
    assert (ben["uid"], ben["gid"], ben["description"], ben["uuid"]) == (
        4117,
        555,
        "",
        f"{DOMAIN_SID}-4117",
    )
    orphan = by_name[""]
    assert (orphan["uid"], orphan["gid"], orphan["gid_signed"], orphan["directory"]) == (
        2290,
        4294967295,
        -1,
        "C:\\Users\\m.keller",
    )


def test_groups(tmp_path: Path) -> None:
    _, groups, _ = _tables(tmp_path)
    by_name = {r["groupname"]: r for r in rows(groups)}
    assert len(by_name) == 6
    assert by_name["Administrators"] == {
        "gid": 544,
        "gid_signed": 544,
        "groupname": "Administrators",
        "group_sid": "S-1-5-32-544",
        "comment": "Administrators have complete and unrestricted access to the computer/domain",
    }


def test_user_groups_indirect_and_skipped_service_accounts(tmp_path: Path) -> None:
    _, _, user_groups = _tables(tmp_path)
    pairs = [(r["uid"], r["gid"]) for r in rows(user_groups)]
    assert pairs == [
        (500, 544),
        (503, 581),
        (501, 546),
        (1001, 544),
        (1001, 545),
        (4117, 555),
        (4117, 545),  # Users through the domain's Domain Users
    ]
    assert rows(user_groups, equals("uid", "4117")) == [
        {"uid": 4117, "gid": 555},
        {"uid": 4117, "gid": 545},
    ]


def test_who_is_an_administrator_on_the_engine(tmp_path: Path) -> None:
    system, registry = load_windows("win11-23h2", tmp_path)
    engine = EmbeddedEngine(windows_tables(system, registry, load_accounts("win11-23h2")))
    try:
        with engine.begin_scan() as session:
            admins = session.query(
                "SELECT u.username FROM users u JOIN user_groups ug ON ug.uid = u.uid "
                "JOIN groups g ON g.gid = ug.gid WHERE g.group_sid = 'S-1-5-32-544' "
                "AND u.type = 'local' ORDER BY u.username"
            ).rows
    finally:
        engine.close()
    assert admins == ({"username": "Administrator"}, {"username": "itadmin"})


def test_without_a_profile_list_and_when_netapi_fails(tmp_path: Path) -> None:
    system, _ = load_windows("win11-23h2", tmp_path)
    accounts = load_accounts("win11-23h2")
    bare = rows(Users(system, FakeRegistry(), accounts))
    assert [r["type"] for r in bare] == ["local"] * 5
    denied = FakeRegistry(denied=["HKEY_LOCAL_MACHINE\\SOFTWARE"])
    assert len(rows(Users(system, denied, accounts))) == 5
    accounts.failing = True
    with pytest.raises(TableError, match="cannot list the local users: NetUserEnum failed"):
        rows(Users(system, FakeRegistry(), accounts))
    with pytest.raises(TableError, match="cannot list the local groups"):
        rows(Groups(system, FakeRegistry(), accounts))


def test_rid() -> None:
    assert rid(f"{MACHINE_SID}-1001") == 1001
    assert rid("S-1-5-18") == 18
    assert rid("not a sid") is None


def test_off_windows_the_real_adapter_says_why(tmp_path: Path) -> None:
    system, registry = load_windows("win11-23h2", tmp_path)
    with pytest.raises(TableError, match="exist only on Windows"):
        rows(Users(system, registry))
