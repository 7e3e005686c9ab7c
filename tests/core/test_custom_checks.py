"""IT's own checks: loaded from `customChecks` and `checks.d/`, validated, layered, scanned.

The scans run through the real `Scanner` on the embedded engine with canned Debian tables
(`tests/canned.py`), with the bundled policy and texts, so IT's checks are seen ranked among
the built-in practices exactly as the window, the CLI and the API get them.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from stethoscope_desktop.cli import main
from stethoscope_desktop.core.checks import load_checks
from stethoscope_desktop.core.custom_checks import (
    CHECK_KEYS,
    FLEET_METADATA_KEYS,
    FLEET_SCRIPT_KEYS,
    MAX_NAME_CHARS,
    MAX_SQL_CHARS,
    CustomCheck,
    query_problem,
    slug,
)
from stethoscope_desktop.core.policy import POLICY_KEYS, policy_from_mapping
from stethoscope_desktop.core.practices import Practices, PracticesLoader, practices_folders
from stethoscope_desktop.core.report import Report
from stethoscope_desktop.core.scanner import MAX_CUSTOM_EVIDENCE_ROWS, Scanner
from stethoscope_desktop.core.status import Rating, Status
from stethoscope_desktop.engines.base import QueryError
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.resources import checks_dir, practices_dir
from stethoscope_desktop.tables.base import TablePlugin
from stethoscope_desktop.text_report import render_report
from tests.canned import canned_linux
from tests.test_formats import policy_def, policy_problems, schema, schema_errors, yaml_data


def y(text: str) -> str:
    """Return a YAML text written indented in a table, its first line being line 1."""
    return textwrap.dedent(text).lstrip("\n")


def write(folder: Path, files: dict[str, str]) -> Path:
    """Write `files` (relative name → text) under `folder` and return it."""
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def loader_for(
    tmp_path: Path,
    it: dict[str, str] | None = None,
    override: dict[str, str] | None = None,
    bundled: Path | None = None,
) -> PracticesLoader:
    """A loader over the bundled practices, IT's machine folder and an override folder."""
    machine = write(tmp_path / "it", it) if it is not None else tmp_path / "no-it"
    override_path = write(tmp_path / "override", override) if override is not None else None
    folders = practices_folders(bundled or practices_dir(), override_path, machine=machine, env={})
    return PracticesLoader(folders, "en")


def scan(
    practices: Practices, tables: list[TablePlugin] | None = None, platform: str = "linux"
) -> Report:
    engine = EmbeddedEngine(tables if tables is not None else canned_linux(), platform=platform)
    try:
        scanner = Scanner(engine, load_checks(checks_dir()), platform=platform)
        return scanner.scan(practices)
    finally:
        engine.close()


def result(report: Report, key: str) -> object:
    practice = report.practice(key)
    assert practice is not None, [p.key for p in report.practices]
    return practice


POLICY = y(
    """
    customChecks:
      - name: Debian 12 or later
        platform: linux
        critical: true
        description: Older Debian releases get no security updates.
        resolution: |
          1. Read [the release notes](https://www.debian.org/releases/bookworm/).
          2. Upgrade.
        query: SELECT name, major FROM os_version WHERE major >= 12
        team: Workstations
        tags: compliance, linux
      - name: Debian 13 or later
        platform: [linux]
        critical: true
        resolution: Upgrade to trixie.
        query: SELECT 1 FROM os_version WHERE major >= 13
      - name: unattended-upgrades installed
        platform: darwin,linux
        resolution: Run `sudo apt install unattended-upgrades`.
        query: SELECT 1 FROM deb_packages WHERE name = 'unattended-upgrades'
      - name: Gatekeeper on
        platform: darwin
        critical: true
        query: SELECT 1 FROM gatekeeper WHERE assessments_enabled = 1
      - name: Screen lock on ChromeOS
        platform: chrome
        query: SELECT 1
      - name: No unencrypted SSH keys
        query: |
          SELECT 1 WHERE NOT EXISTS (
            SELECT 1 FROM users CROSS JOIN user_ssh_keys USING (uid) WHERE encrypted = 0)
    """
)


@pytest.fixture
def report(tmp_path: Path) -> Report:
    # IT's policy is the whole policy: the bundled practices and IT's checks, in one file.
    bundled = (practices_dir() / "policy.yaml").read_text(encoding="utf-8")
    return scan(loader_for(tmp_path, {"policy.yaml": bundled + POLICY}).load())


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def test_checks_in_the_policy_load_with_their_fleet_fields(tmp_path: Path) -> None:
    practices = loader_for(tmp_path, {"policy.yaml": POLICY}).load()
    assert practices.problems == ()
    checks = {check.name: check for check in practices.policy.custom_checks}
    first = checks["Debian 12 or later"]
    assert first.key == "custom/debian-12-or-later"
    assert first.platforms == ("linux",)
    assert first.critical is True and first.rating is Rating.CRITICAL
    assert first.resolution.startswith("1. Read [the release notes]")
    assert first.file == str(tmp_path / "it" / "policy.yaml")
    assert (first.where, first.line) == ("customChecks[0]", 2)
    assert checks["unattended-upgrades installed"].platforms == ("darwin", "linux")
    assert checks["unattended-upgrades installed"].critical is False
    assert checks["Screen lock on ChromeOS"].platforms == ()
    assert checks["No unencrypted SSH keys"].platforms is None
    # IT's policy is the whole policy: none of the bundled practices applies beside its checks.
    assert not practices.policy.features and not practices.policy.os_version


def test_checks_d_files_load_in_name_order_after_the_policys_checks(tmp_path: Path) -> None:
    it = {
        "policy.yaml": "customChecks:\n  - {name: From the policy, query: SELECT 1}\n",
        "checks.d/20-list.yaml": "- {name: From a list, query: SELECT 1}\n",
        "checks.d/10-fleet.yml": y(
            """
            ---
            apiVersion: v1
            kind: policy
            spec: {name: From Fleet, query: SELECT 1, platform: linux}
            ---
            apiVersion: v1
            kind: query
            spec: {name: A Fleet query, query: SELECT 1}
            """
        ),
        "checks.d/30-one.yaml": "name: A single check\nquery: SELECT 1\n",
        "checks.d/.#40-editor-lock.yaml": "not: [yaml",
        "checks.d/README.txt": "not a checks file",
    }
    loader = loader_for(tmp_path, it)
    practices = loader.load()
    assert practices.problems == ()
    assert [c.name for c in practices.policy.custom_checks] == [
        "From the policy",
        "From Fleet",
        "From a list",
        "A single check",
    ]
    checks_d = tmp_path / "it" / "checks.d"
    for name in ("10-fleet.yml", "20-list.yaml", "30-one.yaml"):
        assert str(checks_d / name) in practices.files
        assert checks_d / name in loader.watched_files()
    assert loader.watched_folders() == [tmp_path / "it", checks_d]


def test_a_checks_d_folder_in_the_override_adds_checks(tmp_path: Path) -> None:
    practices = loader_for(
        tmp_path, override={"checks.d/mine.yaml": "- {name: Mine, query: SELECT 1}\n"}
    ).load()
    assert [c.name for c in practices.policy.custom_checks] == ["Mine"]
    assert practices.policy.features  # the bundled policy is still layered underneath


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Disk: encrypted?", "custom/disk-encrypted"),
        ("Ensure 'Minimum password length' is set", "custom/ensure-minimum-password-length-is-set"),
        ("Écran verrouillé", "custom/écran-verrouillé"),
        ("!!!", "custom/check"),
        ("x" * 200, "custom/" + "x" * 80),
    ],
)
def test_keys_are_slugs_of_the_names(name: str, key: str) -> None:
    assert CustomCheck(name, "SELECT 1").key == key
    assert slug(name) == key.removeprefix("custom/")


@pytest.mark.parametrize(
    "query",
    [
        "SELECT 1",
        "SELECT 1;",
        "select 1 ;  ",
        "-- a comment; with a semicolon\nSELECT 1 /* ; */",
        "WITH x AS (SELECT 1 AS a) SELECT a FROM x",
        "VALUES (1)",
        "SELECT 'it''s; fine' AS [odd;name], \"q;\" FROM os_version",
        "\n  SELECT 1\n",
    ],
)
def test_read_only_single_queries_are_accepted(query: str) -> None:
    assert query_problem(query) is None


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("SELECT 1; SELECT 2", "must be one SQL statement (this has 2)"),
        ("DELETE FROM users", "must be a SELECT query (osquery runs only SELECT), not 'DELETE'"),
        ("ATTACH DATABASE '/tmp/x.db' AS x", "not 'ATTACH'"),
        ("SELECT 1; ATTACH DATABASE '/tmp/x.db' AS x", "must be one SQL statement"),
        ("SELECT (1); ATTACH DATABASE '/tmp/x.db' AS x", "must be one SQL statement (this has 2)"),
        ("SELECT (1)); ATTACH DATABASE '/tmp/x.db' AS x", "must be one SQL statement"),
        ("PRAGMA writable_schema = 1", "not 'PRAGMA'"),
        ("SELECT 'unclosed", "not valid SQL: a ' is not closed"),
        ("-- only a comment", "must be an osquery SQL query"),
        ("SELECT 1 -- " + "x" * MAX_SQL_CHARS, f"longer than {MAX_SQL_CHARS} characters"),
    ],
)
def test_other_queries_are_refused(query: str, fragment: str) -> None:
    problem = query_problem(query)
    assert problem is not None and fragment in problem


def test_a_semicolon_inside_parentheses_is_that_querys_syntax_error_when_it_runs(
    tmp_path: Path,
) -> None:
    # Fleet's CIS file has such queries: kept as checks, UNKNOWN with SQLite's reason, and
    # nothing after the semicolon runs (SQLite stops compiling there).
    query = (
        "SELECT 1 WHERE (SELECT 1 WHERE EXISTS (SELECT 1 FROM os_version);) "
        "AND (SELECT 1; ATTACH DATABASE '" + str(tmp_path / "x.db") + "' AS x)"
    )
    assert query_problem(query) is None
    engine = EmbeddedEngine(canned_linux())
    session = engine.begin_scan()
    try:
        with pytest.raises(
            QueryError, match=r"not valid SQL \(near \";\": syntax error\); osquery"
        ):
            session.query(query)
    finally:
        session.close()
    assert not (tmp_path / "x.db").exists()


# ---------------------------------------------------------------------------------------------
# Scanning
# ---------------------------------------------------------------------------------------------


def test_a_passing_check_shows_its_own_texts_and_evidence(report: Report) -> None:
    passing = report.practice("custom/debian-12-or-later")
    assert passing is not None
    assert passing.status is Status.PASS
    assert passing.practice == "custom"
    assert (passing.name, passing.title) == ("Debian 12 or later", "Debian 12 or later")
    assert passing.description == "Older Debian releases get no security updates."
    assert passing.directions.startswith("1. Read [the release notes]")
    assert [link.url for link in passing.links] == ["https://www.debian.org/releases/bookworm/"]
    assert passing.observed == "the query returned 1 row"
    assert passing.evidence.check == "custom/debian-12-or-later"
    assert passing.evidence.sql == "SELECT name, major FROM os_version WHERE major >= 12"
    assert passing.evidence.tables == ("os_version",)
    assert passing.evidence.rows == ({"name": "Debian GNU/Linux", "major": 12},)
    assert passing.rating is Rating.CRITICAL


def test_a_failing_critical_check_is_a_critical_finding(report: Report) -> None:
    failing = report.practice("custom/debian-13-or-later")
    assert failing is not None
    assert (failing.status, failing.rating) == (Status.FAIL, Rating.CRITICAL)
    assert failing.observed == "the query returned no rows"
    assert failing.directions == "Upgrade to trixie."
    assert failing in report.critical()
    assert report.status is Status.FAIL
    assert report.practices[0] is failing  # the only failure, and critical: first


def test_a_failing_check_that_is_not_critical_is_a_suggestion(report: Report) -> None:
    nudge = report.practice("custom/unattended-upgrades-installed")
    assert nudge is not None
    assert (nudge.status, nudge.rating) == (Status.NUDGE, Rating.MEDIUM)
    assert nudge not in report.critical()
    assert nudge.held_against


def test_a_check_for_other_platforms_is_left_out(report: Report) -> None:
    keys = {p.key for p in report.practices}
    assert "custom/gatekeeper-on" not in keys
    assert "custom/screen-lock-on-chromeos" not in keys  # chrome never applies to a desktop
    assert {"custom/debian-12-or-later", "custom/no-unencrypted-ssh-keys"} <= keys


def test_a_table_the_embedded_engine_lacks_makes_the_check_unknown_naming_it(
    report: Report,
) -> None:
    unknown = report.practice("custom/no-unencrypted-ssh-keys")
    assert unknown is not None
    assert unknown.status is Status.UNKNOWN
    assert unknown.reason == (
        "needs osquery: table users is not built into Stethoscope on this platform"
    )
    assert unknown.evidence.error == unknown.reason
    assert unknown.observed == ""


def test_a_query_error_makes_the_check_unknown_with_the_sql_error(tmp_path: Path) -> None:
    policy = "customChecks:\n  - {name: Typo, query: SELECT nonsense_column FROM os_version}\n"
    typo = scan(loader_for(tmp_path, {"policy.yaml": policy}).load()).practice("custom/typo")
    assert typo is not None and typo.status is Status.UNKNOWN
    assert typo.reason.startswith(
        "`os_version` has no column `nonsense_column` (its columns: name,"
    )


def test_the_checks_d_checks_are_scanned_too(tmp_path: Path) -> None:
    it = {
        "checks.d/fleet.yml": y(
            """
            apiVersion: v1
            kind: policy
            spec:
              name: Firefox 128 or later
              platform: linux
              critical: true
              query: >-
                SELECT name, version FROM deb_packages WHERE name = 'firefox-esr'
                AND version_compare(version, '128', 'DPKG') >= 0
            """
        )
    }
    firefox = scan(loader_for(tmp_path, it).load()).practice("custom/firefox-128-or-later")
    assert firefox is not None and firefox.status is Status.PASS
    assert firefox.evidence.rows == ({"name": "firefox-esr", "version": "128.5.0esr-1~deb12u1"},)


def test_custom_checks_are_ranked_among_the_practices(report: Report) -> None:
    order = [(p.status, p.rating, p.name.casefold()) for p in report.practices]
    status_rank = ["FAIL", "NUDGE", "UNKNOWN", "PASS"]
    rating_rank = ["critical", "high", "medium", "low"]
    assert order == sorted(
        order, key=lambda o: (status_rank.index(o[0]), rating_rank.index(o[1]), o[2])
    )
    keys = [p.key for p in report.practices]
    # FAIL critical (ours) < NUDGE critical (osVersion) < NUDGE medium (ours) < NUDGE low (app)
    assert keys.index("custom/debian-13-or-later") < keys.index("osVersion")
    assert keys.index("osVersion") < keys.index("custom/unattended-upgrades-installed")
    assert keys.index("custom/unattended-upgrades-installed") < keys.index("applications/clamav")
    assert keys.index("custom/no-unencrypted-ssh-keys") < keys.index("diskEncryption")
    assert "(1 needs attention, 3 suggestions, 1 couldn't be checked)." in report.summary


def test_the_report_with_custom_checks_is_valid_json_and_prints(report: Report) -> None:
    assert schema_errors("report", json.loads(report.to_json())) == []
    instructions = loader_for_bundled().load().instructions
    text = render_report(report, instructions, colour=False, details=True)
    assert "Debian 13 or later" in text
    assert "Upgrade to trixie." in text  # the resolution is printed as the directions
    assert "needs osquery: table users" in text  # the engine's reason, among the details


def loader_for_bundled() -> PracticesLoader:
    return PracticesLoader(practices_folders(practices_dir(), None, machine=Path("/nx"), env={}))


def test_evidence_keeps_the_first_rows_but_counts_them_all(tmp_path: Path) -> None:
    packages = [
        {"name": f"pkg{i}", "version": "1.0", "status": "install ok installed"} for i in range(120)
    ]
    policy = "customChecks:\n  - {name: Packages, query: SELECT name FROM deb_packages}\n"
    practices = loader_for(tmp_path, {"policy.yaml": policy}).load()
    packages_check = scan(practices, canned_linux(deb_packages=packages)).practice(
        "custom/packages"
    )
    assert packages_check is not None
    assert packages_check.observed == "the query returned 120 rows"
    assert len(packages_check.evidence.rows) == MAX_CUSTOM_EVIDENCE_ROWS


def test_blob_values_are_shown_as_hex(tmp_path: Path) -> None:
    policy = "customChecks:\n  - {name: Bytes, query: \"SELECT x'00ff' AS data\"}\n"
    report = scan(loader_for(tmp_path, {"policy.yaml": policy}).load())
    practice = report.practice("custom/bytes")
    assert practice is not None and practice.evidence.rows == ({"data": "00ff"},)
    json.loads(report.to_json())


def test_on_another_platform_the_same_policy_runs_that_platforms_checks(tmp_path: Path) -> None:
    report = scan(loader_for(tmp_path, {"policy.yaml": POLICY}).load(), platform="darwin")
    keys = {p.key for p in report.practices}
    assert "custom/gatekeeper-on" in keys and "custom/debian-12-or-later" not in keys
    gatekeeper = report.practice("custom/gatekeeper-on")
    assert gatekeeper is not None and gatekeeper.status is Status.UNKNOWN
    assert "needs osquery: table gatekeeper" in gatekeeper.reason


# ---------------------------------------------------------------------------------------------
# Bad input: reported with file, line and key, never raised; the rest still loads
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One malformed checks entry or file and the problem it must produce."""

    id: str
    file: str  # "policy.yaml" or a file under checks.d/
    content: str
    key: str
    line: int | None
    fragment: str


CASES = [
    Case("missing-query", "policy.yaml", "customChecks:\n  - name: A\n", "customChecks[0].query",
         2, "missing; the osquery SQL of the check"),
    Case("blank-name", "policy.yaml", "customChecks:\n  - {name: ' ', query: SELECT 1}\n",
         "customChecks[0].name", 2, "missing; it must be text"),
    Case("missing-name", "checks.d/a.yaml", "- query: SELECT 1\n", "[0].name", 1,
         "missing; it must be text"),
    Case("name-too-long", "checks.d/a.yaml",
         f"- {{name: {'n' * (MAX_NAME_CHARS + 1)}, query: SELECT 1}}\n", "[0].name", 1,
         f"longer than {MAX_NAME_CHARS} characters"),
    Case("not-a-list", "policy.yaml", "customChecks: {name: A, query: SELECT 1}\n",
         "customChecks", 1, "must be a list of checks"),
    Case("entry-not-a-mapping", "policy.yaml", "customChecks:\n  - SELECT 1\n",
         "customChecks[0]", 2, "each check must be a mapping with a name and a query"),
    Case("platform-macos", "checks.d/a.yaml", "- {name: A, query: SELECT 1, platform: macos}\n",
         "[0].platform", 1, "'macos' is not a platform; use darwin, linux, windows (or chrome) "
         '(did you mean "darwin"?)'),
    Case("platform-win32-in-list", "checks.d/a.yaml",
         "- name: A\n  query: SELECT 1\n  platform: [linux, win32]\n", "[0].platform", 3,
         '(did you mean "windows"?)'),
    Case("platform-typo", "checks.d/a.yaml", "- {name: A, query: SELECT 1, platform: 'darwn,linux'}\n",
         "[0].platform", 1, '(did you mean "darwin"?)'),
    Case("platform-empty-piece", "checks.d/a.yaml",
         "- {name: A, query: SELECT 1, platform: 'darwin,'}\n", "[0].platform", 1,
         "an empty platform name"),
    Case("platform-number", "checks.d/a.yaml", "- {name: A, query: SELECT 1, platform: 5}\n",
         "[0].platform", 1, 'must be "darwin", "linux", "windows" or several'),
    Case("unknown-key-critical", "policy.yaml",
         "customChecks:\n  - name: A\n    query: SELECT 1\n    critcal: true\n",
         "customChecks[0].critcal", 4, 'unknown key (did you mean "critical"?)'),
    Case("unknown-key-resolution", "checks.d/a.yaml",
         "- name: A\n  query: SELECT 1\n  resoluton: Fix it.\n", "[0].resoluton", 3,
         'unknown key (did you mean "resolution"?)'),
    Case("critical-text", "policy.yaml",
         "customChecks:\n  - {name: A, query: SELECT 1, critical: 'yes'}\n",
         "customChecks[0].critical", 2, "must be true or false"),
    Case("critical-number", "checks.d/a.yaml", "- {name: A, query: SELECT 1, critical: 1}\n",
         "[0].critical", 1, "must be true or false"),
    Case("description-list", "checks.d/a.yaml", "- {name: A, query: SELECT 1, description: [x]}\n",
         "[0].description", 1, "must be text"),
    Case("two-statements", "checks.d/a.yaml", "- {name: A, query: 'SELECT 1; SELECT 2'}\n",
         "[0].query", 1, "must be one SQL statement (this has 2)"),
    Case("not-a-select", "checks.d/a.yaml", "- {name: A, query: DELETE FROM users}\n",
         "[0].query", 1, "must be a SELECT query"),
    Case("duplicate-name", "checks.d/a.yaml",
         "- {name: Same, query: SELECT 1}\n- {name: Same, query: SELECT 2}\n", "[1].name", 2,
         "a check named 'Same' (key 'custom/same') is already at"),
    Case("same-key-other-name", "checks.d/a.yaml",
         "- {name: Disk encrypted, query: SELECT 1}\n- {name: 'disk  encrypted!', query: SELECT 2}\n",
         "[1].name", 2,
         "'disk  encrypted!' gives the same key 'custom/disk-encrypted' as the check "
         "'Disk encrypted' at"),
    Case("gitops-path", "checks.d/a.yaml", "- path: ../lib/policies.yml\n", "[0].path", 1,
         "refers to another file"),
    Case("api-version", "checks.d/a.yaml",
         "apiVersion: v2\nkind: policy\nspec: {name: A, query: SELECT 1}\n", "apiVersion", 1,
         "must be v1 (Fleet's format), not 'v2'"),
    Case("kind-missing", "checks.d/a.yaml", "apiVersion: v1\nspec: {name: A, query: SELECT 1}\n",
         "kind", 1, "missing; Fleet policies are kind: policy"),
    Case("spec-missing", "checks.d/a.yaml", "apiVersion: v1\nkind: policy\n", "spec", 1,
         "missing; the policy"),
    Case("spec-not-a-mapping", "checks.d/a.yaml", "apiVersion: v1\nkind: policy\nspec: SELECT 1\n",
         "spec", 3, "each check must be a mapping"),
    Case("document-unknown-key", "checks.d/a.yaml",
         "apiVersion: v1\nkind: policy\nmetadata: {}\nspec: {name: A, query: SELECT 1}\n",
         "metadata", 3, "unknown key"),
    Case("spec-entry-problem-names-its-line", "checks.d/a.yaml",
         "apiVersion: v1\nkind: policy\nspec:\n  name: A\n  query: SELECT 1\n  platform: mac\n",
         "spec.platform", 6, '(did you mean "darwin"?)'),
    Case("scalar-file", "checks.d/a.yaml", "SELECT 1\n", "", 1,
         "a checks file holds a list of checks"),
    Case("yaml-error", "checks.d/a.yaml", "- {name: A, query: SELECT 1\n", "", 1, "not valid YAML"),
    Case("binary-file", "checks.d/a.yaml", "\x00\x01", "", None, "binary"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_bad_check_is_reported_with_file_line_and_key(case: Case, tmp_path: Path) -> None:
    it = {case.file: case.content}
    if case.file != "policy.yaml":
        it["checks.d/z-good.yaml"] = "- {name: Still loads, query: SELECT 1}\n"
    practices = loader_for(tmp_path, it).load()
    path = str(tmp_path / "it" / case.file)
    found = [(p.key, p.line, p.message) for p in practices.problems if p.file == path]
    assert any(
        key == case.key and line == case.line and case.fragment in message
        for key, line, message in found
    ), found
    if case.file != "policy.yaml":
        assert "Still loads" in [c.name for c in practices.policy.custom_checks]


def test_case_ids_are_unique() -> None:
    assert len({c.id for c in CASES}) == len(CASES)


def test_one_bad_document_leaves_the_others_loaded(tmp_path: Path) -> None:
    fleet = y(
        """
        apiVersion: v1
        kind: policy
        spec: {name: First, query: SELECT 1}
        ---
        apiVersion: v1
        kind: policy
        spec: {name: Second, platform: linux}
        ---
        apiVersion: v1
        kind: policy
        spec: {name: Third, query: SELECT 1}
        """
    )
    practices = loader_for(tmp_path, {"checks.d/fleet.yml": fleet}).load()
    assert [c.name for c in practices.policy.custom_checks] == ["First", "Third"]
    assert [(p.key, p.line) for p in practices.problems] == [("spec.query", 7)]


def test_a_yaml_error_in_a_document_leaves_only_it_out(tmp_path: Path) -> None:
    fleet = "- {name: First, query: SELECT 1}\n---\n- [\n---\n- {name: Second, query: SELECT 1}\n"
    practices = loader_for(tmp_path, {"checks.d/fleet.yml": fleet}).load()
    assert [c.name for c in practices.policy.custom_checks] == ["First", "Second"]
    assert [p.line for p in practices.problems] == [3, None]  # the document, and what it costs
    assert "not valid YAML" in practices.problems[0].message
    assert "1 check(s) left out" in practices.problems[1].message


def test_the_same_check_in_the_policy_and_in_checks_d_is_reported(tmp_path: Path) -> None:
    it = {
        "policy.yaml": "customChecks:\n  - {name: Twice, query: SELECT 1}\n",
        "checks.d/a.yaml": "- {name: Twice, query: SELECT 2}\n",
    }
    practices = loader_for(tmp_path, it).load()
    assert [c.query for c in practices.policy.custom_checks] == ["SELECT 1"]
    (problem,) = practices.problems
    assert problem.file == str(tmp_path / "it" / "checks.d" / "a.yaml")
    assert "is already at " + str(tmp_path / "it" / "policy.yaml") + ":2" in problem.message


def test_an_empty_checks_file_is_no_problem(tmp_path: Path) -> None:
    practices = loader_for(tmp_path, {"checks.d/empty.yaml": "# nothing yet\n"}).load()
    assert practices.problems == ()
    assert practices.policy.custom_checks == ()


# ---------------------------------------------------------------------------------------------
# Layering and the last good version
# ---------------------------------------------------------------------------------------------


def test_the_override_cannot_replace_its_check_but_can_add_its_own(tmp_path: Path) -> None:
    loader = loader_for(
        tmp_path,
        it={"checks.d/it.yaml": "- {name: Disk encrypted, query: SELECT 1, critical: true}\n"},
        override={
            "policy.yaml": y(
                """
                customChecks:
                  - {name: Disk encrypted, query: SELECT 1 WHERE 0}
                  - {name: My own, query: SELECT 1}
                """
            )
        },
    )
    practices = loader.load()
    checks = {c.name: c for c in practices.policy.custom_checks}
    assert checks["Disk encrypted"].query == "SELECT 1"
    assert checks["Disk encrypted"].critical
    assert "My own" in checks
    (problem,) = practices.problems
    assert problem.file == str(tmp_path / "override" / "policy.yaml")
    assert (problem.key, problem.line) == ("customChecks[0].name", 2)
    assert "ignored: IT's policy has a check with the key 'custom/disk-encrypted'" in (
        problem.message
    )


def test_its_checks_replace_bundled_ones_of_the_same_name(tmp_path: Path) -> None:
    bundled = tmp_path / "bundled"
    bundled.mkdir()
    for source in practices_dir().glob("*.yaml"):
        (bundled / source.name).write_text(source.read_text())
    write(bundled, {"checks.d/default.yaml": "- {name: Firewall, query: SELECT 1 WHERE 0}\n"})
    loader = loader_for(
        tmp_path, it={"checks.d/it.yaml": "- {name: Firewall, query: SELECT 1}\n"}, bundled=bundled
    )
    practices = loader.load()
    assert practices.problems == ()
    assert [c.query for c in practices.policy.custom_checks] == ["SELECT 1"]


def test_an_unreadable_it_policy_still_locks_its_checks_d_checks(tmp_path: Path) -> None:
    loader = loader_for(
        tmp_path,
        it={"policy.yaml": "firewall: [\n", "checks.d/it.yaml": "- {name: A, query: SELECT 1}\n"},
        override={"checks.d/mine.yaml": "- {name: A, query: SELECT 1 WHERE 0}\n"},
    )
    practices = loader.load()
    assert [c.query for c in practices.policy.custom_checks] == ["SELECT 1"]
    assert any("IT's policy has a check" in p.message for p in practices.problems)


def test_a_checks_file_that_breaks_keeps_its_last_good_version(tmp_path: Path) -> None:
    loader = loader_for(tmp_path, {"checks.d/a.yaml": "- {name: A, query: SELECT 1}\n"})
    assert [c.name for c in loader.load().policy.custom_checks] == ["A"]
    (tmp_path / "it" / "checks.d" / "a.yaml").write_text("- {name: A, query: SELECT 1\n")
    practices = loader.load()
    assert [c.name for c in practices.policy.custom_checks] == ["A"]
    assert [p.message for p in practices.problems][-1] == "using the last good version of this file"


def test_a_check_that_breaks_keeps_its_last_good_version(tmp_path: Path) -> None:
    path = tmp_path / "it" / "checks.d" / "a.yaml"
    loader = loader_for(
        tmp_path,
        {"checks.d/a.yaml": "- {name: A, query: SELECT 1}\n- {name: B, query: SELECT 2}\n"},
    )
    loader.load()
    path.write_text("- {name: A, query: SELECT 1}\n- {name: B, query: SELECT 2, platform: mac}\n")
    practices = loader.load()
    assert [(c.name, c.query) for c in practices.policy.custom_checks] == [
        ("A", "SELECT 1"),
        ("B", "SELECT 2"),
    ]
    assert practices.problems[-1].message == (
        "until this file is fixed, the last good version stays in force for: the check 'B'"
    )


def test_a_broken_check_in_the_policy_keeps_its_last_good_version(tmp_path: Path) -> None:
    policy = tmp_path / "it" / "policy.yaml"
    loader = loader_for(
        tmp_path, {"policy.yaml": "customChecks:\n  - {name: A, query: SELECT 1}\n"}
    )
    loader.load()
    policy.write_text("customChecks:\n  - {name: A, query: SELECT 1, platform: 7}\n")
    practices = loader.load()
    assert [c.name for c in practices.policy.custom_checks] == ["A"]
    assert "the check 'A'" in practices.problems[-1].message


def test_a_web_pages_policy_cannot_bring_checks() -> None:
    policy, problems = policy_from_mapping(
        {"firewall": "ALWAYS", "customChecks": [{"name": "Mine", "query": "SELECT 1"}]}
    )
    assert policy.custom_checks == ()
    assert policy.features
    assert [(p.key, p.message) for p in problems] == [
        ("customChecks", "ignored: only IT's policy files may add checks")
    ]


# ---------------------------------------------------------------------------------------------
# The policy schema and check-policy
# ---------------------------------------------------------------------------------------------


def test_the_schema_names_the_new_key_and_every_check_key() -> None:
    assert "customChecks" in schema("policy")["properties"]
    assert "customChecks" in POLICY_KEYS
    check = policy_def("customCheck")
    assert list(check["properties"]) == [*CHECK_KEYS, *FLEET_METADATA_KEYS, *FLEET_SCRIPT_KEYS]
    assert check["additionalProperties"] is False
    assert check["required"] == ["name", "query"]


VALID = [
    pytest.param("firewall: ALWAYS\n", id="without-custom-checks"),
    pytest.param("customChecks:\n", id="empty"),
    pytest.param("customChecks: []\n", id="empty-list"),
    pytest.param(
        y(
            """
            customChecks:
              - name: Gatekeeper enabled
                query: SELECT 1 FROM gatekeeper WHERE assessments_enabled = 1;
                platform: darwin
                critical: true
                description: Only trusted software runs.
                resolution: Turn on Gatekeeper.
                team: Workstations
                tags: compliance, CIS
                contributors: zwass
                purpose: Informational
                platforms: macOS
              - {name: Everywhere, query: SELECT 1, platform: '', critical: null}
              - {name: Two, query: SELECT 1, platform: 'darwin, linux'}
              - {name: List, query: SELECT 1, platform: [windows, chrome]}
            """
        ),
        id="every-form",
    ),
]


@pytest.mark.parametrize("text", VALID)
def test_the_schema_and_the_loader_accept_valid_checks(text: str) -> None:
    assert schema_errors("policy", yaml_data(text, "policy.yaml")) == []
    assert policy_problems(text) == []


INVALID = [
    pytest.param("customChecks: {name: A, query: SELECT 1}\n", id="not-a-list"),
    pytest.param("customChecks:\n  - {name: A}\n", id="missing-query"),
    pytest.param("customChecks:\n  - {query: SELECT 1}\n", id="missing-name"),
    pytest.param("customChecks:\n  - {name: A, query: SELECT 1, critical: 'yes'}\n", id="critical"),
    pytest.param("customChecks:\n  - {name: A, query: SELECT 1, platform: macos}\n", id="platform"),
    pytest.param("customChecks:\n  - {name: A, query: SELECT 1, platform: [mac]}\n", id="list"),
    pytest.param("customChecks:\n  - {name: A, query: SELECT 1, critcal: true}\n", id="unknown"),
    pytest.param("customChecks:\n  - {name: A, query: ' '}\n", id="blank-query"),
]


@pytest.mark.parametrize("text", INVALID)
def test_the_schema_and_the_loader_reject_invalid_checks(text: str) -> None:
    assert schema_errors("policy", yaml_data(text, "policy.yaml")), "the schema accepted it"
    assert policy_problems(text), "the loader accepted it"


def test_check_policy_checks_the_checks_d_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write(
        tmp_path / "practices",
        {
            "policy.yaml": "firewall: ALWAYS\n",
            "checks.d/good.yaml": "- {name: A, query: SELECT 1}\n",
            "checks.d/bad.yml": "- {name: B, query: SELECT 1, platform: macos}\n",
        },
    )
    assert main(["check-policy", str(folder)]) == 1
    out = capsys.readouterr().out
    assert f"{folder / 'checks.d' / 'bad.yml'}:1: [0].platform: 'macos' is not a platform" in out
    (folder / "checks.d" / "bad.yml").unlink()
    assert main(["check-policy", str(folder)]) == 0
    assert "2 files valid." in capsys.readouterr().out
    assert main(["check-policy", str(folder / "checks.d" / "good.yaml")]) == 0


def _check_policy_lines(
    paths: list[Path], capsys: pytest.CaptureFixture[str], *options: str
) -> tuple[int, list[str], str]:
    """Run check-policy; return its exit code, its problem lines and its summary (stderr)."""
    code = main(["check-policy", *options, *map(str, paths)])
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    problems = [
        line
        for line in lines
        if not line.startswith(("note: ", "warning: ")) and " valid" not in line
    ]
    return code, problems, captured.err


ACROSS_FILES = {
    "two-checks-d-files": {
        "checks.d/a.yaml": "- {name: Disk encrypted, query: SELECT 1}\n",
        "checks.d/b.yaml": "- {name: Other, query: SELECT 1}\n- {name: Disk encrypted, query: SELECT 2}\n",
    },
    "policy-and-checks-d": {
        "policy.yaml": "firewall: ALWAYS\ncustomChecks:\n  - {name: Disk encrypted, query: SELECT 1}\n",
        "checks.d/a.yml": "- {name: Disk encrypted, query: SELECT 2}\n",
    },
    "punctuation-only": {
        "policy.yaml": "customChecks:\n  - {name: Disk encryption (Linux), query: SELECT 1}\n",
        "checks.d/a.yaml": "- {name: Disk encryption Linux, query: SELECT 2}\n",
    },
}  # fmt: skip


@pytest.mark.parametrize("files", ACROSS_FILES.values(), ids=list(ACROSS_FILES))
def test_check_policy_reports_a_duplicate_across_files_as_the_scan_does(
    files: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    practices = loader_for(tmp_path, files).load()
    scan_problems = [str(problem) for problem in practices.problems]
    assert len(scan_problems) == 1 and "this one is ignored" in scan_problems[0]
    code, problems, summary = _check_policy_lines([tmp_path / "it"], capsys)
    assert (code, problems) == (1, scan_problems)
    assert "1 problem found." in summary
    # The same when the files are named one by one, in any order.
    named = sorted((tmp_path / "it" / name for name in files), reverse=True)
    assert _check_policy_lines(named, capsys)[:2] == (1, scan_problems)


def test_the_duplicate_names_both_places_and_both_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write(tmp_path / "it", ACROSS_FILES["punctuation-only"])
    code, problems, _ = _check_policy_lines([folder], capsys)
    assert code == 1
    assert problems == [
        f"{folder / 'checks.d' / 'a.yaml'}:1: [0].name: 'Disk encryption Linux' gives the same "
        "key 'custom/disk-encryption-linux' as the check 'Disk encryption (Linux)' at "
        f"{folder / 'policy.yaml'}:2 (a key keeps a name's letters and digits, in lower case, up "
        "to 80 characters); this one is ignored: rename one of them so that their keys differ"
    ]


def test_names_that_differ_only_after_the_keys_length_are_told_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = "Ensure the password policy requires at least fourteen characters on every account"
    first, second = f"{common} (local)", f"{common} (domain)"
    assert len(slug(common)) >= 80 and slug(first) == slug(second)  # the keys are as before
    folder = write(
        tmp_path / "it",
        {"checks.d/cis.yaml": f"- {{name: {first}, query: SELECT 1}}\n"
         f"- {{name: {second}, query: SELECT 2}}\n"},
    )  # fmt: skip
    code, (problem,), _ = _check_policy_lines([folder], capsys)
    assert code == 1
    key = "custom/" + slug(first)
    assert f"{second!r} gives the same key {key!r} as the check {first!r} at " in problem
    assert "up to 80 characters" in problem and "rename one of them" in problem


def test_check_policy_notes_each_fix_it_script_and_stays_valid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write(
        tmp_path / "it",
        {
            "policy.yaml": y(
                """
                customChecks:
                  - name: Firewall
                    query: SELECT 1
                    script: ufw enable
                """
            ),
            "checks.d/fleet.yaml": y(
                """
                - name: Gatekeeper
                  query: SELECT 1
                  bash: spctl --master-enable
                - name: Defender
                  query: SELECT 1
                  powershell: Set-MpPreference -DisableRealtimeMonitoring $false
                """
            ),
        },
    )
    assert main(["check-policy", str(folder)]) == 0
    out = capsys.readouterr().out.splitlines()
    fleet, policy = folder / "checks.d" / "fleet.yaml", folder / "policy.yaml"
    assert [line for line in out if line.startswith("note: ")] == [
        f"note: {policy}:4: customChecks[0].script: Fleet's script fix-it script is not run "
        "here (the check is)",
        f"note: {fleet}:3: [0].bash: Fleet's bash fix-it script is not run here (the check is)",
        f"note: {fleet}:6: [1].powershell: Fleet's powershell fix-it script is not run here "
        "(the check is)",
    ]
    assert out[-1] == "2 files valid."
