"""A query's own mistake is told apart from a fact the device cannot give.

`explain_sql_failure` says, besides the reason, whether osquery could not run the query here
either (a table that is not osquery's on this platform, a column its table lacks, text that is
not valid SQL): the engines raise QueryError with `query_mistake` set for those, and not for a
table only osquery or Fleet's agent has, or an error no one could blame on the query.
"""

from __future__ import annotations

import pytest

from stethoscope_desktop.engines.base import QueryError
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.engines.osquery_schema import explain_missing_table, explain_sql_failure
from tests.canned import canned_linux


@pytest.mark.parametrize(
    ("message", "sql", "mistake"),
    [
        ("no such table: sysctl", "SELECT 1 FROM sysctl", True),
        ("no such table: no_such_thing_at_all", "SELECT 1 FROM no_such_thing_at_all", True),
        ("no such table: alf", "SELECT 1 FROM alf", True),  # macOS only: not on Linux either
        ("no such column: name", "SELECT 1 FROM systemd_units WHERE name = 'x'", True),
        ('near "FRO": syntax error', "SELECT 1 FRO os_version", True),
        ("no such table: users", "SELECT 1 FROM users", False),  # osquery has it here
        ("no such table: file_lines", "SELECT 1 FROM file_lines", False),  # Fleet's agent has it
    ],
)
def test_the_reason_says_whether_the_query_is_at_fault(
    message: str, sql: str, mistake: bool
) -> None:
    reason = explain_sql_failure(message, sql, "linux")
    assert reason is not None
    assert reason.query_mistake is mistake
    if message.startswith("no such table: "):
        assert reason.text == explain_missing_table(
            message.removeprefix("no such table: "), "linux"
        )


def test_an_error_it_cannot_explain_has_no_reason() -> None:
    assert explain_sql_failure("no such function: frobnicate", "SELECT frobnicate()", "linux") is (
        None
    )


@pytest.mark.parametrize(
    ("sql", "mistake", "reason"),
    [
        ("SELECT 1 FROM systemd_units WHERE name = 'ssh.service'", True,
         "`systemd_units` has no column `name`; osquery's is `id`"),
        ("SELECT 1 FROM sysctl", True,
         "`sysctl` is not an osquery table; osquery's is `system_controls`"),
        ("SELECT 1 FRO os_version", True,
         'the query is not valid SQL (near "os_version": syntax error); osquery cannot run it '
         "either"),
        ("SELECT 1 FROM shadow", False,
         "needs osquery: table shadow is not built into Stethoscope on this platform"),
        ("SELECT frobnicate()", False, "SQL error: no such function: frobnicate"),
    ],
)  # fmt: skip
def test_the_embedded_engine_marks_the_querys_own_mistakes(
    sql: str, mistake: bool, reason: str
) -> None:
    units = [{"id": "ssh.service", "active_state": "active"}]
    engine = EmbeddedEngine(canned_linux(systemd_units=units))
    try:
        with engine.begin_scan() as session, pytest.raises(QueryError) as error:
            session.query(sql)
    finally:
        engine.close()
    assert error.value.message == reason
    assert error.value.query_mistake is mistake


def test_a_tables_own_error_is_no_mistake_of_the_query() -> None:
    engine = EmbeddedEngine(canned_linux(stethoscope_screen_lock="no desktop session"))
    try:
        with engine.begin_scan() as session, pytest.raises(QueryError) as error:
            session.query("SELECT * FROM stethoscope_screen_lock")
    finally:
        engine.close()
    assert error.value.message == "no desktop session"
    assert not error.value.query_mistake
