"""What a scan found, before any policy judges it: the facts the scanner gathers, `evaluate` reads.

`Facts` holds no verdicts and no texts: per check what its rows said (with the evidence), per
IT's own check how many rows its query returned, who the device is and which platform keys apply
to it, and how the scan went (engine, timings, when). The same facts can be judged against any
policy whose checks they include; a check that was not run reads as a fact that could not be read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from stethoscope_desktop.core.report import DeviceFacts, Evidence
from stethoscope_desktop.core.status import FeatureState
from stethoscope_desktop.engines.info import EngineInfo, TableTiming
from stethoscope_desktop.tables.values import Row, Value

# Which check measures each practice.
PRACTICE_CHECKS: Mapping[str, str] = {
    "osVersion": "os_version",
    "firewall": "firewall",
    "diskEncryption": "disk_encryption",
    "automaticUpdates": "automatic_updates",
    "screenLock": "screen_lock",
    "screenIdle": "screen_idle",
    "remoteLogin": "remote_login",
    "openWifiConnections": "open_wifi_connections",
    "stethoscopeVersion": "stethoscope_version",
    "stethoscopeDesktopVersion": "stethoscope_desktop_version",
    "applications": "applications",
    "securitySoftware": "security_software",
}
# The check that says who the device is; it runs in every scan.
DEVICE_CHECK = "device"


@dataclass(frozen=True)
class PlatformContext:
    """Which platform keys of the policy and instructions apply to this device."""

    osquery: str
    stethoscope: str
    distribution: str = ""
    os_version: str = ""
    aws_workspace: bool = False

    def policy_keys(self) -> tuple[str, ...]:
        """Return the policy platform keys that apply, most specific first."""
        if self.stethoscope == "linux":
            specific = (self.distribution,) if self.distribution else ()
            return (*specific, "linux", "all")
        if self.stethoscope == "win32" and self.aws_workspace:
            return ("awsWorkspace", "win32", "all")
        return (self.stethoscope, "all")

    def text_keys(self) -> tuple[str, ...]:
        """Return the instructions' directions keys that apply, most specific first.

        Each may also have versioned variants (`darwin@<13`), chosen by `os_version`; see
        `PracticeText.directions_for`.
        """
        return tuple(key for key in self.policy_keys() if key not in ("all", "awsWorkspace"))


def stethoscope_platform(osquery_platform: str) -> str:
    """Return Stethoscope's name for an osquery platform name (windows → win32)."""
    return "win32" if osquery_platform == "windows" else osquery_platform


@dataclass(frozen=True)
class Fact:
    """What one check found: a state (ON/OFF), a value, or rows, or the reason it found nothing."""

    evidence: Evidence
    state: FeatureState = FeatureState.UNKNOWN
    value: Value = None
    rows: tuple[Row, ...] = ()
    reason: str = ""
    detail: str = ""

    @property
    def ok(self) -> bool:
        """Return True when the query ran."""
        return self.evidence.error is None

    def with_reason(self, reason: str) -> Fact:
        """Return this fact saying why it cannot be judged."""
        return replace(self, reason=reason)


def not_measured(check: str) -> Fact:
    """Return the fact of a check that was not run (the facts were gathered for another policy)."""
    reason = f"the check {check!r} was not run"
    return Fact(Evidence(check, error=reason), reason=reason)


@dataclass(frozen=True)
class Facts:
    """Everything one scan found, and nothing judged: what `evaluate` turns into a report.

    `checks` maps check ids to their facts, `custom` the keys of IT's own checks to theirs (a
    fact whose value is the number of rows the query returned). Both are read-only.
    """

    checks: Mapping[str, Fact]
    device: DeviceFacts
    context: PlatformContext
    engine: EngineInfo
    started_at: str
    duration_seconds: float
    custom: Mapping[str, Fact] = field(default_factory=dict)
    table_timings: tuple[TableTiming, ...] = ()
    check_problems: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "checks", MappingProxyType(dict(self.checks)))
        object.__setattr__(self, "custom", MappingProxyType(dict(self.custom)))

    def check(self, check_id: str) -> Fact:
        """Return what the check `check_id` found (a fact that cannot be read if it did not run)."""
        fact = self.checks.get(check_id)
        return fact if fact is not None else not_measured(check_id)

    def for_practice(self, practice: str) -> Fact:
        """Return the fact of the check that measures a built-in practice.

        A practice no check measures yet is a fact that cannot be read, saying so.
        """
        check_id = PRACTICE_CHECKS.get(practice)
        if check_id is None:
            reason = f"no check measures {practice} yet"
            return Fact(Evidence(practice, error=reason), reason=reason)
        return self.check(check_id)

    def custom_check(self, key: str) -> Fact:
        """Return what IT's check `key` found (a fact that cannot be read if it did not run)."""
        fact = self.custom.get(key)
        return fact if fact is not None else not_measured(key)
