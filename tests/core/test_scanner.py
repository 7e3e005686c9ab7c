"""Scans end to end on the embedded engine with canned tables: facts, verdicts, ranking, texts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stethoscope_desktop.core.checks import load_checks
from stethoscope_desktop.core.evaluate import evaluate
from stethoscope_desktop.core.policy import policy_from_mapping
from stethoscope_desktop.core.practices import PracticesLoader, practices_folders
from stethoscope_desktop.core.report import AppState, Report
from stethoscope_desktop.core.scanner import Scanner
from stethoscope_desktop.core.status import FeatureState, Rating, Status
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.resources import checks_dir, practices_dir
from stethoscope_desktop.tables.base import TablePlugin
from tests.canned import CannedTable, canned_linux
from tests.ui.reports import practices as bundled_practices


def scan(
    tables: list[TablePlugin],
    tmp_path: Path,
    policy: str | None = None,
    language: str = "en",
    checks: Path | None = None,
) -> Report:
    bundled = practices_dir()
    if policy is not None:
        bundled = tmp_path / "practices"
        bundled.mkdir()
        for source in practices_dir().glob("*.yaml"):
            (bundled / source.name).write_text(source.read_text())
        (bundled / "policy.yaml").write_text(policy)
    folders = practices_folders(bundled, None, machine=tmp_path / "no-it", env={})
    practices = PracticesLoader(folders, language).load()
    engine = EmbeddedEngine(tables)
    scanner = Scanner(engine, load_checks(checks or checks_dir()), platform="linux")
    return scanner.scan(practices)


def statuses(report: Report) -> dict[str, Status]:
    return {p.key: p.status for p in report.practices}


def test_a_healthy_debian_12_laptop_gets_one_nudge_for_its_os(tmp_path: Path) -> None:
    report = scan(canned_linux(), tmp_path)
    assert report.status is Status.NUDGE
    first = report.practices[0]
    assert (first.key, first.status, first.rating) == ("osVersion", Status.NUDGE, Rating.CRITICAL)
    assert first.observed == "12.7.0"
    assert first.requirement == ">=13.0.0"
    assert "13.0.0" in first.directions  # the {{requirement}} placeholder was filled
    not_passing = {
        key: status for key, status in statuses(report).items() if status is not Status.PASS
    }
    assert not_passing == {"osVersion": Status.NUDGE, "applications/clamav": Status.NUDGE}
    assert report.device.device_name == "laptop-42"
    assert report.device.distribution == "debian"
    assert report.device.hardware_model == "ThinkPad T14"
    assert report.engine.name == "embedded"
    assert not report.policy_problems


def test_failures_rank_first_by_rating_then_nudges_unknowns_passes(tmp_path: Path) -> None:
    tables = canned_linux(
        stethoscope_firewall=[
            {"enabled": 0, "source": "none", "detail": "no firewall is installed"}
        ],
        stethoscope_remote_login=[
            {"enabled": 1, "source": "sshd", "detail": "sshd listens on 0.0.0.0:22"}
        ],
        stethoscope_disk_encryption=[
            {"name": "/dev/vda", "mountpoint": "/", "encrypted": 0, "detail": "plain ext4"}
        ],
        stethoscope_screen_lock="no desktop session: no DISPLAY, WAYLAND_DISPLAY or XDG_CURRENT_DESKTOP",
    )
    report = scan(tables, tmp_path)
    order = [(p.status, p.rating) for p in report.practices]
    assert order == sorted(
        order,
        key=lambda sr: (
            ["FAIL", "NUDGE", "UNKNOWN", "PASS"].index(sr[0]),
            ["critical", "high", "medium", "low"].index(sr[1]),
        ),
    )
    assert [p.key for p in report.critical()][:3] == ["diskEncryption", "firewall", "remoteLogin"]
    assert report.status is Status.FAIL
    lock = report.practice("screenLock")
    assert lock is not None and lock.status is Status.UNKNOWN
    assert lock.reason.startswith("no desktop session")
    idle = report.practice("screenIdle")
    assert idle is not None and idle.status is Status.UNKNOWN
    firewall = report.practice("firewall")
    assert firewall is not None
    assert firewall.title == "Turn on your firewall" or "firewall" in firewall.title.lower()
    assert firewall.evidence.rows == (
        {"enabled": 0, "source": "none", "detail": "no firewall is installed"},
    )
    assert firewall.evidence.tables == ("stethoscope_firewall",)
    assert firewall.links, "failing practices carry the links of their directions"


def test_a_table_is_generated_once_even_when_two_checks_read_it(tmp_path: Path) -> None:
    tables = canned_linux()
    scan(tables, tmp_path)
    lock = next(t for t in tables if t.name == "stethoscope_screen_lock")
    assert isinstance(lock, CannedTable) and lock.calls == 1


def test_only_the_checks_the_policy_needs_run(tmp_path: Path) -> None:
    tables = canned_linux()
    report = scan(tables, tmp_path, policy="firewall: ALWAYS\n")
    wifi = next(t for t in tables if t.name == "stethoscope_wifi_networks")
    assert isinstance(wifi, CannedTable) and wifi.calls == 0
    assert set(statuses(report)) == {"firewall"}


def test_a_check_whose_sql_fails_is_unknown_with_the_sql_error_and_others_run(
    tmp_path: Path,
) -> None:
    checks = tmp_path / "checks"
    checks.mkdir()
    for source in checks_dir().glob("*.yaml"):
        (checks / source.name).write_text(source.read_text())
    (checks / "firewall.yaml").write_text(
        "kind: state\ndescription: broken on purpose\nsql:\n  linux: SELECT enabled FROM stethoscope_firewall WHERE nonsense_column = 1\n"
    )
    report = scan(canned_linux(), tmp_path, checks=checks)
    firewall = report.practice("firewall")
    assert firewall is not None and firewall.status is Status.UNKNOWN
    assert "`stethoscope_firewall` has no column `nonsense_column`" in firewall.reason
    assert statuses(report)["diskEncryption"] is Status.PASS


def test_applications_get_one_result_per_rule_with_state(tmp_path: Path) -> None:
    policy = """
applications:
  - name: firefox
    assertion: ALWAYS
    version: ">=128"
  - name: "^qbittorrent$"
    assertion: NEVER
    description: File sharing is not allowed.
  - name: zoom
    assertion: SUGGESTED
    installFrom: https://zoom.us/download
  - name: Slack
    assertion: ALWAYS
    platform:
      darwin: ">=13"
"""
    tables = canned_linux(
        deb_packages=[
            {
                "name": "firefox-esr",
                "version": "115.12.0esr-1~deb12u1",
                "status": "install ok installed",
            },
            {"name": "qbittorrent", "version": "4.5.2-3", "status": "install ok installed"},
            {"name": "zoom", "version": "6.0", "status": "deinstall ok config-files"},
        ]
    )
    report = scan(tables, tmp_path, policy=policy)
    apps = {p.key: p for p in report.practices if p.key.startswith("applications/")}
    assert set(apps) == {"applications/firefox", "applications/^qbittorrent$", "applications/zoom"}
    firefox, torrent, zoom = (
        apps["applications/firefox"],
        apps["applications/^qbittorrent$"],
        apps["applications/zoom"],
    )
    assert firefox.status is Status.FAIL and firefox.application is not None
    assert firefox.application.state is AppState.OUTDATED
    assert firefox.application.installed_version == "115.12.0esr-1~deb12u1"
    assert torrent.status is Status.FAIL and torrent.application is not None
    assert torrent.application.state is AppState.BANNED_PRESENT
    assert torrent.description == "File sharing is not allowed."
    assert torrent.rating is Rating.CRITICAL
    assert zoom.status is Status.NUDGE and zoom.application is not None
    assert zoom.application.state is AppState.NOT_INSTALLED  # config-files only: not installed
    assert "https://zoom.us/download" in zoom.directions
    assert "zoom" in zoom.title.lower()


def test_unreadable_application_list_makes_every_rule_unknown(tmp_path: Path) -> None:
    tables = canned_linux(deb_packages="cannot read /var/lib/dpkg/status: permission denied")
    report = scan(
        tables, tmp_path, policy="applications:\n  - name: firefox\n    assertion: ALWAYS\n"
    )
    firefox = report.practice("applications/firefox")
    assert firefox is not None and firefox.status is Status.UNKNOWN
    assert "permission denied" in firefox.reason


def test_the_report_is_json_and_german_when_asked(tmp_path: Path) -> None:
    report = scan(canned_linux(), tmp_path, language="de")
    data = json.loads(report.to_json())
    assert data["language"] == "de"
    assert data["status"] == "NUDGE"
    assert data["practices"][0]["key"] == "osVersion"
    firewall = report.practice("firewall")
    assert firewall is not None and "Firewall" in firewall.title
    english = scan(canned_linux(), tmp_path / "en")
    english_firewall = english.practice("firewall")
    assert english_firewall is not None and english_firewall.title != firewall.title
    os_version = report.practice("osVersion")
    assert os_version is not None
    assert os_version.requirement_text == "13.0.0 oder neuer"
    assert "13.0.0 oder neuer" in os_version.directions


@pytest.mark.parametrize(
    ("screen_lock", "status", "observed"),
    [
        ({"enabled": 1, "lock_after_seconds": 300}, Status.PASS, "300 seconds"),
        ({"enabled": 1, "lock_after_seconds": 3600}, Status.FAIL, "3600 seconds"),
        ({"enabled": 0, "lock_after_seconds": None}, Status.FAIL, "never locks"),
        (
            {"enabled": None, "lock_after_seconds": None, "detail": "desktop X unknown"},
            Status.UNKNOWN,
            "",
        ),
    ],
)
def test_screen_idle_from_the_screen_lock_table(
    tmp_path: Path, screen_lock: dict[str, object], status: Status, observed: str
) -> None:
    report = scan(canned_linux(stethoscope_screen_lock=[screen_lock]), tmp_path)  # type: ignore[list-item]
    idle = report.practice("screenIdle")
    assert idle is not None and idle.status is status
    assert idle.observed.startswith(observed)


def test_an_allowed_version_of_a_banned_app_says_it_is_an_allowed_version(tmp_path: Path) -> None:
    policy = (
        'applications:\n  - name: openssh-server\n    assertion: NEVER\n    version: "<9.0.0"\n'
    )
    tables = canned_linux(
        deb_packages=[
            {
                "name": "openssh-server",
                "version": "1:9.2p1-2+deb12u6",
                "status": "install ok installed",
            }
        ]
    )
    sshd = scan(tables, tmp_path, policy=policy).practice("applications/openssh-server")
    assert sshd is not None and sshd.status is Status.PASS
    assert sshd.title == "openssh-server 9.2p1 is an allowed version"
    assert sshd.summary == (
        "openssh-server 9.2p1 is installed: an allowed version (only versions below 9.0.0 are "
        "not allowed)."
    )
    old = canned_linux(
        deb_packages=[
            {"name": "openssh-server", "version": "1:8.4p1-5", "status": "install ok installed"}
        ]
    )
    (tmp_path / "old").mkdir()
    banned = scan(old, tmp_path / "old", policy=policy).practice("applications/openssh-server")
    assert banned is not None and banned.status is Status.FAIL
    assert banned.title == "Remove openssh-server"


def test_gathering_runs_what_the_policy_needs_and_judges_nothing() -> None:
    scanner = Scanner(EmbeddedEngine(canned_linux()), load_checks(checks_dir()), platform="linux")
    policy, problems = policy_from_mapping({"firewall": "ALWAYS"})
    assert not problems
    facts = scanner.gather(policy)
    assert set(facts.checks) == {"device", "os_version", "firewall"} and not facts.custom
    assert facts.checks["firewall"].state is FeatureState.ON
    assert facts.checks["os_version"].value == "12.7.0"
    assert facts.device.device_name == "laptop-42" and facts.device.os_version == "12.7.0"
    assert facts.context.policy_keys() == ("debian", "linux", "all")
    assert facts.engine.name == "embedded"


def test_a_scan_is_the_evaluation_of_the_facts_it_gathered() -> None:
    scanner = Scanner(
        EmbeddedEngine(canned_linux()),
        load_checks(checks_dir()),
        platform="linux",
        clock=lambda: 1_795_000_000.0,
    )
    practices = bundled_practices()
    report = scanner.scan(practices)
    facts = scanner.gather(practices.policy)
    texts, organization = practices.instructions, practices.config.organization
    again = evaluate(practices.policy, facts, texts, organization=organization)
    assert report.practices and report.practices == again.practices
    assert (report.status, report.summary) == (again.status, again.summary)
    assert (report.device, report.started_at, report.engine) == (
        facts.device,
        facts.started_at,
        facts.engine,
    )
    assert report.policy_files == practices.files
