"""UNKNOWN reasons that tell the truth: a table or column osquery lacks, named with the fix.

The same mistake reads the same on the embedded engine, in `check-policy` and in `import-fleet`
(the osquery engine's wording is tested against the stand-in in test_osquery_engine.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stethoscope_desktop.cli import main
from stethoscope_desktop.engines.base import QueryError
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.engines.osquery_schema import (
    explain_missing_column,
    explain_missing_table,
    osquery_tables,
    query_mistakes,
    tables_named_in,
)
from tests.canned import canned_linux


def test_the_resource_is_read_once_with_columns_per_platform() -> None:
    assert osquery_tables() is osquery_tables()
    os_version = osquery_tables()["os_version"]
    assert "extra" in os_version.columns("darwin") and "extra" not in os_version.columns("linux")
    assert "revision" in os_version.columns("windows")
    assert osquery_tables()["file_lines"].source == "fleetd"
    assert osquery_tables()["system_controls"].source == "osquery"


@pytest.mark.parametrize(
    ("table", "platform", "reason"),
    [
        ("sysctl", "linux", "`sysctl` is not an osquery table; osquery's is `system_controls`"),
        ("kernel_module", "linux", "`kernel_module` is not an osquery table; osquery's is "
         "`kernel_modules`"),
        ("no_such_thing_at_all", "linux", "`no_such_thing_at_all` is not an osquery table"),
        ("file_lines", "linux", "needs Fleet's agent: `file_lines` is a table of fleetd (Fleet's "
         "osquery extension), not of osquery"),
        ("alf", "linux", "`alf` is an osquery table on macOS only, not on Linux"),
        ("deb_packages", "windows", "`deb_packages` is an osquery table on Linux only, not on "
         "Windows"),
        ("users", "linux", "needs osquery: table users is not built into Stethoscope on this "
         "platform"),
    ],
)  # fmt: skip
def test_a_missing_table_is_explained_by_what_osquery_has(
    table: str, platform: str, reason: str
) -> None:
    assert explain_missing_table(table, platform) == reason


def test_on_osqueryd_a_table_it_lacks_names_its_version() -> None:
    assert explain_missing_table("users", "linux", osquery="osquery 5.12.1") == (
        "needs a table osquery 5.12.1 does not have here: users"
    )


def test_a_missing_stethoscope_table_suggests_ours() -> None:
    served = {"stethoscope_firewall", "os_version"}
    assert explain_missing_table("stethoscope_firewal", "linux", served=served) == (
        "`stethoscope_firewal` is not a Stethoscope table; Stethoscope's is `stethoscope_firewall`"
    )


@pytest.mark.parametrize(
    ("reference", "sql"),
    [
        ("name", "SELECT 1 FROM systemd_units WHERE name = 'ssh.service'"),
        ("su.name", "SELECT 1 FROM systemd_units su WHERE su.name = 'ssh.service'"),
        ("su.name", "SELECT 1 FROM os_version o JOIN systemd_units AS su WHERE su.name = 'x'"),
        ("systemd_units.name", "SELECT 1 FROM systemd_units WHERE systemd_units.name = 'x'"),
    ],
)
def test_a_missing_column_names_the_table_that_lacks_it(reference: str, sql: str) -> None:
    assert explain_missing_column(reference, sql, "linux") == (
        "`systemd_units` has no column `name`; osquery's is `id`"
    )


def test_a_missing_column_without_a_likely_fix_lists_the_columns() -> None:
    reason = explain_missing_column("colour", "SELECT colour FROM secureboot", "linux")
    assert reason == "`secureboot` has no column `colour` (its columns: secure_boot, setup_mode)"


def test_a_column_no_table_of_the_query_lacks_is_not_blamed_on_one() -> None:
    assert explain_missing_column("x.name", "SELECT 1 FROM systemd_units", "linux") is None


def test_an_unqualified_column_is_blamed_on_the_table_it_was_meant_for() -> None:
    # Two subqueries: `name` belongs with systemd_units, whose likely fix is known; file_lines,
    # which lacks it too, is not blamed.
    sql = (
        "SELECT 1 WHERE EXISTS (SELECT 1 FROM file_lines WHERE path = '/x' AND line = 'Y') "
        "AND EXISTS (SELECT 1 FROM systemd_units WHERE name = 'a.service')"
    )
    assert explain_missing_column("name", sql, "linux") == (
        "`systemd_units` has no column `name`; osquery's is `id`"
    )


def test_words_in_strings_and_comments_name_no_table() -> None:
    sql = "SELECT 1 FROM user_groups WHERE gid = 42 -- not shadow\n AND 'shadow' = 'shadow'"
    assert tables_named_in(sql, ["shadow", "user_groups"]) == ["user_groups"]
    reason = explain_missing_column(
        "groupname", "SELECT 1 FROM user_groups WHERE groupname = 'shadow'", "linux"
    )
    assert reason is not None and "shadow" not in reason.split(";")[0].split("(")[0]
    assert reason.startswith("`user_groups` has no column `groupname`")


def test_tables_named_in_finds_whole_words_only() -> None:
    sql = "SELECT 1 FROM users u JOIN user_groups ug USING (uid)"
    assert tables_named_in(sql, ["groups", "user_groups", "users"]) == ["user_groups", "users"]


def test_the_embedded_engine_words_the_mistakes_the_same_way() -> None:
    engine = EmbeddedEngine(canned_linux(systemd_units=[]), platform="linux")
    try:
        with engine.begin_scan() as session:
            for sql, reason in [
                (
                    "SELECT 1 FROM sysctl WHERE name = 'net.ipv4.ip_forward'",
                    "`sysctl` is not an osquery table; osquery's is `system_controls`",
                ),
                (
                    "SELECT 1 FROM os_version o, systemd_units su WHERE su.name = 'x'",
                    "`systemd_units` has no column `name`; osquery's is `id`",
                ),
                (
                    "SELECT 1 FROM file_lines WHERE path = '/etc/fstab'",
                    "needs Fleet's agent: `file_lines` is a table of fleetd (Fleet's osquery "
                    "extension), not of osquery",
                ),
                ("SELECT 1 FROM alf", "`alf` is an osquery table on macOS only, not on Linux"),
            ]:
                with pytest.raises(QueryError) as failure:
                    session.query(sql)
                assert failure.value.message == reason, sql
    finally:
        engine.close()


def test_the_engine_says_where_it_runs_not_where_the_tests_run() -> None:
    engine = EmbeddedEngine(canned_linux(), platform="darwin")
    try:
        with engine.begin_scan() as session, pytest.raises(QueryError) as failure:
            session.query("SELECT 1 FROM alf")
        assert failure.value.message == (
            "needs osquery: table alf is not built into Stethoscope on this platform"
        )
    finally:
        engine.close()


def test_query_mistakes_prepare_without_running() -> None:
    assert query_mistakes("SELECT 1 FROM system_controls WHERE name = 'x'", ["linux"]) == []
    assert query_mistakes("SELECT 1 FROM stethoscope_firewall WHERE enabled = 1", None) == []
    # osquery's SQL functions are known.
    assert query_mistakes("SELECT regex_match(version, '(\\d+)', 1) FROM os_version", None) == []
    assert query_mistakes("SELECT 1 FROM sysctl", ["linux", "darwin"]) == [
        "`sysctl` is not an osquery table; osquery's is `system_controls` (on Linux and macOS)"
    ]
    # A check for every platform is blamed only where it fails on each, and for its mistake
    # where the table exists rather than for the platforms without it.
    assert query_mistakes("SELECT 1 FROM alf", None) == []
    assert query_mistakes("SELECT 1 FROM systemd_units WHERE name = 'x'", None) == [
        "`systemd_units` has no column `name`; osquery's is `id` (on Linux)"
    ]
    assert query_mistakes("SELEC 1", ["linux"]) == [
        'the query is not valid SQL (near "SELEC": syntax error); osquery cannot run it either'
        " (on Linux)"
    ]


CHECKS = """\
- name: IP forwarding off
  query: SELECT 1 FROM sysctl WHERE name = 'net.ipv4.ip_forward' AND current_value = '0';
  platform: linux
- name: SSH running
  query: SELECT 1 FROM systemd_units su WHERE su.name = 'ssh.service';
  platform: linux
- name: Firewall on
  query: SELECT 1 FROM stethoscope_firewall WHERE enabled = 1;
"""


def test_check_policy_warns_naming_the_check_and_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "checks.d").mkdir()
    (tmp_path / "checks.d" / "it.yaml").write_text(CHECKS)
    (tmp_path / "policy.yaml").write_text(
        "firewall: ALWAYS\ncustomChecks:\n"
        "  - {name: Kernel modules, query: SELECT 1 FROM kernel_module, platform: linux}\n"
    )
    assert main(["check-policy", str(tmp_path)]) == 0  # the files are valid: warnings only
    out = capsys.readouterr().out.splitlines()
    warnings = [line for line in out if line.startswith("warning: ")]
    policy, checks = tmp_path / "policy.yaml", tmp_path / "checks.d" / "it.yaml"
    assert warnings == [
        f"warning: {policy}:3: customChecks[0].name: 'Kernel modules': `kernel_module` is not an "
        "osquery table; osquery's is `kernel_modules` (on Linux)",
        f"warning: {checks}:1: [0].name: 'IP forwarding off': `sysctl` is not an osquery table; "
        "osquery's is `system_controls` (on Linux)",
        f"warning: {checks}:4: [1].name: 'SSH running': `systemd_units` has no column `name`; "
        "osquery's is `id` (on Linux)",
    ]


def test_import_fleet_warns_about_the_same(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "fleet.yaml"
    source.write_text(CHECKS)
    assert main(["import-fleet", str(source), "--platform", "linux", "--keep-queries"]) == 0
    captured = capsys.readouterr()
    assert "name: IP forwarding off" in captured.out  # kept: the warning does not drop it
    warnings = [line for line in captured.err.splitlines() if line.startswith("warning: ")]
    assert [w.split(": ", 3)[3] for w in warnings] == [
        "'IP forwarding off': `sysctl` is not an osquery table; osquery's is `system_controls` "
        "(on Linux)",
        "'SSH running': `systemd_units` has no column `name`; osquery's is `id` (on Linux)",
    ]
    # Without --keep-queries, both are corrected (tests/core/test_query_corrections.py).
    assert main(["import-fleet", str(source), "--platform", "linux"]) == 0
    captured = capsys.readouterr()
    assert "FROM system_controls WHERE" in captured.out and "su.id = 'ssh.service'" in captured.out
    assert "warning: " not in captured.err
