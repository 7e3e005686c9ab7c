"""Reading users' reports as root (`fleet_extension.reading`, `users`, `tables`) on a fake machine.

A user controls their report and its folders: links, other owners, FIFOs, huge or corrupt files
must each give an UNREADABLE row saying why, without the file's content, never an exception.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePath

import pytest

from stethoscope_desktop.core.report import Report
from stethoscope_desktop.fleet_extension.reading import (
    MAX_REPORT_BYTES,
    ReadOutcome,
    Refused,
    parse_report,
    read_report,
)
from stethoscope_desktop.fleet_extension.tables import (
    PRACTICES_COLUMNS,
    STATUS_COLUMNS,
    PracticesTable,
    ReportCollector,
    StatusTable,
)
from stethoscope_desktop.fleet_extension.users import LinuxUsers, utmp_users
from stethoscope_desktop.tables.base import Constraint, Operator, QueryContext, TableError
from stethoscope_desktop.tables.values import Row
from tests.fleet_extension.machine import AS_ROOT, FakeMachine, FakeUser
from tests.ui.reports import mixed_report

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX users and files")
SECRET = "root:$6$SECRET-HASH-THAT-MUST-NOT-LEAK"
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def report_json(report: Report, *, started: datetime = NOW - timedelta(hours=1)) -> bytes:
    data = report.to_dict()
    data["started_at"] = started.isoformat(timespec="seconds")
    return json.dumps(data).encode()


@pytest.fixture(scope="module")
def report() -> Report:
    return mixed_report()


@pytest.fixture
def machine(tmp_path: Path) -> FakeMachine:
    return FakeMachine(tmp_path / "root")


def status_rows(machine: FakeMachine, context: QueryContext | None = None) -> list[Row]:
    table = StatusTable(ReportCollector(LinuxUsers(str(machine.root))), clock=NOW.timestamp)
    return list(table.generate(context or QueryContext()))


def row_of(rows: list[Row], name: str) -> Row:
    return next(row for row in rows if row["username"] == name)


def assert_no_content(rows: list[Row]) -> None:
    for row in rows:
        assert not any(SECRET in str(value) or "SECRET" in str(value) for value in row.values())


def test_a_users_report_gives_their_status_and_practices(
    machine: FakeMachine, report: Report
) -> None:
    alice = machine.add_user("alice")
    machine.put_report(alice, report_json(report))
    [row] = status_rows(machine)
    counts = report.counts()
    assert row == {
        "uid": alice.uid,
        "username": "alice",
        "status": str(report.status),
        "pass_count": counts["PASS"],  # type: ignore[index]
        "nudge_count": counts["NUDGE"],  # type: ignore[index]
        "fail_count": counts["FAIL"],  # type: ignore[index]
        "unknown_count": counts["UNKNOWN"],  # type: ignore[index]
        "checked_at": (NOW - timedelta(hours=1)).isoformat(timespec="seconds"),
        "checked_at_unix": int((NOW - timedelta(hours=1)).timestamp()),
        "age_seconds": 3600,
        "stale": 0,
        "engine": report.engine.name,
        "app_version": report.device.app_version,
        "policy_sha256": report.policy_sha256,
        "sources": ",".join(report.policy_files),
        "logged_in": 0,
        "error": "",
        "report_path": "/home/alice/.local/state/stethoscope/last-report.json",
    }
    assert set(row) == {column.name for column in STATUS_COLUMNS}
    collector = ReportCollector(LinuxUsers(str(machine.root)))
    practices = list(PracticesTable(collector).generate(QueryContext()))
    assert [(p["key"], p["status"]) for p in practices] == [
        (p.key, str(p.status)) for p in report.practices
    ]
    assert all(set(p) == {column.name for column in PRACTICES_COLUMNS} for p in practices)
    unknown = next(p for p in practices if p["status"] == "UNKNOWN")
    assert unknown["reason"]


def test_a_report_older_than_the_limit_is_stale(machine: FakeMachine, report: Report) -> None:
    bob = machine.add_user("bob")
    machine.put_report(bob, report_json(report, started=NOW - timedelta(days=3)))
    [row] = status_rows(machine)
    assert row["stale"] == 1 and row["age_seconds"] == 3 * 86400
    table = StatusTable(
        ReportCollector(LinuxUsers(str(machine.root))),
        stale_after=4 * 86400,
        clock=NOW.timestamp,
    )
    assert [r["stale"] for r in table.generate(QueryContext())] == [0]


def test_a_report_dated_in_the_future_is_stale_and_says_why(
    machine: FakeMachine, report: Report
) -> None:
    # A clock that was wrong when the scan ran must not keep its verdict fresh for years.
    bob = machine.add_user("bob")
    machine.put_report(bob, report_json(report, started=NOW + timedelta(days=365)))
    [row] = status_rows(machine)
    assert row["stale"] == 1 and row["age_seconds"] == -365 * 86400
    assert "in the future" in str(row["error"])
    # A few seconds ahead (another clock) is fresh.
    machine.put_report(bob, report_json(report, started=NOW + timedelta(seconds=30)))
    [row] = status_rows(machine)
    assert row["stale"] == 0 and row["error"] == ""


def test_a_report_whose_start_is_not_a_time_is_stale_and_names_the_field(
    machine: FakeMachine, report: Report
) -> None:
    bob = machine.add_user("bob")
    data = json.loads(report_json(report))
    data["started_at"] = "yesterday"
    machine.put_report(bob, json.dumps(data).encode())
    [row] = status_rows(machine)
    assert row["status"] == "FAIL"  # the verdict is still shown, but counts as stale
    assert row["stale"] == 1 and row["age_seconds"] is None
    assert "started_at is not a time" in str(row["error"])


def test_a_logged_in_user_without_a_report_has_a_no_report_row(machine: FakeMachine) -> None:
    machine.add_user("dave")
    machine.add_user("grace")  # no report, not logged in: no row
    machine.log_in("dave")
    [row] = status_rows(machine)
    assert row["username"] == "dave" and row["status"] == "NO_REPORT"
    assert row["logged_in"] == 1 and "no report" in str(row["error"])
    assert row.get("pass_count") is None


def test_logind_sessions_count_as_logged_in(machine: FakeMachine) -> None:
    machine.add_user("erin")
    sessions = machine.root / "run" / "systemd" / "sessions"
    sessions.mkdir(parents=True)
    (sessions / "3").write_text("# This is private data. Do not parse.\nUID=2000\nUSER=erin\n")
    (sessions / "3.ref").write_text("")
    assert LinuxUsers(str(machine.root)).logged_in() == {"erin"}
    assert [row["status"] for row in status_rows(machine)] == ["NO_REPORT"]


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"{" + SECRET.encode() + b"\n", "not JSON (line 1, column 2)"),
        (SECRET.encode("utf-16"), "not UTF-8 text"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (json.dumps([SECRET]).encode(), "the JSON is list, not an object"),
        (json.dumps({"status": SECRET}).encode(), "not a report of this format: report"),
        (json.dumps({"schema_version": 2}).encode(), "report format version 2"),
        (b'{"practices": [' + b"{}," * 150_000 + b"{}]}", "more than 100000 JSON objects"),
    ],
)
def test_a_corrupt_report_is_unreadable_saying_why_without_its_content(
    machine: FakeMachine, content: bytes, why: str
) -> None:
    carol = machine.add_user("carol")
    machine.put_report(carol, content)
    rows = status_rows(machine)
    [row] = rows
    assert row["status"] == "UNREADABLE" and why in str(row["error"]), row["error"]
    assert row.get("pass_count") is None
    assert_no_content(rows)


def test_a_report_whose_practice_is_wrong_names_the_field_not_the_value(
    machine: FakeMachine, report: Report
) -> None:
    data = report.to_dict()
    data["practices"][0]["status"] = SECRET
    carol = machine.add_user("carol")
    machine.put_report(carol, json.dumps(data).encode())
    [row] = status_rows(machine)
    assert (
        row["error"]
        == "not a report of this format: report.practices[0].status is missing or wrong"
    )


def test_a_huge_report_is_refused_unread(machine: FakeMachine) -> None:
    frank = machine.add_user("frank")
    machine.put_report(frank, b" " * (MAX_REPORT_BYTES + 1))
    [row] = status_rows(machine)
    assert row["status"] == "UNREADABLE" and "larger than 4 MiB" in str(row["error"])


def test_a_report_that_is_a_symlink_is_refused(machine: FakeMachine) -> None:
    (machine.root / "etc" / "shadow").write_text(SECRET + "\n")
    eve = machine.add_user("eve")
    link = machine.state_folder(eve) / "last-report.json"
    link.symlink_to("/etc/shadow")
    machine.own(eve, link)
    rows = status_rows(machine)
    [row] = rows
    assert row["status"] == "UNREADABLE" and "symbolic link" in str(row["error"])
    assert_no_content(rows)


def test_a_folder_on_the_way_that_is_the_users_symlink_is_refused(
    machine: FakeMachine, report: Report
) -> None:
    mallory = machine.add_user("mallory")
    elsewhere = mallory.home / "elsewhere"
    elsewhere.mkdir()
    machine.own(mallory, elsewhere)
    (mallory.home / ".local").symlink_to(elsewhere)
    machine.own(mallory, mallory.home / ".local")
    machine.put_report(mallory, report_json(report))
    [row] = status_rows(machine)
    assert row["status"] == "UNREADABLE"
    assert "symbolic link (.local)" in str(row["error"])


@pytest.mark.skipif(not AS_ROOT, reason="a link root owns needs root to make")
def test_an_administrators_link_above_the_homes_is_followed(tmp_path: Path, report: Report) -> None:
    machine = FakeMachine(tmp_path / "root")
    alice = machine.add_user("alice")
    machine.put_report(alice, report_json(report))
    (machine.root / "home").rename(machine.root / "srv")
    (machine.root / "home").symlink_to("srv")  # root's link in root's folder
    [row] = status_rows(machine)
    assert row["status"] == str(report.status)


@pytest.mark.skipif(not AS_ROOT, reason="another owner needs root to make")
def test_a_report_another_user_owns_is_refused(machine: FakeMachine, report: Report) -> None:
    alice, bob = machine.add_user("alice"), machine.add_user("bob")
    target = machine.put_report(alice, report_json(report))
    machine.own(bob, target)
    [row] = status_rows(machine)
    assert row["status"] == "UNREADABLE"
    assert f"owned by uid {bob.uid}, not by its user (uid {alice.uid})" in str(row["error"])


@pytest.mark.skipif(not AS_ROOT, reason="a root-owned file needs root to make")
def test_roots_file_hard_linked_into_a_home_is_refused(machine: FakeMachine) -> None:
    secret = machine.root / "etc" / "shadow"
    secret.write_text(SECRET + "\n")
    eve = machine.add_user("eve")
    os.link(secret, machine.state_folder(eve) / "last-report.json")
    rows = status_rows(machine)
    assert "owned by uid 0" in str(rows[0]["error"])
    assert_no_content(rows)


def test_a_fifo_is_refused_without_waiting(machine: FakeMachine) -> None:
    eve = machine.add_user("eve")
    os.mkfifo(machine.state_folder(eve) / "last-report.json")
    [row] = status_rows(machine)
    assert row["status"] == "UNREADABLE" and "not a regular file" in str(row["error"])


def test_a_uid_constraint_reads_only_that_user(machine: FakeMachine, report: Report) -> None:
    if not AS_ROOT:
        pytest.skip("users need uids of their own")
    alice, bob = machine.add_user("alice"), machine.add_user("bob")
    for user in (alice, bob):
        machine.put_report(user, report_json(report))
    by_uid = QueryContext((Constraint("uid", Operator.EQUALS, str(bob.uid)),))
    assert [row["username"] for row in status_rows(machine, by_uid)] == ["bob"]


def test_unprivileged_only_the_own_users_report_is_read(
    machine: FakeMachine, report: Report
) -> None:
    users: list[FakeUser] = [machine.add_user("alice"), machine.add_user("bob")]
    for user in users:
        machine.put_report(user, report_json(report))
    collector = ReportCollector(LinuxUsers(str(machine.root)), only_uid=users[0].uid)
    names = [found.user.name for found in collector.collect()]
    assert names == (["alice"] if AS_ROOT else ["alice", "bob"])


def test_utmp_user_processes_are_the_logged_in_users(machine: FakeMachine) -> None:
    machine.log_in("dave", "erin")
    data = (machine.root / "run" / "utmp").read_bytes()
    assert utmp_users(data) == ["dave", "erin"]
    assert utmp_users(data[:-1]) == ["dave"]  # a torn last record is left out


def test_parse_errors_carry_no_content() -> None:
    with pytest.raises(Refused) as refused:
        parse_report(b'{"status": "' + SECRET.encode() + b'", }')
    assert "SECRET" not in str(refused.value)


def test_a_missing_folder_is_missing_not_unreadable(machine: FakeMachine) -> None:
    alice = machine.add_user("alice")
    read = read_report(
        str(machine.root), PurePath(alice.home_in_root, ".local/state/x/last-report.json"), 0
    )
    assert read.outcome is ReadOutcome.MISSING


def test_a_root_that_cannot_be_opened_is_unreadable_not_an_exception(tmp_path: Path) -> None:
    read = read_report(str(tmp_path / "gone"), PurePath("/home/a/last-report.json"), 0)
    assert read.outcome is ReadOutcome.UNREADABLE
    assert read.error == "cannot read /home/a/last-report.json: No such file or directory"


def test_an_unreadable_account_database_fails_the_table_saying_so(tmp_path: Path) -> None:
    table = StatusTable(ReportCollector(LinuxUsers(str(tmp_path / "nothing"))))
    with pytest.raises(TableError, match=r"cannot read the account database .*/etc/passwd"):
        table.generate(QueryContext())
