"""A scan survives what IT's checks and the engines throw at it, and has a deadline.

A NUL character in IT's query is refused by `query_problem` and, if it reaches a scan anyway,
costs that one check; an engine failing in a way no one expected costs that check only; a value
that is not a number makes its practice UNKNOWN with the reason; after the scan's deadline the
checks not yet run are UNKNOWN with the reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

import pytest

from stethoscope_desktop.cli import main
from stethoscope_desktop.core.checks import load_checks
from stethoscope_desktop.core.custom_checks import CustomCheck, query_problem
from stethoscope_desktop.core.evaluate import evaluate, number_value
from stethoscope_desktop.core.facts import Fact, Facts, PlatformContext
from stethoscope_desktop.core.policy import policy_from_mapping
from stethoscope_desktop.core.report import DeviceFacts, Evidence
from stethoscope_desktop.core.scanner import Scanner
from stethoscope_desktop.core.status import Status
from stethoscope_desktop.engines.base import QueryResult
from stethoscope_desktop.engines.embedded import EmbeddedEngine, EmbeddedScanSession
from stethoscope_desktop.engines.info import EngineInfo
from stethoscope_desktop.resources import checks_dir
from tests.canned import canned_linux
from tests.ui.reports import practices

NUL_QUERY = "SELECT 1 FROM os_version WHERE name = 'x\x00'"


def test_query_problem_refuses_a_nul_character_with_its_line() -> None:
    problem = query_problem("SELECT 1\nFROM os_version\x00")
    assert problem is not None and "NUL character" in problem and "line 2" in problem


def _scanner(engine: EmbeddedEngine, **options: object) -> Scanner:
    return Scanner(engine, load_checks(checks_dir()), platform="linux", **options)  # type: ignore[arg-type]


def _gather(scanner: Scanner, *custom: CustomCheck) -> Facts:
    policy, problems = policy_from_mapping({"firewall": "ALWAYS"})
    assert not problems
    return scanner.gather(dataclasses.replace(policy, custom_checks=custom))


def test_a_nul_in_an_it_check_costs_that_check_only() -> None:
    bad = CustomCheck("has a nul", NUL_QUERY)
    good = CustomCheck("debian", "SELECT 1 FROM os_version WHERE platform = 'debian'")
    facts = _gather(_scanner(EmbeddedEngine(canned_linux())), bad, good)
    assert "NUL character" in facts.custom[bad.key].reason
    assert facts.custom[bad.key].evidence.query_mistake
    assert facts.custom[good.key].value == 1
    assert facts.checks["firewall"].ok


@pytest.mark.allow_warnings  # the failure is logged with its traceback, as it should be
def test_an_engine_failing_unexpectedly_costs_that_check_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_query = EmbeddedScanSession.query

    def query(
        self: EmbeddedScanSession, sql: str, *, time_limit: float | None = None
    ) -> QueryResult:
        if "exploding" in sql:
            raise ValueError("something no engine expected")
        return real_query(self, sql, time_limit=time_limit)

    monkeypatch.setattr(EmbeddedScanSession, "query", query)
    bad = CustomCheck("boom", "SELECT 'exploding' FROM os_version")
    facts = _gather(_scanner(EmbeddedEngine(canned_linux())), bad)
    assert "something no engine expected" in facts.custom[bad.key].reason
    assert facts.checks["firewall"].ok


class _Clock:
    """A monotonic clock that moves `step` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_checks_not_run_by_the_scan_deadline_are_unknown_with_the_reason() -> None:
    checks = [CustomCheck(f"check {n}", "SELECT 1 FROM os_version") for n in range(10)]
    # Each reading of the clock is 1 s later; the deadline is 6 s after the start.
    scanner = _scanner(EmbeddedEngine(canned_linux()), scan_time_limit=6.0, monotonic=_Clock(1.0))
    facts = _gather(scanner, *checks)
    assert facts.checks["device"].ok and facts.checks["firewall"].ok
    answered = [c for c in checks if facts.custom[c.key].ok]
    stopped = [c for c in checks if not facts.custom[c.key].ok]
    assert answered and stopped
    assert all(facts.custom[c.key].value == 1 for c in answered)
    for check in stopped:
        assert facts.custom[check.key].reason == (
            "not run: the scan had already taken its 6 s and was stopped"
        )


def test_it_checks_get_their_own_time_limit_on_the_embedded_engine() -> None:
    runaway = CustomCheck(
        "runaway",
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
    )
    facts = _gather(_scanner(EmbeddedEngine(canned_linux()), it_query_time_limit=0.2), runaway)
    assert "ran longer than 0.2 s and was stopped" in facts.custom[runaway.key].reason


def test_a_backtracking_regex_in_an_it_check_stops_at_the_checks_time_limit() -> None:
    # std::regex semantics backtrack: on `re`, this pattern over sixty 'a' and a '!' would take
    # years. The regex stops at the check's deadline, like any runaway query.
    runaway = CustomCheck(
        "runaway_regex",
        "SELECT 1 WHERE regex_match(printf('%.*c!', 60, 'a'), '(a|aa)+$', 0) IS NOT NULL",
    )
    facts = _gather(_scanner(EmbeddedEngine(canned_linux()), it_query_time_limit=0.2), runaway)
    assert "ran longer than 0.2 s and was stopped" in facts.custom[runaway.key].reason


def test_a_backtracking_regex_over_many_rows_stops_at_the_same_deadline() -> None:
    # Each row's regex_match gets what is left of the query's time, not a time of its own.
    runaway = CustomCheck(
        "runaway_regex_rows",
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) "
        "SELECT count(*) FROM n WHERE regex_split(printf('%.*c!', 30, 'a'), '(a|aa)+$', 0) = ''",
    )
    facts = _gather(_scanner(EmbeddedEngine(canned_linux()), it_query_time_limit=0.3), runaway)
    assert "ran longer than 0.3 s and was stopped" in facts.custom[runaway.key].reason


def test_fleets_lookahead_patterns_still_match() -> None:
    # Fleet's Windows CIS policies use lookaheads, which a linear-time engine can't run.
    check = CustomCheck(
        "lookahead",
        "SELECT 1 WHERE regex_match('Guests, Administrators', '.*(?=.*Administrators)', 0) "
        "= 'Guests, '",
    )
    facts = _gather(_scanner(EmbeddedEngine(canned_linux())), check)
    assert facts.custom[check.key].value == 1


# -- values that are not numbers -----------------------------------------------------------


DEVICE = DeviceFacts(device_name="laptop", platform="linux", os_version="12.7.0")


def _facts(checks: Mapping[str, Fact]) -> Facts:
    return Facts(
        checks=checks,
        custom={},
        device=DEVICE,
        context=PlatformContext("linux", "linux", "debian", "12.7.0"),
        engine=EngineInfo("osquery"),
        started_at="2026-11-20T09:00:00+00:00",
        duration_seconds=0.25,
    )


@pytest.mark.parametrize("value", ["", "n/a", "inf", "nan", "1e999", "\x00"])
def test_a_lock_time_that_is_not_a_number_is_unknown_with_the_reason(value: str) -> None:
    row = {"enabled": 1, "lock_after_seconds": value, "value": value}
    fact = Fact(Evidence("screen_idle", "SELECT …", rows=(row,)), rows=(row,), value=value)
    policy, _ = policy_from_mapping({"screenIdle": "<=900"})
    report = evaluate(policy, _facts({"screen_idle": fact}), practices("en").instructions)
    idle = report.practice("screenIdle")
    assert idle is not None and idle.status is Status.UNKNOWN
    assert "is not a number of seconds" in idle.reason


@pytest.mark.parametrize(
    ("value", "expected"),
    [(300, 300.0), ("300", 300.0), (" 2.5 ", 2.5), ("", None), (True, None), (10**400, None)],
)
def test_number_value(value: object, expected: float | None) -> None:
    assert number_value(value) == expected


def test_check_policy_refuses_an_it_check_with_a_nul(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "checks.d").mkdir()
    (tmp_path / "policy.yaml").write_text("firewall: ALWAYS\n")
    bad = tmp_path / "checks.d" / "nul.yaml"
    bad.write_text('- {name: A, query: "SELECT 1\\0 FROM os_version"}\n')
    assert main(["check-policy", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:1: [0].query: contains a NUL character" in out
