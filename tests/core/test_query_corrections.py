"""Corrections of the known mistakes in IT's queries: the rewriter, its safety net, import-fleet.

The queries are our own, in the shapes Fleet's published Linux policies take (a table `sysctl`,
`systemd_units.name`, subqueries side by side), plus the shapes a rename must not break.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from stethoscope_desktop.cli import main
from stethoscope_desktop.core.custom_checks import (
    CustomCheck,
    custom_check_status,
    import_fleet,
    query_problem,
    read_checks_file,
)
from stethoscope_desktop.core.query_corrections import (
    correct_for_osquery,
    known_columns,
    rewrite_query,
    tokenize,
)
from stethoscope_desktop.core.scanner import run_custom_check
from stethoscope_desktop.core.status import Status
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.engines.osquery_schema import prepares, query_mistakes
from stethoscope_desktop.tables.catalog import builtin_tables
from tests.fakes import FakeSystem, result
from tests.tables.linux.helpers import make_root


def rewritten(sql: str) -> str | None:
    correction = rewrite_query(sql, known_columns())
    return None if correction is None else correction.query


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        pytest.param(
            "SELECT 1 FROM sysctl WHERE name = 'vm.swappiness' AND value = '10'",
            "SELECT 1 FROM system_controls WHERE name = 'vm.swappiness' AND current_value = '10'",
            id="table-and-bare-column",
        ),
        pytest.param(
            "SELECT 1 FROM sysctl AS k WHERE k.name = 'fs.suid_dumpable' AND k.value = '0'",
            "SELECT 1 FROM system_controls AS k WHERE k.name = 'fs.suid_dumpable' "
            "AND k.current_value = '0'",
            id="alias-with-as",
        ),
        pytest.param(
            "SELECT 1 FROM sysctl k WHERE CAST(k.value AS INTEGER) >= 2",
            "SELECT 1 FROM system_controls k WHERE CAST(k.current_value AS INTEGER) >= 2",
            id="alias-without-as-in-cast",
        ),
        pytest.param(
            "SELECT sysctl.value FROM sysctl WHERE sysctl.name = 'kernel.sysrq'",
            "SELECT system_controls.current_value FROM system_controls "
            "WHERE system_controls.name = 'kernel.sysrq'",
            id="qualified-by-the-table",
        ),
        pytest.param(
            "SELECT 1 WHERE EXISTS (SELECT 1 FROM sysctl WHERE name='net.ipv6.x' AND value='0');",
            "SELECT 1 WHERE EXISTS (SELECT 1 FROM system_controls WHERE name='net.ipv6.x' "
            "AND current_value='0');",
            id="subquery",
        ),
        pytest.param(
            "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM deb_packages WHERE name = 'atd')\n"
            "  OR EXISTS (SELECT 1 FROM systemd_units\n"
            "             WHERE (name = 'atd.service' OR name = 'at.service')\n"
            "               AND enabled_state = 'enabled')",
            "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM deb_packages WHERE name = 'atd')\n"
            "  OR EXISTS (SELECT 1 FROM systemd_units\n"
            "             WHERE (id = 'atd.service' OR id = 'at.service')\n"
            "               AND unit_file_state = 'enabled')",
            id="sibling-subquery-keeps-its-name",
        ),
        pytest.param(
            "SELECT 1 FROM sysctl /* sysctl value */ WHERE name = 'sysctl value' -- value\n"
            "AND value = 'sysctl'",
            "SELECT 1 FROM system_controls /* sysctl value */ WHERE name = 'sysctl value' "
            "-- value\nAND current_value = 'sysctl'",
            id="strings-and-comments-untouched",
        ),
        pytest.param(
            "SELECT 1 FROM \"sysctl\" WHERE \"value\" = '1' AND `name` = 'x' AND [value] != ''",
            "SELECT 1 FROM \"system_controls\" WHERE \"current_value\" = '1' AND `name` = 'x' "
            "AND [current_value] != ''",
            id="quoted-identifiers",
        ),
        pytest.param(
            "select 1 from SYSCTL where NAME = 'x' and Value = '1'",
            "select 1 from system_controls where NAME = 'x' and current_value = '1'",
            id="case",
        ),
        pytest.param(
            "SELECT 1 FROM main.sysctl WHERE value = '1'",
            "SELECT 1 FROM main.system_controls WHERE current_value = '1'",
            id="schema-qualified",
        ),
        pytest.param(
            "SELECT 1 FROM systemd_units u JOIN deb_packages d ON d.name = 'cron' "
            "WHERE u.name = 'cron.service' AND u.active_state = 'active'",
            "SELECT 1 FROM systemd_units u JOIN deb_packages d ON d.name = 'cron' "
            "WHERE u.id = 'cron.service' AND u.active_state = 'active'",
            id="join-qualified",
        ),
        pytest.param(
            "SELECT 1 FROM systemd_units JOIN file ON file.path = '/etc/x' "
            "WHERE name = 'x.service'",
            "SELECT 1 FROM systemd_units JOIN file ON file.path = '/etc/x' WHERE id = 'x.service'",
            id="join-with-a-table-without-that-column",
        ),
        pytest.param(
            "SELECT 1 FROM (sysctl k JOIN deb_packages d ON d.name = 'procps') WHERE k.value = '1'",
            "SELECT 1 FROM (system_controls k JOIN deb_packages d ON d.name = 'procps') "
            "WHERE k.current_value = '1'",
            id="join-in-parentheses",
        ),
        pytest.param(
            "SELECT name FROM deb_packages UNION SELECT name FROM systemd_units",
            "SELECT name FROM deb_packages UNION SELECT id FROM systemd_units",
            id="union",
        ),
        pytest.param(
            "SELECT 1 FROM systemd_units u WHERE EXISTS (SELECT 1 FROM deb_packages "
            "WHERE name = 'cron' AND u.name = 'cron.service')",
            "SELECT 1 FROM systemd_units u WHERE EXISTS (SELECT 1 FROM deb_packages "
            "WHERE name = 'cron' AND u.id = 'cron.service')",
            id="correlated-outer-alias",
        ),
        pytest.param(
            "WITH k AS (SELECT name, value AS v FROM sysctl) SELECT 1 FROM k WHERE v = '1'",
            "WITH k AS (SELECT name, current_value AS v FROM system_controls) "
            "SELECT 1 FROM k WHERE v = '1'",
            id="cte-body",
        ),
        pytest.param(
            "SELECT value AS value FROM sysctl",
            "SELECT current_value AS value FROM system_controls",
            id="output-alias-kept",
        ),
        pytest.param(
            "SELECT 1 FROM users WHERE name = 'root' AND uid = 0",
            "SELECT 1 FROM users WHERE username = 'root' AND uid = 0",
            id="users-name",
        ),
    ],
)
def test_the_rewriter_renames_by_scope(sql: str, expected: str) -> None:
    assert rewritten(sql) == expected


@pytest.mark.parametrize(
    "sql",
    [
        pytest.param("SELECT 1 FROM system_controls WHERE current_value = '1'", id="right"),
        pytest.param("SELECT 1 FROM deb_packages WHERE name = 'sysctl'", id="other-table"),
        pytest.param("SELECT 'sysctl' AS value -- FROM sysctl", id="string-and-comment"),
        pytest.param(
            "WITH sysctl AS (SELECT 1 AS value) SELECT 1 FROM sysctl WHERE value = 1",
            id="a-cte-named-sysctl",
        ),
        pytest.param(
            "SELECT 1 FROM systemd_units, deb_packages WHERE name = 'cron'", id="ambiguous"
        ),
        pytest.param("SELECT 1 FROM sysctl WHERE (value = '1'", id="unbalanced"),
        pytest.param(
            "SELECT 1 FROM file WHERE EXISTS (SELECT 1 FROM systemd_units) AND name = 'x'",
            id="outer-scope-does-not-read-it",
        ),
    ],
)
def test_the_rewriter_leaves_alone_what_is_not_a_known_mistake(sql: str) -> None:
    assert rewritten(sql) is None


def test_tokens_give_the_query_back_exactly() -> None:
    sql = "SELECT \"a\"\"b\", 'it''s', [x], `y`, 1.5e3, x'00' -- c\n/* d */ FROM t WHERE a<>b;"
    assert "".join(token.text for token in tokenize(sql)) == sql


SYSCTL_CHECK = (
    "SELECT 1 WHERE EXISTS (SELECT 1 FROM sysctl WHERE name = 'kernel.x' AND value = '1')"
)
CORRECTED_SYSCTL = (
    "SELECT 1 WHERE EXISTS (SELECT 1 FROM system_controls WHERE name = 'kernel.x' "
    "AND current_value = '1')"
)


def test_a_correction_is_kept_when_osquery_rejects_the_original_and_takes_the_result() -> None:
    correction = correct_for_osquery(SYSCTL_CHECK, ("linux",))
    assert correction is not None
    assert correction.query == CORRECTED_SYSCTL
    assert correction.comment == (
        "corrected for osquery: table sysctl → system_controls; "
        "column value → current_value in system_controls"
    )
    assert query_mistakes(SYSCTL_CHECK, ("linux",))
    assert query_mistakes(correction.query, ("linux",)) == []
    assert prepares(correction.query, "linux")
    assert query_problem(correction.query) is None
    # Every platform: osquery has system_controls on macOS and Linux.
    assert correct_for_osquery(SYSCTL_CHECK, None) == correction


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        pytest.param(
            "SELECT 1 FROM sysctl JOIN augeas ON augeas.path = '/etc/sysctl.conf' "
            "WHERE value = '1'",
            "augeas has a column value too: which one was meant is not known",
            id="ambiguous",
        ),
        pytest.param(
            "WITH k AS (SELECT * FROM sysctl) SELECT 1 FROM k WHERE k.value = '1'",
            "the CTE's value is the outer query's too: the result would not prepare",
            id="result-does-not-prepare",
        ),
        pytest.param(
            "SELECT 1 FROM sysctl WHERE name = 'x' AND current = '1'",
            "a mistake no correction knows is left: osquery would still reject it",
            id="other-mistake-left",
        ),
        pytest.param(
            "SELECT 1 FROM system_controls WHERE name = 'x'",
            "nothing to correct",
            id="valid",
        ),
        pytest.param(
            "SELECT 1 FROM sysctl WHERE value = '1'",
            "on Windows osquery has no system_controls: nothing to gain",
            id="other-platform",
        ),
    ],
)
def test_the_safety_net_keeps_the_original(sql: str, why: str) -> None:
    platforms = ("windows",) if "Windows" in why else ("linux",)
    assert correct_for_osquery(sql, platforms) is None, why


# ---------------------------------------------------------------------------------------------
# import-fleet
# ---------------------------------------------------------------------------------------------

FLEET_FILE = """\
apiVersion: v1
kind: policy
spec:
  name: Kernel pointers are hidden
  platform: linux
  description: Kernel addresses are not shown to users.
  resolution: Set kernel.kptr_restrict to 1 in /etc/sysctl.d/.
  query: |
    SELECT 1 WHERE EXISTS (
      SELECT 1 FROM sysctl WHERE name = 'kernel.kptr_restrict' AND CAST(value AS INTEGER) >= 1
    );
  tags: hardening
---
apiVersion: v1
kind: policy
spec:
  name: Print server is not running
  platform: linux
  resolution: Stop and disable cups.
  query: |
    SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM deb_packages WHERE name = 'cups')
       OR NOT EXISTS (
         SELECT 1 FROM systemd_units
         WHERE name IN ('cups.service', 'cups.socket') AND enabled_state = 'enabled'
       );
---
apiVersion: v1
kind: policy
spec:
  name: Automounter files are listed
  platform: linux
  query: SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM glob WHERE pattern = '/etc/auto.*');
---
apiVersion: v1
kind: policy
spec:
  name: Firewall package installed
  platform: linux
  query: SELECT 1 FROM deb_packages WHERE name = 'ufw';
"""


@pytest.fixture
def fleet_file(tmp_path: Path) -> Path:
    source = tmp_path / "hardening.yml"
    source.write_text(FLEET_FILE, encoding="utf-8")
    return source


def test_import_fleet_corrects_the_known_mistakes_and_says_what_it_changed(
    fleet_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "checks.d"
    target.mkdir()
    assert main(["import-fleet", str(fleet_file), "-o", str(target)]) == 0
    out, err = capsys.readouterr()
    written = target / "hardening.yaml"
    assert out == (
        f"wrote 4 checks to {written}; 2 queries corrected for osquery "
        "(--keep-queries keeps them as written)\n"
    )
    assert (
        f"corrected for osquery: {fleet_file}:4: spec.name: 'Kernel pointers are hidden': "
        "table sysctl → system_controls; column value → current_value in system_controls"
    ) in err
    assert (
        f"corrected for osquery: {fleet_file}:17: spec.name: 'Print server is not running': "
        "column name → id in systemd_units; column enabled_state → unit_file_state in "
        "systemd_units"
    ) in err
    # glob cannot be renamed (osquery's file takes a LIKE pattern): it stays, with the warning.
    assert "'Automounter files are listed': `glob` is not an osquery table" in err
    assert [line for line in err.splitlines() if line.startswith("warning:")] == [
        f"warning: {fleet_file}:30: spec.name: 'Automounter files are listed': `glob` is not an "
        "osquery table; osquery's is `file` (on Linux)"
    ]
    text = written.read_text("utf-8")
    assert '# A query marked "corrected for osquery" named a table or column' in text
    assert (
        "  # corrected for osquery: table sysctl → system_controls; column value → "
        "current_value in system_controls\n  query: |-\n    SELECT 1 WHERE EXISTS (\n"
        "      SELECT 1 FROM system_controls WHERE name = 'kernel.kptr_restrict' AND "
        "CAST(current_value AS INTEGER) >= 1\n    );"
    ) in text
    assert (
        "    SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM deb_packages WHERE name = 'cups')\n"
        "       OR NOT EXISTS (\n         SELECT 1 FROM systemd_units\n"
        "         WHERE id IN ('cups.service', 'cups.socket') AND unit_file_state = 'enabled'\n"
    ) in text
    assert text.count("# corrected for osquery") == 2
    loaded = read_checks_file(written)
    assert loaded.problems == []
    assert [query_mistakes(check.query, check.platforms) for check in loaded.checks] == [
        [],
        [],
        ["`glob` is not an osquery table; osquery's is `file` (on Linux)"],
        [],
    ]


def test_import_fleet_keep_queries_writes_them_as_fleet_has_them(
    fleet_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import-fleet", str(fleet_file)]) == 0
    out, err = capsys.readouterr()
    assert out.count("# corrected for osquery") == 2
    assert err.endswith(
        "\n2 queries corrected for osquery (--keep-queries keeps them as written)\n"
    )
    assert main(["import-fleet", str(fleet_file), "--keep-queries"]) == 0
    out, err = capsys.readouterr()
    assert "corrected for osquery" not in out + err
    assert "FROM sysctl WHERE" in out and "system_controls" not in out
    assert "`sysctl` is not an osquery table; osquery's is `system_controls`" in err


def test_checks_loaded_at_scan_time_are_never_corrected(fleet_file: Path) -> None:
    loaded = read_checks_file(fleet_file)
    assert "FROM sysctl" in loaded.checks[0].query
    assert import_fleet(loaded, "linux").corrected == ()  # the library's default: as written
    corrected = import_fleet(loaded, "linux", correct=True)
    assert [key for key, _ in corrected.corrected] == [
        "custom/kernel-pointers-are-hidden",
        "custom/print-server-is-not-running",
    ]
    assert loaded.checks[0].query.count("sysctl") == 1  # the loaded checks are left as they are


# ---------------------------------------------------------------------------------------------
# verdicts of the corrected checks, on a fake Debian root
# ---------------------------------------------------------------------------------------------

LIST_FLAGS = ("--plain", "--no-legend", "--no-pager")
UNITS = """\
cups.service      loaded active running CUPS Scheduler
cups.socket       loaded active running CUPS Scheduler
ssh.service       loaded active running OpenBSD Secure Shell server
"""
UNIT_FILES = """\
cups.service      {cups}      enabled
cups.socket       {cups}      enabled
ssh.service       enabled     enabled
"""


def debian(root: Path, *, kptr_restrict: str, cups: str) -> FakeSystem:
    """A fake Debian with cups installed, its units' state `cups` and a kernel setting."""
    make_root(
        root,
        {
            "/run/systemd/system/.keep": "",
            "/proc/sys/kernel/kptr_restrict": f"{kptr_restrict}\n",
            "/proc/sys/kernel/sysrq": "176\n",
            "/var/lib/dpkg/status": (
                "Package: cups\nStatus: install ok installed\nVersion: 2.4.2-3\n"
                "Architecture: amd64\n\n"
            ),
        },
    )
    commands = dict(
        [
            result(["systemctl", "list-units", "--all", *LIST_FLAGS], UNITS),
            result(["systemctl", "list-unit-files", *LIST_FLAGS], UNIT_FILES.format(cups=cups)),
            result(["systemctl", "list-jobs", *LIST_FLAGS], ""),
        ]
    )
    return FakeSystem(root, commands=commands)


def verdicts(system: FakeSystem, checks: Sequence[CustomCheck]) -> dict[str, Status]:
    """Run the checks as a scan runs IT's checks: name -> verdict."""
    engine = EmbeddedEngine(builtin_tables("linux", system))
    try:
        with engine.begin_scan() as session:
            found = {}
            for check in checks:
                fact = run_custom_check(session, check)
                rows = fact.value if fact.ok and isinstance(fact.value, int) else None
                found[check.name] = custom_check_status(check, rows)
            return found
    finally:
        engine.close()


def test_the_corrected_checks_get_the_right_verdicts(fleet_file: Path, tmp_path: Path) -> None:
    loaded = read_checks_file(fleet_file)
    kept = import_fleet(loaded, "linux").checks
    corrected = import_fleet(loaded, "linux", correct=True).checks
    hardened = debian(tmp_path / "hardened", kptr_restrict="1", cups="disabled")
    loose = debian(tmp_path / "loose", kptr_restrict="0", cups="enabled")
    assert verdicts(hardened, corrected) == {
        "Kernel pointers are hidden": Status.PASS,
        "Print server is not running": Status.PASS,
        "Automounter files are listed": Status.UNKNOWN,  # glob is not corrected
        "Firewall package installed": Status.NUDGE,
    }
    assert verdicts(loose, corrected) == {
        "Kernel pointers are hidden": Status.NUDGE,
        "Print server is not running": Status.NUDGE,
        "Automounter files are listed": Status.UNKNOWN,
        "Firewall package installed": Status.NUDGE,
    }
    # As Fleet wrote them, neither could run, here or on osquery.
    assert verdicts(hardened, kept) == {
        "Kernel pointers are hidden": Status.UNKNOWN,
        "Print server is not running": Status.UNKNOWN,
        "Automounter files are listed": Status.UNKNOWN,
        "Firewall package installed": Status.NUDGE,
    }
