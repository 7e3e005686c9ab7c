"""Evaluation for the API: a page's policy scanned with, fresh reports reused, one scan at a time."""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import UTC, datetime

import pytest

from stethoscope_desktop.api.network import NetworkFacts, NetworkInterface
from stethoscope_desktop.api.service import (
    APP_POLICY_KEY,
    ApiService,
    Freshness,
    PolicyError,
    ScanFailed,
    policy_key,
    report_age,
)
from stethoscope_desktop.core.report import Report
from stethoscope_desktop.core.status import Status
from tests.api.helpers import CLASSIC_VARIABLES, CountingSource, FakeClock, app_practices
from tests.canned import canned_linux

PAGE = {"firewall": "ALWAYS", "screenIdle": "<=600"}
OTHER_PAGE = {"remoteLogin": "NEVER"}
WALL = datetime(2026, 11, 20, 9, 0, tzinfo=UTC).timestamp()


def service_with(
    source: CountingSource | None = None,
    *,
    max_age: float = 10.0,
    interval: float = 2.0,
    clock: FakeClock | None = None,
    wall: float = WALL,
) -> tuple[ApiService, CountingSource, FakeClock]:
    clock = clock or FakeClock()
    source = source or CountingSource()
    practices = app_practices()
    service = ApiService(
        source,
        lambda: practices,
        freshness=Freshness(max_report_age=max_age, min_scan_interval=interval, wait_timeout=30),
        clock=clock,
        wall_clock=lambda: wall,
        sleep=clock.sleep,
    )
    return service, source, clock


def wait_until(condition: object, what: str) -> None:
    """Wait (not a timed assertion: a generous deadline only for a broken test)."""
    deadline = time.monotonic() + 30
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.001)


def test_a_pages_policy_is_scanned_with_the_apps_config_and_texts() -> None:
    service, source, _ = service_with()
    evaluation = service.evaluate(PAGE)
    (scanned,) = source.scans
    app = app_practices()
    assert scanned.policy == evaluation.policy and evaluation.from_page
    assert set(scanned.policy.features) == {"firewall"}
    assert scanned.config == app.config and scanned.instructions == app.instructions
    assert scanned.policy.custom_checks == ()
    assert {p.key for p in evaluation.report.practices} == {"firewall", "screenIdle"}


def test_a_fresh_report_is_reused_and_a_stale_one_is_not() -> None:
    service, source, clock = service_with(max_age=10.0, interval=0.0)
    first = service.evaluate(PAGE).report
    clock.advance(9.9)
    assert service.evaluate(dict(reversed(list(PAGE.items())))).report is first  # same policy
    assert source.count == 1 and service.stats().cached == 1
    clock.advance(0.2)
    assert service.evaluate(PAGE).report is not first
    assert source.count == 2


def test_scans_start_no_sooner_than_the_minimum_interval() -> None:
    service, source, clock = service_with(interval=2.0)
    service.evaluate(PAGE)
    clock.advance(0.5)
    service.evaluate(OTHER_PAGE)  # another policy needs its own scan: it waits its turn
    assert clock.slept == [pytest.approx(1.5)]
    clock.advance(5.0)
    service.evaluate(CLASSIC_VARIABLES["policy"])
    assert clock.slept == [pytest.approx(1.5)]  # the interval had passed: no wait
    assert source.count == 3 and service.stats().scans == 3


def test_without_a_policy_the_apps_fresh_latest_report_answers() -> None:
    latest = CountingSource().scan(app_practices())
    ended = WALL - 3.0
    latest = dataclasses.replace(
        latest,
        started_at=datetime.fromtimestamp(ended - latest.duration_seconds, UTC).isoformat(),
    )
    service, source, _ = service_with(CountingSource(latest=latest), max_age=10.0)
    evaluation = service.evaluate(None)
    assert evaluation.report is latest and evaluation.key == APP_POLICY_KEY
    assert not evaluation.from_page and source.count == 0
    assert service.device_report() is latest


def test_without_a_policy_and_a_stale_latest_report_the_apps_practices_are_scanned() -> None:
    stale = dataclasses.replace(
        CountingSource().scan(app_practices()),
        started_at=datetime.fromtimestamp(WALL - 60, UTC).isoformat(),
    )
    service, source, _ = service_with(CountingSource(latest=stale), max_age=10.0)
    evaluation = service.evaluate(None)
    assert evaluation.report is not stale
    (scanned,) = source.scans
    assert scanned == app_practices()
    assert evaluation.policy == app_practices().policy


def test_concurrent_requests_share_one_scan() -> None:
    source = CountingSource()
    source.gate = threading.Event()
    service, _, _ = service_with(source)
    results: list[Report] = []
    lock = threading.Lock()

    def ask() -> None:
        report = service.evaluate(PAGE).report
        with lock:
            results.append(report)

    threads = [threading.Thread(target=ask) for _ in range(12)]
    threads[0].start()
    wait_until(source.entered.is_set, "the first scan")
    for thread in threads[1:]:
        thread.start()
    wait_until(lambda: service.stats().shared == 11, "the others to wait on the scan")
    source.gate.set()
    for thread in threads:
        thread.join()
    assert source.count == 1
    assert len(results) == 12 and all(report is results[0] for report in results)


@pytest.mark.allow_warnings
def test_a_failed_scan_fails_everyone_waiting_and_the_next_request_scans_again() -> None:
    source = CountingSource()
    source.gate = threading.Event()
    source.fail_with = RuntimeError("the engine went away")
    service, _, _ = service_with(source, interval=0.0)
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            service.evaluate(PAGE)
        except ScanFailed as error:
            errors.append(error)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    threads[0].start()
    wait_until(source.entered.is_set, "the first scan")
    for thread in threads[1:]:
        thread.start()
    wait_until(lambda: service.stats().shared == 2, "the others to wait")
    source.gate.set()
    for thread in threads:
        thread.join()
    assert len(errors) == 3
    assert all("the engine went away" in str(error) for error in errors)
    source.fail_with = None
    assert service.evaluate(PAGE).report.status in Status
    assert source.count == 2


def test_an_invalid_policy_is_refused_with_every_problem_and_nothing_is_scanned() -> None:
    service, source, _ = service_with()
    with pytest.raises(PolicyError) as raised:
        service.evaluate(
            {"firewall": "ALWAYZ", "osVersion": {"linux": {"ok": ">=abc"}}, "customChecks": []}
        )
    message = str(raised.value)
    assert "firewall: 'ALWAYZ' is not one of" in message
    assert "osVersion.linux.ok" in message
    assert "customChecks: ignored: only IT's policy files may add checks" in message
    assert source.count == 0


def test_the_apps_own_state_is_untouched_by_a_page() -> None:
    app = app_practices()
    latest = CountingSource().scan(app)
    source = CountingSource(latest=latest)
    service, _, _ = service_with(source)
    service.evaluate({"firewall": "NEVER"})
    assert source.latest() is latest
    assert app_practices().policy == app.policy


def test_fresh_reports_are_newest_first_and_stale_ones_are_dropped() -> None:
    service, _, clock = service_with(max_age=10.0, interval=0.0)
    older = service.evaluate(PAGE).report
    clock.advance(4)
    newer = service.evaluate(OTHER_PAGE).report
    assert service.fresh_reports() == [newer, older]
    assert service.device_report() is newer
    clock.advance(7)
    assert service.fresh_reports() == [newer]
    clock.advance(10)
    assert service.fresh_reports() == []


class CountingReader:
    def __init__(self) -> None:
        self.reads = 0

    def read(self) -> NetworkFacts:
        self.reads += 1
        return NetworkFacts((), (NetworkInterface("eth0", "3c:58:c2:11:22:33"),))


def test_network_facts_are_read_at_most_once_per_report_age() -> None:
    reader = CountingReader()
    clock = FakeClock()
    practices = app_practices()
    service = ApiService(
        CountingSource(),
        lambda: practices,
        freshness=Freshness(max_report_age=10),
        network=reader,
        clock=clock,
    )
    assert service.network().interfaces[0].interface == "eth0"
    service.network()
    assert reader.reads == 1
    clock.advance(11)
    service.network()
    assert reader.reads == 2


def test_policy_key_is_canonical_json() -> None:
    assert policy_key({"b": 1, "a": [1, {"d": 2, "c": 3}]}) == policy_key(
        {"a": [1, {"c": 3, "d": 2}], "b": 1}
    )
    assert policy_key({"a": [1, 2]}) != policy_key({"a": [2, 1]})


def test_report_age_from_its_start_time_and_duration() -> None:
    report = CountingSource(canned_linux()).scan(app_practices())
    report = dataclasses.replace(
        report, started_at="2026-11-20T09:00:00+00:00", duration_seconds=0.5
    )
    assert report_age(report, WALL + 10) == pytest.approx(9.5)
    assert report_age(dataclasses.replace(report, started_at="yesterday"), WALL) is None


def test_the_device_report_waits_for_a_scan_under_way_instead_of_starting_one() -> None:
    source = CountingSource()
    source.gate = threading.Event()
    service, _, _ = service_with(source)
    reports: list[Report] = []
    page = threading.Thread(target=lambda: reports.append(service.evaluate(PAGE).report))
    page.start()
    wait_until(source.entered.is_set, "the page's scan")
    device = threading.Thread(target=lambda: reports.append(service.device_report()))
    device.start()
    wait_until(lambda: service.stats().shared == 1, "the device report to wait")
    source.gate.set()
    page.join()
    device.join()
    assert source.count == 1 and reports[0] is reports[1]
