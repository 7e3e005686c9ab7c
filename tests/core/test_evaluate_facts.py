"""`evaluate(policy, facts, texts)` on hand-made facts: verdicts, words and evidence per practice.

No engine and no tables: each test writes the facts a scan would have gathered and checks the
report. What the scanner gathers from tables is tested in test_scanner.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import pytest

from stethoscope_desktop.core.custom_checks import CUSTOM_PRACTICE, CustomCheck
from stethoscope_desktop.core.evaluate import evaluate
from stethoscope_desktop.core.facts import PRACTICE_CHECKS, Fact, Facts, PlatformContext
from stethoscope_desktop.core.policy import Policy, policy_from_mapping
from stethoscope_desktop.core.report import AppState, DeviceFacts, Evidence, PracticeResult, Report
from stethoscope_desktop.core.status import FeatureState, Rating, Status
from stethoscope_desktop.engines.info import EngineInfo, TableTiming
from stethoscope_desktop.tables.values import Row
from tests.ui.reports import practices

TEXTS = practices("en").instructions
DEBIAN = PlatformContext("linux", "linux", "debian", "12.7.0")
DEVICE = DeviceFacts(
    device_name="laptop-42",
    platform="linux",
    platform_name="Debian GNU/Linux",
    distribution="debian",
    os_version="12.7.0",
)
PASS, NUDGE, FAIL, UNK = Status.PASS, Status.NUDGE, Status.FAIL, Status.UNKNOWN
ON, OFF, UNKNOWN = FeatureState.ON, FeatureState.OFF, FeatureState.UNKNOWN


def policy(data: Mapping[str, Any], *custom: CustomCheck) -> Policy:
    parsed, problems = policy_from_mapping(data, "test policy")
    assert not problems, problems
    return dataclasses.replace(parsed, custom_checks=custom)


def facts(
    checks: Mapping[str, Fact] | None = None,
    *,
    custom: Mapping[str, Fact] | None = None,
    context: PlatformContext = DEBIAN,
) -> Facts:
    return Facts(
        checks=checks or {},
        custom=custom or {},
        device=DEVICE,
        context=context,
        engine=EngineInfo("embedded", reason="no osqueryd was found"),
        started_at="2026-11-20T09:00:00+00:00",
        duration_seconds=0.25,
    )


def found(check: str, *rows: Row, **fields: Any) -> Fact:
    """A check that ran and returned these rows."""
    return Fact(Evidence(check, f"SELECT * FROM {check}", (check,), rows), rows=rows, **fields)


def failed(check: str, message: str) -> Fact:
    """A check whose query failed."""
    return Fact(Evidence(check, f"SELECT * FROM {check}", error=message), reason=message)


def result(report: Report, key: str) -> PracticeResult:
    practice = report.practice(key)
    assert practice is not None, f"no {key} in {[p.key for p in report.practices]}"
    return practice


REQUIREMENT_WORDS = {
    "ALWAYS": "must be on",
    "SUGGESTED": TEXTS.string("requirementSuggested"),
    "NEVER": "must be off",
    "IF_SUPPORTED": "must be on where the device can tell",
}


@pytest.mark.parametrize(
    ("requirement", "fact", "status", "observed", "reason", "held"),
    [
        ("ALWAYS", found("firewall", state=ON, detail="ufw is active"), PASS, "ON (ufw is active)", "", True),
        ("ALWAYS", found("firewall", state=OFF), FAIL, "OFF", "", True),
        ("SUGGESTED", found("firewall", state=OFF), NUDGE, "OFF", "", True),
        ("NEVER", found("firewall", state=ON), FAIL, "ON", "", True),
        ("NEVER", found("firewall", state=OFF), PASS, "OFF", "", True),
        ("ALWAYS", found("firewall", reason="no firewall found"), UNK, "", "no firewall found", True),
        ("ALWAYS", found("firewall"), UNK, "", "the fact could not be read", True),
        ("IF_SUPPORTED", failed("firewall", "no such table"), UNK, "", "no such table", False),
        ("IF_SUPPORTED", found("firewall", state=OFF), FAIL, "OFF", "", True),
    ],
)  # fmt: skip
def test_a_feature_is_its_state_against_the_requirement(
    requirement: str, fact: Fact, status: Status, observed: str, reason: str, held: bool
) -> None:
    report = evaluate(policy({"firewall": requirement}), facts({"firewall": fact}), TEXTS)
    firewall = result(report, "firewall")
    assert (firewall.status, firewall.observed, firewall.reason) == (status, observed, reason)
    assert firewall.held_against is held
    assert firewall.requirement == requirement
    assert firewall.requirement_text == REQUIREMENT_WORDS[requirement]
    assert firewall.evidence == fact.evidence
    assert firewall.rating is Rating.HIGH
    titles = TEXTS.practice("firewall")
    expected_title = {
        PASS: titles.title_passing,
        UNK: titles.title_unknown,
    }.get(status, titles.title_failing)
    assert firewall.title == expected_title


@pytest.mark.parametrize(
    ("brackets", "fact", "status", "requirement", "reason"),
    [
        ({"debian": {"ok": ">=13.0.0", "nudge": ">=12.0.0"}}, found("os_version", value="12.7.0"), NUDGE, ">=13.0.0", ""),
        ({"linux": {"ok": ">=13.0.0"}, "debian": {"ok": ">=12.0.0"}}, found("os_version", value="12.7.0"), PASS, ">=12.0.0", ""),
        ({"all": {"nudge": ">=14.0.0"}}, found("os_version", value="12.7.0"), FAIL, ">=14.0.0", ""),
        ({"debian": {"ok": ">=13.0.0"}}, found("os_version", value="trixie/sid"), UNK, ">=13.0.0", "cannot read a version in 'trixie/sid'"),
        ({"debian": {"ok": ">=13.0.0"}}, found("os_version", reason="the check found no value"), UNK, ">=13.0.0", "the check found no value"),
    ],
)  # fmt: skip
def test_the_os_version_is_judged_by_the_most_specific_bracket(
    brackets: dict[str, Any], fact: Fact, status: Status, requirement: str, reason: str
) -> None:
    report = evaluate(policy({"osVersion": brackets}), facts({"os_version": fact}), TEXTS)
    os_version = result(report, "osVersion")
    assert (os_version.status, os_version.requirement, os_version.reason) == (
        status,
        requirement,
        reason,
    )
    assert os_version.observed == ("" if fact.value is None else str(fact.value))
    assert os_version.requirement_text == requirement.removeprefix(">=") + " or later"
    assert os_version.rating is Rating.CRITICAL


def test_an_os_version_bracket_only_for_other_platforms_fails_as_in_stethoscope() -> None:
    only_mac = policy(
        {"osVersion": {"darwin": {"ok": ">=15.0.0"}, "win32": {"ok": ">=10.0.26100"}}}
    )
    report = evaluate(only_mac, facts({"os_version": found("os_version", value="12.7.0")}), TEXTS)
    (practice,) = report.practices
    assert (practice.key, practice.status) == ("osVersion", FAIL)
    assert practice.title.startswith("Your organization's policy names no supported")
    assert practice.requirement_text == "a platform the policy names (macOS, Windows)"
    assert practice.observed == "12.7.0"


def test_no_os_version_in_the_policy_is_no_practice() -> None:
    report = evaluate(policy({}), facts({"os_version": found("os_version", value="12.7.0")}), TEXTS)
    assert report.practices == ()


@pytest.mark.parametrize(
    ("row", "value", "status", "observed", "reason"),
    [
        ({"enabled": 1}, 300, PASS, "300 seconds", ""),
        ({"enabled": "1", "detail": "GNOME"}, 300, PASS, "300 seconds (GNOME)", ""),
        ({"enabled": 1}, 3600, FAIL, "3600 seconds", ""),
        ({"enabled": 0}, None, FAIL, "never locks", ""),
        ({"enabled": 1}, None, UNK, "", "the idle time could not be read"),
        ({"enabled": None, "detail": "desktop X unknown"}, None, UNK, "", "desktop X unknown"),
    ],
)
def test_the_screen_idle_time_comes_from_the_lock_row(
    row: Row, value: int | None, status: Status, observed: str, reason: str
) -> None:
    fact = found("screen_idle", row, value=value, detail=str(row.get("detail") or ""))
    report = evaluate(policy({"screenIdle": "<=900"}), facts({"screen_idle": fact}), TEXTS)
    idle = result(report, "screenIdle")
    assert (idle.status, idle.observed, idle.reason) == (status, observed, reason)
    assert idle.requirement == "<=900"
    assert idle.requirement_text == "at most 900 seconds"


def test_an_unreadable_screen_lock_says_why() -> None:
    fact = failed("screen_idle", "no desktop session")
    report = evaluate(policy({"screenIdle": "<=900"}), facts({"screen_idle": fact}), TEXTS)
    idle = result(report, "screenIdle")
    assert (idle.status, idle.reason, idle.evidence.error) == (
        UNK,
        "no desktop session",
        "no desktop session",
    )


@pytest.mark.parametrize(
    ("fact", "status", "reason"),
    [
        (found("stethoscope_version", value="0.2.0"), PASS, ""),
        (found("stethoscope_version", value="0.0.9"), FAIL, ""),
        (found("stethoscope_version", value="dev"), UNK, "the fact could not be read"),
        (failed("stethoscope_version", "no such table: stethoscope_app"), UNK, "no such table: stethoscope_app"),
    ],
)  # fmt: skip
def test_the_apps_own_version_against_its_range(fact: Fact, status: Status, reason: str) -> None:
    report = evaluate(
        policy({"stethoscopeVersion": ">=0.1.0"}),
        facts({"stethoscope_version": fact}),
        TEXTS,
    )
    version = result(report, "stethoscopeVersion")
    assert (version.status, version.reason) == (status, reason)
    assert version.requirement_text == "0.1.0 or later"


APPS = [
    {"name": "firefox-esr", "version": "115.12.0esr-1~deb12u1", "source": "deb_packages"},
    {"name": "qbittorrent", "version": "4.5.2-3", "source": "deb_packages"},
    {"name": "openssh-server", "version": "1:9.2p1-2+deb12u6", "source": "deb_packages"},
]
APPLICATIONS = [
    {"name": "firefox", "assertion": "ALWAYS", "version": ">=128"},
    {"name": "^qbittorrent$", "assertion": "NEVER", "description": "No file sharing."},
    {"name": "zoom", "assertion": "SUGGESTED", "installFrom": "https://zoom.us/download"},
    {"name": "openssh-server", "assertion": "NEVER", "version": "<9.0.0"},
    {"name": "Slack", "assertion": "ALWAYS", "platform": {"darwin": ">=13"}},
]


def test_each_application_rule_for_this_device_gets_a_verdict_with_its_rows() -> None:
    report = evaluate(
        policy({"applications": APPLICATIONS}),
        facts({"applications": found("applications", *APPS)}),
        TEXTS,
    )
    apps = {p.key: p for p in report.practices}
    assert set(apps) == {
        "applications/firefox",
        "applications/^qbittorrent$",
        "applications/zoom",
        "applications/openssh-server",
    }
    firefox = apps["applications/firefox"]
    assert (firefox.status, firefox.practice) == (FAIL, "requiredApplications")
    assert firefox.application is not None and firefox.application.state is AppState.OUTDATED
    assert firefox.application.matched_names == ("firefox-esr",)
    assert firefox.application.required_version == ">=128"
    assert (
        firefox.observed == "version 115.12.0esr-1~deb12u1 is installed; 128 or later is required"
    )
    assert firefox.evidence.rows == (APPS[0],)
    assert firefox.requirement == "ALWAYS >=128"
    torrent = apps["applications/^qbittorrent$"]
    assert (torrent.status, torrent.rating, torrent.practice) == (
        FAIL,
        Rating.CRITICAL,
        "bannedApplications",
    )
    assert torrent.application is not None and torrent.application.state is AppState.BANNED_PRESENT
    assert torrent.observed == "version 4.5.2-3 is installed, and it is not allowed"
    assert torrent.description == "No file sharing."
    assert torrent.evidence.rows == (APPS[1],)
    zoom = apps["applications/zoom"]
    assert (zoom.status, zoom.evidence.rows) == (NUDGE, ())
    assert zoom.application is not None and zoom.application.state is AppState.NOT_INSTALLED
    assert "https://zoom.us/download" in zoom.directions
    sshd = apps["applications/openssh-server"]
    # Only versions below 9.0.0 are banned: the title says the installed one is allowed.
    assert sshd.status is PASS and sshd.title == "openssh-server 9.2p1 is an allowed version"


def test_an_unreadable_application_list_makes_every_rule_unknown() -> None:
    report = evaluate(
        policy({"applications": APPLICATIONS}),
        facts({"applications": failed("applications", "permission denied")}),
        TEXTS,
    )
    assert {p.key: (p.status, p.reason, p.observed, p.application) for p in report.practices} == {
        key: (UNK, "permission denied", "", None)
        for key in (
            "applications/firefox",
            "applications/^qbittorrent$",
            "applications/zoom",
            "applications/openssh-server",
        )
    }


CRITICAL_CHECK = CustomCheck(
    "Backup agent runs",
    "SELECT 1 FROM processes WHERE name = 'backupd'",
    critical=True,
    description="Backups run every hour.",
    resolution="Start it from [the portal](https://it.example.com/backup).",
)
OPTIONAL_CHECK = CustomCheck("Printer driver", "SELECT 1 FROM deb_packages WHERE name = 'cups'")
MAC_CHECK = CustomCheck("Gatekeeper", "SELECT 1 FROM gatekeeper", platforms=("darwin",))


@pytest.mark.parametrize(
    ("check", "fact", "status", "observed", "reason"),
    [
        (CRITICAL_CHECK, found("custom", value=0), FAIL, "the query returned no rows", ""),
        (OPTIONAL_CHECK, found("custom", value=0), NUDGE, "the query returned no rows", ""),
        (CRITICAL_CHECK, found("custom", {"1": 1}, value=1), PASS, "the query returned 1 row", ""),
        (CRITICAL_CHECK, found("custom", value=3), PASS, "the query returned 3 rows", ""),
        (CRITICAL_CHECK, failed("custom", "no such table: processes"), UNK, "", "no such table: processes"),
        (CRITICAL_CHECK, None, UNK, "", "the check 'custom/backup-agent-runs' was not run"),
    ],
)  # fmt: skip
def test_its_own_checks_pass_when_the_query_returns_rows(
    check: CustomCheck, fact: Fact | None, status: Status, observed: str, reason: str
) -> None:
    gathered = {check.key: fact} if fact is not None else {}
    report = evaluate(policy({}, check, MAC_CHECK), facts(custom=gathered), TEXTS)
    assert [p.key for p in report.practices] == [check.key]  # the macOS check is not for Linux
    custom = result(report, check.key)
    assert (custom.status, custom.observed, custom.reason) == (status, observed, reason)
    assert (custom.practice, custom.name, custom.title) == (CUSTOM_PRACTICE, check.name, check.name)
    assert custom.rating is check.rating and custom.held_against
    assert custom.directions == check.resolution
    assert [link.url for link in custom.links] == (
        ["https://it.example.com/backup"] if check.resolution else []
    )


def test_a_check_that_was_not_gathered_is_unknown_with_the_reason() -> None:
    report = evaluate(policy({"firewall": "ALWAYS", "diskEncryption": "ALWAYS"}), facts(), TEXTS)
    firewall = result(report, "firewall")
    assert (firewall.status, firewall.reason) == (UNK, "the check 'firewall' was not run")
    assert firewall.evidence.error == "the check 'firewall' was not run"
    assert report.status is UNK


def test_the_report_carries_the_facts_and_where_the_policy_came_from() -> None:
    gathered = dataclasses.replace(
        facts(
            {
                "firewall": found("firewall", state=OFF),
                "remote_login": found("remote_login", state=ON),
                "disk_encryption": found("disk_encryption", state=ON),
                "automatic_updates": found("automatic_updates", state=OFF),
            }
        ),
        table_timings=(TableTiming("stethoscope_firewall", 0.01, 1),),
        check_problems=("checks/broken.yaml: kind: unknown kind",),
    )
    required = policy(
        {
            "firewall": "ALWAYS",
            "remoteLogin": "NEVER",
            "diskEncryption": "ALWAYS",
            "automaticUpdates": "SUGGESTED",
        }
    )
    report = evaluate(
        required,
        gathered,
        TEXTS,
        organization="Example Corp",
        policy_files=("/etc/xdg/stethoscope/policy.yaml",),
        policy_problems=("policy.yaml:3: firewall: not an option",),
    )
    assert report.status is FAIL
    assert [(p.key, p.status) for p in report.practices] == [
        ("firewall", FAIL),
        ("remoteLogin", FAIL),
        ("automaticUpdates", NUDGE),
        ("diskEncryption", PASS),
    ]
    assert (
        report.summary
        == "This device doesn't meet every requirement yet (2 need attention, 1 suggestion)."
    )
    assert (report.device, report.engine) == (gathered.device, gathered.engine)
    assert (report.started_at, report.duration_seconds) == (gathered.started_at, 0.25)
    assert report.table_timings == gathered.table_timings
    assert report.check_problems == gathered.check_problems
    assert report.organization == "Example Corp" and report.language == "en"
    assert report.policy_files == ("/etc/xdg/stethoscope/policy.yaml",)
    assert report.policy_problems == ("policy.yaml:3: firewall: not an option",)


def test_evaluation_is_pure_and_the_facts_cannot_change() -> None:
    checks = {"firewall": found("firewall", state=ON)}
    gathered = facts(checks)
    checks["firewall"] = found("firewall", state=OFF)  # the caller's dict is not the facts'
    required = policy({"firewall": "ALWAYS"})
    first = evaluate(required, gathered, TEXTS)
    assert first == evaluate(required, gathered, TEXTS)
    assert result(first, "firewall").status is PASS
    with pytest.raises(TypeError):
        gathered.checks["firewall"] = checks["firewall"]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        gathered.started_at = "later"  # type: ignore[misc]


def test_every_built_in_practice_reads_its_own_check() -> None:
    by_check = {check: found(check, state=ON, value="13.1.0") for check in PRACTICE_CHECKS.values()}
    gathered = facts(by_check)
    for practice, check in PRACTICE_CHECKS.items():
        assert gathered.for_practice(practice) is gathered.checks[check]
