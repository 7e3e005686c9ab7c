"""The GraphQL schema of the local API (graphql-core), compatible with Netflix Stethoscope's.

Web pages written for Stethoscope send `query ValidateDevice($policy: DevicePolicy!) { policy {
validate(policy: $policy) { … } } device { … } }` with their policy in `variables`; the type and
field names, the `FeatureState` and `RequirementOption` enums, the `Semver` and `NumericRange`
scalars and both generations of application rules (`applications` with an `assertion`, and the
older `requiredApplications` / `bannedApplications` / `suggestedApplications` lists) are
Stethoscope's, so those pages work unchanged. The schema is written here afresh; resolvers read
reports through a per-request `RequestContext` and the `ApiService`.

What the answers mean:

- `validate` gives each practice the page's policy names its verdict (PASS, NUDGE, FAIL, or
  UNKNOWN when the fact could not be read). A practice the policy names but not for this platform
  (an `osVersion` with only `darwin` and `win32` brackets, asked on Linux) is PASS: it is not
  held against the device. A practice the policy does not name is null. `status` is the overall
  verdict. Application rules that do not apply on this platform are left out of the lists.
- `device.security` says ON or OFF for settings (UNKNOWN where this platform cannot tell), and
  PASS/NUDGE/FAIL for `osVersion` and `screenIdle`, from the freshest report that measured them.
- Identifiers (`deviceId`, `hardwareSerial`, `ipAddresses`, `macAddresses`) are null or empty
  for a caller that may not see them (see `security.may_see_identifiers`).
- Introspection (`__schema`, `__type`) is answered only in debug mode.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLSyntaxError,
    NoSchemaIntrospectionCustomRule,
    ValueNode,
    build_schema,
    execute_sync,
    parse,
    specified_rules,
    validate,
)
from graphql.language import FloatValueNode, IntValueNode, StringValueNode

from stethoscope_desktop.api.security import (
    ApiLimits,
    Caller,
    document_limits,
    may_see_identifiers,
    query_nesting,
)
from stethoscope_desktop.api.service import ApiError, ApiService, Evaluation
from stethoscope_desktop.core.policy import (
    APPLICATION_LISTS,
    FEATURE_PRACTICES,
    PLATFORM_KEYS,
    ApplicationRule,
    Policy,
    Requirement,
)
from stethoscope_desktop.core.report import AppState, PracticeResult, Report
from stethoscope_desktop.core.status import FeatureState, Status

log = logging.getLogger(__name__)

# Practices answered with one FeatureState in `validate` and `device.security`.
SINGLE_PRACTICES = (
    "osVersion",
    *FEATURE_PRACTICES,
    "screenIdle",
    "stethoscopeVersion",
    "stethoscopeDesktopVersion",
)
# SecurityInfo fields Stethoscope had for other platforms' settings; never measured here.
UNMEASURED_SECURITY_FIELDS = (
    "automaticAppUpdates",
    "automaticSecurityUpdates",
    "automaticOsUpdates",
    "automaticDownloadUpdates",
    "automaticConfigDataInstall",
    "automaticCheckEnabled",
    "publicFirewall",
    "privateFirewall",
    "domainFirewall",
)
# Stethoscope's names for an application rule's outcome.
VALID = "VALID"
INVALID_INSTALL_STATE = "INVALID_INSTALL_STATE"
INVALID_VERSION = "INVALID_VERSION"
SUGGESTED_INSTALL = "SUGGESTED_INSTALL"
SUGGESTED_UPGRADE = "SUGGESTED_UPGRADE"
# Keys of Stethoscope's DevicePolicy that mean nothing here (Windows-only screen lock timeout).
IGNORED_POLICY_KEYS = frozenset({"windowsMaxScreenLockTimeout"})
_GRAPHQL_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")
# Platform keys a GraphQL input can carry (`opensuse-leap` is not a GraphQL name).
GRAPHQL_PLATFORMS = tuple(key for key in PLATFORM_KEYS if _GRAPHQL_NAME.fullmatch(key))


def _platform_fields(value_type: str) -> str:
    return "\n".join(f"  {key}: {value_type}" for key in GRAPHQL_PLATFORMS)


SCHEMA_SDL = f'''
"""A node-semver version or range, such as ">=14.6.0" or "<9.0.0"."""
scalar Semver

"""A numeric range such as "<=600" (seconds), or a number meaning "at most"."""
scalar NumericRange

type Query {{
  "This device: who it is, its network and its security settings."
  device: Device
  "Policy checks."
  policy: Policy
}}

type Policy {{
  "Check this device against a policy (without one: the app's own policy)."
  validate(policy: DevicePolicy): PolicyResult!
}}

"The verdict for each practice the policy names."
type PolicyResult {{
  "FAIL if any practice fails, else NUDGE if any nudges, else PASS."
  status: FeatureState
  osVersion: FeatureState
  firewall: FeatureState
  diskEncryption: FeatureState
  automaticUpdates: FeatureState
  screenLock: FeatureState
  screenIdle: FeatureState
  remoteLogin: FeatureState
  openWifiConnections: FeatureState
  stethoscopeVersion: FeatureState
  "This app's own version against the policy's stethoscopeDesktopVersion."
  stethoscopeDesktopVersion: FeatureState
  "Every application rule that applies to this platform."
  applications: [ApplicationFeatureState]
  "The rules that require an application (ALWAYS, IF_SUPPORTED)."
  requiredApplications: [ApplicationFeatureState]
  "The rules that ban an application (NEVER)."
  bannedApplications: [ApplicationFeatureState]
  "The rules that suggest an application (SUGGESTED)."
  suggestedApplications: [ApplicationFeatureState]
}}

type ApplicationFeatureState {{
  name: String
  status: FeatureState
  "The installed version, if installed."
  version: String
  installed: Boolean
  "VALID, INVALID_INSTALL_STATE, INVALID_VERSION, SUGGESTED_INSTALL or SUGGESTED_UPGRADE."
  state: String
}}

"What is known about this device."
type Device {{
  deviceId: String
  deviceName: String
  "darwin, win32 or linux."
  platform: String
  platformName: String
  friendlyName: String
  osVersion: String
  osName: String
  osBuild: String
  firmwareVersion: String
  hardwareModel: String
  hardwareSerial: String
  "The release of Stethoscope this app answers as (the one whose API and policy it implements)."
  stethoscopeVersion: String
  "This app's (Stethoscope Desktop's) own version."
  stethoscopeDesktopVersion: String
  osqueryVersion: String
  ipAddresses: [IpAddress]
  macAddresses: [NetworkInterface]
  disks: [Disk]
  applications: [Application]
  extensions(browser: Browser): [Extension]
  security(policy: DevicePolicy): SecurityInfo
  "The app's own verdict for this device."
  policyResult: FeatureState
}}

"Settings as they are (ON/OFF), and verdicts (PASS/NUDGE/FAIL) for versions and idle time."
type SecurityInfo {{
  osVersion: FeatureState
  firewall: FeatureState
  diskEncryption: FeatureState
  automaticUpdates: FeatureState
  screenLock: FeatureState
  screenIdle: FeatureState
  remoteLogin: FeatureState
  openWifiConnections: FeatureState
  automaticAppUpdates: FeatureState
  automaticSecurityUpdates: FeatureState
  automaticOsUpdates: FeatureState
  automaticDownloadUpdates: FeatureState
  automaticConfigDataInstall: FeatureState
  automaticCheckEnabled: FeatureState
  publicFirewall: FeatureState
  privateFirewall: FeatureState
  domainFirewall: FeatureState
}}

type IpAddress {{
  interface: String
  address: String
  mask: String
  broadcast: String
}}

type NetworkInterface {{
  interface: String
  type: String
  mac: String
  physicalAdapter: Boolean
  lastChange: String
}}

type Disk {{
  name: String
  uuid: String
  label: String
  encrypted: Boolean
}}

type Application {{
  name: String!
  displayName: String
  version: String
  path: String
  lastOpenedTime: String
  installDate: String
}}

type Extension {{
  name: String!
  path: String
  version: String
  author: String
  identifier: String
  browser: String
}}

enum Browser {{
  chrome
  firefox
  safari
  all
}}

"What a policy requires of this device, in Stethoscope's format."
input DevicePolicy {{
  osVersion: PlatformBracketRequirement
  firewall: RequirementOption
  diskEncryption: RequirementOption
  automaticUpdates: RequirementOption
  screenLock: RequirementOption
  screenIdle: NumericRange
  remoteLogin: RequirementOption
  openWifiConnections: RequirementOption
  stethoscopeVersion: Semver
  stethoscopeDesktopVersion: Semver
  applications: [ApplicationRequirement]
  requiredApplications: [AppRequirement]
  bannedApplications: [AppRequirement]
  suggestedApplications: [AppRequirement]
  "Accepted for compatibility; has no effect."
  windowsMaxScreenLockTimeout: Int
}}

"An application rule with its own assertion."
input ApplicationRequirement {{
  "A case-insensitive regular expression, or the exact name with exactMatch."
  name: String!
  assertion: RequirementOption!
  version: Semver
  platform: PlatformStringRequirement
  paths: ApplicationPaths
  exactMatch: Boolean
  description: String
  installFrom: String
}}

"An application rule of the older lists; the list says required, banned or suggested."
input AppRequirement {{
  name: String!
  version: Semver
  platform: PlatformStringRequirement
  exactMatch: Boolean
  "Accepted for compatibility; packages are always included."
  includePackages: Boolean
  "Where to install it from (the same as installFrom)."
  url: String
  installFrom: String
  description: String
}}

input ApplicationPaths {{
{_platform_fields("String")}
}}

input PlatformStringRequirement {{
{_platform_fields("Semver")}
}}

input PlatformBracketRequirement {{
{_platform_fields("VersionBracket")}
}}

input VersionBracket {{
  ok: Semver
  nudge: Semver
}}

enum FeatureState {{
  PASS
  FAIL
  NUDGE
  ON
  OFF
  UNKNOWN
}}

enum RequirementOption {{
  ALWAYS
  SUGGESTED
  NEVER
  IF_SUPPORTED
}}
'''


# -- scalars ---------------------------------------------------------------------------------


def _semver_value(value: Any) -> str:
    if not isinstance(value, str):
        raise GraphQLError(f'Semver must be a string such as ">=1.2.3", not {value!r}')
    return value


def _semver_literal(node: ValueNode, _variables: Any = None) -> str:
    if not isinstance(node, StringValueNode):
        raise GraphQLError('Semver must be a string such as ">=1.2.3"')
    return node.value


def _numeric_range_value(value: Any) -> str | int | float:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise GraphQLError(f'NumericRange must be a string such as "<=600", not {value!r}')
    return value


def _numeric_range_literal(node: ValueNode, _variables: Any = None) -> str | int | float:
    if isinstance(node, StringValueNode):
        return node.value
    if isinstance(node, IntValueNode):
        return int(node.value)
    if isinstance(node, FloatValueNode):
        return float(node.value)
    raise GraphQLError('NumericRange must be a string such as "<=600"')


def _configure_scalar(
    scalar: GraphQLScalarType,
    parse_value: Callable[[Any], Any],
    parse_literal: Callable[..., Any],
) -> None:
    scalar.parse_value = parse_value  # type: ignore[method-assign, assignment]
    scalar.parse_literal = parse_literal  # type: ignore[method-assign]
    scalar.serialize = str  # type: ignore[method-assign, assignment]


# -- the request context ---------------------------------------------------------------------


@dataclass
class RequestContext:
    """What one request's resolvers share: the service, who asks, the policies evaluated."""

    service: ApiService
    caller: Caller
    max_policies: int = 2
    evaluations: list[Evaluation] = field(default_factory=list)
    _reports: list[Report] | None = field(default=None, repr=False)

    def evaluate(self, data: Mapping[str, Any] | None) -> Evaluation:
        """Evaluate a policy for this request; at most `max_policies` different ones."""
        policy, key = self.service.prepare(data)
        for done in self.evaluations:
            if done.key == key:
                return done
        if len(self.evaluations) >= self.max_policies:
            raise ApiError(f"at most {self.max_policies} different policies per request")
        evaluation = self.service.evaluate_prepared(policy, key)
        self.evaluations.append(evaluation)
        self._reports = None
        return evaluation

    def reports(self) -> list[Report]:
        """Return the fresh reports at hand, this request's own first, newest first.

        Looked up once per request (and again after a new evaluation): a request is answered
        from one consistent set of reports.
        """
        if self._reports is None:
            own = [evaluation.report for evaluation in reversed(self.evaluations)]
            others = [r for r in self.service.fresh_reports() if all(r is not o for o in own)]
            self._reports = own + others
        return self._reports

    def device_report(self) -> Report:
        """Return the report the device's own facts are read from."""
        reports = self.reports()
        if not reports:
            self._reports = [self.service.device_report()]
            reports = self._reports
        return reports[0]

    def practice(self, key: str) -> PracticeResult | None:
        """Return the freshest result for a practice among the reports at hand."""
        for report in self.reports():
            found = report.practice(key)
            if found is not None:
                return found
        return None

    @property
    def identifiers(self) -> bool:
        """Return True if this caller may see the device's identifiers."""
        return may_see_identifiers(self.caller)


# -- answers, as pure functions of reports ---------------------------------------------------


def policy_mapping(data: Mapping[str, Any]) -> dict[str, Any]:
    """Turn a coerced `DevicePolicy` input into a policy mapping in Stethoscope's format.

    Nulls are dropped (a null is "not given"), the older lists' `url` becomes `installFrom`, and
    the keys that mean nothing here are left out.
    """
    policy: dict[str, Any] = {}
    for key, value in data.items():
        if value is None or key in IGNORED_POLICY_KEYS:
            continue
        if key == "applications" or key in APPLICATION_LISTS:
            policy[key] = [_application_mapping(item) for item in value if item is not None]
        elif key == "osVersion":
            policy[key] = {
                platform: _without_nulls(bracket)
                for platform, bracket in value.items()
                if bracket is not None
            }
        else:
            policy[key] = value
    return policy


def _without_nulls(data: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


def _application_mapping(data: Mapping[str, Any]) -> dict[str, Any]:
    rule = _without_nulls(data)
    url = rule.pop("url", None)
    if url is not None:
        rule.setdefault("installFrom", url)
    rule.pop("includePackages", None)
    for key in ("platform", "paths"):
        if key in rule:
            rule[key] = _without_nulls(rule[key])
    return rule


def asked_practices(policy: Policy) -> frozenset[str]:
    """Return the single practices a policy names (whatever the platform)."""
    asked = set(policy.features)
    if policy.os_version:
        asked.add("osVersion")
    if policy.screen_idle is not None:
        asked.add("screenIdle")
    if policy.stethoscope_version is not None:
        asked.add("stethoscopeVersion")
    if policy.stethoscope_desktop_version is not None:
        asked.add("stethoscopeDesktopVersion")
    return frozenset(asked)


def application_state(rule: ApplicationRule, practice: PracticeResult) -> str | None:
    """Return Stethoscope's name for an application rule's outcome (None when unknown)."""
    outcome = practice.application
    if outcome is None or practice.status is Status.UNKNOWN:
        return None
    if practice.status is Status.PASS:
        return VALID
    if rule.assertion is Requirement.SUGGESTED:
        return SUGGESTED_UPGRADE if outcome.state is AppState.OUTDATED else SUGGESTED_INSTALL
    if outcome.state is AppState.OUTDATED:
        return INVALID_VERSION
    return INVALID_INSTALL_STATE


def _application_result(rule: ApplicationRule, practice: PracticeResult) -> dict[str, Any]:
    outcome = practice.application
    return {
        "name": rule.name,
        "status": practice.status.value,
        "version": (outcome.installed_version or None) if outcome is not None else None,
        "installed": outcome.installed if outcome is not None else None,
        "state": application_state(rule, practice),
    }


_LIST_ASSERTIONS = {
    "requiredApplications": (Requirement.ALWAYS, Requirement.IF_SUPPORTED),
    "bannedApplications": (Requirement.NEVER,),
    "suggestedApplications": (Requirement.SUGGESTED,),
}


def policy_result(report: Report, policy: Policy) -> dict[str, Any]:
    """Return the `PolicyResult` for a policy and the report made with it."""
    asked = asked_practices(policy)
    result: dict[str, Any] = {"status": report.status.value}
    for key in SINGLE_PRACTICES:
        practice = report.practice(key)
        if practice is not None:
            result[key] = practice.status.value
        else:
            # Named by the policy but not for this platform: not held against the device.
            result[key] = Status.PASS.value if key in asked else None
    rules = [
        (rule, practice)
        for rule in policy.applications
        if (practice := report.practice(f"applications/{rule.name}")) is not None
    ]
    result["applications"] = [_application_result(rule, practice) for rule, practice in rules]
    for name, assertions in _LIST_ASSERTIONS.items():
        result[name] = [
            _application_result(rule, practice)
            for rule, practice in rules
            if rule.assertion in assertions
        ]
    return result


def security_state(practice: PracticeResult | None) -> str:
    """Return a practice's `SecurityInfo` value: ON/OFF for a setting, a verdict otherwise."""
    if practice is None or practice.status is Status.UNKNOWN:
        return FeatureState.UNKNOWN.value
    if practice.key not in FEATURE_PRACTICES:
        return practice.status.value
    on_fails = practice.requirement == Requirement.NEVER.value
    if practice.status is Status.PASS:
        return FeatureState.OFF.value if on_fails else FeatureState.ON.value
    return FeatureState.ON.value if on_fails else FeatureState.OFF.value


def disks(practice: PracticeResult | None) -> list[dict[str, Any]]:
    """Return the `Disk` list from the disk encryption check's evidence."""
    if practice is None:
        return []
    found = []
    for row in practice.evidence.rows:
        # The check names the state `enabled` (a state check's column); a table's own `encrypted`.
        encrypted = row.get("enabled", row.get("encrypted"))
        found.append(
            {
                "name": row.get("name"),
                "uuid": None,
                "label": row.get("mountpoint"),
                "encrypted": None if encrypted is None else encrypted in (1, "1"),
            }
        )
    return found


# -- resolvers -------------------------------------------------------------------------------


def _context(info: GraphQLResolveInfo) -> RequestContext:
    context = info.context
    assert isinstance(context, RequestContext)
    return context


class _DeviceRoot:
    """The `device` field's value: its fields are resolved from the request context."""


class _PolicyRoot:
    """The `policy` field's value."""


def _resolve_device(_root: Any, _info: GraphQLResolveInfo) -> _DeviceRoot:
    return _DeviceRoot()


def _resolve_policy(_root: Any, _info: GraphQLResolveInfo) -> _PolicyRoot:
    return _PolicyRoot()


def _resolve_validate(
    _root: Any, info: GraphQLResolveInfo, policy: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    data = policy_mapping(policy) if policy is not None else None
    evaluation = _context(info).evaluate(data)
    return policy_result(evaluation.report, evaluation.policy)


def _device_text(attribute: str) -> Callable[[Any, GraphQLResolveInfo], str | None]:
    def resolve(_root: Any, info: GraphQLResolveInfo) -> str | None:
        value = getattr(_context(info).device_report().device, attribute)
        return str(value) if value not in ("", None) else None

    return resolve


def _identifier(
    resolve: Callable[[Any, GraphQLResolveInfo], Any], hidden: Any
) -> Callable[[Any, GraphQLResolveInfo], Any]:
    def guarded(root: Any, info: GraphQLResolveInfo) -> Any:
        return resolve(root, info) if _context(info).identifiers else hidden

    return guarded


def _resolve_friendly_name(_root: Any, info: GraphQLResolveInfo) -> str | None:
    device = _context(info).device_report().device
    name = " ".join(part for part in (device.hardware_vendor, device.hardware_model) if part)
    return name or None


def _resolve_osquery_version(_root: Any, info: GraphQLResolveInfo) -> str | None:
    engine = _context(info).device_report().engine
    return (engine.version or None) if engine.name == "osquery" else None


def _resolve_ip_addresses(_root: Any, info: GraphQLResolveInfo) -> list[dict[str, Any]]:
    return [
        {
            "interface": a.interface,
            "address": a.address,
            "mask": a.mask,
            "broadcast": a.broadcast,
        }
        for a in _context(info).service.network().ip_addresses
    ]


def _resolve_mac_addresses(_root: Any, info: GraphQLResolveInfo) -> list[dict[str, Any]]:
    return [
        {
            "interface": i.interface,
            "type": i.type,
            "mac": i.mac,
            "physicalAdapter": i.physical_adapter,
            "lastChange": i.last_change,
        }
        for i in _context(info).service.network().interfaces
    ]


def _resolve_disks(_root: Any, info: GraphQLResolveInfo) -> list[dict[str, Any]]:
    return disks(_context(info).practice("diskEncryption"))


def _resolve_empty(_root: Any, _info: GraphQLResolveInfo, **_args: Any) -> list[Any]:
    return []


def _resolve_security(
    _root: Any, info: GraphQLResolveInfo, policy: Mapping[str, Any] | None = None
) -> dict[str, str]:
    context = _context(info)
    states = {key: security_state(context.practice(key)) for key in SINGLE_PRACTICES}
    return {**states, **dict.fromkeys(UNMEASURED_SECURITY_FIELDS, FeatureState.UNKNOWN.value)}


def _resolve_policy_result(_root: Any, info: GraphQLResolveInfo) -> str:
    return _context(info).service.evaluate(None).report.status.value


_DEVICE_TEXT_FIELDS = {
    "deviceName": "device_name",
    "platform": "platform",
    "platformName": "platform_name",
    "osVersion": "os_version",
    "osName": "os_name",
    "osBuild": "os_build",
    "hardwareModel": "hardware_model",
    "stethoscopeVersion": "stethoscope_version",
    "stethoscopeDesktopVersion": "app_version",
}


def _bind(
    schema: GraphQLSchema, type_name: str, resolvers: Mapping[str, Callable[..., Any]]
) -> None:
    graphql_type = schema.type_map[type_name]
    assert isinstance(graphql_type, GraphQLObjectType)
    for name, resolve in resolvers.items():
        graphql_type.fields[name].resolve = resolve


def build_api_schema() -> GraphQLSchema:
    """Return the schema with its resolvers and scalars."""
    schema = build_schema(SCHEMA_SDL)
    semver = schema.type_map["Semver"]
    numeric = schema.type_map["NumericRange"]
    assert isinstance(semver, GraphQLScalarType) and isinstance(numeric, GraphQLScalarType)
    _configure_scalar(semver, _semver_value, _semver_literal)
    _configure_scalar(numeric, _numeric_range_value, _numeric_range_literal)
    _bind(schema, "Query", {"device": _resolve_device, "policy": _resolve_policy})
    _bind(schema, "Policy", {"validate": _resolve_validate})
    device: dict[str, Callable[..., Any]] = {
        name: _device_text(attribute) for name, attribute in _DEVICE_TEXT_FIELDS.items()
    }
    device |= {
        "deviceId": _identifier(_device_text("device_id"), None),
        "hardwareSerial": _identifier(_device_text("hardware_serial"), None),
        "ipAddresses": _identifier(_resolve_ip_addresses, []),
        "macAddresses": _identifier(_resolve_mac_addresses, []),
        "firmwareVersion": lambda _root, _info: None,
        "friendlyName": _resolve_friendly_name,
        "osqueryVersion": _resolve_osquery_version,
        "disks": _resolve_disks,
        "applications": _resolve_empty,
        "extensions": _resolve_empty,
        "security": _resolve_security,
        "policyResult": _resolve_policy_result,
    }
    _bind(schema, "Device", device)
    return schema


# -- running a request -----------------------------------------------------------------------


@dataclass(frozen=True)
class QueryOutcome:
    """The HTTP status and JSON body of a GraphQL request."""

    status: int
    body: dict[str, Any]

    @property
    def ok(self) -> bool:
        """Return True when the request was answered (with data)."""
        return self.status == 200


def error_body(message: str, code: str) -> dict[str, Any]:
    """Return a GraphQL-style error body."""
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


class QueryRunner:
    """Parses (bounded), validates (cached), and executes GraphQL requests."""

    def __init__(
        self,
        schema: GraphQLSchema,
        limits: ApiLimits,
        *,
        introspection: bool = False,
        cache_size: int = 64,
    ) -> None:
        self._schema = schema
        self._limits = limits
        self._rules = (
            tuple(specified_rules)
            if introspection
            else (*specified_rules, NoSchemaIntrospectionCustomRule)
        )
        self._cache: OrderedDict[str, DocumentNode] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def prepare(self, query: str) -> DocumentNode | QueryOutcome:
        """Return the parsed, checked document, or the 400 answer saying what is wrong."""
        with self._lock:
            cached = self._cache.get(query)
            if cached is not None:
                self._cache.move_to_end(query)
                return cached
        limits = self._limits
        if len(query) > limits.max_query_chars:
            return QueryOutcome(
                400,
                error_body(
                    f"the query is longer than {limits.max_query_chars} characters",
                    "QUERY_TOO_LARGE",
                ),
            )
        if query_nesting(query) > limits.max_nesting:
            return QueryOutcome(400, error_body("the query is nested too deeply", "QUERY_TOO_DEEP"))
        try:
            document = parse(query, no_location=False, max_tokens=limits.max_tokens)
        except GraphQLSyntaxError as error:
            return QueryOutcome(400, {"errors": [error.formatted]})
        problem = document_limits(document, limits.max_depth, limits.max_fields)
        if problem is not None:
            return QueryOutcome(400, error_body(problem, "QUERY_TOO_LARGE"))
        errors = validate(self._schema, document, self._rules, max_errors=20)
        if errors:
            return QueryOutcome(400, {"errors": [e.formatted for e in errors]})
        with self._lock:
            self._cache[query] = document
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return document

    def run(
        self,
        query: str,
        variables: Mapping[str, Any] | None,
        operation_name: str | None,
        context: RequestContext,
    ) -> QueryOutcome:
        """Run one request: 400 if it cannot run, else 200 with data (and field errors)."""
        prepared = self.prepare(query)
        if isinstance(prepared, QueryOutcome):
            return prepared
        result = execute_sync(
            self._schema,
            prepared,
            context_value=context,
            variable_values=dict(variables) if variables is not None else None,
            operation_name=operation_name,
        )
        errors = [_format_error(error) for error in result.errors or ()]
        if result.data is None:
            return QueryOutcome(400, {"errors": errors})
        body: dict[str, Any] = {"data": result.data}
        if errors:
            body["errors"] = errors
        return QueryOutcome(200, body)


def _format_error(error: GraphQLError) -> dict[str, Any]:
    original = error.original_error
    if original is not None and not isinstance(original, ApiError | GraphQLError):
        log.error("a resolver failed: %s", error, exc_info=original)
        return {
            "message": "internal error",
            "path": error.path,
            "extensions": {"code": "INTERNAL"},
        }
    formatted = dict(error.formatted)
    if isinstance(original, ApiError):
        formatted["extensions"] = {"code": original.code}
    return formatted
