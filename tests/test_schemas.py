"""The JSON Schemas in `resources/schemas/`: valid, and in step with the loaders and the report.

`policy.schema.json` and `config.schema.json` are for IT's editors; the Python loaders
(`core.policy`, `core.config`) are the source of truth. These tests hold the two together: every
file the schema rejects, the loader reports too; the forms the loader accepts, the schema accepts
(the range patterns are fuzzed against the range parsers); and the schemas name exactly the keys
the loaders know. `report.schema.json` describes `Report.to_dict()`; a field added to a report
dataclass without the schema fails here.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import random
import time
import typing
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from stethoscope_desktop.core.config import (
    CONFIG_KEYS,
    ENGINES,
    MIN_SCAN_INTERVAL_MINUTES,
    parse_config,
)
from stethoscope_desktop.core.policy import (
    APPLICATION_KEYS,
    MAX_APP_NAME_CHARS,
    MAX_APPLICATIONS,
    PLATFORM_KEYS,
    POLICY_KEYS,
    Requirement,
    parse_policy,
)
from stethoscope_desktop.core.report import (
    REPORT_SCHEMA_VERSION,
    ApplicationOutcome,
    AppState,
    DeviceFacts,
    Evidence,
    PracticeResult,
    Report,
    links_in,
    rank,
)
from stethoscope_desktop.core.status import Rating, Status
from stethoscope_desktop.core.versions import (
    MAX_RANGE_LENGTH,
    NumericRange,
    NumericRangeError,
    VersionRange,
    VersionRangeError,
)
from stethoscope_desktop.core.yamlfile import Problem, YamlFileError, format_key, parse_yaml
from stethoscope_desktop.engines.info import EngineInfo, TableTiming
from stethoscope_desktop.resources import practices_dir, resources_dir

SCHEMAS = resources_dir() / "schemas"
STETHOSCOPE_POLICY = Path(__file__).parent / "data" / "stethoscope_policy.yaml"
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


@functools.cache
def schema(name: str) -> dict[str, Any]:
    """Return `resources/schemas/<name>.schema.json`."""
    loaded: dict[str, Any] = json.loads((SCHEMAS / f"{name}.schema.json").read_text("utf-8"))
    return loaded


@functools.cache
def validator(name: str) -> Draft202012Validator:
    """Return a validator for schema `name` that also checks formats (regex, date-time)."""
    return Draft202012Validator(schema(name), format_checker=Draft202012Validator.FORMAT_CHECKER)


def schema_errors(name: str, data: Any) -> list[str]:
    """Return what schema `name` finds wrong with `data`, as readable lines."""
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in validator(name).iter_errors(data)
    ]


def schema_error_keys(name: str, data: Any) -> list[str]:
    """Return where schema `name` finds `data` wrong, as the loaders name keys (`a[0].b`)."""
    return [format_key(tuple(error.absolute_path)) for error in validator(name).iter_errors(data)]


def same_place(schema_keys: list[str], problems: list[Problem]) -> bool:
    """Return True if a schema error and a loader problem are about the same key (or its parent).

    The two need not point at the same depth: the schema names `osVersion` for an unknown
    platform key under it, the loader names `osVersion.macos`; a type error in a list is
    `allowHosts[0]` to the schema and `allowHosts` to the loader.
    """

    def within(outer: str, inner: str) -> bool:
        return not outer or inner == outer or inner.startswith((outer + ".", outer + "["))

    return any(within(a, b.key) or within(b.key, a) for a in schema_keys for b in problems)


def yaml_data(text: str, file: str) -> Any:
    """Return `text` as the app's YAML loader reads it (the data both schema and loader see)."""
    return parse_yaml(text, file).data


def policy_problems(text: str) -> list[Problem]:
    """Return the problems the app's policy loader reports for `text`."""
    try:
        return parse_policy(parse_yaml(text, "policy.yaml")).problems
    except YamlFileError as error:
        return [error.problem]


def config_problems(text: str) -> list[Problem]:
    """Return the problems the app's config loader reports for `text`."""
    try:
        return parse_config(parse_yaml(text, "config.yaml")).problems
    except YamlFileError as error:
        return [error.problem]


def resolve(root: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `$ref` (`#/$defs/x`) once; return `node` itself if it has none."""
    ref = node.get("$ref")
    if ref is None:
        return node
    assert ref.startswith("#/"), ref
    target: Any = root
    for part in ref[2:].split("/"):
        target = target[part]
    resolved: dict[str, Any] = target
    return resolved


def refs_in(node: Any) -> list[str]:
    """Return every `$ref` inside `node` (through items, anyOf and the like)."""
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [ref for value in node.values() for ref in refs_in(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in refs_in(value)]
    return []


def policy_def(name: str) -> dict[str, Any]:
    """Return `$defs/<name>` of the policy schema."""
    found: dict[str, Any] = schema("policy")["$defs"][name]
    return found


def application_rule_property(key: str) -> dict[str, Any]:
    """Return the object branch of an application rule's `platform` or `paths` property."""
    branches = policy_def("applicationRule")["properties"][key]["anyOf"]
    return next(b for b in branches if b.get("type") == "object")


# ---------------------------------------------------------------------------------------------
# The schemas themselves
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["policy", "config", "report"])
def test_schema_is_a_valid_draft_2020_12_schema(name: str) -> None:
    assert schema(name)["$schema"] == DRAFT_2020_12
    Draft202012Validator.check_schema(schema(name))
    for ref in refs_in(schema(name)):
        resolve(schema(name), {"$ref": ref})  # every $ref points somewhere


def _undescribed(root: dict[str, Any], node: Any, path: str) -> list[str]:
    """Return the properties under `node` that have no description, directly or by `$ref`."""
    missing: list[str] = []
    if isinstance(node, dict):
        for key, value in node.get("properties", {}).items():
            if "description" not in value and "description" not in resolve(root, value):
                missing.append(f"{path}/{key}")
        for key, value in node.items():
            if key not in ("if", "then", "else"):  # conditions, not documentation
                missing += _undescribed(root, value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            missing += _undescribed(root, value, f"{path}/{index}")
    return missing


@pytest.mark.parametrize("name", ["policy", "config", "report"])
def test_every_key_has_a_description_a_person_can_read(name: str) -> None:
    assert schema(name)["description"]
    assert _undescribed(schema(name), schema(name), "") == []


# ---------------------------------------------------------------------------------------------
# policy.schema.json
# ---------------------------------------------------------------------------------------------


def test_the_shipped_policy_validates() -> None:
    text = (practices_dir() / "policy.yaml").read_text("utf-8")
    assert schema_errors("policy", yaml_data(text, "policy.yaml")) == []
    assert policy_problems(text) == []


def test_stethoscopes_original_policy_validates() -> None:
    text = STETHOSCOPE_POLICY.read_text("utf-8")
    assert schema_errors("policy", yaml_data(text, "policy.yaml")) == []
    assert policy_problems(text) == []


def _many_applications(count: int) -> str:
    return "applications:\n" + "".join(
        f"  - {{name: app{i}, assertion: SUGGESTED}}\n" for i in range(count)
    )


INVALID_POLICIES = [
    # A requirement option that is not one of the four.
    pytest.param("firewall: always\n", id="enum-lower-case"),
    pytest.param("diskEncryption: REQUIRED\n", id="enum-unknown-option"),
    pytest.param("screenLock: YES\n", id="enum-yaml-boolean"),
    pytest.param("applications:\n  - {name: Zoom, assertion: MUST}\n", id="enum-app-assertion"),
    pytest.param(
        "requiredApplications:\n  - {name: Zoom, assertion: sometimes}\n", id="enum-legacy-list"
    ),
    # Keys the loader does not know.
    pytest.param("firewal: ALWAYS\n", id="unknown-top-level-key"),
    pytest.param("osVersion:\n  macos: {ok: '>=14'}\n", id="unknown-platform"),
    pytest.param("osVersion:\n  darwin: {okay: '>=14'}\n", id="unknown-bracket-key"),
    pytest.param(
        "applications:\n  - {name: Zoom, assertion: ALWAYS, versions: '>=5'}\n",
        id="unknown-application-key",
    ),
    pytest.param(
        "bannedApplications:\n  - {name: uTorrent, reason: p2p}\n", id="unknown-legacy-list-key"
    ),
    pytest.param(
        "applications:\n  - {name: ClamAV, assertion: ALWAYS, platform: {macos: true}}\n",
        id="unknown-application-platform",
    ),
    pytest.param(
        "applications:\n  - {name: Zoom, assertion: ALWAYS, paths: {mac: /Applications}}\n",
        id="unknown-paths-platform",
    ),
    # Values of the wrong type or shape.
    pytest.param("- firewall\n- diskEncryption\n", id="type-policy-is-a-list"),
    pytest.param("", id="type-empty-file"),
    pytest.param("osVersion: '>=14.6'\n", id="type-osversion-string"),
    pytest.param("osVersion:\n  darwin: '>=14.6'\n", id="type-bracket-string"),
    pytest.param("osVersion:\n  darwin: {ok: true}\n", id="type-range-boolean"),
    pytest.param("osVersion:\n  darwin: {}\n", id="shape-empty-bracket"),
    pytest.param("screenIdle: true\n", id="type-screenidle-boolean"),
    pytest.param("stethoscopeVersion: ['>=1']\n", id="type-version-list"),
    pytest.param("applications:\n  name: Zoom\n  assertion: ALWAYS\n", id="type-applications-map"),
    pytest.param("applications:\n  - Zoom\n", id="type-application-string"),
    pytest.param("applications:\n  - {assertion: ALWAYS}\n", id="shape-missing-name"),
    pytest.param("applications:\n  - {name: '  ', assertion: ALWAYS}\n", id="shape-blank-name"),
    pytest.param(
        f"applications:\n  - {{name: {'a' * (MAX_APP_NAME_CHARS + 1)}, assertion: NEVER}}\n",
        id="shape-name-too-long",
    ),
    pytest.param(
        "applications:\n  - {name: 'Notepad++ (portable', assertion: ALWAYS}\n",
        id="shape-name-bad-regex",
    ),
    pytest.param(
        "applications:\n  - {name: 'Notepad++', assertion: NEVER}\n",
        id="shape-name-python-only-regex",
    ),
    pytest.param("applications:\n  - {name: Zoom}\n", id="shape-missing-assertion"),
    pytest.param(
        "applications:\n  - {name: Zoom, assertion: ALWAYS, exactMatch: 'yes'}\n",
        id="type-exactmatch-string",
    ),
    pytest.param(
        "applications:\n  - {name: ClamAV, assertion: ALWAYS, platform: linux}\n",
        id="type-platform-string",
    ),
    pytest.param(
        "applications:\n  - {name: Zoom, assertion: ALWAYS, paths: {darwin: 5}}\n",
        id="type-path-number",
    ),
    pytest.param(
        "applications:\n  - {name: Zoom, assertion: ALWAYS, description: [a, b]}\n",
        id="type-description-list",
    ),
    pytest.param(_many_applications(MAX_APPLICATIONS + 1), id="shape-too-many-applications"),
    # Ranges that are not node-semver (or numeric) ranges.
    pytest.param("screenIdle: '<=2 minutes'\n", id="range-screenidle-words"),
    pytest.param("screenIdle: '< = 120'\n", id="range-screenidle-split-operator"),
    pytest.param("screenIdle: '<=120 || >=600'\n", id="range-screenidle-or"),
    pytest.param("stethoscopeVersion: '=> 1.0'\n", id="range-reversed-operator"),
    pytest.param("osVersion:\n  darwin: {ok: '!=14'}\n", id="range-python-operator"),
    pytest.param("osVersion:\n  win32: {ok: '10.0.19045, 10.0.22631'}\n", id="range-comma"),
    pytest.param("stethoscopeVersion: '>=1.0 ||'\n", id="range-empty-alternative"),
    pytest.param("stethoscopeVersion: 'latest'\n", id="range-word"),
    pytest.param("stethoscopeVersion: 0.1\n", id="range-unquoted-number"),
    pytest.param("osVersion:\n  darwin: {ok: 14, nudge: '>=13.6'}\n", id="range-unquoted-ok"),
    pytest.param(
        "applications:\n  - {name: Zoom, assertion: ALWAYS, version: 5}\n",
        id="range-unquoted-app-version",
    ),
    pytest.param(
        "applications:\n  - {name: Zoom, assertion: ALWAYS, platform: {darwin: 13}}\n",
        id="range-unquoted-app-platform",
    ),
    pytest.param(
        "applications:\n  - {name: Zoom, assertion: ALWAYS, version: '>= 5.x and up'}\n",
        id="range-application-version",
    ),
]


@pytest.mark.parametrize("text", INVALID_POLICIES)
def test_an_invalid_policy_is_rejected_by_the_schema_and_the_loader(text: str) -> None:
    data = yaml_data(text, "policy.yaml")
    assert schema_errors("policy", data), "the schema accepted it"
    problems = policy_problems(text)
    assert problems, "the loader accepted it"
    assert same_place(schema_error_keys("policy", data), problems), (
        schema_errors("policy", data),
        [str(p) for p in problems],
    )


VALID_POLICIES = [
    pytest.param("osVersion: {}\n", id="empty-osversion"),
    pytest.param("osVersion:\n  all: {nudge: '>=1'}\n", id="only-nudge"),
    pytest.param(
        "osVersion:\n"
        "  darwin: {ok: '^15.0.0 || >=26', nudge: '14.8.x'}\n"
        "  win32: {ok: '>= 10.0.26100', nudge: '10.0.22631 - 10.0.26099'}\n"
        "  debian: {ok: '~13', nudge: '~>12.1'}\n"
        "  ubuntu: {ok: '>=24.04 <26', nudge: '=v22.4.0'}\n"
        "  fedora: {ok: '*'}\n",
        id="range-forms",
    ),
    pytest.param("stethoscopeVersion: ''\n", id="empty-range-means-any"),
    pytest.param("stethoscopeVersion: '>=1.0.0-beta.2+build.5'\n", id="prerelease-and-build"),
    pytest.param("screenIdle: '>=60 <=600'\n", id="screenidle-between"),
    pytest.param("screenIdle: '<= 120'\n", id="screenidle-space"),
    pytest.param("screenIdle: '=0'\n", id="screenidle-exact"),
    pytest.param("screenIdle: '120'\n", id="screenidle-bare-number-string"),
    pytest.param("screenIdle: 600\n", id="screenidle-unquoted-number"),
    pytest.param("screenIdle: 90.5\n", id="screenidle-unquoted-float"),
    pytest.param("openWifiConnections: NEVER\nscreenLock: IF_SUPPORTED\n", id="features"),
    pytest.param(
        "requiredApplications:\n  - name: Zoom\n"
        "bannedApplications:\n  - {name: uTorrent}\n"
        "suggestedApplications:\n  - {name: 1Password, assertion: ALWAYS}\n",
        id="legacy-lists-without-assertion",
    ),
    pytest.param(
        "applications:\n"
        "  - name: Notepad++ (portable\n"
        "    exactMatch: true\n"
        "    assertion: SUGGESTED\n"
        "    version: null\n"
        "    platform: {darwin: '>=13', win32: false, all: true}\n"
        "    paths: {darwin: /Applications, win32: 'C:\\Program Files'}\n"
        "    description: null\n"
        "    installFrom: https://example.com/download\n"
        "  - {name: '^Slack$', assertion: IF_SUPPORTED, version: '',\n"
        "     platform: null, paths: null}\n",
        id="application-every-field",
    ),
]


@pytest.mark.parametrize("text", VALID_POLICIES)
def test_a_valid_policy_is_accepted_by_the_schema_and_the_loader(text: str) -> None:
    assert schema_errors("policy", yaml_data(text, "policy.yaml")) == []
    assert policy_problems(text) == []


def test_the_policy_schema_names_exactly_the_loaders_keys() -> None:
    root = schema("policy")
    assert list(root["properties"]) == list(POLICY_KEYS)
    assert root["additionalProperties"] is False
    assert list(root["properties"]["osVersion"]["properties"]) == list(PLATFORM_KEYS)
    assert list(policy_def("versionBracket")["properties"]) == ["ok", "nudge"]
    rule = policy_def("applicationRule")
    assert list(rule["properties"]) == list(APPLICATION_KEYS)
    assert rule["additionalProperties"] is False
    for key in ("platform", "paths"):
        branch = application_rule_property(key)
        assert list(branch["properties"]) == list(PLATFORM_KEYS)
        assert branch["additionalProperties"] is False
    assert policy_def("requirement")["enum"] == [r.value for r in Requirement]
    assert policy_def("versionRange")["maxLength"] == MAX_RANGE_LENGTH
    assert rule["properties"]["name"]["maxLength"] == MAX_APP_NAME_CHARS
    for key in ("applications", "requiredApplications", "bannedApplications"):
        assert root["properties"][key]["maxItems"] == MAX_APPLICATIONS


# Tokens the fuzzers build strings from: pieces of valid ranges and of common mistakes.
_RANGE_TOKENS = [
    *("0", "1", "2", "10", "18.04", "1.2", "1.2.3", "1.2.3.4", "x", "X", "*", ".", "-", "+"),
    *("beta", "rc.1", "v", " ", " ", " - ", "||", " || ", "|", ">", ">=", "<", "<=", "="),
    *("~", "~>", "^", "!", "=>", "==", ",", "&&", "a", "\t"),
]
_NUMERIC_TOKENS = [
    *("0", "1", "120", "-5", "1.5", ".", "-", " ", " ", "<", "<=", ">", ">=", "=", "=<"),
    *("!", "~", "||", "x", "1e3", "\t"),
]


def _fuzz(tokens: list[str], seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices(tokens, k=rng.randint(1, 7))) for _ in range(count)]


def _loader_accepts_range(text: str) -> bool:
    try:
        VersionRange.parse(text)
    except VersionRangeError:
        return False
    return True


def test_the_version_range_pattern_accepts_every_range_the_loader_accepts() -> None:
    samples = _fuzz(_RANGE_TOKENS, seed=20_2012, count=6000)
    accepted = [text for text in samples if _loader_accepts_range(text)]
    too_strict = [t for t in accepted if schema_errors("policy", {"stethoscopeVersion": t})]
    assert too_strict == []
    # The fuzzer must exercise both sides, and the pattern must still catch most mistakes.
    rejected = [text for text in samples if not _loader_accepts_range(text)]
    assert len(accepted) > 300 and len(rejected) > 300, (len(accepted), len(rejected))
    caught = [t for t in rejected if schema_errors("policy", {"stethoscopeVersion": t})]
    assert len(caught) > 0.8 * len(rejected), (len(caught), len(rejected))


def _loader_accepts_numeric(text: str) -> bool:
    try:
        NumericRange.parse(text)
    except NumericRangeError:
        return False
    return True


def test_the_screen_idle_pattern_agrees_with_the_loader_exactly() -> None:
    samples = _fuzz(_NUMERIC_TOKENS, seed=2012, count=6000)
    disagree = [
        text
        for text in samples
        if _loader_accepts_numeric(text) == bool(schema_errors("policy", {"screenIdle": text}))
    ]
    assert disagree == []
    assert sum(map(_loader_accepts_numeric, samples)) > 300


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("1" * (MAX_RANGE_LENGTH - 1) + "!", id="digits"),
        pytest.param("1 " * (MAX_RANGE_LENGTH // 2 - 1) + "!", id="comparators"),
        pytest.param("1.2.3-" + "a." * (MAX_RANGE_LENGTH // 2 - 4) + "!", id="prerelease"),
        pytest.param("1 || " * (MAX_RANGE_LENGTH // 5 - 1) + "|", id="alternatives"),
        pytest.param(">=" + "1." * (MAX_RANGE_LENGTH // 2 - 2) + "-", id="parts"),
        pytest.param("1 - " * (MAX_RANGE_LENGTH // 4 - 1) + "!", id="hyphens"),
        pytest.param("1.2.3-" + "-" * (MAX_RANGE_LENGTH - 8) + " !", id="dashes"),
        pytest.param(" " * (MAX_RANGE_LENGTH - 1) + "!", id="spaces"),
    ],
)
def test_the_range_patterns_do_not_backtrack_badly(text: str) -> None:
    started = time.perf_counter()
    assert schema_errors("policy", {"stethoscopeVersion": text, "screenIdle": text[:256]})
    assert time.perf_counter() - started < 1.0


# ---------------------------------------------------------------------------------------------
# config.schema.json
# ---------------------------------------------------------------------------------------------


def test_the_shipped_config_validates() -> None:
    text = (practices_dir() / "config.yaml").read_text("utf-8")
    assert schema_errors("config", yaml_data(text, "config.yaml")) == []
    assert config_problems(text) == []


INVALID_CONFIGS = [
    pytest.param("engine: fast\n", id="enum-engine"),
    pytest.param("engine: Embedded\n", id="enum-engine-case"),
    pytest.param("organisation: Example\n", id="unknown-key"),
    pytest.param("notifications: {enabled: true, sound: true}\n", id="unknown-notifications-key"),
    pytest.param(
        "hostLabels:\n  - {pattern: 'https://a\\.example', name: A, colour: red}\n",
        id="unknown-host-label-key",
    ),
    pytest.param("- engine\n", id="type-config-is-a-list"),
    pytest.param("scanIntervalMinutes: '60'\n", id="type-interval-string"),
    pytest.param(
        f"scanIntervalMinutes: {MIN_SCAN_INTERVAL_MINUTES - 1}\n", id="interval-too-short"
    ),
    pytest.param("apiPort: 70000\n", id="port-too-high"),
    pytest.param("apiPort: true\n", id="type-port-boolean"),
    pytest.param("organization: [Example]\n", id="type-organization-list"),
    pytest.param("notifications: true\n", id="type-notifications-boolean"),
    pytest.param("notifications: {enabled: 'yes'}\n", id="type-enabled-string"),
    pytest.param("notifications: {reminderHours: -1}\n", id="negative-reminder"),
    pytest.param("allowHosts: https://login.example.com\n", id="type-allowhosts-string"),
    pytest.param("allowHosts: [1]\n", id="type-allowhosts-number"),
    pytest.param("allowRegex: ['']\n", id="allowregex-empty"),
    pytest.param("allowRegex: ['https://(a']\n", id="allowregex-bad-regex"),
    pytest.param("hostLabels:\n  - {pattern: 'https://a\\.example'}\n", id="label-missing-name"),
    pytest.param("hostLabels:\n  - {name: A}\n", id="label-missing-pattern"),
    pytest.param("hostLabels:\n  - {pattern: '[', name: A}\n", id="label-bad-regex"),
    pytest.param("hostLabels: {pattern: x, name: A}\n", id="type-labels-map"),
    pytest.param("policyServer: http://policy.example.com\n", id="policy-server-not-https"),
]


@pytest.mark.parametrize("text", INVALID_CONFIGS)
def test_an_invalid_config_is_rejected_by_the_schema_and_the_loader(text: str) -> None:
    data = yaml_data(text, "config.yaml")
    assert schema_errors("config", data), "the schema accepted it"
    problems = config_problems(text)
    assert problems, "the loader accepted it"
    assert same_place(schema_error_keys("config", data), problems), (
        schema_errors("config", data),
        [str(p) for p in problems],
    )


VALID_CONFIGS = [
    pytest.param("", id="empty-file"),
    pytest.param(
        "organization:\nosqueryPath:\nallowHosts:\nallowRegex:\nhostLabels:\n", id="nulls"
    ),
    pytest.param("policyServer: ''\n", id="no-policy-server"),
    pytest.param("policyServer: https://policy.example.com/policy\n", id="policy-server"),
    pytest.param("notifications: {}\n", id="notifications-defaults"),
    pytest.param("notifications: {enabled: false, reminderHours: 0.5}\n", id="notifications"),
    pytest.param("apiPort: 0\nscanIntervalMinutes: 5\nengine: osquery\n", id="bounds"),
    pytest.param(
        "allowHosts: [https://login.example.com]\n"
        "allowRegex: ['https://.*\\.example\\.com']\n"
        "hostLabels:\n  - {pattern: 'https://(.+\\.)?example\\.com', name: Example SSO}\n",
        id="api-origins",
    ),
]


@pytest.mark.parametrize("text", VALID_CONFIGS)
def test_a_valid_config_is_accepted_by_the_schema_and_the_loader(text: str) -> None:
    assert schema_errors("config", yaml_data(text, "config.yaml")) == []
    assert config_problems(text) == []


def test_the_config_schema_names_exactly_the_loaders_keys() -> None:
    root = schema("config")
    assert set(root["properties"]) == set(CONFIG_KEYS)
    assert root["additionalProperties"] is False
    assert root["properties"]["engine"]["enum"] == list(ENGINES)
    notifications = root["properties"]["notifications"]
    assert set(notifications["properties"]) == {"enabled", "reminderHours"}
    assert notifications["additionalProperties"] is False
    assert root["properties"]["scanIntervalMinutes"]["minimum"] == MIN_SCAN_INTERVAL_MINUTES


# ---------------------------------------------------------------------------------------------
# report.schema.json
# ---------------------------------------------------------------------------------------------

_DIRECTIONS = {
    "firewall": (
        "1. Open [Firewall settings](x-apple.systempreferences:com.apple.Network-Settings"
        ".extension?Firewall).\n2. Turn on **Firewall**."
    ),
    "diskEncryption": "1. Open Settings → Privacy & Security → FileVault.\n2. Click **Turn On**.",
    "automaticUpdates": "See https://support.apple.com/en-us/108382 for details.",
}


def _practice(
    key: str,
    status: Status,
    rating: Rating,
    *,
    practice: str = "",
    requirement: str = "ALWAYS",
    observed: str = "ON",
    rows: tuple[dict[str, str | int | float | None], ...] = (),
    error: str | None = None,
    application: ApplicationOutcome | None = None,
) -> PracticeResult:
    directions = _DIRECTIONS.get(key, "")
    return PracticeResult(
        key=key,
        practice=practice or key,
        name=key,
        status=status,
        rating=rating,
        title=f"{key} is {status.value.lower()}",
        description=f"Why {key} matters.",
        directions=directions,
        directions_platform="darwin" if directions else "",
        links=links_in(directions),
        requirement=requirement,
        requirement_text="must be on",
        observed=observed,
        reason=error or "",
        held_against=not (status is Status.UNKNOWN and requirement == "IF_SUPPORTED"),
        evidence=Evidence(
            check=key,
            sql="" if error else f"SELECT * FROM stethoscope_{key};",
            tables=() if error else (f"stethoscope_{key}",),
            rows=rows,
            error=error,
        ),
        application=application,
    )


def realistic_report() -> Report:
    """A scan of a Mac with practices in every status, application rules, engine and timings."""
    practices = [
        _practice(
            "osVersion",
            Status.PASS,
            Rating.CRITICAL,
            requirement=">=15.7.0",
            observed="15.7.1",
            rows=({"version": "15.7.1", "major": 15, "minor": 7, "patch": 1, "build": "24G231"},),
        ),
        _practice(
            "firewall",
            Status.FAIL,
            Rating.HIGH,
            observed="OFF",
            rows=({"enabled": 0, "source": "socketfilterfw", "detail": None},),
        ),
        _practice(
            "diskEncryption", Status.FAIL, Rating.CRITICAL, observed="OFF (FileVault is off)"
        ),
        _practice(
            "automaticUpdates", Status.NUDGE, Rating.MEDIUM, requirement="SUGGESTED", observed="OFF"
        ),
        _practice(
            "screenLock",
            Status.UNKNOWN,
            Rating.HIGH,
            requirement="IF_SUPPORTED",
            observed="",
            error="the screen saver settings could not be read",
        ),
        _practice(
            "screenIdle",
            Status.PASS,
            Rating.MEDIUM,
            requirement="<=900",
            observed="300 seconds",
            rows=({"enabled": 1, "lock_after_seconds": 300.0},),
        ),
        _practice(
            "applications/^(BitTorrent|uTorrent)$",
            Status.FAIL,
            Rating.HIGH,
            practice="bannedApplications",
            requirement="NEVER",
            observed="BANNED_PRESENT (7.11.0)",
            rows=({"name": "uTorrent", "version": "7.11.0", "path": "/Applications/uTorrent.app"},),
            application=ApplicationOutcome(
                name="^(BitTorrent|uTorrent)$",
                assertion="NEVER",
                state=AppState.BANNED_PRESENT,
                installed=True,
                installed_version="7.11.0",
                matched_names=("uTorrent",),
            ),
        ),
        _practice(
            "applications/^Firefox$",
            Status.NUDGE,
            Rating.LOW,
            practice="suggestedApplications",
            requirement="SUGGESTED >=128",
            observed="NOT_INSTALLED",
            application=ApplicationOutcome(
                name="^Firefox$",
                assertion="SUGGESTED",
                state=AppState.NOT_INSTALLED,
                installed=False,
                required_version=">=128",
            ),
        ),
    ]
    return Report(
        status=Status.FAIL,
        summary="2 critical problems need your attention.",
        practices=rank(practices),
        device=DeviceFacts(
            device_id="5B7F4E1A-0C3D-4E8F-9A21-6D0C2B9E7F13",
            device_name="Ada's MacBook Pro",
            platform="darwin",
            platform_name="macOS",
            os_name="macOS",
            os_version="15.7.1",
            os_build="24G231",
            hardware_vendor="Apple Inc.",
            hardware_model="MacBookPro18,3",
            stethoscope_version="0.1.0",
        ),
        started_at="2026-11-20T09:15:02+00:00",
        duration_seconds=0.4213,
        engine=EngineInfo(
            name="embedded",
            version="SQLite 3.46.0",
            reason="osqueryd is not installed",
            tables=("os_version", "stethoscope_firewall", "system_info"),
        ),
        language="en",
        organization="Example Corp",
        policy_files=("/Library/Application Support/stethoscope/policy.yaml",),
        policy_problems=('policy.yaml:12: firewal: unknown key (did you mean "firewall"?)',),
        check_problems=(),
        table_timings=(
            TableTiming("stethoscope_desktop_apps", 0.2101, 143),
            TableTiming("stethoscope_firewall", 0.0312, 1),
            TableTiming("stethoscope_screen_lock", 0.0021, 0, error="defaults: domain not found"),
        ),
    )


def test_a_realistic_report_validates() -> None:
    report = realistic_report()
    assert {p.status for p in report.practices} == set(Status)
    assert any(p.application is not None for p in report.practices)
    assert schema_errors("report", report.to_dict()) == []
    assert schema_errors("report", json.loads(report.to_json())) == []


@pytest.mark.parametrize(
    ("where", "value"),
    [
        pytest.param(("status",), "OK", id="status-not-an-option"),
        pytest.param(("practices", 0, "rating"), "CRITICAL", id="rating-case"),
        pytest.param(("practices", 0, "application"), {"name": "x"}, id="application-incomplete"),
        pytest.param(("device", "running_as_admin"), "no", id="boolean-as-text"),
        pytest.param(("table_timings", 0, "rows"), 1.5, id="rows-not-whole"),
        pytest.param(("practices", 1, "evidence", "rows", 0), {"x": [1]}, id="evidence-not-scalar"),
        pytest.param(("started_at",), "yesterday", id="started-at-not-a-date"),
        pytest.param(("schema_version",), 2, id="other-schema-version"),
    ],
)
def test_a_wrong_report_is_rejected(where: tuple[str | int, ...], value: Any) -> None:
    data = realistic_report().to_dict()
    target = data
    for part in where[:-1]:
        target = target[part]
    target[where[-1]] = value
    assert schema_errors("report", data)


def test_a_report_missing_a_field_is_rejected() -> None:
    data = realistic_report().to_dict()
    del data["engine"]["reason"]
    assert schema_errors("report", data)


def _dataclasses_in(hint: Any) -> list[type]:
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return [hint]
    return [found for arg in typing.get_args(hint) for found in _dataclasses_in(arg)]


def _enums_in(hint: Any) -> list[type[StrEnum]]:
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        return [hint]
    return [found for arg in typing.get_args(hint) for found in _enums_in(arg)]


def schema_drift(cls: type, node: dict[str, Any], root: dict[str, Any]) -> list[str]:
    """Compare a dataclass (and the dataclasses and enums in its fields) with its schema object."""
    names = [f.name for f in dataclasses.fields(cls)]
    properties = node.get("properties", {})
    drift = []
    if missing := [n for n in names if n not in properties]:
        drift.append(f"{cls.__name__}: fields not in the schema: {missing}")
    if extra := [p for p in properties if p not in names]:
        drift.append(f"{cls.__name__}: schema properties that are not fields: {extra}")
    if sorted(node.get("required", [])) != sorted(names):
        drift.append(f"{cls.__name__}: required {node.get('required')} is not every field")
    if node.get("additionalProperties") is not False:
        drift.append(f"{cls.__name__}: additionalProperties is not false")
    hints = typing.get_type_hints(cls)
    for name in names:
        if name not in properties:
            continue
        targets = [resolve(root, {"$ref": ref}) for ref in refs_in(properties[name])]
        for inner in _dataclasses_in(hints[name]):
            objects = [t for t in targets if "properties" in t]
            if len(objects) != 1:
                drift.append(f"{cls.__name__}.{name}: no single schema object for {inner.__name__}")
            else:
                drift += schema_drift(inner, objects[0], root)
        for enum in _enums_in(hints[name]):
            enums = [t["enum"] for t in targets if "enum" in t]
            if enums != [[member.value for member in enum]]:
                drift.append(f"{cls.__name__}.{name}: schema enum {enums} is not {enum.__name__}")
    return drift


def test_the_report_schema_matches_the_report_dataclasses() -> None:
    assert schema_drift(Report, schema("report"), schema("report")) == []
    defs = schema("report")["$defs"]
    assert defs["requirement"]["enum"] == [r.value for r in Requirement]
    assert schema("report")["properties"]["schema_version"]["const"] == REPORT_SCHEMA_VERSION


def test_a_field_added_to_a_report_dataclass_without_the_schema_is_caught() -> None:
    extended = dataclasses.make_dataclass(
        "DeviceFacts", [("tpm_enabled", bool, dataclasses.field(default=False))],
        bases=(DeviceFacts,), frozen=True,
    )  # fmt: skip
    root = schema("report")
    assert schema_drift(extended, root["$defs"]["deviceFacts"], root) == [
        "DeviceFacts: fields not in the schema: ['tpm_enabled']",
        "DeviceFacts: required "
        + str(root["$defs"]["deviceFacts"]["required"])
        + " is not every field",
    ]
    report = dataclasses.replace(realistic_report(), device=extended(tpm_enabled=True))
    assert any("tpm_enabled" in error for error in schema_errors("report", report.to_dict()))
