"""Facts, gathered: which checks a policy needs, run on an engine session, as immutable `Facts`.

The scanner decides which checks a policy needs, runs them (the built-in checks, then IT's own
`Policy.custom_checks`) in one engine session and interprets each check's rows by its kind. It
never raises for a bad fact: a check that fails is a fact that could not be read, with the reason.
It judges nothing: `core.evaluate.evaluate` turns facts into verdicts, and `Scanner.scan` is the
two in a row, what the window's scans and the local API's page policies use.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from stethoscope_desktop import STETHOSCOPE_RELEASE, __version__
from stethoscope_desktop.core.checks import Check, CheckKind, CheckSet
from stethoscope_desktop.core.custom_checks import CustomCheck
from stethoscope_desktop.core.evaluate import evaluate
from stethoscope_desktop.core.facts import (
    DEVICE_CHECK,
    PRACTICE_CHECKS,
    Fact,
    Facts,
    PlatformContext,
    stethoscope_platform,
)
from stethoscope_desktop.core.policy import Policy
from stethoscope_desktop.core.practices import Practices
from stethoscope_desktop.core.report import DeviceFacts, Evidence, Report
from stethoscope_desktop.core.report_store import with_policy_sha256
from stethoscope_desktop.core.status import FeatureState
from stethoscope_desktop.engines.base import QueryEngine, QueryError, QueryResult, ScanSession
from stethoscope_desktop.tables.values import Row

log = logging.getLogger(__name__)

PLATFORM_NAMES = {"darwin": "macOS", "windows": "Windows", "linux": "Linux"}
# The most rows of one of IT's own checks kept as evidence (the count is always reported).
MAX_CUSTOM_EVIDENCE_ROWS = 50
# One of IT's checks is stopped after this long where the engine can stop a query (the built-in
# engine; osqueryd keeps its own per-query timeout): Fleet's real checks take milliseconds.
IT_QUERY_TIME_LIMIT_S = 5.0
# A whole scan's deadline: the checks not run by then are UNKNOWN with SCAN_DEADLINE_REASON, so
# slow answers (each just under osqueryd's timeout) cannot stretch a scan without end.
SCAN_TIME_LIMIT_S = 60.0


def scan_deadline_reason(limit: float) -> str:
    """Return the reason of a check not run because the scan ran out of time."""
    return f"not run: the scan had already taken its {limit:g} s and was stopped"


def _query(session: ScanSession, sql: str, time_limit: float | None) -> QueryResult:
    """Run one query; any failure, even one no engine expected, is a QueryError for that check."""
    try:
        return session.query(sql, time_limit=time_limit)
    except QueryError:
        raise
    except Exception as failure:  # a bug in an engine costs that one check, never the scan
        log.exception("query failed: %.200s", sql)
        raise QueryError(f"the query failed: {type(failure).__name__}: {failure}") from failure


def _details(rows: tuple[Row, ...]) -> str:
    texts = [str(row["detail"]) for row in rows if row.get("detail")]
    return "; ".join(dict.fromkeys(texts))


def run_check(
    session: ScanSession,
    check: Check | None,
    check_id: str,
    platform: str,
    *,
    time_limit: float | None = None,
) -> Fact:
    """Run one check and interpret its rows by its kind (stopped after `time_limit` if given)."""
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
        result = _query(session, sql, time_limit)
    except QueryError as error:
        evidence = Evidence(
            check_id, sql, error.tables, error=error.message, query_mistake=error.query_mistake
        )
        return Fact(evidence, reason=error.message)
    evidence = Evidence(check_id, sql, result.tables, result.rows)
    if check.kind is CheckKind.STATE:
        return _state_fact(evidence)
    if check.kind is CheckKind.VALUE:
        return _value_fact(evidence)
    return Fact(evidence, rows=evidence.rows, detail=_details(evidence.rows))


def _state_fact(evidence: Evidence) -> Fact:
    """A state check: ON when every row is enabled, OFF when one is not, else unknown."""
    rows = evidence.rows
    detail = _details(rows)
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


def _value_fact(evidence: Evidence) -> Fact:
    """A value check: the first row's `value`, or why there is none."""
    rows = evidence.rows
    detail = _details(rows)
    value = rows[0].get("value") if rows else None
    reason = "" if value is not None else (detail or "the check found no value")
    return Fact(evidence, value=value, rows=rows, reason=reason, detail=detail)


def run_custom_check(
    session: ScanSession, check: CustomCheck, *, time_limit: float | None = IT_QUERY_TIME_LIMIT_S
) -> Fact:
    """Run one of IT's checks; the fact's value is the number of rows its query returned."""
    try:
        result = _query(session, check.query, time_limit)
    except QueryError as error:
        evidence = Evidence(
            check.key,
            check.query,
            error.tables,
            error=error.message,
            query_mistake=error.query_mistake,
        )
        return Fact(evidence, reason=error.message)
    rows = tuple(
        {name: value.hex() if isinstance(value, bytes) else value for name, value in row.items()}
        for row in result.rows[:MAX_CUSTOM_EVIDENCE_ROWS]
    )
    return Fact(
        Evidence(check.key, check.query, result.tables, rows), value=len(result.rows), rows=rows
    )


class Scanner:
    """Gathers a policy's facts on an engine; `scan` also evaluates them into the report."""

    def __init__(
        self,
        engine: QueryEngine,
        checks: CheckSet,
        *,
        platform: str,
        running_as_admin: bool = False,
        app_version: str = __version__,
        clock: Callable[[], float] = time.time,
        scan_time_limit: float = SCAN_TIME_LIMIT_S,
        it_query_time_limit: float = IT_QUERY_TIME_LIMIT_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._checks = checks
        self._platform = platform
        self._running_as_admin = running_as_admin
        self._app_version = app_version
        self._clock = clock
        self._scan_time_limit = scan_time_limit
        self._it_query_time_limit = it_query_time_limit
        self._monotonic = monotonic

    @property
    def engine(self) -> QueryEngine:
        """Return the engine scans run on."""
        return self._engine

    def needed_checks(self, policy: Policy) -> list[str]:
        """Return the ids of the checks this policy needs, the device check first."""
        needed = [DEVICE_CHECK, "os_version"]
        named = policy.named_practices()
        for practice, check_id in PRACTICE_CHECKS.items():
            if practice in named and check_id not in needed:
                needed.append(check_id)
        return needed

    def gather(self, policy: Policy) -> Facts:
        """Run the checks `policy` needs, and IT's own for this platform, in one engine session.

        IT's checks done by hand (`CustomCheck.manual`) are not run: nothing they could answer.
        """
        custom = [c for c in policy.custom_checks if c.applies_to(self._platform) and not c.manual]
        return self._gather(self.needed_checks(policy), custom)

    def gather_every_check(self) -> Facts:
        """Run every loaded check that can measure something on this platform, and no policy's.

        What the local API shows as the device's facts (`/raw`) and reads its device lists from
        (installed applications and the like), whatever a policy asks.
        """
        needed = [DEVICE_CHECK, "os_version"]
        needed += sorted(
            check_id
            for check_id, check in self._checks.checks.items()
            if check_id not in needed and check.sql_for(self._platform) is not None
        )
        return self._gather(needed, [])

    def _gather(self, needed: list[str], custom: list[CustomCheck]) -> Facts:
        started_wall = self._clock()
        started = time.perf_counter()
        deadline = self._monotonic() + self._scan_time_limit
        with self._engine.begin_scan() as session:
            session.prepare(self._queries(needed) + [c.query for c in custom])
            checks: dict[str, Fact] = {}
            for check_id in needed:
                check = self._checks.get(check_id)
                left = deadline - self._monotonic()
                if left <= 0:
                    checks[check_id] = self._out_of_time(check_id)
                    continue
                checks[check_id] = run_check(
                    session, check, check_id, self._platform, time_limit=left
                )
            custom_facts: dict[str, Fact] = {}
            for custom_check in custom:
                left = deadline - self._monotonic()
                if left <= 0:
                    reason = scan_deadline_reason(self._scan_time_limit)
                    custom_facts[custom_check.key] = Fact(
                        Evidence(custom_check.key, error=reason), reason=reason
                    )
                    continue
                custom_facts[custom_check.key] = run_custom_check(
                    session, custom_check, time_limit=min(left, self._it_query_time_limit)
                )
            timings = tuple(sorted(session.table_timings().values(), key=lambda t: -t.seconds))
        device = self._device(checks[DEVICE_CHECK], checks["os_version"])
        return Facts(
            checks=checks,
            custom=custom_facts,
            device=device,
            context=self._context(device),
            engine=self._engine.info,
            started_at=datetime.fromtimestamp(started_wall, UTC).isoformat(timespec="seconds"),
            duration_seconds=round(time.perf_counter() - started, 4),
            table_timings=timings,
            check_problems=tuple(str(p) for p in self._checks.problems),
        )

    def _out_of_time(self, check_id: str) -> Fact:
        """Return the fact of a check not run because the scan's deadline had passed."""
        reason = scan_deadline_reason(self._scan_time_limit)
        return Fact(Evidence(check_id, error=reason), reason=reason)

    def scan(self, practices: Practices) -> Report:
        """Gather the facts the practices' policy needs and evaluate them: one scan's report."""
        report = evaluate(
            practices.policy,
            self.gather(practices.policy),
            practices.instructions,
            organization=practices.config.organization,
            policy_files=practices.files,
            policy_problems=tuple(str(p) for p in practices.problems),
            show_manual_checks=practices.config.manual_checks == "show",
        )
        return with_policy_sha256(report)

    def _queries(self, check_ids: list[str]) -> list[str]:
        """Return the SQL of these checks on this platform (what the session may prepare)."""
        return [
            sql
            for check_id in check_ids
            if (check := self._checks.get(check_id)) is not None
            and (sql := check.sql_for(self._platform)) is not None
        ]

    def _context(self, device: DeviceFacts) -> PlatformContext:
        """Return which platform keys of the policy and texts apply to this device."""
        return PlatformContext(
            osquery=self._platform,
            stethoscope=stethoscope_platform(self._platform),
            distribution=device.distribution,
            os_version=device.os_version,
            aws_workspace="workspaces" in device.hardware_model.casefold(),
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
            firmware_version=text("firmwareVersion"),
            stethoscope_version=STETHOSCOPE_RELEASE,
            app_version=self._app_version,
            running_as_admin=self._running_as_admin,
        )
