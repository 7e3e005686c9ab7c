"""IT's checks done by hand: Fleet's manual-check placeholders, recognised and shown apart.

Recognition (`core.manual_checks`): placeholders yes, real queries no, however they are written.
Then the whole way through: a scan (never run, listed in `manual_checks`, not in the practices
nor in the overall status), `manualChecks: skip` in config.yaml, the report's JSON and schema,
the terminal report, notifications, the local API's verdicts, and `import-fleet --manual`.
The Fleet file is `tests/data/fleet/benchmark-with-manual-checks.yml`, written for these tests
in the shape of Fleet's CIS benchmark files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stethoscope_desktop.api.schema import QueryRunner, RequestContext, build_api_schema
from stethoscope_desktop.api.security import LOCAL_LABEL, ApiLimits, Caller
from stethoscope_desktop.cli import main
from stethoscope_desktop.core.checks import load_checks
from stethoscope_desktop.core.config import CONFIG_FORMAT, AppConfig
from stethoscope_desktop.core.custom_checks import (
    CustomCheck,
    import_fleet,
    read_checks_file,
)
from stethoscope_desktop.core.manual_checks import (
    MANUAL_PURPOSE,
    is_manual_purpose,
    never_returns_rows,
)
from stethoscope_desktop.core.notify import NotificationSettings, NotifyState, decide
from stethoscope_desktop.core.practices import Practices
from stethoscope_desktop.core.report import Report
from stethoscope_desktop.core.scanner import Scanner
from stethoscope_desktop.core.status import Status
from stethoscope_desktop.core.yamlfile import parse_yaml
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.resources import checks_dir, practices_dir
from stethoscope_desktop.text_report import render_report
from tests.api.helpers import make_service
from tests.canned import canned_linux
from tests.core.test_custom_checks import loader_for, scan, y
from tests.test_formats import schema_errors

BENCHMARK = Path(__file__).parents[1] / "data" / "fleet" / "benchmark-with-manual-checks.yml"
MANUAL_NAMES = [
    "Benchmark 1.1 - Home is on its own partition (Manual)",
    "Benchmark 1.2 - Boot loader password is set",
    "Benchmark 1.3 - Login banner wording is approved",
]
MANUAL_KEYS = [
    "custom/benchmark-1-1-home-is-on-its-own-partition-manual",
    "custom/benchmark-1-2-boot-loader-password-is-set",
    "custom/benchmark-1-3-login-banner-wording-is-approved",
]


# ---------------------------------------------------------------------------------------------
# Recognition
# ---------------------------------------------------------------------------------------------

PLACEHOLDERS = [
    "SELECT 1 WHERE 0;",
    "SELECT 1 WHERE 0",
    "SELECT 1 WHERE 0;\n",
    "  select 1 where 0 ; ",
    "SELECT 1 WHERE 1 = 0",
    "SELECT 1 WHERE 1=0;",
    "SELECT 0 WHERE 0",
    "SELECT 1 WHERE false",
    "SELECT 1 WHERE NULL",
    "SELECT 1 WHERE 'a' = 'b'",
    "SELECT 1 LIMIT 0",
    "SELECT 1 WHERE 0 -- manual: see the benchmark",
    "/* Manual Validation Required */ SELECT 1 WHERE 0;",
    "SELECT 'from the benchmark' AS note WHERE 0",  # FROM inside a string is no keyword
    'SELECT 1 AS "from" WHERE 1 = 0',
    "SELECT 1 WHERE abs(-1) = 2",
    "SELECT 1 WHERE 0 AND 1",
]
REAL_QUERIES = [
    # A table read, however it is combined with a constant.
    "SELECT 1 WHERE 0 OR EXISTS (SELECT 1 FROM users WHERE uid = 0)",
    "SELECT 1 WHERE 0 OR EXISTS (SELECT 1 FROM users WHERE shell LIKE '%nologin')",
    "SELECT 1 WHERE EXISTS (SELECT 1 FROM users) AND 0",  # SQLite folds it; it names a table
    "SELECT 1 WHERE 0 AND EXISTS (SELECT 1 FROM users)",
    "SELECT 1 FROM users WHERE 0",
    "SELECT 1 FROM os_version WHERE 1 = 0",
    "SELECT (SELECT 1 FROM users) WHERE 0",
    "SELECT 1 FROM sqlite_master WHERE 0",  # osquery's lists its tables
    "SELECT * FROM json_each('[]')",
    "WITH t AS (SELECT 1 AS x) SELECT x FROM t WHERE 0",  # names a table (a CTE): not provable
    # Rows, or not the same on every device or at every time.
    "SELECT 1",
    "SELECT 1 WHERE 1",
    "VALUES (1)",
    "SELECT 1 WHERE random() < 0",
    "SELECT 1 WHERE current_date < '2000-01-01'",
    "SELECT 1 WHERE sqlite_version() = 'none'",
    # An osquery function, an error, more than one statement.
    "SELECT 1 WHERE regex_match('a', 'b', 0) IS NOT NULL",
    "SELECT 1 WHERE",
    "SELECT 1 WHERE 0; SELECT 1",
    "PRAGMA table_info(users)",
    # Would take too long or too much memory to decide: not a placeholder.
    "SELECT 1 WHERE length(hex(zeroblob(1000000000))) < 0",
    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT x FROM n WHERE x < 0",
]


@pytest.mark.parametrize("query", PLACEHOLDERS)
def test_placeholders_are_recognised(query: str) -> None:
    assert never_returns_rows(query)
    assert CustomCheck("A control", query).manual


@pytest.mark.parametrize("query", REAL_QUERIES)
def test_real_queries_are_never_taken_for_placeholders(query: str) -> None:
    assert not never_returns_rows(query)
    assert not CustomCheck("A control", query).manual


@pytest.mark.parametrize(
    ("purpose", "manual"),
    [
        (MANUAL_PURPOSE, True),
        ("manual validation required", True),
        (" Manual  Validation\nRequired ", True),
        ("Informational", False),
        ("Manual", False),
        (None, False),
        (["Manual Validation Required"], False),
    ],
)
def test_fleets_manual_purpose_is_read_in_any_case_and_spacing(
    purpose: object, manual: bool
) -> None:
    assert is_manual_purpose(purpose) is manual


def test_the_query_decides_and_the_disagreement_is_noted() -> None:
    loaded = read_checks_file(BENCHMARK)
    assert loaded.problems == []
    manual = {check.name: check.manual for check in loaded.checks}
    assert [name for name, is_manual in manual.items() if is_manual] == [
        *MANUAL_NAMES,
        "Benchmark 3.1 - Screen lock policy is documented (macOS)",
    ]
    # A real query marked "Manual Validation Required" runs; its resolution saying "Manual:" is
    # no signal; a placeholder without the purpose (1.3) is manual all the same.
    assert not manual["Benchmark 2.1 - A time service is running"]
    assert not manual["Benchmark 2.2 - Debian 12 or later"]
    assert [(note.key, note.line) for note in loaded.notes] == [("spec.purpose", 54)]
    assert "'Benchmark 2.1 - A time service is running'" in loaded.notes[0].message
    assert "it runs as a check" in loaded.notes[0].message


# ---------------------------------------------------------------------------------------------
# Scans and the report
# ---------------------------------------------------------------------------------------------


def benchmark_practices(tmp_path: Path, config: str = "") -> Practices:
    """IT's folder: the bundled policy, the benchmark in checks.d, and optionally a config."""
    it = {
        "policy.yaml": (practices_dir() / "policy.yaml").read_text(encoding="utf-8"),
        "checks.d/benchmark.yml": BENCHMARK.read_text(encoding="utf-8"),
    }
    if config:
        it["config.yaml"] = config
    practices = loader_for(tmp_path, it).load()
    assert not practices.problems, practices.problems
    return practices


def without_checks_d(tmp_path: Path) -> Practices:
    return loader_for(
        tmp_path / "plain", {"policy.yaml": (practices_dir() / "policy.yaml").read_text("utf-8")}
    ).load()


def test_checks_by_hand_are_listed_apart_and_never_run(tmp_path: Path) -> None:
    practices = benchmark_practices(tmp_path)
    report = scan(practices)
    assert [check.key for check in report.manual_checks] == MANUAL_KEYS
    assert [check.title for check in report.manual_checks] == MANUAL_NAMES
    first = report.manual_checks[0]
    assert first.description == "Home directories live on a separate partition."
    assert first.directions.startswith("Manual: run the benchmark's audit steps")
    assert [link.url for link in first.links] == ["https://benchmarks.example.org/linux/1.1"]
    assert report.manual_checks_left_out == 0
    keys = [practice.key for practice in report.practices]
    assert not set(MANUAL_KEYS) & set(keys)
    # The macOS placeholder is for another platform: neither a practice nor a check by hand.
    assert not any("3-1" in key for key in [*keys, *(c.key for c in report.manual_checks)])
    # The real checks beside them are evaluated as usual.
    debian = report.practice("custom/benchmark-2-2-debian-12-or-later")
    assert debian is not None and debian.status is Status.PASS
    # Their queries are not even run.
    engine = EmbeddedEngine(canned_linux())
    try:
        facts = Scanner(engine, load_checks(checks_dir()), platform="linux").gather(
            practices.policy
        )
    finally:
        engine.close()
    assert not set(MANUAL_KEYS) & set(facts.custom)
    assert "custom/benchmark-2-2-debian-12-or-later" in facts.custom


def test_checks_by_hand_change_neither_the_status_nor_the_critical_findings(
    tmp_path: Path,
) -> None:
    with_manual = scan(benchmark_practices(tmp_path))
    plain = scan(without_checks_d(tmp_path))
    ours = {p.key: p.status for p in with_manual.practices if not p.key.startswith("custom/")}
    assert ours == {p.key: p.status for p in plain.practices}
    # Two of the placeholders are critical: as checks they would have been critical findings.
    assert not any(p.key in MANUAL_KEYS for p in with_manual.critical())
    custom = [p.status for p in with_manual.practices if p.key.startswith("custom/")]
    assert Status.FAIL not in custom
    assert with_manual.counts()[Status.FAIL] == plain.counts()[Status.FAIL]
    assert with_manual.status is plain.status is Status.NUDGE


def test_it_can_leave_them_out_and_the_report_says_how_many(tmp_path: Path) -> None:
    report = scan(benchmark_practices(tmp_path, "manualChecks: skip\n"))
    assert report.manual_checks == ()
    assert report.manual_checks_left_out == 3
    assert not any(p.key in MANUAL_KEYS for p in report.practices)
    assert schema_errors("report", json.loads(report.to_json())) == []


def test_the_config_key_is_declared_with_its_two_values() -> None:
    assert AppConfig().manual_checks == "show"
    values, problems = CONFIG_FORMAT.read(parse_yaml("manualChecks: skip\n", "config.yaml"))
    assert problems == [] and values["manual_checks"] == "skip"
    values, problems = CONFIG_FORMAT.read(parse_yaml("manualChecks: hide\n", "config.yaml"))
    assert [(p.key, p.line) for p in problems] == [("manualChecks", 1)]
    assert "show" in problems[0].message and "skip" in problems[0].message
    config = json.loads(
        (Path(__file__).parents[2] / "resources/schemas/config.schema.json").read_text("utf-8")
    )
    assert set(config["properties"]["manualChecks"]["enum"]) == {"show", "skip"}
    assert schema_errors("config", {"manualChecks": "skip"}) == []
    assert schema_errors("config", {"manualChecks": "hide"}) != []


def test_the_reports_json_has_them_in_their_own_list_valid_by_its_schema(tmp_path: Path) -> None:
    report = scan(benchmark_practices(tmp_path))
    data = json.loads(report.to_json())
    assert schema_errors("report", data) == []
    assert [check["key"] for check in data["manual_checks"]] == MANUAL_KEYS
    assert data["manual_checks"][0]["links"] == [
        {"text": "the benchmark", "url": "https://benchmarks.example.org/linux/1.1"}
    ]
    assert data["manual_checks_left_out"] == 0
    # The schema holds them to their shape.
    broken = {**data, "manual_checks": [{"key": "custom/x"}]}
    assert any("title" in error for error in schema_errors("report", broken))
    assert schema_errors("report", {**data, "manual_checks_left_out": "3"}) != []
    # The tray reads back what the worker sends.
    assert Report.from_dict(data) == report


def test_the_terminal_report_lists_them_after_the_verdicts(tmp_path: Path) -> None:
    practices = benchmark_practices(tmp_path)
    text = render_report(scan(practices), practices.instructions, colour=False)
    section = text.index("3 checks by hand, not evaluated")
    assert section > text.index("Benchmark 2.2 - Debian 12 or later")  # after every verdict
    tail = text[section:]
    for name in MANUAL_NAMES:
        assert f"  - {name}" in tail
    assert "      Manual: run the benchmark's audit steps" in tail
    assert "      Compare /etc/issue with the approved text." in tail
    assert "Benchmark 1.1" not in text[:section]

    skipping = benchmark_practices(tmp_path / "skip", "manualChecks: skip\n")
    text = render_report(scan(skipping), skipping.instructions, colour=False)
    assert text.rstrip().endswith("3 checks by hand left out by IT's setting")
    assert "Benchmark 1.1" not in text


def test_the_terminal_report_says_nothing_without_them(tmp_path: Path) -> None:
    practices = without_checks_d(tmp_path)
    text = render_report(scan(practices), practices.instructions, colour=False)
    assert "by hand" not in text


def test_checks_by_hand_are_never_notified(tmp_path: Path) -> None:
    def decided(practices: Practices) -> tuple[object, frozenset[str]]:
        notification, state = decide(
            NotifyState(),
            scan(practices),
            now=1_000_000.0,
            settings=NotificationSettings(),
            instructions=practices.instructions,
        )
        return notification, state.failing

    # Two placeholders are critical: as failing checks they would have been notified.
    assert decided(benchmark_practices(tmp_path)) == decided(without_checks_d(tmp_path))
    assert decided(without_checks_d(tmp_path / "again")) == (None, frozenset())


def test_the_local_api_sees_the_same_verdict_with_or_without_them(tmp_path: Path) -> None:
    def verdict(practices: Practices) -> dict[str, object]:
        service, _ = make_service(practices=practices)
        runner = QueryRunner(build_api_schema(), ApiLimits())
        outcome = runner.run(
            "{ policy { validate { status osVersion } } device { policyResult } }",
            None,
            None,
            RequestContext(service, Caller(None, LOCAL_LABEL)),
        )
        assert outcome.status == 200, outcome.body
        return dict(outcome.body["data"])

    with_manual = verdict(benchmark_practices(tmp_path))
    plain = verdict(without_checks_d(tmp_path))
    assert with_manual == plain


# ---------------------------------------------------------------------------------------------
# import-fleet --manual keep|skip
# ---------------------------------------------------------------------------------------------


def test_import_keeps_them_by_default_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "checks.d"
    target.mkdir()
    assert main(["import-fleet", str(BENCHMARK), "--platform", "linux", "-o", str(target)]) == 0
    out, err = capsys.readouterr()
    assert out.strip().endswith(
        "; 3 manual checks kept as checks by hand, shown apart and never run"
    )
    assert out.startswith(f"wrote 6 checks to {target / BENCHMARK.stem}.yaml")
    assert "note: " in err and "Benchmark 2.1 - A time service is running" in err
    # What it wrote says so, and loads back with the same checks done by hand.
    text = (target / f"{BENCHMARK.stem}.yaml").read_text(encoding="utf-8")
    assert "# A query that never returns rows (SELECT 1 WHERE 0) is a check done by hand" in text
    written = read_checks_file(target / f"{BENCHMARK.stem}.yaml")
    assert [check.name for check in written.checks if check.manual] == MANUAL_NAMES


def test_import_can_skip_them_listing_each_and_counting_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out.yaml"
    arguments = ["import-fleet", str(BENCHMARK), "--platform", "linux", "--manual", "skip"]
    assert main([*arguments, "-o", str(target)]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == f"wrote 3 checks to {target}; 3 manual checks skipped (--manual skip)"
    skipped = [line for line in err.splitlines() if "is a check by hand" in line]
    assert len(skipped) == 3 and all(line.startswith("skipped: ") for line in skipped)
    assert not any(check.manual for check in read_checks_file(target).checks)
    assert "check done by hand" not in target.read_text(encoding="utf-8")

    assert main(arguments) == 0  # printed: the count goes to stderr
    out, err = capsys.readouterr()
    assert "Benchmark 1.1" not in out and "Benchmark 2.2" in out
    assert err.strip().endswith("3 manual checks skipped (--manual skip)")


def test_import_of_a_file_without_them_says_nothing_of_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    fleet = Path(__file__).parents[1] / "data" / "fleet" / "fleet-policies.yml"
    assert main(["import-fleet", str(fleet), "--platform", "linux"]) == 0
    err = capsys.readouterr().err
    assert "manual check" not in err and "by hand" not in err


def test_import_fleet_refuses_an_unknown_manual_choice() -> None:
    with pytest.raises(ValueError, match="keep or skip"):
        import_fleet(read_checks_file(BENCHMARK), "linux", "hide")
    with pytest.raises(SystemExit):
        main(["import-fleet", str(BENCHMARK), "--manual", "hide"])


def test_a_policys_own_placeholder_is_a_check_by_hand_too(tmp_path: Path) -> None:
    policy = (practices_dir() / "policy.yaml").read_text(encoding="utf-8") + y(
        """
        customChecks:
          - name: Asset tag is on the device
            critical: true
            resolution: Check the sticker under the device.
            query: SELECT 1 WHERE 1 = 0
        """
    )
    report = scan(loader_for(tmp_path, {"policy.yaml": policy}).load())
    assert [check.title for check in report.manual_checks] == ["Asset tag is on the device"]
    assert report.practice("custom/asset-tag-is-on-the-device") is None
