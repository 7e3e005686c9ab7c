"""The file formats, declared once: the loaders and the published JSON Schemas agree.

`resources/schemas/*.schema.json` are written by `make schemas` from the same declarations the
loaders read files with (`core.fileformat`), and the report's from its dataclasses. These tests
hold the committed files to what the declarations write, and check what a generator can still
get wrong: every file the schema rejects, the loader reports too, at the same key; the forms the
loader accepts, the schema accepts (the range patterns are fuzzed against the range parsers);
every key is described for a person; and a field added to the report is published.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import random
import time
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from stethoscope_desktop.core.checks import parse_check
from stethoscope_desktop.core.config import MIN_SCAN_INTERVAL_MINUTES, parse_config
from stethoscope_desktop.core.custom_checks import parse_checks_documents
from stethoscope_desktop.core.instructions import parse_instructions
from stethoscope_desktop.core.policy import MAX_APP_NAME_CHARS, MAX_APPLICATIONS, parse_policy
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
from stethoscope_desktop.core.schemas import (
    UndescribedField,
    report_schema,
    schema_text,
    schemas,
)
from stethoscope_desktop.core.status import Rating, Status
from stethoscope_desktop.core.versions import (
    MAX_RANGE_LENGTH,
    NumericRange,
    NumericRangeError,
    VersionRange,
    VersionRangeError,
)
from stethoscope_desktop.core.yamlfile import (
    Problem,
    YamlFileError,
    format_key,
    parse_yaml,
    parse_yaml_documents,
)
from stethoscope_desktop.engines.info import EngineInfo, TableTiming
from stethoscope_desktop.resources import checks_dir, practices_dir, resources_dir

SCHEMAS = resources_dir() / "schemas"
DATA = Path(__file__).parent / "data"
STETHOSCOPE_POLICY = DATA / "stethoscope_policy.yaml"
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
NAMES = ["policy", "config", "instructions", "checks", "check", "report"]


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


def instructions_problems(text: str) -> list[Problem]:
    """Return the problems the app's instructions loader reports for `text`."""
    try:
        return parse_instructions(parse_yaml(text, "instructions.en.yaml")).problems
    except YamlFileError as error:
        return [error.problem]


def checks_file_problems(text: str) -> list[Problem]:
    """Return the problems the app reports for `text` as a `checks.d` file (all documents)."""
    try:
        docs = parse_yaml_documents(text, "checks.d/it.yaml")
    except YamlFileError as error:
        return [error.problem]
    return parse_checks_documents(docs, "checks.d/it.yaml").problems


def check_problems(text: str) -> list[Problem]:
    """Return the problems the app's check loader reports for `text` (checks/firewall.yaml)."""
    try:
        return parse_check(parse_yaml(text, "firewall.yaml"), "firewall")[1]
    except YamlFileError as error:
        return [error.problem]


def config_problems(text: str) -> list[Problem]:
    """Return the problems the app's config loader reports for `text`."""
    try:
        return parse_config(parse_yaml(text, "config.yaml")).problems
    except YamlFileError as error:
        return [error.problem]


def assert_both_reject(name: str, data: Any, problems: list[Problem]) -> None:
    """Assert that schema `name` and the loader (its `problems`) reject data, at the same key."""
    assert schema_errors(name, data), "the schema accepted it"
    assert problems, "the loader accepted it"
    assert same_place(schema_error_keys(name, data), problems), (
        schema_errors(name, data),
        [str(p) for p in problems],
    )


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


def test_the_committed_schemas_are_what_the_declarations_write() -> None:
    written = schemas()
    assert sorted(written) == sorted(path.name for path in SCHEMAS.glob("*.schema.json"))
    stale = [
        name
        for name, generated in written.items()
        if (SCHEMAS / name).read_text("utf-8") != schema_text(generated)
    ]
    assert stale == [], f"run `make schemas`: {stale} differ from their declarations"


def test_make_schemas_writes_every_schema(tmp_path: Path) -> None:
    from stethoscope_desktop.core.schemas import main

    assert main([str(tmp_path)]) == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(schemas())


@pytest.mark.parametrize("name", NAMES)
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


@pytest.mark.parametrize("name", NAMES)
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
    pytest.param("firewall: alway\n", id="enum-misspelt"),
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
    pytest.param("osVersion:\n  darwin: 'newest'\n", id="type-bracket-bad-range"),
    pytest.param("osVersion:\n  darwin: 14\n", id="type-bracket-number"),
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
    # securitySoftware: short and long form.
    pytest.param("securitySoftware: NEVER\n", id="security-never"),
    pytest.param("securitySoftware: always\n", id="security-lowercase"),
    pytest.param("securitySoftware: [ALWAYS]\n", id="security-list"),
    pytest.param("securitySoftware: {products: [CrowdStrike]}\n", id="security-no-requirement"),
    pytest.param("securitySoftware: {requirement: NEVER}\n", id="security-long-never"),
    pytest.param(
        "securitySoftware: {requirement: ALWAYS, products: CrowdStrike}\n",
        id="security-products-string",
    ),
    pytest.param(
        "securitySoftware: {requirement: ALWAYS, products: []}\n", id="security-products-empty"
    ),
    pytest.param(
        "securitySoftware: {requirement: ALWAYS, products: ['', 5]}\n",
        id="security-products-not-names",
    ),
    pytest.param(
        "securitySoftware: {requirement: ALWAYS, product: [CrowdStrike]}\n",
        id="security-unknown-key",
    ),
]


@pytest.mark.parametrize("text", INVALID_POLICIES)
def test_an_invalid_policy_is_rejected_by_the_schema_and_the_loader(text: str) -> None:
    assert_both_reject("policy", yaml_data(text, "policy.yaml"), policy_problems(text))


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
    pytest.param(
        "# Stethoscope's first policies (2018)\n"
        "os version: {darwin: '>=10.13.4', win32: '>=10.0.16299', linux: '>=4.3.3'}\n"
        "disk encryption: ALWAYS\nautomatic updates: Suggested\nscreen lock: if_supported\n"
        "remote login: never\nscreen idle: '<=600'\nopen wifi connections: SUGGESTED\n",
        id="spaced-keys-one-range-any-case",
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
    pytest.param("securitySoftware: IF_SUPPORTED\n", id="security-short"),
    pytest.param(
        "securitySoftware:\n"
        "  requirement: SUGGESTED\n"
        "  products: [CrowdStrike Falcon, carbon black, Defender]\n",
        id="security-long",
    ),
    pytest.param("securitySoftware: {requirement: ALWAYS}\n", id="security-long-any-product"),
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
    pytest.param("enrollmentUrl: http://enroll.example.com\n", id="enrollment-url-not-https"),
]


@pytest.mark.parametrize("text", INVALID_CONFIGS)
def test_an_invalid_config_is_rejected_by_the_schema_and_the_loader(text: str) -> None:
    assert_both_reject("config", yaml_data(text, "config.yaml"), config_problems(text))


VALID_CONFIGS = [
    pytest.param("", id="empty-file"),
    pytest.param(
        "organization:\nosqueryPath:\nallowHosts:\nallowRegex:\nhostLabels:\n", id="nulls"
    ),
    pytest.param("policyServer: ''\n", id="no-policy-server"),
    pytest.param("enrollmentUrl: https://enroll.example.com/keys\n", id="enrollment-url"),
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


# ---------------------------------------------------------------------------------------------
# instructions.schema.json
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        practices_dir() / "instructions.en.yaml",
        practices_dir() / "instructions.de.yaml",
        DATA / "it_sample" / "instructions.en.yaml",
        DATA / "stethoscope_instructions.en.yaml",
        *sorted((DATA / "stethoscope").glob("instructions*.yaml")),
    ],
    ids=lambda path: f"{path.parent.name}/{path.name}",
)
def test_shipped_and_stethoscope_instructions_validate(path: Path) -> None:
    text = path.read_text("utf-8")
    assert schema_errors("instructions", yaml_data(text, path.name)) == []
    assert instructions_problems(text) == []


INVALID_INSTRUCTIONS = [
    pytest.param("- practices\n", id="type-a-list"),
    pytest.param("strings: []\n", id="type-strings-list"),
    pytest.param("practices: firewall\n", id="type-practices-text"),
    pytest.param("language: english\n", id="language-word"),
    pytest.param("practises: {}\n", id="unknown-top-level-key"),
    pytest.param("strings:\n  sumaryPass: All good\n", id="unknown-string"),
    pytest.param("strings:\n  summaryPass: [ok]\n", id="type-string-list"),
    pytest.param("practices:\n  firewal: {name: Firewall}\n", id="unknown-practice"),
    pytest.param("practices:\n  firewall:\n    nme: Firewall\n", id="unknown-field"),
    pytest.param("practices:\n  firewall: Turn it on\n", id="type-practice-text"),
    pytest.param("practices:\n  firewall:\n    rating: urgent\n", id="rating"),
    pytest.param("practices:\n  firewall:\n    title: 5\n", id="type-title-number"),
    pytest.param("practices:\n  firewall:\n    title: {pasing: On}\n", id="unknown-title"),
    pytest.param("practices:\n  firewall:\n    title: {PASS: [On]}\n", id="stethoscope-title-list"),
    pytest.param("practices:\n  firewall:\n    directions: [x]\n", id="type-directions"),
    pytest.param("practices:\n  firewall:\n    directions: {macos: x}\n", id="directions-key"),
    pytest.param("practices:\n  firewall:\n    directions: {'darwin@': x}\n", id="no-range"),
    pytest.param("practices:\n  firewall:\n    directions: {linux: 5}\n", id="type-direction"),
    pytest.param(
        "practices:\n  firewall:\n    directions: {'darwin@foo': x}\n", id="directions-range"
    ),
    pytest.param("practices:\n  firewall:\n    directions: {rhel: x}\n", id="directions-rhel"),
    pytest.param(
        "practices:\n  firewall:\n    title: Firewall\n    directions: {macos: x}\n",
        id="stethoscope-directions-key",
    ),
    pytest.param(
        "practices:\n  firewall:\n    title: Firewall\n  screenLock:\n    title: 5\n",
        id="stethoscope-title-number",
    ),
    pytest.param("policyFormat: 1\npractices: 5\n", id="stethoscope-practices-number"),
]


@pytest.mark.parametrize("text", INVALID_INSTRUCTIONS)
def test_invalid_instructions_are_rejected_by_the_schema_and_the_loader(text: str) -> None:
    assert_both_reject(
        "instructions", yaml_data(text, "instructions.en.yaml"), instructions_problems(text)
    )


VALID_INSTRUCTIONS = [
    pytest.param("strings:\npractices:\n", id="nulls"),
    pytest.param("language: de-AT\nstrings: {checkAgain: Erneut prüfen}\n", id="strings"),
    pytest.param(
        "practices:\n  firewall:\n    directions:\n      darwin@<13: a\n      darwin@>=13: b\n",
        id="versioned-directions",
    ),
    pytest.param(
        "organization: X\nversion: '1'\npolicyFormat: '1'\npractices: {}\n",
        id="stethoscope-keys-ignored",
    ),
    pytest.param(
        "strings: {ok: Fine, policyDescription: baseline}\n"
        "practices:\n  firewall:\n    title: '{{#if passing}}On{{else}}Off{{/if}}'\n"
        "    link: https://example.com\n",
        id="stethoscope-extra-keys",
    ),
]


@pytest.mark.parametrize("text", VALID_INSTRUCTIONS)
def test_valid_instructions_are_accepted_by_the_schema_and_the_loader(text: str) -> None:
    assert schema_errors("instructions", yaml_data(text, "instructions.en.yaml")) == []
    assert instructions_problems(text) == []


# ---------------------------------------------------------------------------------------------
# checks.schema.json (IT's checks.d files) and check.schema.json (checks/*.yaml)
# ---------------------------------------------------------------------------------------------


def checks_file_schema_errors(text: str) -> list[str]:
    """Return what the checks schema finds wrong with each document of `text`."""
    docs = parse_yaml_documents(text, "checks.d/it.yaml")
    return [error for doc in docs for error in schema_errors("checks", doc.data)]


@pytest.mark.parametrize(
    "path",
    [DATA / "fleet" / "fleet-policies.yml", *sorted((DATA / "it_sample" / "checks.d").glob("*"))],
    ids=lambda path: path.name,
)
def test_fleet_and_it_checks_files_validate(path: Path) -> None:
    text = path.read_text("utf-8")
    assert checks_file_schema_errors(text) == []
    assert checks_file_problems(text) == []


def test_a_gitops_path_reference_is_refused_by_the_schema_and_the_loader() -> None:
    # The GitOps file refers to another file for some of its policies, which the app can't follow.
    text = (DATA / "fleet" / "gitops-policies.yml").read_text("utf-8")
    assert checks_file_schema_errors(text)
    assert [p.message for p in checks_file_problems(text)] == [
        "refers to another file (a Fleet GitOps path); copy that file into checks.d instead"
    ]


INVALID_CHECKS_FILES = [
    pytest.param("5\n", id="type-a-number"),
    pytest.param("- {name: A}\n", id="missing-query"),
    pytest.param("- {query: SELECT 1}\n", id="missing-name"),
    pytest.param("- {name: A, query: '  '}\n", id="blank-query"),
    pytest.param("- {name: A, query: SELECT 1, platform: macos}\n", id="platform"),
    pytest.param("{name: A, query: SELECT 1, critcal: true}\n", id="unknown-key"),
    pytest.param("apiVersion: v2\nkind: policy\nspec: {name: A, query: SELECT 1}\n", id="v2"),
    pytest.param("apiVersion: v1\nkind: policy\n", id="spec-missing"),
    pytest.param("apiVersion: v1\nkind: policy\nspec: SELECT 1\n", id="spec-text"),
    pytest.param("apiVersion: v1\nkind: policy\nspec: {name: A}\n", id="spec-no-query"),
    pytest.param("policies:\n  - {name: A}\n", id="gitops-no-query"),
    pytest.param("- {name: A, query: SELECT 1}\n---\n- {name: B}\n", id="second-document"),
]


@pytest.mark.parametrize("text", INVALID_CHECKS_FILES)
def test_invalid_checks_files_are_rejected_by_the_schema_and_the_loader(text: str) -> None:
    assert checks_file_schema_errors(text), "the schema accepted it"
    assert checks_file_problems(text), "the loader accepted it"


VALID_CHECKS_FILES = [
    pytest.param("# IT's checks will come here\n", id="only-a-comment"),
    pytest.param("- {name: A, query: SELECT 1}\n", id="list"),
    pytest.param("{name: A, query: SELECT 1, team: Workstations}\n", id="one-with-metadata"),
    pytest.param("apiVersion: v1\nkind: query\nspec: {name: q, query: SELECT 1}\n", id="query"),
    pytest.param(
        "---\napiVersion: v1\nkind: policy\nspec: [{name: A, query: SELECT 1}]\n", id="spec-list"
    ),
    pytest.param("policies:\n  - {name: A, query: SELECT 1}\nqueries: []\n", id="gitops"),
]


@pytest.mark.parametrize("text", VALID_CHECKS_FILES)
def test_valid_checks_files_are_accepted_by_the_schema_and_the_loader(text: str) -> None:
    assert checks_file_schema_errors(text) == []
    assert checks_file_problems(text) == []


@pytest.mark.parametrize("path", sorted(checks_dir().glob("*.yaml")), ids=lambda path: path.stem)
def test_the_shipped_checks_validate(path: Path) -> None:
    text = path.read_text("utf-8")
    assert schema_errors("check", yaml_data(text, path.name)) == []
    assert check_problems(text) == []


INVALID_CHECKS = [
    pytest.param("- kind: state\n", id="type-a-list"),
    pytest.param("kind: stat\nsql:\n  linux: SELECT 1\n", id="kind"),
    pytest.param("sql:\n  linux: SELECT 1\n", id="kind-missing"),
    pytest.param("kind: state\ndescription: x\n", id="sql-missing"),
    pytest.param("kind: state\nsql: {}\n", id="sql-empty"),
    pytest.param("kind: state\nsql:\n  macos: SELECT 1\n", id="sql-platform"),
    pytest.param("kind: state\nsql:\n  linux: ''\n", id="sql-blank"),
    pytest.param("kind: state\ndescription: 5\nsql:\n  linux: SELECT 1\n", id="description"),
    pytest.param("kind: state\nsql:\n  linux: SELECT 1\nquery: x\n", id="unknown-key"),
]


@pytest.mark.parametrize("text", INVALID_CHECKS)
def test_an_invalid_check_is_rejected_by_the_schema_and_the_loader(text: str) -> None:
    assert_both_reject("check", yaml_data(text, "firewall.yaml"), check_problems(text))


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


def test_the_report_schema_takes_its_choices_from_the_declarations() -> None:
    defs = schema("report")["$defs"]
    assert defs["requirement"] == schema("policy")["$defs"]["requirement"]
    assert defs["status"]["enum"] == [status.value for status in Status]
    assert defs["rating"]["enum"] == [rating.value for rating in Rating]
    assert schema("report")["properties"]["schema_version"]["const"] == REPORT_SCHEMA_VERSION


@dataclasses.dataclass(frozen=True)
class DeviceWithTpm(DeviceFacts):
    """Who this device is, and its TPM."""

    tpm_enabled: bool = False
    """Whether the device has an enabled TPM."""


@dataclasses.dataclass(frozen=True)
class ReportWithTpm(Report):
    """A report whose device has a TPM."""

    device: DeviceWithTpm
    """The device that was checked."""


def test_a_field_added_to_a_report_dataclass_is_published() -> None:
    published = report_schema(ReportWithTpm)
    device = published["$defs"]["deviceWithTpm"]
    assert device["properties"]["tpm_enabled"] == {
        "type": "boolean",
        "description": "Whether the device has an enabled TPM.",
    }
    assert "tpm_enabled" in device["required"]
    assert (
        device["properties"]["device_id"]
        == schema("report")["$defs"]["deviceFacts"]["properties"]["device_id"]
    )
    report = dataclasses.replace(
        realistic_report(), device=DeviceWithTpm(device_id="x", tpm_enabled=True)
    )
    check = Draft202012Validator(published)
    assert list(check.iter_errors(report.to_dict())) == []
    data = report.to_dict()
    del data["device"]["tpm_enabled"]
    assert list(check.iter_errors(data))
    # The committed schema, written before the field existed, rejects it.
    assert any("tpm_enabled" in error for error in schema_errors("report", report.to_dict()))


@dataclasses.dataclass(frozen=True)
class Undescribed:
    """A record with a field nobody described."""

    name: str


def test_a_report_field_without_a_docstring_is_not_published() -> None:
    with pytest.raises(UndescribedField, match=r"Undescribed\.name"):
        report_schema(Undescribed)
