"""One scan: run the checks the policy needs on an engine, evaluate, and build the ranked report.

The scanner is the only place that knows which check measures which practice. It never raises
for a bad fact: a check that fails makes its practices UNKNOWN with the reason. IT's own checks
(`Policy.custom_checks`) run after the built-in ones, each as a practice of its own.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from stethoscope_desktop import __version__
from stethoscope_desktop.core.checks import Check, CheckKind, CheckSet
from stethoscope_desktop.core.custom_checks import (
    CUSTOM_PRACTICE,
    CustomCheck,
    custom_check_status,
)
from stethoscope_desktop.core.evaluate import (
    InstalledApp,
    PlatformContext,
    application_status,
    bracket_for,
    feature_status,
    held_against,
    os_version_status,
    overall_status,
    rule_applies,
    screen_idle_status,
    stethoscope_platform,
    version_status,
)
from stethoscope_desktop.core.instructions import Instructions
from stethoscope_desktop.core.policy import ApplicationRule, Policy, Requirement
from stethoscope_desktop.core.practices import Practices
from stethoscope_desktop.core.report import (
    ApplicationOutcome,
    AppState,
    DeviceFacts,
    Evidence,
    PracticeResult,
    Report,
    links_in,
    rank,
)
from stethoscope_desktop.core.status import FeatureState, Rating, Status
from stethoscope_desktop.core.strings import render
from stethoscope_desktop.core.versions import NumericRange, VersionRange, parse_version
from stethoscope_desktop.engines.base import QueryEngine, QueryError, ScanSession
from stethoscope_desktop.tables.base import Row, Value

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
    "applications": "applications",
}
DEVICE_CHECK = "device"
APPLICATION_TEXTS = {
    Requirement.ALWAYS: "requiredApplications",
    Requirement.IF_SUPPORTED: "requiredApplications",
    Requirement.NEVER: "bannedApplications",
    Requirement.SUGGESTED: "suggestedApplications",
}
DEFAULT_RATINGS: Mapping[str, Rating] = {
    "osVersion": Rating.CRITICAL,
    "diskEncryption": Rating.CRITICAL,
    "bannedApplications": Rating.CRITICAL,
    "firewall": Rating.HIGH,
    "automaticUpdates": Rating.HIGH,
    "screenLock": Rating.HIGH,
    "remoteLogin": Rating.HIGH,
    "requiredApplications": Rating.HIGH,
}
APP_STATE_STRINGS: Mapping[tuple[AppState, bool], str] = {
    # (state, banned rule) -> instructions string
    (AppState.INSTALLED, False): "appInstalled",
    (AppState.INSTALLED, True): "appInstalled",
    (AppState.NOT_INSTALLED, False): "appNotInstalled",
    (AppState.NOT_INSTALLED, True): "appNotBanned",
    (AppState.OUTDATED, False): "appOutdated",
    (AppState.OUTDATED, True): "appOutdated",
    (AppState.BANNED_PRESENT, True): "appBannedPresent",
    (AppState.BANNED_PRESENT, False): "appBannedPresent",
}
PLATFORM_NAMES = {"darwin": "macOS", "windows": "Windows", "linux": "Linux"}
# The most rows of one of IT's own checks kept as evidence (the count is always reported).
MAX_CUSTOM_EVIDENCE_ROWS = 50


@dataclass(frozen=True)
class Fact:
    """What one check found."""

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


def _details(rows: tuple[Row, ...]) -> str:
    texts = [str(row["detail"]) for row in rows if row.get("detail")]
    return "; ".join(dict.fromkeys(texts))


def run_check(session: ScanSession, check: Check | None, check_id: str, platform: str) -> Fact:
    """Run one check and interpret its rows by its kind."""
    if check is None:
        return Fact(
            Evidence(check_id, error="check not found"),
            reason=f"the check {check_id!r} is not installed",
        )
    sql = check.sql_for(platform)
    if sql is None:
        reason = f"there is no way to measure this on {PLATFORM_NAMES.get(platform, platform)} yet"
        return Fact(Evidence(check_id, error=reason), reason=reason)
    try:
        result = session.query(sql)
    except QueryError as error:
        return Fact(
            Evidence(check_id, sql, error.tables, error=error.message), reason=error.message
        )
    evidence = Evidence(check_id, sql, result.tables, result.rows)
    rows = result.rows
    detail = _details(rows)
    if check.kind is CheckKind.STATE:
        if not rows:
            return Fact(evidence, reason="the check found nothing to go on", rows=rows)
        enabled = [row.get("enabled") for row in rows]
        if any(value in (0, "0") for value in enabled):
            return Fact(evidence, FeatureState.OFF, rows=rows, detail=detail)
        if all(value in (1, "1") for value in enabled):
            return Fact(evidence, FeatureState.ON, rows=rows, detail=detail)
        unknown = _details(tuple(row for row in rows if row.get("enabled") is None))
        return Fact(
            evidence, rows=rows, reason=unknown or "the setting could not be read", detail=detail
        )
    if check.kind is CheckKind.VALUE:
        value = rows[0].get("value") if rows else None
        reason = "" if value is not None else (detail or "the check found no value")
        return Fact(evidence, value=value, rows=rows, reason=reason, detail=detail)
    return Fact(evidence, rows=rows, detail=detail)


def run_custom_check(session: ScanSession, check: CustomCheck) -> Fact:
    """Run one of IT's checks; the fact's value is the number of rows its query returned."""
    try:
        result = session.query(check.query)
    except QueryError as error:
        return Fact(
            Evidence(check.key, check.query, error.tables, error=error.message),
            reason=error.message,
        )
    rows = tuple(
        {name: value.hex() if isinstance(value, bytes) else value for name, value in row.items()}
        for row in result.rows[:MAX_CUSTOM_EVIDENCE_ROWS]
    )
    return Fact(
        Evidence(check.key, check.query, result.tables, rows), value=len(result.rows), rows=rows
    )


@dataclass
class _Builder:
    """Collects practice results for one report."""

    instructions: Instructions
    context: PlatformContext
    platform_name: str
    organization: str
    results: list[PracticeResult] = field(default_factory=list)

    def add(
        self,
        *,
        key: str,
        practice: str,
        status: Status,
        fact: Fact,
        requirement: str,
        requirement_text: str,
        observed: str,
        requirement_option: Requirement | None = None,
        values: Mapping[str, object] | None = None,
        application: ApplicationOutcome | None = None,
        description: str = "",
        title_from: str = "",
    ) -> None:
        texts = self.instructions.practice(practice)
        fill = {
            "requirement": requirement_text,
            "platformName": self.platform_name,
            "organization": self.organization,
            **(values or {}),
        }
        if status is Status.PASS:
            title = self.instructions.practice(title_from or practice).title_passing
        elif status is Status.UNKNOWN:
            title = texts.title_unknown or texts.title_failing
        else:
            title = texts.title_failing
        platform_key, directions = texts.directions_for(
            self.context.text_keys(), self.context.os_version
        )
        directions = render(directions, fill)
        reason = ""
        if status is Status.UNKNOWN:
            reason = fact.reason or "the fact could not be read"
        self.results.append(
            PracticeResult(
                key=key,
                practice=practice,
                name=render(texts.name, fill) or key,
                status=status,
                rating=texts.rating or DEFAULT_RATINGS.get(practice, Rating.MEDIUM),
                title=render(title, fill) or key,
                description=description or render(texts.description, fill),
                directions=directions,
                directions_platform=platform_key,
                links=links_in(directions),
                requirement=requirement,
                requirement_text=requirement_text,
                observed=observed,
                reason=reason,
                held_against=held_against(requirement_option, status),
                evidence=fact.evidence,
                application=application,
            )
        )

    def add_custom(self, check: CustomCheck, fact: Fact) -> None:
        """Add the result of one of IT's own checks: its texts are the check's own."""
        count = fact.value if fact.ok and isinstance(fact.value, int) else None
        status = custom_check_status(check, count)
        observed = ""
        if count is not None:
            observed = (
                "the query returned no rows"
                if count == 0
                else f"the query returned {count} row{'s' if count != 1 else ''}"
            )
        self.results.append(
            PracticeResult(
                key=check.key,
                practice=CUSTOM_PRACTICE,
                name=check.name,
                status=status,
                rating=check.rating,
                title=check.name,
                description=check.description,
                directions=check.resolution,
                directions_platform="",
                links=links_in(check.resolution),
                requirement="returns rows",
                requirement_text="the query returns at least one row",
                observed=observed,
                reason=(fact.reason or "the query could not run")
                if status is Status.UNKNOWN
                else "",
                held_against=True,
                evidence=fact.evidence,
            )
        )


class Scanner:
    """Runs scans: engine → facts → verdicts → ranked report."""

    def __init__(
        self,
        engine: QueryEngine,
        checks: CheckSet,
        *,
        platform: str,
        running_as_admin: bool = False,
        app_version: str = __version__,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._checks = checks
        self._platform = platform
        self._running_as_admin = running_as_admin
        self._app_version = app_version
        self._clock = clock

    @property
    def engine(self) -> QueryEngine:
        """Return the engine scans run on."""
        return self._engine

    def needed_checks(self, policy: Policy) -> list[str]:
        """Return the ids of the checks this policy needs, the device check first."""
        needed = [DEVICE_CHECK, "os_version"]
        for practice, check_id in PRACTICE_CHECKS.items():
            wanted = {
                "osVersion": bool(policy.os_version),
                "screenIdle": policy.screen_idle is not None,
                "stethoscopeVersion": policy.stethoscope_version is not None,
                "applications": bool(policy.applications),
            }.get(practice, practice in policy.features)
            if wanted and check_id not in needed:
                needed.append(check_id)
        return needed

    def scan(self, practices: Practices) -> Report:
        """Run one scan with these practices and return the report."""
        started_wall = self._clock()
        started = time.perf_counter()
        policy = practices.policy
        facts: dict[str, Fact] = {}
        custom = [c for c in policy.custom_checks if c.applies_to(self._platform)]
        custom_facts: dict[str, Fact] = {}
        with self._engine.begin_scan() as session:
            needed = self.needed_checks(policy)
            queries = [
                sql
                for check_id in needed
                if (check := self._checks.get(check_id)) is not None
                and (sql := check.sql_for(self._platform)) is not None
            ]
            session.prepare(queries + [c.query for c in custom])
            for check_id in needed:
                facts[check_id] = run_check(
                    session, self._checks.get(check_id), check_id, self._platform
                )
            for custom_check in custom:
                custom_facts[custom_check.key] = run_custom_check(session, custom_check)
            timings = tuple(sorted(session.table_timings().values(), key=lambda t: -t.seconds))
        device = self._device(facts[DEVICE_CHECK], facts["os_version"])
        context = PlatformContext(
            osquery=self._platform,
            stethoscope=stethoscope_platform(self._platform),
            distribution=device.distribution if self._platform == "linux" else "",
            os_version=device.os_version,
            aws_workspace="workspaces" in device.hardware_model.casefold(),
        )
        builder = _Builder(
            practices.instructions, context, device.platform_name, practices.config.organization
        )
        self._evaluate(policy, facts, builder)
        for custom_check in custom:
            builder.add_custom(custom_check, custom_facts[custom_check.key])
        ranked = rank(builder.results)
        status = overall_status(p.status for p in ranked)
        return Report(
            status=status,
            summary=_summary(practices.instructions, status, ranked, practices.config.organization),
            practices=ranked,
            device=device,
            started_at=datetime.fromtimestamp(started_wall, UTC).isoformat(timespec="seconds"),
            duration_seconds=round(time.perf_counter() - started, 4),
            engine=self._engine.info,
            language=practices.instructions.language,
            organization=practices.config.organization,
            policy_files=practices.files,
            policy_problems=tuple(str(p) for p in practices.problems),
            check_problems=tuple(str(p) for p in self._checks.problems),
            table_timings=timings,
        )

    def _device(self, fact: Fact, os_fact: Fact) -> DeviceFacts:
        row = fact.rows[0] if fact.rows else {}

        def text(name: str) -> str:
            value = row.get(name)
            return "" if value is None else str(value).strip()

        version = str(os_fact.value) if os_fact.value is not None else text("osVersion")
        distribution = text("platform") if self._platform == "linux" else ""
        platform_name = text("osName") or PLATFORM_NAMES.get(self._platform, self._platform)
        if self._platform == "darwin":
            platform_name = "macOS"
        return DeviceFacts(
            device_id=text("deviceId"),
            device_name=text("deviceName"),
            platform=stethoscope_platform(self._platform),
            platform_name=platform_name,
            distribution=distribution,
            os_name=text("osName"),
            os_version=version,
            os_build=text("osBuild"),
            hardware_vendor=text("hardwareVendor"),
            hardware_model=text("hardwareModel"),
            hardware_serial=text("hardwareSerial"),
            stethoscope_version=self._app_version,
            running_as_admin=self._running_as_admin,
        )

    def _evaluate(self, policy: Policy, facts: Mapping[str, Fact], builder: _Builder) -> None:
        context = builder.context
        if policy.os_version:
            bracket = bracket_for(policy.os_version, context)
            fact = facts[PRACTICE_CHECKS["osVersion"]]
            if bracket is not None:
                observed = "" if fact.value is None else str(fact.value)
                version = parse_version(observed) if observed else None
                status = os_version_status(bracket, version)
                required = bracket.ok or bracket.nudge
                builder.add(
                    key="osVersion",
                    practice="osVersion",
                    status=status,
                    fact=fact
                    if fact.reason or version
                    else _with_reason(fact, f"cannot read a version in {observed!r}"),
                    requirement=str(required) if required else "",
                    requirement_text=_words_for_versions(builder.instructions, required)
                    if required
                    else "",
                    observed=observed,
                )
        for practice, requirement in policy.features.items():
            fact = facts[PRACTICE_CHECKS[practice]]
            status = feature_status(requirement, fact.state)
            builder.add(
                key=practice,
                practice=practice,
                status=status,
                fact=fact,
                requirement=requirement.value,
                requirement_text=_words_for_option(builder.instructions, requirement),
                observed=""
                if fact.state is FeatureState.UNKNOWN
                else fact.state.value + (f" ({fact.detail})" if fact.detail else ""),
                requirement_option=requirement,
            )
        if policy.screen_idle is not None:
            fact = facts[PRACTICE_CHECKS["screenIdle"]]
            row = fact.rows[0] if fact.rows else {}
            enabled = row.get("enabled")
            known = (
                fact.ok and enabled is not None and (enabled in (0, "0") or fact.value is not None)
            )
            seconds = None if enabled in (0, "0") or fact.value is None else float(fact.value)
            status = screen_idle_status(policy.screen_idle, seconds, known)
            observed = (
                "never locks"
                if known and seconds is None
                else (f"{seconds:g} seconds" if seconds is not None else "")
            )
            builder.add(
                key="screenIdle",
                practice="screenIdle",
                status=status,
                fact=fact
                if known or fact.reason
                else _with_reason(fact, fact.detail or "the idle time could not be read"),
                requirement=str(policy.screen_idle),
                requirement_text=_words_for_seconds(builder.instructions, policy.screen_idle),
                observed=observed + (f" ({fact.detail})" if known and fact.detail else ""),
            )
        if policy.stethoscope_version is not None:
            fact = facts[PRACTICE_CHECKS["stethoscopeVersion"]]
            observed = "" if fact.value is None else str(fact.value)
            builder.add(
                key="stethoscopeVersion",
                practice="stethoscopeVersion",
                status=version_status(policy.stethoscope_version, observed)
                if observed
                else Status.UNKNOWN,
                fact=fact,
                requirement=str(policy.stethoscope_version),
                requirement_text=_words_for_versions(
                    builder.instructions, policy.stethoscope_version
                ),
                observed=observed,
            )
        if policy.applications:
            fact = facts[PRACTICE_CHECKS["applications"]]
            installed = [
                InstalledApp(
                    name=str(row.get("name") or ""),
                    version=str(row.get("version") or ""),
                    path=str(row.get("path") or ""),
                    source=str(row.get("source") or ""),
                )
                for row in fact.rows
                if row.get("name")
            ]
            for rule in policy.applications:
                if rule_applies(rule, context):
                    self._application(rule, fact, installed, builder)

    def _application(
        self, rule: ApplicationRule, fact: Fact, installed: list[InstalledApp], builder: _Builder
    ) -> None:
        practice = APPLICATION_TEXTS[rule.assertion]
        required_text = (
            _words_for_versions(builder.instructions, rule.version) if rule.version else ""
        )
        values = {"name": rule.name, "installFrom": rule.install_from, "version": required_text}
        if not fact.ok:
            status = Status.UNKNOWN
            outcome = None
            observed = ""
        else:
            verdict = application_status(rule, installed, builder.context)
            status = verdict.status
            outcome = ApplicationOutcome(
                name=rule.name,
                assertion=rule.assertion.value,
                state=verdict.state,
                installed=verdict.installed,
                installed_version=verdict.installed_version,
                required_version=str(rule.version) if rule.version else "",
                matched_names=tuple(dict.fromkeys(app.name for app in verdict.matched)),
            )
            observed = builder.instructions.string(
                APP_STATE_STRINGS[(verdict.state, rule.assertion is Requirement.NEVER)],
                installed=verdict.installed_version or "?",
                required=required_text,
            )
        evidence_rows = tuple(
            row for row in fact.rows if row.get("name") and rule.matches(str(row["name"]))
        )
        builder.add(
            key=f"applications/{rule.name}",
            practice=practice,
            status=status,
            fact=Fact(
                Evidence(
                    fact.evidence.check,
                    fact.evidence.sql,
                    fact.evidence.tables,
                    evidence_rows,
                    fact.evidence.error,
                ),
                reason=fact.reason,
            ),
            requirement=rule.assertion.value + (f" {rule.version}" if rule.version else ""),
            requirement_text=_words_for_option(builder.instructions, rule.assertion),
            observed=observed,
            requirement_option=rule.assertion,
            values=values,
            application=outcome,
            description=rule.description,
            # A banned version range with an allowed version installed: say it is installed.
            title_from="requiredApplications"
            if outcome is not None
            and outcome.state is AppState.INSTALLED
            and rule.assertion is Requirement.NEVER
            else "",
        )


REQUIREMENT_STRINGS: Mapping[Requirement, str] = {
    Requirement.ALWAYS: "requirementAlways",
    Requirement.SUGGESTED: "requirementSuggested",
    Requirement.NEVER: "requirementNever",
    Requirement.IF_SUPPORTED: "requirementIfSupported",
}
_AT_LEAST = re.compile(r"^>=\s*v?(\d+(?:\.\d+)*)$")


def _words_for_option(instructions: Instructions, requirement: Requirement) -> str:
    return instructions.string(REQUIREMENT_STRINGS[requirement])


def _words_for_versions(instructions: Instructions, allowed: VersionRange) -> str:
    """Say a version range in the report's language where it is the common `>=x.y` form."""
    match = _AT_LEAST.match(str(allowed).strip())
    if match:
        return instructions.string("versionAtLeast", version=match.group(1))
    return allowed.describe()


def _words_for_seconds(instructions: Instructions, allowed: NumericRange) -> str:
    if len(allowed.comparators) == 1 and allowed.comparators[0][0] == "<=":
        return instructions.string("secondsAtMost", count=f"{allowed.comparators[0][1]:g}")
    return f"{allowed.describe()} s"


def _with_reason(fact: Fact, reason: str) -> Fact:
    return Fact(fact.evidence, fact.state, fact.value, fact.rows, reason, fact.detail)


def _summary(
    instructions: Instructions,
    status: Status,
    practices: tuple[PracticeResult, ...],
    organization: str,
) -> str:
    critical = sum(1 for p in practices if p.status is Status.FAIL)
    nudges = sum(1 for p in practices if p.status is Status.NUDGE)
    unknown = sum(1 for p in practices if p.status is Status.UNKNOWN)
    head = instructions.string(
        {Status.FAIL: "summaryFail", Status.NUDGE: "summaryNudge"}.get(
            status, "summaryUnknown" if unknown else "summaryPass"
        ),
        organization=organization,
    )
    parts = instructions.count_phrases(
        {Status.FAIL: critical, Status.NUDGE: nudges, Status.UNKNOWN: unknown}
    )
    return f"{head} ({', '.join(parts)})" if parts else head
