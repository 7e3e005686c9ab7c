"""The Fleet coverage script, on Fleet-shaped policies of our own and a built-in engine of fakes.

`tests/compat/fleet_coverage.py` measures Fleet's real policy files on the machine it runs on;
here its figures are checked on `tests/data/fleet_coverage/policies.yml`, whose every policy has
one known outcome, scanned by an embedded engine that serves two fake tables (so nothing depends
on this machine), and its command line is checked for what it prints and how it fails.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from stethoscope_desktop.core.custom_checks import CustomCheck
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.tables.base import Column, QueryContext, Row, TablePlugin
from tests.compat import fleet_coverage

POLICIES = Path(__file__).resolve().parents[1] / "data" / "fleet_coverage" / "policies.yml"


class OsVersion(TablePlugin):
    """osquery's os_version, as a Debian 12 box would give it (a subset of its columns)."""

    name = "os_version"
    columns = (Column("name"), Column("major", "integer"))

    def generate(self, context: QueryContext) -> Iterable[Row]:
        return [{"name": "Debian GNU/Linux", "major": "12"}]


class SystemdUnits(TablePlugin):
    """osquery's systemd_units: the unit's name is its `id`."""

    name = "systemd_units"
    columns = (Column("id"), Column("active_state"))

    def generate(self, context: QueryContext) -> Iterable[Row]:
        return [{"id": "cron.service", "active_state": "active"}]


def measured(*, correct: bool) -> dict[str, Any]:
    imported = fleet_coverage.import_file(POLICIES, "linux", correct=correct)
    engine = EmbeddedEngine([OsVersion(), SystemdUnits()])
    try:
        return fleet_coverage.measure([imported], engine)
    finally:
        engine.close()


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    """The figures with the queries as Fleet wrote them (import-fleet --keep-queries)."""
    return measured(correct=False)


def test_as_import_fleet_corrects_them_the_mistake_gets_a_verdict() -> None:
    corrected = measured(correct=True)
    assert corrected["corrected"] == 1
    assert corrected["statuses"] == {"FAIL": 1, "PASS": 3, "UNKNOWN": 2}
    assert "missing column" not in corrected["unknown_reasons"]
    assert corrected["not_osquery"] == [("table kernel_knobs", 1)]
    tables = {entry["table"]: entry for entry in corrected["tables"]}
    assert tables["systemd_units"]["columns"] == [("active_state", 1), ("id", 1)]


def test_import_figures(report: dict[str, Any]) -> None:
    assert report["kept"] == 7
    assert report["corrected"] == 0
    assert report["other_platform"] == 1
    assert report["dropped"] == [("must be one SQL statement (this has 2)", 1)]
    assert dict(report["notes"]) == {
        "a Fleet report document, not a policy": 1,
        "Fleet's bash fix-it script is not run here (the check is)": 1,
    }
    assert report["duplicate_keys"] == []


def test_coverage_figure_and_verdicts(report: dict[str, Any]) -> None:
    assert report["manual_placeholders"] == 1
    assert report["automated"] == 6
    assert report["statuses"] == {"FAIL": 1, "PASS": 2, "UNKNOWN": 3}
    assert report["verdicts"] == 3
    assert report["coverage_percent"] == 50.0


def test_unknown_reasons_are_grouped(report: dict[str, Any]) -> None:
    assert report["unknown_reasons"] == {
        "missing table": [("kernel_modules", 1)],
        "not an osquery table": [("kernel_knobs", 1)],
        "missing column": [("systemd_units.name", 1)],
    }
    assert report["missing_tables"] == [
        {"table": "kernel_knobs", "queries": 1, "only_missing_table": 1},
        {"table": "kernel_modules", "queries": 1, "only_missing_table": 1},
    ]
    assert report["not_osquery"] == [("column systemd_units.name", 1), ("table kernel_knobs", 1)]


def test_tables_columns_functions_and_patterns(report: dict[str, Any]) -> None:
    tables = {entry["table"]: entry for entry in report["tables"]}
    assert [entry["table"] for entry in report["tables"]] == [
        "os_version",
        "kernel_knobs",
        "kernel_modules",
        "systemd_units",
    ]
    assert tables["os_version"]["queries"] == 3
    assert tables["os_version"]["served"] is True
    assert tables["os_version"]["columns"] == [("name", 3), ("major", 2)]
    assert tables["kernel_modules"] == {
        "table": "kernel_modules",
        "queries": 1,
        "served": False,
        "columns": [("name", 1)],
    }
    assert tables["kernel_knobs"]["columns"] == [("knob", 1), ("setting", 1)]
    assert tables["systemd_units"]["columns"] == [("active_state", 1), ("name", 1)]
    assert report["functions"] == [
        {"function": "lower", "queries": 1, "engine_has": True},
        {"function": "regex_match", "queries": 1, "engine_has": True},
    ]
    patterns = dict(report["patterns"])
    assert patterns["subquery"] == 1
    assert patterns["EXISTS / NOT EXISTS"] == 1
    assert "WITH (CTE)" not in patterns


def test_manual_placeholder_is_a_query_that_can_never_return_a_row() -> None:
    def check(query: str) -> CustomCheck:
        return CustomCheck("c", query)

    assert fleet_coverage.manual_check_placeholder(check("SELECT 1 WHERE 0;"))
    assert fleet_coverage.manual_check_placeholder(check("select 1 where 1 = 0"))
    assert not fleet_coverage.manual_check_placeholder(check("SELECT 1;"))
    assert not fleet_coverage.manual_check_placeholder(check("SELECT 1 FROM users WHERE 0"))


def test_schema_sees_through_ctes_joins_and_unknown_functions() -> None:
    schema = fleet_coverage.OsquerySchema()
    use = schema.use_of(
        "WITH u AS (SELECT uid, shell FROM users) SELECT 1 FROM u JOIN user_groups g "
        "USING (uid) WHERE no_such_fn(u.shell) = 1"
    )
    assert use.tables == {"users", "user_groups"}
    assert {("users", "uid"), ("users", "shell"), ("user_groups", "uid")} <= use.columns
    assert use.not_osquery == ["function no_such_fn"]
    assert use.functions == {"no_such_fn"}
    assert "WITH (CTE)" in use.patterns and "JOIN" in use.patterns
    # The stand-in for the unknown function is gone for the next query.
    assert schema.use_of("SELECT no_such_fn(1)").not_osquery == ["function no_such_fn"]


def test_command_line_prints_json_in_a_fixed_order(capsys: pytest.CaptureFixture[str]) -> None:
    arguments = [str(POLICIES), "--platform", "linux", "--json"]
    assert fleet_coverage.main(arguments) == 0
    first = capsys.readouterr().out
    assert fleet_coverage.main(arguments) == 0
    assert capsys.readouterr().out == first
    figures = json.loads(first)
    assert (figures["kept"], figures["manual_placeholders"], figures["automated"]) == (7, 1, 6)


def test_command_line_prints_the_figures_for_a_person(capsys: pytest.CaptureFixture[str]) -> None:
    assert fleet_coverage.main([str(POLICIES), "--platform", "linux"]) == 0
    out = capsys.readouterr().out
    assert "Manual-check placeholders: 1" in out
    assert "Automated queries: 6" in out
    assert "Coverage: " in out and "of 6 automated queries get a verdict" in out
    assert "Queries corrected for osquery by import-fleet: 1\n" in out
    assert fleet_coverage.main([str(POLICIES), "--platform", "linux", "--keep-queries"]) == 0
    out = capsys.readouterr().out
    assert (
        "Queries corrected for osquery by import-fleet: 0 (--keep-queries: none corrected)" in out
    )


def test_unreadable_input_fails_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "absent.yml"
    assert fleet_coverage.main([str(missing)]) == fleet_coverage.EXIT_UNREADABLE
    assert f"{missing}: no such file" in capsys.readouterr().err

    broken = tmp_path / "broken.yml"
    broken.write_text("- name: x\n  query: [unclosed\n", encoding="utf-8")
    assert fleet_coverage.main([str(POLICIES), str(broken)]) == fleet_coverage.EXIT_UNREADABLE
    err = capsys.readouterr().err
    assert str(broken) in err and "cannot be read" in err
