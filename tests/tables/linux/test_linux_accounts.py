"""users, groups, user_groups and shadow against a fake root, per constraint form, and as checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from stethoscope_desktop.tables._shared import signed32
from stethoscope_desktop.tables.base import Constraint, Operator, QueryContext, TableError
from stethoscope_desktop.tables.linux.accounts import (
    Groups,
    UserGroups,
    Users,
    group_list,
    parse_group,
    parse_passwd,
)
from stethoscope_desktop.tables.linux.shadow import Shadow, password_status
from tests.fakes import FakeSystem, result
from tests.tables.linux.helpers import equals, load_root, rows


@pytest.fixture
def system(tmp_path: Path) -> FakeSystem:
    return FakeSystem(load_root("accounts-debian", tmp_path))


def test_signed32_casts_like_c() -> None:
    assert [signed32(0), signed32(1000), signed32(4294967294), signed32(2**31)] == [
        0,
        1000,
        -2,
        -(2**31),
    ]


def test_passwd_parsing_skips_what_glibc_skips() -> None:
    entries = parse_passwd(
        "a:x:1:2:g,e,c:/h:/bin/sh:extra\n#c:x:3:3::/:/x\nb:x:-1:2::/:/x\nc:x:5\n"
    )
    assert [(e.name, e.uid, e.gid, e.gecos, e.shell) for e in entries] == [
        ("a", 1, 2, "g,e,c", "/bin/sh:extra")
    ]


def test_users_fills_every_linux_column(system: FakeSystem) -> None:
    generated = rows(Users(system))
    assert [row["username"] for row in generated] == [
        "root",
        "daemon",
        "sync",
        "toor",
        "alice",
        "bob",
        "nfsnobody",
        "ghost",
    ]
    assert generated[4] == {
        "uid": 1000,
        "gid": 1000,
        "uid_signed": 1000,
        "gid_signed": 1000,
        "username": "alice",
        "description": "Alice Example,,,",
        "directory": "/home/alice",
        "shell": "/bin/bash",
        "uuid": None,
        "pid_with_namespace": 0,
        "include_remote": 0,
    }
    nobody = generated[6]
    assert (nobody["uid"], nobody["uid_signed"], nobody["gid_signed"]) == (4294967294, -2, -2)


def test_users_uid_and_username_constraints(system: FakeSystem) -> None:
    assert [r["username"] for r in rows(Users(system), equals("uid", "0"))] == ["root", "toor"]
    assert [r["uid"] for r in rows(Users(system), equals("username", "bob", "nobody"))] == [1001]
    both = QueryContext(
        (Constraint("uid", Operator.EQUALS, "0"), Constraint("username", Operator.EQUALS, "bob"))
    )
    # osquery's local reader: a username constraint wins; SQLite then applies the uid one.
    assert [r["username"] for r in rows(Users(system), both)] == ["bob"]


def test_users_include_remote_asks_nss(tmp_path: Path) -> None:
    line = "carol:*:5001:5001:Carol (LDAP):/home/carol:/bin/bash\n"
    system = FakeSystem(
        load_root("accounts-debian", tmp_path),
        commands=dict(
            [
                result(["getent", "passwd"], "root:x:0:0:root:/root:/bin/bash\n" + line),
                result(["getent", "passwd", "5001"], line),
                result(["getent", "passwd", "404"], returncode=2),
            ]
        ),
    )
    remote = rows(Users(system), equals("include_remote", "1"))
    assert [(r["username"], r["include_remote"]) for r in remote] == [("root", 1), ("carol", 1)]
    by_uid = QueryContext(
        (*equals("include_remote", "1").constraints, *equals("uid", "5001", "404").constraints)
    )
    assert [r["username"] for r in rows(Users(system), by_uid)] == ["carol"]


def test_users_include_remote_without_getent_is_a_table_error(system: FakeSystem) -> None:
    with pytest.raises(TableError, match="getent"):
        rows(Users(system), equals("include_remote", "1"))


def test_users_in_a_process_namespace(system: FakeSystem) -> None:
    system.write("/proc/4242/root/etc/passwd", "app:x:999:999:App:/srv:/bin/false\n")
    system.write("/proc/4343/root/etc/passwd", "x:x:1:1::/:/x\n")
    system.denied.add("/proc/4343/root/etc/passwd")
    found = rows(Users(system), equals("pid_with_namespace", "4242"))
    assert [(r["username"], r["pid_with_namespace"]) for r in found] == [("app", 4242)]
    with pytest.raises(TableError, match="only by root"):
        rows(Users(system), equals("pid_with_namespace", "4343"))


def test_users_without_passwd_is_a_table_error(tmp_path: Path) -> None:
    with pytest.raises(TableError, match="/etc/passwd: not found"):
        rows(Users(FakeSystem(tmp_path)))


def test_groups_one_row_per_gid_first_line_wins(system: FakeSystem) -> None:
    generated = rows(Groups(system))
    assert [(r["gid"], r["groupname"]) for r in generated] == [
        (0, "root"),
        (1, "daemon"),
        (4, "adm"),
        (27, "sudo"),
        (65534, "nogroup"),
        (1000, "alice"),
        (1001, "bob"),
        (46, "plugdev"),
        (4294967294, "nfsnobody"),
    ]
    assert generated[-1] == {
        "gid": 4294967294,
        "gid_signed": -2,
        "groupname": "nfsnobody",
        "pid_with_namespace": 0,
    }
    assert [r["groupname"] for r in rows(Groups(system), equals("gid", "27", "9"))] == ["sudo"]


def test_group_list_is_primary_then_memberships_in_file_order(system: FakeSystem) -> None:
    users = {u.name: u for u in parse_passwd(system.read_text("/etc/passwd"))}
    groups = parse_group(system.read_text("/etc/group"))
    assert group_list(users["alice"], groups) == [1000, 4, 27, 46]
    assert group_list(users["bob"], groups) == [1001, 46, 27]
    assert group_list(users["ghost"], groups) == [2000]


def test_user_groups_per_user_and_by_uid(system: FakeSystem) -> None:
    generated = rows(UserGroups(system))
    # toor repeats uid 0: getpwent's loop takes each uid once.
    assert [(r["uid"], r["gid"]) for r in generated if r["uid"] in (0, 1000)] == [
        (0, 0),
        (1000, 1000),
        (1000, 4),
        (1000, 27),
        (1000, 46),
    ]
    assert rows(UserGroups(system), equals("uid", "1001")) == [
        {"uid": 1001, "gid": 1001},
        {"uid": 1001, "gid": 46},
        {"uid": 1001, "gid": 27},
    ]


def test_password_status_like_osquery() -> None:
    assert [password_status(p) for p in ("!!", "!", "*", "x", "!$6$a$b", "", "$6$a$b")] == [
        "not_set",
        "locked",
        "locked",
        "locked",
        "locked",
        "empty",
        "active",
    ]


def test_shadow_when_readable(system: FakeSystem) -> None:
    generated = {r["username"]: r for r in rows(Shadow(system))}
    assert "badline" not in generated
    assert generated["alice"] == {
        "password_status": "active",
        "hash_alg": "y",
        "last_change": 19800,
        "min": 0,
        "max": 99999,
        "warning": 7,
        "inactive": 14,
        "expire": 20500,
        "flag": -1,
        "username": "alice",
    }
    assert generated["bob"]["hash_alg"] == "6"
    assert (generated["ghost"]["password_status"], generated["ghost"]["hash_alg"]) == (
        "locked",
        None,
    )
    assert generated["toor"]["password_status"] == "empty"
    assert [generated["nfsnobody"][c] for c in ("password_status", "min", "expire")] == [
        "not_set",
        -1,
        -1,
    ]
    assert [r["username"] for r in rows(Shadow(system), equals("username", "bob", "x"))] == ["bob"]


def test_shadow_unprivileged_says_root_only(system: FakeSystem) -> None:
    system.denied.add("/etc/shadow")
    with pytest.raises(TableError, match="only root can read"):
        rows(Shadow(system))
