"""The evaluation behind the local API: a web page's policy against a fresh report of this device.

**How a page's policy is evaluated.** The scanner gathers only the facts a policy needs, and
`core.evaluate.evaluate` judges them; a report keeps only the evidence of the practices its
policy asked about (and of each application rule, only the matching rows). So a page that asks
for a practice the app's policy leaves out, or for an application rule of its own, cannot be
answered from the app's report. The service therefore has the facts of a page's policy gathered
and evaluated (`Scanner.scan`) with `Practices(policy=<the page's>, config and
instructions=<the app's>)`, so every check the page needs is measured and the verdicts come from
the same `evaluate` as the window's.
IT's own checks (`customChecks`) are not in a page's policy and do not run for it. A request
without a policy (`validate` with no argument) gets the app's own verdict: the app's latest
report when it is fresh, else a scan with the app's practices.

**How often it scans.** A report younger than `max_report_age` is reused, per policy (the
policy's canonical JSON is the key; a handful are kept). Concurrent requests that need the same
report share one scan (single flight: the first starts it, the rest wait on its future). Scans
run one at a time and at most one starts per `min_scan_interval`, whatever the request rate: a
scan that is due earlier waits for the interval to pass. Scans go through a `ReportSource`, so
the scan worker hands in its scanner and the tray's latest report; the service never touches
the app's policy, its report or its notification state.

**The device's facts.** `/raw`, `/debugger` and the device's lists (installed applications,
browser extensions, hotfixes) need every check's rows, whatever a policy asks:
`device_facts` has them gathered (`ReportSource.facts`, every check and no policy), at most once
per report age, shared and spaced like scans.

Nothing here knows HTTP or GraphQL: `schema.py` turns requests into calls of `evaluate`.
"""

from __future__ import annotations

import getpass
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol, TypeVar

from stethoscope_desktop.api.network import NetworkFacts, NetworkReader, NullNetworkReader
from stethoscope_desktop.core.config import AppConfig
from stethoscope_desktop.core.facts import Facts
from stethoscope_desktop.core.policy import APPLICATION_LISTS, Policy, policy_from_mapping
from stethoscope_desktop.core.practices import Practices
from stethoscope_desktop.core.report import Report
from stethoscope_desktop.core.scanner import Scanner

log = logging.getLogger(__name__)

APP_POLICY_KEY = "<the app's policy>"
DEVICE_FACTS_KEY = "<every fact>"
POLICY_SOURCE = "policy"
MAX_CACHED_REPORTS = 16
MAX_CACHED_POLICIES = 64
# Application rules a page's policy may hold, its older lists (requiredApplications, …) counted
# too. Any local program may post one, and each rule is matched against every installed name;
# the pages written for Stethoscope name a handful. IT's policy.yaml may hold MAX_APPLICATIONS.
MAX_PAGE_APPLICATIONS = 100
_Result = TypeVar("_Result")


class ApiError(Exception):
    """An error whose message is meant for the caller; `code` goes into the GraphQL error."""

    code = "BAD_REQUEST"


class PolicyError(ApiError):
    """The page's policy does not validate."""

    code = "INVALID_POLICY"


class ScanFailed(ApiError):
    """The device could not be checked."""

    code = "SCAN_FAILED"


class Stopping(ApiError):
    """The local API is stopping: no scan or evaluation starts any more."""

    code = "STOPPING"


class ReportSource(Protocol):
    """Where reports come from: the app's latest report and scans with given practices.

    `scan` is called from server threads, one call at a time; it must not change the app's own
    state (its latest report, its notifications).
    """

    def latest(self) -> Report | None:
        """Return the app's most recent report (made with the app's own policy), if any."""
        ...

    def scan(self, practices: Practices) -> Report:
        """Scan now with these practices and return the report."""
        ...

    def facts(self) -> Facts:
        """Gather every fact the checks can measure on this device now, judged by no policy."""
        ...


class ScannerReportSource:
    """A `ReportSource` over a `Scanner`: the headless server's, and the scan worker's.

    `latest` is a callable returning the app's latest report (the scan worker passes the report
    of the tray's last scan it ran); without one there is none, and the service keeps its own.
    """

    def __init__(self, scanner: Scanner, latest: Callable[[], Report | None] | None = None) -> None:
        self._scanner = scanner
        self._latest = latest
        self._lock = threading.Lock()

    def latest(self) -> Report | None:
        """Return the app's latest report, if the app shares one."""
        return self._latest() if self._latest is not None else None

    def scan(self, practices: Practices) -> Report:
        """Gather the facts of these practices' policy and evaluate them (one at a time)."""
        with self._lock:
            return self._scanner.scan(practices)

    def facts(self) -> Facts:
        """Gather every check's facts (one scan at a time, shared with `scan`)."""
        with self._lock:
            return self._scanner.gather_every_check()


@dataclass(frozen=True)
class Freshness:
    """How fresh an answer must be and how often the API may scan (seconds)."""

    max_report_age: float = 10.0
    min_scan_interval: float = 2.0
    wait_timeout: float = 60.0


@dataclass(frozen=True)
class ServiceStats:
    """Counters: scans started, requests that shared a running scan, answers from the cache."""

    scans: int = 0
    shared: int = 0
    cached: int = 0


@dataclass(frozen=True)
class Evaluation:
    """A policy and the report made with it."""

    report: Report
    policy: Policy
    key: str

    @property
    def from_page(self) -> bool:
        """Return True when the policy was the page's (not the app's own)."""
        return self.key != APP_POLICY_KEY


@dataclass(frozen=True)
class _Entry:
    report: Report
    at: float


def login_name() -> str | None:
    """Return the login name of the account this process runs as (None if it cannot be told)."""
    try:
        return getpass.getuser() or None
    except (OSError, KeyError, ImportError):
        return None


def policy_key(data: Mapping[str, Any]) -> str:
    """Return the cache key of a page's policy: its canonical JSON."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def page_policy(data: Mapping[str, Any]) -> Policy:
    """Validate a page's policy (Stethoscope's format); raise PolicyError listing every problem."""
    rules = sum(
        len(value)
        for key in ("applications", *APPLICATION_LISTS)
        if isinstance(value := data.get(key), list)
    )
    if rules > MAX_PAGE_APPLICATIONS:
        raise PolicyError(
            f"the policy is not valid: applications: {rules} application rules; a page's policy "
            f"may name at most {MAX_PAGE_APPLICATIONS}"
        )
    policy, problems = policy_from_mapping(data, POLICY_SOURCE)
    if problems:
        details = "; ".join(
            f"{problem.key}: {problem.message}" if problem.key else problem.message
            for problem in problems
        )
        raise PolicyError(f"the policy is not valid: {details}")
    return policy


def report_age(report: Report, now: float) -> float | None:
    """Return how many seconds ago a report's scan ended (wall clock), None if unreadable."""
    try:
        started = datetime.fromisoformat(report.started_at).timestamp()
    except ValueError:
        return None
    return now - (started + report.duration_seconds)


class ApiService:
    """Answers "does this device meet this policy?" from fresh reports, scanning sparingly."""

    def __init__(
        self,
        source: ReportSource,
        practices: Callable[[], Practices],
        *,
        freshness: Freshness | None = None,
        network: NetworkReader | None = None,
        account: Callable[[], str | None] = login_name,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._source = source
        self._practices = practices
        self._freshness = freshness or Freshness()
        self._network_reader = network or NullNetworkReader()
        self._account = account
        self._clock = clock
        self._wall_clock = wall_clock
        self._stopping = threading.Event()
        # The wait between scans ends when the API stops (tests give a sleep of their own).
        self._sleep = sleep or self._stopping.wait
        self._lock = threading.Lock()
        self._scan_lock = threading.Lock()
        self._network_lock = threading.Lock()
        self._cache: OrderedDict[str, _Entry] = OrderedDict()
        self._policies: OrderedDict[str, Policy] = OrderedDict()
        self._flights: dict[str, Future[Report]] = {}
        self._last_scan: float | None = None
        self._network: tuple[NetworkFacts, float] | None = None
        self._facts: tuple[Facts, float] | None = None
        self._facts_flights: dict[str, Future[Facts]] = {}
        self._scans = self._shared = self._cached = 0

    @property
    def freshness(self) -> Freshness:
        """Return the freshness settings."""
        return self._freshness

    def config(self) -> AppConfig:
        """Return the app's current configuration (allowed origins, labels)."""
        return self._practices().config

    def app_practices(self) -> Practices:
        """Return the app's practices: its policy, config and texts, the files they came from."""
        return self._practices()

    def app_policy(self) -> Policy:
        """Return the app's own policy (IT's, layered)."""
        return self._practices().policy

    def account_name(self) -> str | None:
        """Return the login name of the account the app runs as, if it can be told."""
        return self._account()

    def stop(self) -> None:
        """Start no scan any more: requests waiting their turn get Stopping, not a scan.

        The server calls this as it stops, so that it waits for the one scan under way, not for
        every request queued behind it (each with a page's policy of its own).
        """
        self._stopping.set()

    def stats(self) -> ServiceStats:
        """Return the counters so far."""
        with self._lock:
            return ServiceStats(self._scans, self._shared, self._cached)

    # -- evaluation ----------------------------------------------------------------------------

    def prepare(self, data: Mapping[str, Any] | None) -> tuple[Policy | None, str]:
        """Validate a page's policy and return it with its key; None means the app's policy.

        Validated policies are remembered by key: a login page sends the same one every time.
        """
        if data is None:
            return None, APP_POLICY_KEY
        key = policy_key(data)
        with self._lock:
            known = self._policies.get(key)
            if known is not None:
                self._policies.move_to_end(key)
                return known, key
        policy = page_policy(data)
        with self._lock:
            self._policies[key] = policy
            while len(self._policies) > MAX_CACHED_POLICIES:
                self._policies.popitem(last=False)
        return policy, key

    def evaluate(self, data: Mapping[str, Any] | None) -> Evaluation:
        """Evaluate a page's policy (None: the app's own) against a fresh report."""
        policy, key = self.prepare(data)
        return self.evaluate_prepared(policy, key)

    def evaluate_prepared(self, policy: Policy | None, key: str) -> Evaluation:
        """Evaluate what `prepare` returned."""
        practices = self._practices()
        if policy is None:
            latest = self._source.latest()
            if latest is not None and self._latest_is_fresh(latest):
                with self._lock:
                    self._cached += 1
                return Evaluation(latest, practices.policy, APP_POLICY_KEY)
            return Evaluation(self._report(key, practices), practices.policy, APP_POLICY_KEY)
        scoped = replace(practices, policy=policy, files=(), problems=())
        return Evaluation(self._report(key, scoped), policy, key)

    def fresh_reports(self) -> list[Report]:
        """Return the fresh reports at hand (the app's latest and the cached ones), newest first."""
        now = self._clock()
        aged: list[tuple[float, Report]] = []
        latest = self._source.latest()
        if latest is not None:
            age = report_age(latest, self._wall_clock())
            if age is not None and age <= self._freshness.max_report_age:
                aged.append((age, latest))
        with self._lock:
            for entry in self._cache.values():
                age = now - entry.at
                if age <= self._freshness.max_report_age:
                    aged.append((age, entry.report))
        aged.sort(key=lambda item: item[0])
        return [report for _, report in aged]

    def device_report(self) -> Report:
        """Return a fresh report for the device's own facts, scanning only if there is none.

        Any report will do for who the device is, so a scan under way for some policy is waited
        for rather than starting another.
        """
        fresh = self.fresh_reports()
        if fresh:
            return fresh[0]
        with self._lock:
            flight = next(iter(self._flights.values()), None)
            if flight is not None:
                self._shared += 1
        if flight is not None:
            try:
                return flight.result(timeout=self._freshness.wait_timeout)
            except (ApiError, FutureTimeout):
                pass
        return self.evaluate(None).report

    def device_facts(self) -> Facts:
        """Return every fact the checks measure on this device, fresh, judged by no policy.

        What `/raw` shows and the device's lists (installed applications, browser extensions,
        hotfixes) are read from. Gathered at most once per report age; concurrent callers share
        one gathering, which waits its turn like a scan (`min_scan_interval`).
        """

        def cached() -> Facts | None:
            if self._facts is not None:
                facts, at = self._facts
                if self._clock() - at <= self._freshness.max_report_age:
                    return facts
            return None

        def store(facts: Facts) -> None:
            self._facts = (facts, self._clock())

        return self._shared_flight(
            DEVICE_FACTS_KEY,
            self._facts_flights,
            cached,
            lambda: self._throttled(self._source.facts),
            store,
            "the device's facts could not be read",
        )

    def network(self) -> NetworkFacts:
        """Return the device's addresses and interfaces, read at most once per report age."""
        with self._network_lock:
            now = self._clock()
            if self._network is not None and now - self._network[1] <= (
                self._freshness.max_report_age
            ):
                return self._network[0]
            facts = self._network_reader.read()
            self._network = (facts, now)
            return facts

    # -- scanning ------------------------------------------------------------------------------

    def _latest_is_fresh(self, report: Report) -> bool:
        age = report_age(report, self._wall_clock())
        return age is not None and age <= self._freshness.max_report_age

    def _report(self, key: str, practices: Practices) -> Report:
        """Return a fresh report for `key`: cached, shared with a running scan, or scanned."""

        def cached() -> Report | None:
            entry = self._cache.get(key)
            if entry is not None and self._clock() - entry.at <= self._freshness.max_report_age:
                self._cache.move_to_end(key)
                return entry.report
            return None

        def store(report: Report) -> None:
            self._cache[key] = _Entry(report, self._clock())
            self._cache.move_to_end(key)
            while len(self._cache) > MAX_CACHED_REPORTS:
                self._cache.popitem(last=False)

        return self._shared_flight(
            key,
            self._flights,
            cached,
            lambda: self._scan(practices),
            store,
            "the device could not be checked",
        )

    def _shared_flight(
        self,
        key: str,
        flights: dict[str, Future[_Result]],
        cached: Callable[[], _Result | None],
        produce: Callable[[], _Result],
        store: Callable[[_Result], None],
        failed: str,
    ) -> _Result:
        """Return what is `cached`, else share the flight under way for `key`, else produce it.

        `cached` and `store` run under the lock. The first caller produces; the others wait for
        its result (or its failure, an ApiError, with `failed` saying what could not be done).
        """
        with self._lock:
            found = cached()
            if found is not None:
                self._cached += 1
                return found
            flight = flights.get(key)
            leader = flight is None
            if flight is None:
                flight = flights[key] = Future()
            else:
                self._shared += 1
        if not leader:
            try:
                return flight.result(timeout=self._freshness.wait_timeout)
            except FutureTimeout:
                raise ScanFailed("the device check is taking too long; try again") from None
        try:
            result = produce()
        except Exception as error:
            failure = error if isinstance(error, ApiError) else ScanFailed(f"{failed}: {error}")
            if not isinstance(error, ApiError):
                log.exception("scan for the local API failed")
            with self._lock:
                del flights[key]
            flight.set_exception(failure)
            raise failure from error
        with self._lock:
            store(result)
            del flights[key]
        flight.set_result(result)
        return result

    def _scan(self, practices: Practices) -> Report:
        """Scan once: one at a time, and no sooner than `min_scan_interval` after the last."""
        return self._throttled(lambda: self._source.scan(practices))

    def _throttled(self, work: Callable[[], _Result]) -> _Result:
        """Run a scan: one at a time, and no sooner than `min_scan_interval` after the last."""
        with self._scan_lock:
            if self._last_scan is not None:
                wait = self._last_scan + self._freshness.min_scan_interval - self._clock()
                if wait > 0 and not self._stopping.is_set():
                    self._sleep(wait)
            if self._stopping.is_set():
                raise Stopping("the local API is stopping; try again when it is back")
            self._last_scan = self._clock()
            with self._lock:
                self._scans += 1
            started = time.perf_counter()
            result = work()
            log.debug("API scan took %.1f ms", (time.perf_counter() - started) * 1000)
            return result


def machine_api_service(
    scanner: Scanner,
    practices: Callable[[], Practices],
    *,
    latest: Callable[[], Report | None] | None = None,
    freshness: Freshness | None = None,
) -> ApiService:
    """Return the service that scans this machine with `scanner` and reads its network facts.

    What `serve` and the scan worker answer web apps with; `latest` is the app's latest report.
    """
    from stethoscope_desktop.api.network import create_network_reader
    from stethoscope_desktop.core.platforms import current_platform
    from stethoscope_desktop.tables.system import LocalSystem

    return ApiService(
        ScannerReportSource(scanner, latest=latest),
        practices,
        freshness=freshness,
        network=create_network_reader(current_platform(), LocalSystem()),
    )
