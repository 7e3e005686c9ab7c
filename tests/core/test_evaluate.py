"""Every evaluation rule, table-driven: requirement options, OS brackets, idle time, applications."""

from __future__ import annotations

import pytest

from stethoscope_desktop.core.evaluate import (
    InstalledApp,
    application_status,
    bracket_for,
    feature_status,
    held_against,
    os_version_status,
    overall_status,
    rule_applies,
    screen_idle_status,
    version_status,
)
from stethoscope_desktop.core.facts import PlatformContext
from stethoscope_desktop.core.policy import ApplicationRule, Requirement, VersionBracket
from stethoscope_desktop.core.report import AppState
from stethoscope_desktop.core.status import FeatureState, Status
from stethoscope_desktop.core.versions import NumericRange, VersionRange, parse_version

ON, OFF, UNKNOWN = FeatureState.ON, FeatureState.OFF, FeatureState.UNKNOWN
PASS, NUDGE, FAIL, UNK = Status.PASS, Status.NUDGE, Status.FAIL, Status.UNKNOWN
DEBIAN = PlatformContext("linux", "linux", "debian", "12.7.0")
MAC = PlatformContext("darwin", "darwin", "", "14.6.1")
WINDOWS = PlatformContext("windows", "win32", "", "10.0.22631")
WORKSPACE = PlatformContext("windows", "win32", "", "10.0.14393", aws_workspace=True)


@pytest.mark.parametrize(
    ("requirement", "state", "expected"),
    [
        (Requirement.ALWAYS, ON, PASS),
        (Requirement.ALWAYS, OFF, FAIL),
        (Requirement.ALWAYS, UNKNOWN, UNK),
        (Requirement.SUGGESTED, ON, PASS),
        (Requirement.SUGGESTED, OFF, NUDGE),
        (Requirement.SUGGESTED, UNKNOWN, UNK),
        (Requirement.NEVER, ON, FAIL),
        (Requirement.NEVER, OFF, PASS),
        (Requirement.NEVER, UNKNOWN, UNK),
        (Requirement.IF_SUPPORTED, ON, PASS),
        (Requirement.IF_SUPPORTED, OFF, FAIL),
        (Requirement.IF_SUPPORTED, UNKNOWN, UNK),
    ],
)
def test_requirement_options(
    requirement: Requirement, state: FeatureState, expected: Status
) -> None:
    assert feature_status(requirement, state) is expected


@pytest.mark.parametrize(
    ("requirement", "status", "expected"),
    [
        (Requirement.IF_SUPPORTED, UNK, False),
        (Requirement.IF_SUPPORTED, FAIL, True),
        (Requirement.ALWAYS, UNK, True),
        (Requirement.NEVER, UNK, True),
        (None, UNK, True),
    ],
)
def test_only_if_supported_unknowns_are_not_held_against_the_user(
    requirement: Requirement | None, status: Status, expected: bool
) -> None:
    assert held_against(requirement, status) is expected


def bracket(ok: str | None, nudge: str | None) -> VersionBracket:
    return VersionBracket(
        VersionRange.parse(ok) if ok else None, VersionRange.parse(nudge) if nudge else None
    )


@pytest.mark.parametrize(
    ("version", "ok", "nudge", "expected"),
    [
        ("14.6.1", ">=14.6", ">=13.6", PASS),
        ("14.6.0", ">=14.6", ">=13.6", PASS),
        ("14.5.9", ">=14.6", ">=13.6", NUDGE),
        ("13.6.0", ">=14.6", ">=13.6", NUDGE),
        ("13.5", ">=14.6", ">=13.6", FAIL),
        ("10.13.6", ">=10.13.6", ">=10.12.6", PASS),
        ("10.12.10", ">=10.13.6", ">=10.12.6", NUDGE),
        ("10.0.22631", ">=10.0.26100", ">=10.0.22631", NUDGE),
        ("10.0.19045", ">=10.0.26100", ">=10.0.22631", FAIL),
        ("12.7.0", ">=13.0.0", ">=12.0.0", NUDGE),
        ("24.4.0", ">=24.4.0", ">=22.4.0", PASS),
        ("14.6", ">=14.6", None, PASS),
        ("14.5", ">=14.6", None, FAIL),
        ("14.5", None, ">=14.0", NUDGE),
        ("13.0", None, ">=14.0", FAIL),
        ("14.2.1", ">=13 <14 || >=14.2", None, PASS),
    ],
)
def test_os_version_brackets(
    version: str, ok: str | None, nudge: str | None, expected: Status
) -> None:
    assert os_version_status(bracket(ok, nudge), parse_version(version)) is expected


def test_unreadable_os_version_is_unknown() -> None:
    assert os_version_status(bracket(">=1", None), None) is UNK


@pytest.mark.parametrize(
    ("context", "keys", "chosen"),
    [
        (DEBIAN, ("debian", "linux", "all"), "debian"),
        (DEBIAN, ("linux", "all"), "linux"),
        (DEBIAN, ("ubuntu", "all"), "all"),
        (DEBIAN, ("ubuntu", "darwin"), None),
        (MAC, ("darwin", "all"), "darwin"),
        (WINDOWS, ("win32", "awsWorkspace"), "win32"),
        (WORKSPACE, ("win32", "awsWorkspace"), "awsWorkspace"),
        (WORKSPACE, ("win32",), "win32"),
    ],
)
def test_the_most_specific_platform_bracket_applies(
    context: PlatformContext, keys: tuple[str, ...], chosen: str | None
) -> None:
    brackets = {key: bracket(f">={index}", None) for index, key in enumerate(keys)}
    found = bracket_for(brackets, context)
    assert found is (brackets[chosen] if chosen else None)


@pytest.mark.parametrize(
    ("allowed", "seconds", "known", "expected"),
    [
        ("<=120", 60, True, PASS),
        ("<=120", 120, True, PASS),
        ("<=120", 121, True, FAIL),
        ("<=900", 300, True, PASS),
        (">=60 <=600", 30, True, FAIL),
        ("<=120", None, True, FAIL),
        ("<=120", None, False, UNK),
        ("<=120", 60, False, UNK),
    ],
)
def test_screen_idle(allowed: str, seconds: float | None, known: bool, expected: Status) -> None:
    assert screen_idle_status(NumericRange.parse(allowed), seconds, known) is expected


@pytest.mark.parametrize(
    ("allowed", "version", "expected"),
    [(">=0.1.0", "0.1.0", PASS), (">=3.0.0", "0.1.0", FAIL), (">=1", "garbage", UNK)],
)
def test_version_requirement(allowed: str, version: str, expected: Status) -> None:
    assert version_status(VersionRange.parse(allowed), version) is expected


def rule(
    name: str, assertion: Requirement = Requirement.ALWAYS, **options: object
) -> ApplicationRule:
    return ApplicationRule(name=name, assertion=assertion, **options)  # type: ignore[arg-type]


FIREFOX = InstalledApp("firefox-esr", "115.12.0esr-1~deb12u1")
SLACK_MAC = InstalledApp("Slack", "4.41.97", "/Applications/Slack.app")
TORRENT = InstalledApp("qbittorrent", "4.5.2-3+deb12u1")
SSHD = InstalledApp("openssh-server", "1:9.2p1-2+deb12u6")
INSTALLED = [FIREFOX, SLACK_MAC, TORRENT, SSHD]


@pytest.mark.parametrize(
    ("the_rule", "expected", "state", "version"),
    [
        (rule("firefox"), PASS, AppState.INSTALLED, "115.12.0esr-1~deb12u1"),
        (rule("^firefox$", exact_match=False), FAIL, AppState.NOT_INSTALLED, ""),
        (rule("firefox-esr", exact_match=True), PASS, AppState.INSTALLED, "115.12.0esr-1~deb12u1"),
        (rule("FIREFOX-ESR", exact_match=True), PASS, AppState.INSTALLED, "115.12.0esr-1~deb12u1"),
        (
            rule("firefox", version=VersionRange.parse(">=128")),
            FAIL,
            AppState.OUTDATED,
            "115.12.0esr-1~deb12u1",
        ),
        (
            rule("firefox", Requirement.SUGGESTED, version=VersionRange.parse(">=128")),
            NUDGE,
            AppState.OUTDATED,
            "115.12.0esr-1~deb12u1",
        ),
        (rule("zoom", Requirement.SUGGESTED), NUDGE, AppState.NOT_INSTALLED, ""),
        # IF_SUPPORTED, as in Stethoscope: need not be installed, but where it is, current.
        (rule("zoom", Requirement.IF_SUPPORTED), PASS, AppState.NOT_INSTALLED, ""),
        (
            rule("firefox", Requirement.IF_SUPPORTED, version=VersionRange.parse(">=128")),
            FAIL,
            AppState.OUTDATED,
            "115.12.0esr-1~deb12u1",
        ),
        (rule("torrent", Requirement.NEVER), FAIL, AppState.BANNED_PRESENT, "4.5.2-3+deb12u1"),
        (rule("utorrent", Requirement.NEVER), PASS, AppState.NOT_INSTALLED, ""),
        (
            rule("openssh-server", Requirement.NEVER, version=VersionRange.parse("<9.0.0")),
            PASS,
            AppState.INSTALLED,
            "1:9.2p1-2+deb12u6",
        ),
        (
            rule("openssh-server", Requirement.NEVER, version=VersionRange.parse("<9.3.0")),
            FAIL,
            AppState.BANNED_PRESENT,
            "1:9.2p1-2+deb12u6",
        ),
        (rule("slack", paths={"linux": "/opt"}), FAIL, AppState.NOT_INSTALLED, ""),
        (
            rule("firefox", paths={"linux": "/opt"}),
            PASS,
            AppState.INSTALLED,
            "115.12.0esr-1~deb12u1",
        ),
    ],
)
def test_application_rules(
    the_rule: ApplicationRule, expected: Status, state: AppState, version: str
) -> None:
    verdict = application_status(the_rule, INSTALLED, DEBIAN)
    assert (verdict.status, verdict.state, verdict.installed_version) == (expected, state, version)


def test_application_paths_limit_where_an_app_counts() -> None:
    inside = rule("slack", paths={"darwin": "/Applications"})
    outside = rule("slack", paths={"darwin": "/System/Applications"})
    assert application_status(inside, INSTALLED, MAC).status is PASS
    assert application_status(outside, INSTALLED, MAC).state is AppState.NOT_INSTALLED


@pytest.mark.parametrize(
    ("platform", "context", "applies"),
    [
        (None, DEBIAN, True),
        ({"all": True}, MAC, True),
        ({"all": False}, MAC, False),
        ({"darwin": VersionRange.parse(">=10.15.0")}, MAC, True),
        ({"darwin": VersionRange.parse(">=15")}, MAC, False),
        ({"darwin": VersionRange.parse(">=10")}, DEBIAN, False),
        ({"linux": VersionRange.parse(">=12.04.0")}, DEBIAN, True),
        ({"debian": VersionRange.parse(">=13")}, DEBIAN, False),
        ({"win32": VersionRange.parse(">=10.0.0")}, WINDOWS, True),
        ({"darwin": VersionRange.parse(">=10"), "all": True}, DEBIAN, True),
    ],
)
def test_application_platform_filter(
    platform: dict[str, VersionRange | bool] | None, context: PlatformContext, applies: bool
) -> None:
    assert rule_applies(rule("x", platform=platform), context) is applies


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], PASS),
        ([PASS, PASS], PASS),
        ([PASS, UNK], PASS),
        ([PASS, NUDGE, UNK], NUDGE),
        ([NUDGE, FAIL, PASS], FAIL),
        ([UNK, FAIL], FAIL),
        ([UNK, UNK], UNK),
    ],
)
def test_overall_status(statuses: list[Status], expected: Status) -> None:
    assert overall_status(statuses) is expected
