"""A page's policy can't make the API do unbounded matching work for other clients to wait on.

Any local program may post a policy; each application rule is matched against every installed
name. A page's policy names at most MAX_PAGE_APPLICATIONS rules (IT's policy.yaml up to 500),
counting Stethoscope's older lists too; more is INVALID_POLICY naming the limit, before any scan.
And when the API stops, it waits for the one scan under way, not for every page's policy queued
behind it.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from stethoscope_desktop.api.service import MAX_PAGE_APPLICATIONS, ApiService, Freshness, Stopping
from tests.api.helpers import CountingSource, app_practices, make_service, running_server
from tests.api.test_schema import run
from tests.api.test_service import wait_until

QUERY = "query ($p: DevicePolicy) { policy { validate(policy: $p) { status } } }"


def rules(count: int, prefix: str = "app") -> list[dict[str, Any]]:
    return [{"name": f"{prefix}{i}"} for i in range(count)]


def test_a_page_policy_with_too_many_application_rules_is_refused_naming_the_limit() -> None:
    source = CountingSource()
    status, body, _ = run(
        QUERY, {"p": {"applications": rules(MAX_PAGE_APPLICATIONS + 1)}}, source=source
    )
    assert status == 200 and body["data"] == {"policy": None}
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "INVALID_POLICY"}
    assert f"at most {MAX_PAGE_APPLICATIONS}" in error["message"]
    assert source.count == 0


def test_the_older_application_lists_count_toward_the_limit() -> None:
    half = MAX_PAGE_APPLICATIONS // 2 + 1
    policy = {
        "requiredApplications": rules(half, "required"),
        "bannedApplications": rules(half, "banned"),
    }
    status, body, _ = run(QUERY, {"p": policy})
    assert status == 200
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "INVALID_POLICY"}
    assert f"{2 * half} application rules" in error["message"]


def test_a_page_policy_at_the_limit_is_evaluated() -> None:
    status, body, _ = run(QUERY, {"p": {"applications": rules(MAX_PAGE_APPLICATIONS)}})
    assert status == 200 and "errors" not in body, body
    assert body["data"]["policy"]["validate"]["status"] in {"PASS", "FAIL", "NUDGE"}


def test_stopping_waits_for_the_scan_under_way_and_starts_none_of_those_queued() -> None:
    source = CountingSource()
    source.gate = threading.Event()
    service, _ = make_service(source)
    outcomes: list[str] = []
    lock = threading.Lock()

    def ask(threshold: int) -> None:
        try:
            service.evaluate({"screenIdle": f"<={threshold}"})
            outcome = "answered"
        except Stopping as error:
            outcome = f"{error.code}: {error}"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=ask, args=(600 + i,)) for i in range(4)]
    threads[0].start()
    wait_until(source.entered.is_set, "the first scan")
    for thread in threads[1:]:
        thread.start()
    # Each different policy is a flight of its own, waiting for the scan under way.
    wait_until(lambda: len(service._flights) == 4, "the others to wait their turn")
    service.stop()
    source.gate.set()
    for thread in threads:
        thread.join()
    assert source.count == 1
    assert sorted(outcomes) == [
        "STOPPING: the local API is stopping; try again when it is back"
    ] * 3 + ["answered"]


def test_stopping_the_server_stops_its_service() -> None:
    service, source = make_service()
    with running_server(service):
        pass
    with pytest.raises(Stopping):
        service.evaluate({"firewall": "ALWAYS"})
    assert source.count == 0


def test_the_wait_between_scans_ends_when_the_service_stops() -> None:
    source = CountingSource()
    practices = app_practices()
    service = ApiService(source, lambda: practices, freshness=Freshness(min_scan_interval=3600.0))
    service.evaluate({"firewall": "ALWAYS"})
    waiting = threading.Thread(target=lambda: _expect_stopping(service))
    waiting.start()
    wait_until(lambda: len(service._flights) == 1, "the second scan to wait its turn")
    service.stop()
    waiting.join(timeout=30)
    assert not waiting.is_alive(), "the wait of an hour between scans did not end"
    assert source.count == 1


def _expect_stopping(service: ApiService) -> None:
    with pytest.raises(Stopping):
        service.evaluate({"firewall": "NEVER"})
