"""The rules: how a fact and a requirement make a verdict. Pure functions, Stethoscope's semantics.

- Requirement options: `ALWAYS` (off → FAIL), `SUGGESTED` (off → NUDGE), `NEVER` (on → FAIL),
  `IF_SUPPORTED` (like ALWAYS where the platform can tell; where it cannot, not held against the
  user). A fact that could not be read is UNKNOWN — never turned into PASS or FAIL.
- `osVersion`: inside `ok` → PASS, else inside `nudge` → NUDGE, else FAIL.
- `screenIdle`: the seconds until the screen locks must be inside the range.
- `applications`: required (ALWAYS/IF_SUPPORTED), suggested, or banned (NEVER) per rule.
- Overall: FAIL if any practice fails, else NUDGE if any nudges, else PASS (UNKNOWN when no
  practice could be read at all).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from stethoscope_desktop.core.policy import ApplicationRule, Requirement, VersionBracket
from stethoscope_desktop.core.report import AppState
from stethoscope_desktop.core.status import FeatureState, Status
from stethoscope_desktop.core.versions import NumericRange, Version, VersionRange, parse_version


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


def feature_status(requirement: Requirement, state: FeatureState) -> Status:
    """Return the verdict for a feature practice."""
    if state is FeatureState.UNKNOWN:
        return Status.UNKNOWN
    on = state is FeatureState.ON
    if requirement is Requirement.NEVER:
        return Status.FAIL if on else Status.PASS
    if on:
        return Status.PASS
    return Status.NUDGE if requirement is Requirement.SUGGESTED else Status.FAIL


def held_against(requirement: Requirement | None, status: Status) -> bool:
    """Return False where an UNKNOWN must not count against the user (IF_SUPPORTED)."""
    return not (status is Status.UNKNOWN and requirement is Requirement.IF_SUPPORTED)


def bracket_for(
    brackets: Mapping[str, VersionBracket], context: PlatformContext
) -> VersionBracket | None:
    """Return the osVersion bracket for this platform (e.g. debian, then linux, then all)."""
    for key in context.policy_keys():
        if key in brackets:
            return brackets[key]
    return None


def os_version_status(bracket: VersionBracket, version: Version | None) -> Status:
    """Return the verdict for the OS version against an {ok, nudge} bracket."""
    if version is None:
        return Status.UNKNOWN
    if bracket.ok is not None and bracket.ok.satisfies(version):
        return Status.PASS
    if bracket.nudge is not None and bracket.nudge.satisfies(version):
        return Status.NUDGE
    if bracket.ok is None and bracket.nudge is None:
        return Status.PASS
    return Status.FAIL


def screen_idle_status(allowed: NumericRange, seconds: float | None, lock_known: bool) -> Status:
    """Return the verdict for the time until the screen locks (None: it never locks)."""
    if not lock_known:
        return Status.UNKNOWN
    if seconds is None:
        return Status.FAIL
    return Status.PASS if allowed.contains(seconds) else Status.FAIL


def version_status(allowed: VersionRange, version: str) -> Status:
    """Return the verdict for a version that must satisfy a range (stethoscopeVersion)."""
    parsed = parse_version(version)
    if parsed is None:
        return Status.UNKNOWN
    return Status.PASS if allowed.satisfies(parsed) else Status.FAIL


def rule_applies(rule: ApplicationRule, context: PlatformContext) -> bool:
    """Return True if an application rule's platform filter includes this device."""
    if not rule.platform:
        return True
    version = parse_version(context.os_version)
    for key in context.policy_keys():
        if key not in rule.platform:
            continue
        condition = rule.platform[key]
        if isinstance(condition, bool):
            return condition
        return version is not None and condition.satisfies(version)
    return False


@dataclass(frozen=True)
class InstalledApp:
    """One installed application as a list check reports it."""

    name: str
    version: str = ""
    path: str = ""
    source: str = ""


@dataclass(frozen=True)
class ApplicationVerdict:
    """The verdict for one application rule."""

    status: Status
    state: AppState
    installed: bool
    installed_version: str
    matched: tuple[InstalledApp, ...]


def _in_paths(app: InstalledApp, rule: ApplicationRule, context: PlatformContext) -> bool:
    for key in context.policy_keys():
        folder = rule.paths.get(key)
        if folder:
            return not app.path or app.path.startswith(folder.rstrip("/\\"))
    return True


def application_status(
    rule: ApplicationRule, installed: Sequence[InstalledApp], context: PlatformContext
) -> ApplicationVerdict:
    """Return the verdict for one application rule against the installed applications."""
    matched = tuple(
        app for app in installed if rule.matches(app.name) and _in_paths(app, rule, context)
    )
    versions = [v for app in matched if (v := parse_version(app.version)) is not None]
    best = max(versions) if versions else None
    best_text = best.original if best is not None else (matched[0].version if matched else "")
    satisfied = bool(matched) and (
        rule.version is None or any(rule.version.satisfies(v) for v in versions)
    )
    if rule.assertion is Requirement.NEVER:
        if satisfied:
            return ApplicationVerdict(
                Status.FAIL, AppState.BANNED_PRESENT, True, best_text, matched
            )
        state = AppState.INSTALLED if matched else AppState.NOT_INSTALLED
        return ApplicationVerdict(Status.PASS, state, bool(matched), best_text, matched)
    if satisfied:
        return ApplicationVerdict(Status.PASS, AppState.INSTALLED, True, best_text, matched)
    missing = Status.NUDGE if rule.assertion is Requirement.SUGGESTED else Status.FAIL
    state = AppState.OUTDATED if matched else AppState.NOT_INSTALLED
    return ApplicationVerdict(missing, state, bool(matched), best_text, matched)


def overall_status(statuses: Iterable[Status]) -> Status:
    """Return FAIL if any fails, else NUDGE if any nudges, else PASS.

    When nothing at all could be read (every practice UNKNOWN) the device is not said to pass:
    the overall status is UNKNOWN.
    """
    seen = set(statuses)
    if Status.FAIL in seen:
        return Status.FAIL
    if Status.NUDGE in seen:
        return Status.NUDGE
    if seen == {Status.UNKNOWN}:
        return Status.UNKNOWN
    return Status.PASS
