"""The GraphQL schema: Stethoscope's queries answered from reports of canned tables, no HTTP."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from stethoscope_desktop import STETHOSCOPE_RELEASE
from stethoscope_desktop.api.schema import (
    GRAPHQL_PLATFORMS,
    QueryRunner,
    RequestContext,
    application_state,
    build_api_schema,
    disks,
    policy_mapping,
    policy_result,
    security_state,
)
from stethoscope_desktop.api.security import LOCAL_LABEL, ApiLimits, Caller
from stethoscope_desktop.core.policy import policy_from_mapping
from stethoscope_desktop.core.report import Report
from stethoscope_desktop.core.versions import VersionRange, parse_version
from tests.api.helpers import (
    CLASSIC_QUERY,
    CLASSIC_VARIABLES,
    CountingSource,
    app_practices,
    make_service,
)
from tests.canned import canned_linux

SCHEMA = build_api_schema()
FEATURE_STATES = {"PASS", "FAIL", "NUDGE", "ON", "OFF", "UNKNOWN"}
LOCAL = Caller(None, LOCAL_LABEL)


def run(
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    caller: Caller = LOCAL,
    source: CountingSource | None = None,
    introspection: bool = False,
) -> tuple[int, dict[str, Any], RequestContext]:
    service, _ = make_service(source)
    context = RequestContext(service, caller)
    runner = QueryRunner(SCHEMA, ApiLimits(), introspection=introspection)
    outcome = runner.run(query, variables, None, context)
    return outcome.status, outcome.body, context


def scan(policy: dict[str, Any], **tables: Any) -> tuple[Report, Any]:
    parsed, problems = policy_from_mapping(policy, "test")
    assert not problems
    practices = app_practices()
    report = CountingSource(canned_linux(**tables)).scan(
        dataclasses.replace(practices, policy=parsed)
    )
    return report, parsed


def expected_version_verdict(requirement: str) -> str:
    version = parse_version(STETHOSCOPE_RELEASE)
    assert version is not None
    return "PASS" if VersionRange.parse(requirement).satisfies(version) else "FAIL"


def test_the_classic_clients_query_gets_a_complete_answer_on_linux() -> None:
    status, body, context = run(CLASSIC_QUERY, CLASSIC_VARIABLES)
    assert status == 200 and "errors" not in body, body
    validate = body["data"]["policy"]["validate"]
    # The policy names only darwin and win32 OS versions: a Linux device fails, as in Stethoscope.
    version = expected_version_verdict(CLASSIC_VARIABLES["policy"]["stethoscopeVersion"])
    assert version == "PASS"  # Stethoscope's stethoscopeVersion is judged against its release
    assert validate == {
        "status": "FAIL",
        "osVersion": "FAIL",
        "firewall": "PASS",
        "diskEncryption": "PASS",
        "automaticUpdates": "PASS",
        "screenLock": "PASS",
        "remoteLogin": "PASS",
        "stethoscopeVersion": version,
    }
    device = body["data"]["device"]
    assert set(device) == {
        "deviceId", "deviceName", "platform", "platformName", "friendlyName", "osVersion",
        "osName", "osBuild", "firmwareVersion", "hardwareModel", "hardwareSerial",
        "stethoscopeVersion", "osqueryVersion", "ipAddresses", "macAddresses", "security",
    }  # fmt: skip
    assert device["deviceId"] == "abc-123" and device["deviceName"] == "laptop-42"
    assert (device["platform"], device["osVersion"]) == ("linux", "12.7.0")
    assert device["friendlyName"] == "LENOVO ThinkPad T14"
    assert device["stethoscopeVersion"] == STETHOSCOPE_RELEASE
    # The embedded engine answered: no osquery ran, said as Stethoscope said it.
    assert device["osqueryVersion"] == "UNSUPPORTED"
    assert device["osBuild"] == "6.1.0-28-amd64"  # the kernel's release, as uname -r says
    assert device["firmwareVersion"] == "N32ET91W (1.67 )"
    assert isinstance(device["ipAddresses"], list) and isinstance(device["macAddresses"], list)
    assert device["security"] == {
        "firewall": "ON",
        "automaticUpdates": "ON",
        "diskEncryption": "ON",
        "screenLock": "ON",
        "remoteLogin": "OFF",
        "automaticAppUpdates": "UNKNOWN",
        "automaticSecurityUpdates": "UNKNOWN",
        "automaticOsUpdates": "UNKNOWN",
    }
    assert len(context.evaluations) == 1 and context.evaluations[0].from_page


def test_a_page_policy_differing_from_the_apps_with_both_generations_of_application_rules() -> None:
    policy = {
        "firewall": "NEVER",  # the app says ALWAYS; the page's word counts for the page
        "osVersion": {"debian": {"ok": ">=13.0.0", "nudge": ">=12.0.0"}},
        "requiredApplications": [{"name": "bash", "version": ">=5.0.0"}],
        "bannedApplications": [{"name": "firefox", "exactMatch": False}],
        "suggestedApplications": [{"name": "clamav", "url": "https://clamav.example"}],
        "applications": [
            {"name": "slack", "assertion": "SUGGESTED", "platform": {"darwin": ">=13"}}
        ],
        "windowsMaxScreenLockTimeout": 600,
    }
    query = """query ($policy: DevicePolicy!) { policy { validate(policy: $policy) {
        status firewall osVersion screenLock
        applications { name status version installed state }
        requiredApplications { name status state }
        bannedApplications { name status state installed }
        suggestedApplications { name status state }
    } } }"""
    status, body, _ = run(query, {"policy": policy})
    assert status == 200 and "errors" not in body, body
    validate = body["data"]["policy"]["validate"]
    assert validate["status"] == "FAIL"
    assert (validate["firewall"], validate["osVersion"]) == ("FAIL", "NUDGE")
    assert validate["screenLock"] is None  # the page did not ask
    # slack applies only on darwin: left out, as Stethoscope's platform filter did.
    assert [a["name"] for a in validate["applications"]] == ["bash", "firefox", "clamav"]
    assert validate["requiredApplications"] == [
        {"name": "bash", "status": "PASS", "state": "VALID"}
    ]
    assert validate["bannedApplications"] == [
        {"name": "firefox", "status": "FAIL", "state": "INVALID_INSTALL_STATE", "installed": True}
    ]
    assert validate["suggestedApplications"] == [
        {"name": "clamav", "status": "NUDGE", "state": "SUGGESTED_INSTALL"}
    ]
    bash = next(a for a in validate["applications"] if a["name"] == "bash")
    assert bash["installed"] is True and bash["version"].startswith("5.2.15")


def test_application_states_follow_stethoscopes_names() -> None:
    report, policy = scan(
        {
            "applications": [
                {"name": "bash", "assertion": "ALWAYS", "version": ">=6.0.0"},
                {"name": "firefox", "assertion": "SUGGESTED", "version": ">=200.0.0"},
                {"name": "clamav", "assertion": "SUGGESTED"},
                {"name": "vim", "assertion": "ALWAYS"},
                {"name": "emacs", "assertion": "NEVER"},
                {"name": "firefox-esr", "assertion": "NEVER", "exactMatch": True},
                {"name": "dash", "assertion": "IF_SUPPORTED"},
            ]
        }
    )
    states = {}
    for rule in policy.applications:
        practice = report.practice(f"applications/{rule.name}")
        assert practice is not None
        states[rule.name] = application_state(rule, practice)
    assert states == {
        "bash": "INVALID_VERSION",
        "firefox": "SUGGESTED_UPGRADE",
        "clamav": "SUGGESTED_INSTALL",
        "vim": "INVALID_INSTALL_STATE",
        "emacs": "VALID",
        "firefox-esr": "INVALID_INSTALL_STATE",
        "dash": "VALID",  # IF_SUPPORTED: need not be installed (as in Stethoscope)
    }


def test_an_unreadable_application_list_is_unknown_without_a_state() -> None:
    report, policy = scan(
        {"requiredApplications": [{"name": "bash"}]},
        deb_packages="dpkg database is locked",
        rpm_packages="no rpm",
        stethoscope_desktop_apps="no apps",
    )
    result = policy_result(report, policy)
    assert result["requiredApplications"] == [
        {"name": "bash", "status": "UNKNOWN", "version": None, "installed": None, "state": None}
    ]


@pytest.mark.parametrize(
    ("policy", "tables", "key", "expected"),
    [
        ({"firewall": "ALWAYS"}, {}, "firewall", "ON"),
        ({"firewall": "NEVER"}, {}, "firewall", "ON"),  # the setting, whatever the requirement
        ({"remoteLogin": "NEVER"}, {}, "remoteLogin", "OFF"),
        ({"remoteLogin": "ALWAYS"}, {}, "remoteLogin", "OFF"),
        (
            {"automaticUpdates": "SUGGESTED"},
            {"stethoscope_automatic_updates": [{"enabled": 0}]},
            "automaticUpdates",
            "OFF",
        ),
        (
            {"screenLock": "IF_SUPPORTED"},
            {"stethoscope_screen_lock": "no desktop session"},
            "screenLock",
            "UNKNOWN",
        ),
        ({"osVersion": {"linux": {"ok": ">=13", "nudge": ">=12"}}}, {}, "osVersion", "NUDGE"),
        ({"screenIdle": "<=60"}, {}, "screenIdle", "FAIL"),
        ({"firewall": "ALWAYS"}, {}, "diskEncryption", "UNKNOWN"),  # not measured
    ],
)
def test_security_states(
    policy: dict[str, Any], tables: dict[str, Any], key: str, expected: str
) -> None:
    report, _ = scan(policy, **tables)
    assert security_state(report.practice(key)) == expected


def test_disks_come_from_the_encryption_checks_evidence() -> None:
    report, _ = scan({"diskEncryption": "ALWAYS"})
    assert disks(report.practice("diskEncryption")) == [
        {"name": "/dev/dm-0", "uuid": None, "label": "/", "encrypted": True}
    ]
    assert disks(None) == []


def test_policy_mapping_drops_nulls_and_what_means_nothing_here() -> None:
    assert policy_mapping(
        {
            "firewall": "ALWAYS",
            "screenLock": None,
            "windowsMaxScreenLockTimeout": 600,
            "osVersion": {"darwin": {"ok": ">=14", "nudge": None}, "win32": None},
            "requiredApplications": [
                None,
                {"name": "Slack", "url": "https://slack.example", "includePackages": True,
                 "platform": {"darwin": ">=13", "win32": None}, "version": None},
            ],
        }
    ) == {
        "firewall": "ALWAYS",
        "osVersion": {"darwin": {"ok": ">=14"}},
        "requiredApplications": [
            {"name": "Slack", "installFrom": "https://slack.example", "platform": {"darwin": ">=13"}}
        ],
    }  # fmt: skip


def test_every_platform_key_with_a_graphql_name_is_accepted() -> None:
    assert {"darwin", "win32", "linux", "ubuntu", "awsWorkspace", "all", "debian"} <= set(
        GRAPHQL_PLATFORMS
    )
    assert "opensuse-leap" not in GRAPHQL_PLATFORMS


def test_a_policy_given_inline_and_numbers_for_screen_idle() -> None:
    status, body, _ = run(
        '{ policy { validate(policy: {screenIdle: 600, osVersion: {all: {ok: ">=1.0.0"}}}) '
        "{ status screenIdle osVersion } } }"
    )
    assert status == 200, body
    assert body["data"]["policy"]["validate"] == {
        "status": "PASS",
        "screenIdle": "PASS",
        "osVersion": "PASS",
    }


def test_validate_without_a_policy_answers_with_the_apps_own() -> None:
    status, body, context = run(
        "{ policy { validate { status firewall osVersion } } device { policyResult } }"
    )
    assert status == 200, body
    validate = body["data"]["policy"]["validate"]
    assert validate["osVersion"] == "NUDGE"  # the bundled policy's Debian bracket
    assert body["data"]["device"]["policyResult"] == validate["status"]
    assert not context.evaluations[0].from_page


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"policy": {"firewall": "SOMETIMES"}}, "RequirementOption"),
        ({"policy": {"notAPractice": "ALWAYS"}}, "notAPractice"),
        ({"policy": {"stethoscopeVersion": 1}}, "Semver must be a string"),
        ({"policy": {"screenIdle": True}}, "NumericRange"),
        ({}, "policy"),  # DevicePolicy! is required by the classic query
    ],
)
def test_variables_that_do_not_fit_devicepolicy_are_a_bad_request(
    variables: dict[str, Any], message: str
) -> None:
    status, body, _ = run(CLASSIC_QUERY, variables)
    assert status == 400 and "data" not in body
    assert message in body["errors"][0]["message"]


def test_a_policy_that_does_not_validate_is_a_field_error_naming_the_key() -> None:
    query = "query ($p: DevicePolicy) { policy { validate(policy: $p) { status } } device { deviceName } }"
    status, body, _ = run(query, {"p": {"osVersion": {"linux": {"ok": ">=abc"}}}})
    assert status == 200
    assert body["data"] == {"policy": None, "device": {"deviceName": "laptop-42"}}
    (error,) = body["errors"]
    assert "osVersion.linux.ok" in error["message"]
    assert error["extensions"] == {"code": "INVALID_POLICY"} and error["path"] == [
        "policy",
        "validate",
    ]


def test_at_most_two_different_policies_per_request() -> None:
    query = """{ a: policy { validate(policy: {firewall: ALWAYS}) { status } }
        b: policy { validate(policy: {firewall: NEVER}) { status } }
        c: policy { validate(policy: {firewall: SUGGESTED}) { status } }
        d: policy { validate(policy: {firewall: ALWAYS}) { status } } }"""
    status, body, context = run(query)
    assert status == 200
    assert body["data"]["a"] and body["data"]["b"] and body["data"]["d"]
    assert body["data"]["c"] is None
    assert "at most 2 different policies" in body["errors"][0]["message"]
    assert len(context.evaluations) == 2


def test_identifiers_are_withheld_from_an_allowed_plain_http_origin() -> None:
    query = "{ device { deviceId hardwareSerial ipAddresses { address } macAddresses { mac } deviceName } }"
    status, body, _ = run(query, caller=Caller("http://intranet.example.com", "Intranet"))
    assert status == 200
    assert body["data"]["device"] == {
        "deviceId": None,
        "hardwareSerial": None,
        "ipAddresses": [],
        "macAddresses": [],
        "deviceName": "laptop-42",
    }
    status, body, _ = run(query, caller=Caller("https://login.example.com", "Login"))
    assert body["data"]["device"]["deviceId"] == "abc-123"


def test_introspection_only_in_debug_mode() -> None:
    status, body, _ = run("{ __schema { queryType { name } } }")
    assert status == 400 and "introspection" in body["errors"][0]["message"].lower()
    status, body, _ = run("{ __schema { queryType { name } } }", introspection=True)
    assert status == 200 and body["data"]["__schema"]["queryType"]["name"] == "Query"
    status, body, _ = run("{ __typename device { __typename } }")
    assert status == 200  # __typename is not introspection of the schema


@pytest.mark.parametrize(
    ("query", "code_or_text"),
    [
        ("{ device { deviceName ", "Syntax Error"),
        ("{ device { notAField } }", "Cannot query field 'notAField'"),
        ("mutation { device }", "Schema is not configured to execute mutation"),
        ("{ a { b { c { d { e { f { g { h { i } } } } } } } } }", "nested deeper than 8"),
        (
            "{ device { " + " ".join(f"f{i}: deviceName" for i in range(201)) + " } }",
            "more than 200 fields",
        ),
        ("{" * 40 + "}" * 40, "nested too deeply"),
        ("{ device { deviceName } } " + "# padding\n" * 2000, "longer than"),
    ],
    ids=["syntax", "unknown field", "mutation", "deep", "many fields", "nesting", "long"],
)
def test_queries_that_cannot_run_are_a_bad_request(query: str, code_or_text: str) -> None:
    status, body, _ = run(query)
    assert status == 400
    assert code_or_text in body["errors"][0]["message"]


def test_too_many_tokens_is_a_syntax_error_before_parsing_everything() -> None:
    query = "{ device { " + " ".join("deviceName" for _ in range(4100)) + " } }"
    runner = QueryRunner(SCHEMA, ApiLimits(max_query_chars=10**6), introspection=False)
    service, _ = make_service()
    outcome = runner.run(query, None, None, RequestContext(service, LOCAL))
    assert outcome.status == 400
    assert "more than 4000 tokens" in outcome.body["errors"][0]["message"]


def test_prepared_documents_are_cached() -> None:
    runner = QueryRunner(SCHEMA, ApiLimits())
    first = runner.prepare("{ device { deviceName } }")
    assert runner.prepare("{ device { deviceName } }") is first


# -- securitySoftware: ours, given as in policy.yaml ------------------------------------------

SECURITY_QUERY = (
    "query ($p: DevicePolicy) { policy { validate(policy: $p) { status securitySoftware } } "
    "device { security(policy: $p) { securitySoftware firewall } } }"
)
CLAMAV_OFF = [
    {"name": "ClamAV", "type": "antivirus", "enabled": 0, "up_to_date": None, "version": None,
     "source": "systemd", "detail": "ClamAV is installed but not running"},
]  # fmt: skip


@pytest.mark.parametrize(
    ("given", "tables", "verdict", "state"),
    [
        ("ALWAYS", {}, "PASS", "ON"),
        ({"requirement": "ALWAYS"}, {}, "PASS", "ON"),
        ({"requirement": "ALWAYS", "products": ["clamav"]}, {}, "PASS", "ON"),
        ({"requirement": "ALWAYS", "products": ["CrowdStrike"]}, {}, "FAIL", "OFF"),
        ({"requirement": "SUGGESTED", "products": ["CrowdStrike"]}, {}, "NUDGE", "OFF"),
        ("SUGGESTED", {"stethoscope_security_software": CLAMAV_OFF}, "NUDGE", "OFF"),
        ("ALWAYS", {"stethoscope_security_software": []}, "FAIL", "OFF"),
        ("IF_SUPPORTED", {"stethoscope_security_software": "cannot be read"}, "UNKNOWN", "UNKNOWN"),
    ],
)
def test_validate_answers_security_software(
    given: Any, tables: dict[str, Any], verdict: str, state: str
) -> None:
    source = CountingSource(canned_linux(**tables))
    status, body, _ = run(SECURITY_QUERY, {"p": {"securitySoftware": given}}, source=source)
    assert status == 200 and "errors" not in body, body
    assert body["data"]["policy"]["validate"]["securitySoftware"] == verdict
    assert body["data"]["device"]["security"] == {"securitySoftware": state, "firewall": "UNKNOWN"}


def test_security_software_given_inline_in_both_forms() -> None:
    status, body, _ = run(
        "{ a: policy { validate(policy: {securitySoftware: IF_SUPPORTED}) { securitySoftware } } "
        'b: policy { validate(policy: {securitySoftware: {requirement: ALWAYS, products: ["Sophos"]}}) '
        "{ status securitySoftware } } }"
    )
    assert status == 200 and "errors" not in body, body
    assert body["data"] == {
        "a": {"validate": {"securitySoftware": "PASS"}},
        "b": {"validate": {"status": "FAIL", "securitySoftware": "FAIL"}},
    }


def test_a_policy_without_security_software_answers_null() -> None:
    status, body, _ = run(SECURITY_QUERY, {"p": {"firewall": "ALWAYS"}})
    assert status == 200, body
    assert body["data"]["policy"]["validate"]["securitySoftware"] is None


@pytest.mark.parametrize(
    ("given", "key", "message"),
    [
        ("NEVER", "securitySoftware", "'NEVER' is not one of ALWAYS, SUGGESTED, IF_SUPPORTED"),
        ({"products": ["x"]}, "securitySoftware.requirement", "missing; one of ALWAYS"),
        ({"requirement": "ALWAYS", "products": []}, "securitySoftware.products", "is empty"),
        ({"requirement": "ALWAYS", "produkts": ["x"]}, "securitySoftware.produkts", "products"),
    ],
)
def test_a_wrong_security_software_is_a_field_error_naming_the_key(
    given: Any, key: str, message: str
) -> None:
    status, body, _ = run(SECURITY_QUERY, {"p": {"securitySoftware": given}})
    assert status == 200
    assert body["data"]["policy"] is None
    (error,) = body["errors"]
    assert f"{key}: " in error["message"] and message in error["message"], error
    assert error["extensions"] == {"code": "INVALID_POLICY"}


@pytest.mark.parametrize("given", [5, True, ["ALWAYS"]])
def test_security_software_that_is_neither_form_is_a_bad_request(given: Any) -> None:
    status, body, _ = run(SECURITY_QUERY, {"p": {"securitySoftware": given}})
    assert status == 400 and "data" not in body
    assert "SecuritySoftwareRequirement must be" in body["errors"][0]["message"]
