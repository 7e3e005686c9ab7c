"""The osquery engine (on the stand-in) never ends a scan over one value or one query.

A value osqueryd answers that is not a number ('' where seconds are expected) makes that practice
UNKNOWN with the reason; a NUL character in IT's query costs that check only.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from pathlib import Path

from stethoscope_desktop.core.checks import load_checks
from stethoscope_desktop.core.custom_checks import CustomCheck
from stethoscope_desktop.core.evaluate import evaluate
from stethoscope_desktop.core.policy import policy_from_mapping
from stethoscope_desktop.core.scanner import Scanner
from stethoscope_desktop.core.status import Status
from stethoscope_desktop.resources import checks_dir
from stethoscope_desktop.tables.base import Column, QueryContext, Row, TablePlugin
from tests.engines.osquery_helpers import (
    assert_nothing_leaked,
    pid_alive,
    short_dir,
    standin_engine,
    wait_until,
)
from tests.osquery_standin import canned, extension_rows
from tests.ui.reports import practices


class TextScreenLock(TablePlugin):
    """A screen lock table whose seconds come as text, and empty: what osqueryd answered."""

    name = "stethoscope_screen_lock"
    columns = (
        Column("enabled", "integer"),
        Column("lock_after_seconds", "text"),
        Column("desktop"),
        Column("source"),
        Column("detail"),
    )

    def generate(self, context: QueryContext) -> Iterable[Row]:
        return [{"enabled": 1, "lock_after_seconds": "", "desktop": "GNOME", "detail": "GNOME"}]


def test_an_empty_lock_time_from_osqueryd_makes_screen_idle_unknown_with_the_reason() -> None:
    rows = extension_rows("linux")
    del rows["stethoscope_screen_lock"]
    policy, problems = policy_from_mapping({"screenIdle": "<=900", "firewall": "ALWAYS"})
    assert not problems
    with short_dir() as runtime_dir:
        engine = standin_engine(runtime_dir, tables=[*canned(rows), TextScreenLock()])
        facts = Scanner(engine, load_checks(checks_dir()), platform="linux").gather(policy)
        assert facts.checks["screen_idle"].value == ""  # osqueryd's answer, as it came
        report = evaluate(policy, facts, practices("en").instructions)
        idle = report.practice("screenIdle")
        assert idle is not None and idle.status is Status.UNKNOWN
        assert idle.reason == "the idle time '' is not a number of seconds"
        firewall = report.practice("firewall")
        assert firewall is not None and firewall.status is not Status.UNKNOWN
        assert_nothing_leaked(engine, runtime_dir)


def test_a_nul_in_an_it_check_costs_that_check_only_on_osquery() -> None:
    bad = CustomCheck("nul", "SELECT 1 FROM os_version\x00")
    good = CustomCheck("debian", "SELECT 1 FROM os_version WHERE platform = 'debian'")
    policy, _ = policy_from_mapping({})
    policy = dataclasses.replace(policy, custom_checks=(bad, good))
    with short_dir() as runtime_dir:
        engine = standin_engine(runtime_dir)
        facts = Scanner(engine, load_checks(checks_dir()), platform="linux").gather(policy)
        assert "NUL character" in facts.custom[bad.key].reason
        assert facts.custom[good.key].value == 1
        assert_nothing_leaked(engine, runtime_dir)


def test_an_error_of_one_it_check_on_osquery_costs_that_check_only() -> None:
    # SQLite errors osquery's messages don't name as SQL errors: osqueryd still answers, so
    # they are those checks' failures, not osqueryd's (they made the rest of the scan UNKNOWN).
    overflow = CustomCheck("overflow", "SELECT abs(-9223372036854775807 - 1) AS n")
    not_json = CustomCheck(
        "not_json", "SELECT 1 FROM os_version WHERE json_extract(name, '$.a') IS NULL"
    )
    good = CustomCheck("debian", "SELECT 1 FROM os_version WHERE platform = 'debian'")
    policy, _ = policy_from_mapping({})
    policy = dataclasses.replace(policy, custom_checks=(overflow, not_json, good))
    with short_dir() as runtime_dir:
        engine = standin_engine(runtime_dir)
        facts = Scanner(engine, load_checks(checks_dir()), platform="linux").gather(policy)
        assert "integer overflow" in facts.custom[overflow.key].reason
        assert "malformed JSON" in facts.custom[not_json.key].reason
        assert facts.custom[good.key].value == 1
        assert all(fact.ok or "osquery failed" not in fact.reason for fact in facts.checks.values())
        assert len(engine.started_pids) == 1
        assert_nothing_leaked(engine, runtime_dir)


def test_close_ends_osqueryds_children_too() -> None:
    with short_dir() as runtime_dir, short_dir() as scratch:
        pidfile = scratch / "child.pid"
        engine = standin_engine(runtime_dir, STANDIN_CHILD_PIDFILE=str(pidfile))
        with engine.begin_scan() as session:
            assert session.query("SELECT major FROM os_version").rows
        assert wait_until(pidfile.exists, 5.0)
        child = int(pidfile.read_text())
        assert pid_alive(child)
        assert_nothing_leaked(engine, runtime_dir)
        assert wait_until(lambda: not _running(child), 5.0), f"osqueryd's child {child} lives"


def test_close_ends_a_child_of_osqueryd_that_left_its_session() -> None:
    with short_dir() as runtime_dir, short_dir() as scratch:
        pidfile = scratch / "child.pid"
        engine = standin_engine(
            runtime_dir, STANDIN_CHILD_PIDFILE=str(pidfile), STANDIN_CHILD_SESSION="1"
        )
        with engine.begin_scan() as session:
            assert session.query("SELECT major FROM os_version").rows
        assert wait_until(pidfile.exists, 5.0)
        child = int(pidfile.read_text())
        assert wait_until(lambda: os.getsid(child) == child, 5.0), "the child kept the session"
        assert_nothing_leaked(engine, runtime_dir)
        assert wait_until(lambda: not _running(child), 5.0), f"osqueryd's child {child} lives"


def _running(pid: int) -> bool:
    """Return True if `pid` runs: a zombie no one reaps (osqueryd's orphan, here) does not."""
    if not pid_alive(pid):
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rpartition(")")[2].split()[0] != "Z"
