"""A page's policy can't make the API do unbounded matching work for other clients to wait on.

Any local program may post a policy; each application rule is matched against every installed
name. A page's policy names at most MAX_PAGE_APPLICATIONS rules (IT's policy.yaml up to 500),
counting Stethoscope's older lists too; more is INVALID_POLICY naming the limit, before any scan.
"""

from __future__ import annotations

from typing import Any

from stethoscope_desktop.api.service import MAX_PAGE_APPLICATIONS
from tests.api.helpers import CountingSource
from tests.api.test_schema import run

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
