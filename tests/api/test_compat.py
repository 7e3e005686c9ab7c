"""Our schema covers every historical Stethoscope schema, by introspection; the older forms answer.

`fixtures/stethoscope_schema/union.graphql` states every type, field, argument and enum value
Stethoscope's schema ever had (our own write-up of its shape), `older_forms.graphql` the places
where its versions contradict each other. `compat.schema_gaps` diffs each against our schema as
introspection shows it; the older forms are deliberate differences, each answered as the tests
below show.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLSyntaxError

from stethoscope_desktop.api.compat import (
    DELIBERATE_DIFFERENCES,
    compare,
    deliberate_differences,
    input_accepts,
    introspect,
    output_covers,
    schema_gaps,
    shape_from_sdl,
)
from stethoscope_desktop.api.schema import build_api_schema
from tests.api.test_schema import run

SCHEMAS = Path(__file__).parent / "fixtures" / "stethoscope_schema"
UNION = (SCHEMAS / "union.graphql").read_text()
OLDER_FORMS = (SCHEMAS / "older_forms.graphql").read_text()


def places(differences: list[str]) -> set[str]:
    return {text.split(" is ", 1)[0] for text in differences}


def test_our_schema_covers_every_field_stethoscope_ever_had() -> None:
    assert schema_gaps(UNION) == []
    # Where the union's (latest) form differs, it is deliberate and said why.
    assert places(deliberate_differences(UNION)) == {
        "Application.assertion",
        "Application.installed",
        "PlatformStringRequirement.all",
    }


def test_the_older_contradicting_forms_are_deliberate_differences() -> None:
    assert schema_gaps(OLDER_FORMS) == []
    assert places(deliberate_differences(OLDER_FORMS)) == {
        "Policy.validate",
        "DevicePolicy.applications",
        "DevicePolicy.osVersion",
        "DevicePolicy.screenIdle",
        "Security.osVersion(requirement)",
        "Security.screenIdle(requirement)",
    }


def test_every_deliberate_difference_is_met_by_a_fixture() -> None:
    theirs = [shape_from_sdl(UNION), shape_from_sdl(OLDER_FORMS)]
    ours = introspect(build_api_schema())
    found = {place for shape in theirs for place, _ in compare(ours, shape)}
    assert {place for place, _ in DELIBERATE_DIFFERENCES} == found


MISSING_THINGS = """
type Query { device: Device, policy: Policy, gone: String }
type Device { osBuild: Int, serialNumber: String, extensions(browser: Browser, limit: Int): [Extension] }
type Extension { name: String! path: String! }
enum Browser { chrome edge }
input DevicePolicy { firewall: RequirementOption, antivirus: RequirementOption }
input VersionBracket { ok: Semver! }
enum RequirementOption { ALWAYS }
type Policy { validate(policy: DevicePolicy!): PolicyResult! }
type PolicyResult { status: FeatureState! }
type Gone { x: String }
"""


def test_gaps_name_what_a_client_would_miss() -> None:
    assert set(schema_gaps(MISSING_THINGS)) == {
        "Query.gone is missing",
        "Device.osBuild is String in ours, Int in theirs",
        "Device.serialNumber is missing",
        "Device.extensions(limit) is missing",
        "enum Browser lacks the value edge",
        "DevicePolicy.antivirus is missing",
        "PolicyResult.status is FeatureState in ours, FeatureState! in theirs",
        "the type Gone (OBJECT) is missing",
    }


def test_a_field_defined_twice_counts_once_as_graphql_js_merged_it() -> None:
    shape = shape_from_sdl("type NetworkInterface { interface: String\n interface: String }")
    assert list(shape.types["NetworkInterface"].fields) == ["interface"]


def test_text_that_is_not_sdl_is_a_syntax_error() -> None:
    with pytest.raises(GraphQLSyntaxError):
        schema_gaps("type {")


@pytest.mark.parametrize(
    ("ours", "theirs", "covers"),
    [
        ("String!", "String", True),
        ("String", "String!", False),
        ("String!", "Semver", True),  # both answer a JSON string
        ("FeatureState", "String", False),
        ("[Extension]", "[Extension]", True),
        ("[Extension!]!", "[Extension]", True),
        ("Extension", "[Extension]", False),
    ],
)
def test_output_types(ours: str, theirs: str, covers: bool) -> None:
    assert output_covers(ours, theirs) is covers


@pytest.mark.parametrize(
    ("ours", "theirs", "accepts"),
    [
        ("RequirementOption", "RequirementOption!", True),
        ("RequirementOption!", "RequirementOption", False),
        ("Semver", "String", False),
        ("[AppRequirement]", "[AppRequirement]", True),
    ],
)
def test_input_types(ours: str, theirs: str, accepts: bool) -> None:
    assert input_accepts(ours, theirs) is accepts


# -- the older forms, answered ---------------------------------------------------------------


def answer(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    status, body, _ = run(query, variables)
    assert status == 200 and "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def test_validate_without_a_selection_answers_the_status() -> None:
    policy = {"firewall": "ALWAYS", "remoteLogin": "NEVER"}
    data = answer("query V($p: DevicePolicy!) { policy { validate(policy: $p) } }", {"p": policy})
    assert data == {"policy": {"validate": "PASS"}}
    failing = {"firewall": "NEVER"}  # the canned firewall is on
    data = answer(
        "query V($p: DevicePolicy!) { policy { a: validate(policy: $p) b: validate { status } } }",
        {"p": failing},
    )
    assert data["policy"]["a"] == "FAIL"  # the status alone
    assert list(data["policy"]["b"]) == ["status"]  # the same field with a selection: an object


def test_a_version_range_where_a_bracket_is_expected_means_ok() -> None:
    inside = {"osVersion": {"darwin": ">=10.3", "linux": ">=12.0.0"}}
    outside = {"osVersion": {"linux": ">=13.0.0"}}
    query = "query V($p: DevicePolicy!) { policy { validate(policy: $p) { status osVersion } } }"
    assert answer(query, {"p": inside})["policy"]["validate"]["osVersion"] == "PASS"
    assert answer(query, {"p": outside})["policy"]["validate"]["osVersion"] == "FAIL"
    literal = '{ policy { validate(policy: {osVersion: {linux: ">=13"}}) { osVersion } } }'
    assert answer(literal)["policy"]["validate"]["osVersion"] == "FAIL"


@pytest.mark.parametrize("all_value", ["true", '">=1.0.0"'])
def test_an_application_platform_filter_takes_all_true_and_a_range(all_value: str) -> None:
    query = (
        '{ policy { validate(policy: {applications: [{name: "^bash$", assertion: ALWAYS, '
        f"platform: {{all: {all_value}}}}}]}}) {{ status applications {{ name status }} }} }} }}"
    )
    data = answer(query)
    assert data["policy"]["validate"]["applications"] == [{"name": "^bash$", "status": "PASS"}]


def test_screen_idle_as_text_and_applications_in_the_2019_form() -> None:
    policy = {
        "screenIdle": "<=600",
        "applications": [
            {"name": "bash", "exactMatch": True, "includePackages": True, "url": "https://x"},
            {"name": "zsh", "installed": "SUGGESTED"},
        ],
    }
    query = (
        "query V($p: DevicePolicy!) { policy { validate(policy: $p) "
        "{ screenIdle applications { name status state } } } }"
    )
    validate = answer(query, {"p": policy})["policy"]["validate"]
    assert validate["screenIdle"] == "PASS"  # the canned screen locks after 300 s
    assert validate["applications"] == [
        {"name": "bash", "status": "PASS", "state": "VALID"},  # no assertion: required
        {"name": "zsh", "status": "NUDGE", "state": "SUGGESTED_INSTALL"},
    ]


def test_validate_v2_and_validate_with_details_answer_like_validate() -> None:
    query = (
        "query V($p: DevicePolicyV2!, $q: DevicePolicy) { policy { "
        "validateV2(policy: $p) { status firewall requiredApplications { name status } } "
        "validateWithDetails(policy: $q) { status firewall } } }"
    )
    policy = {"firewall": "ALWAYS", "requiredApplications": [{"name": "bash"}]}
    data = answer(query, {"p": policy, "q": {"firewall": "ALWAYS"}})
    assert data["policy"]["validateV2"] == {
        "status": "PASS",
        "firewall": "PASS",
        "requiredApplications": [{"name": "bash", "status": "PASS"}],
    }
    assert data["policy"]["validateWithDetails"] == {"status": "PASS", "firewall": "PASS"}


def test_stethoscope_1_0s_status_and_snake_case_fields() -> None:
    data = answer(
        "{ status device { macAddresses { physical_adapter physicalAdapter } "
        "applications { name install_date last_opened_time } } }"
    )
    assert data["status"] == "ok"
    assert isinstance(data["device"]["macAddresses"], list)
    assert {"name": "bash", "install_date": None, "last_opened_time": None} in data["device"][
        "applications"
    ]
