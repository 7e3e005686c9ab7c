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
- `securitySoftware` (ours, not Stethoscope's) is given as in policy.yaml, `"ALWAYS"` or
  `{requirement: ALWAYS, products: ["CrowdStrike"]}`, through the `SecuritySoftwareRequirement`
  scalar; `policy.yaml`'s own validation says what is wrong with it. In `device.security` it is ON
  when an accepted product runs.
- Identifiers (`deviceId`, `hardwareSerial`, `ipAddresses`, `macAddresses`) are null or empty
  for a caller that may not see them (see `security.may_see_identifiers`).
- `attest(nonce, policy)` (ours, issue 17) signs the verdict `validate` gives for that policy
  (the same evaluation of this request) into a device token for the caller's origin
  (`attest.py`); a nonce the app does not sign is a `BAD_NONCE` error, a device key that cannot
  be used `DEVICE_KEY_UNUSABLE`, both naming what to do.
- Introspection (`__schema`, `__type`) is answered only in debug mode.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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
from graphql.language import (
    BooleanValueNode,
    EnumValueNode,
    FloatValueNode,
    IntValueNode,
    ObjectValueNode,
    StringValueNode,
)
from graphql.utilities import value_from_ast_untyped

from stethoscope_desktop.api.device_lists import (
    WINDOWS,
    browser_extensions,
    installed_applications,
    installed_hotfixes,
    required_hotfixes,
    required_hotfixes_state,
)
from stethoscope_desktop.api.legacy import (
    normalize_variables,
    rewrite_legacy_forms,
    unwrap_bare_validate,
)
from stethoscope_desktop.api.network import address_entries, interface_entries
from stethoscope_desktop.api.security import (
    ApiLimits,
    Caller,
    document_limits,
    may_see_identifiers,
    query_nesting,
)
from stethoscope_desktop.api.service import ApiError, ApiService, Evaluation
from stethoscope_desktop.core.facts import Facts
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
from stethoscope_desktop.engines.info import EngineInfo
from stethoscope_desktop.tables.values import Row

if TYPE_CHECKING:
    from stethoscope_desktop.api.attest import DeviceTrust

log = logging.getLogger(__name__)

# Practices answered with one FeatureState in `validate` and `device.security`.
SINGLE_PRACTICES = (
    "osVersion",
    *FEATURE_PRACTICES,
    "screenIdle",
    "stethoscopeVersion",
    "stethoscopeDesktopVersion",
    "securitySoftware",
)
# The practices `device.security` answers ON or OFF (a setting), not with their verdict.
SETTING_PRACTICES = (*FEATURE_PRACTICES, "securitySoftware")
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
# Keys of Stethoscope's DevicePolicy that are not part of the verdict: the Windows-only screen
# lock timeouts (screenIdle says it for every platform), and the hotfixes `validate` reports on.
IGNORED_POLICY_KEYS = frozenset(
    {"windowsMaxScreenLockTimeout", "maxScreenLockTimeout", "requiredHotfixes"}
)
# What `Query.status` answers while the app answers at all.
LIVE_STATUS = "ok"
# Stethoscope's word for what a platform (here: the engine) does not support.
UNSUPPORTED = "UNSUPPORTED"
OSQUERY_ENGINE = "osquery"
# The checks the device's lists come from.
APPLICATIONS_CHECK = "applications"
EXTENSIONS_CHECK = "browser_extensions"
HOTFIXES_CHECK = "hotfixes"
DEVICE_LIST_CHECKS = (APPLICATIONS_CHECK, EXTENSIONS_CHECK, HOTFIXES_CHECK)
_GRAPHQL_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")
# Platform keys a GraphQL input can carry (`opensuse-leap` is not a GraphQL name).
GRAPHQL_PLATFORMS = tuple(key for key in PLATFORM_KEYS if _GRAPHQL_NAME.fullmatch(key))


def _platform_fields(value_type: str) -> str:
    return "\n".join(f"  {key}: {value_type}" for key in GRAPHQL_PLATFORMS)


SCHEMA_SDL = f'''
"""A node-semver version or range, such as ">=14.6.0" or "<9.0.0"; in an application's
platform filter also true or false."""
scalar Semver

"""A numeric range such as "<=600" (seconds), or a number meaning "at most"."""
scalar NumericRange

"""As in policy.yaml: ALWAYS, SUGGESTED or IF_SUPPORTED, or {{requirement, products}}."""
scalar SecuritySoftwareRequirement

type Query {{
  "This device: who it is, its network and its security settings."
  device: Device
  "Policy checks."
  policy: Policy
  "ok while the app answers (Stethoscope 1.0's way to see it is there)."
  status: String
  """A device token for a login server: the verdict for this policy (without one: the app's
  own), signed by this device's key with the login server's nonce (16 to 256 URL-safe
  characters) and the page's origin (not Stethoscope's; see the README's Device trust at
  login)."""
  attest(nonce: String!, policy: DevicePolicy): Attestation
}}

"A signed device token (a compact JWS, ES256) and how the key that signed it is kept."
type Attestation {{
  "The token: header.payload.signature, each base64url."
  token: String!
  "tpm, secure-enclave or software."
  keyProtection: String!
}}

type Policy {{
  """Check this device against a policy (without one: the app's own policy). Selecting no
  fields of it answers the overall status alone, as Stethoscope 1.0 did."""
  validate(policy: DevicePolicy): PolicyResult!
  "The same as validate (Stethoscope 1.0's name for the detailed answer)."
  validateWithDetails(policy: DevicePolicy): PolicyResult!
  "The same as validate, for pages written for Stethoscope's DevicePolicyV2 (March 2018)."
  validateV2(policy: DevicePolicyV2): PolicyResult!
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
  "Whether an accepted antivirus or endpoint protection product runs."
  securitySoftware: FeatureState
  "Every application rule that applies to this platform."
  applications: [ApplicationFeatureState]
  "The rules that require an application (ALWAYS, IF_SUPPORTED)."
  requiredApplications: [ApplicationFeatureState]
  "The rules that ban an application (NEVER)."
  bannedApplications: [ApplicationFeatureState]
  "The rules that suggest an application (SUGGESTED)."
  suggestedApplications: [ApplicationFeatureState]
  """The policy's requiredHotfixes that are installed (Windows); they are not part of status.
  Empty where there are no Windows hotfixes."""
  requiredHotfixes: [HotfixFeatureState]
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

"A Windows update (hotfix), as Windows lists it."
type HotfixFeatureState {{
  "The hotfix's id, such as KB5034441."
  hotfix_id: String
  "A link to its description."
  caption: String
  "When it was installed, as Windows writes it."
  installed_on: String
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
  "The OS build (macOS 24A335, Windows 26100, on Linux the kernel's release)."
  osBuild: String
  "The firmware's (BIOS, UEFI) version."
  firmwareVersion: String
  hardwareModel: String
  hardwareSerial: String
  "The release of Stethoscope this app answers as (the one whose API and policy it implements)."
  stethoscopeVersion: String
  "This app's (Stethoscope Desktop's) own version."
  stethoscopeDesktopVersion: String
  """osqueryd's version when the checks run on osquery; UNSUPPORTED on the built-in engine, as
  Stethoscope answered when it ran without osquery."""
  osqueryVersion: String
  ipAddresses: [IpAddress]
  macAddresses: [NetworkInterface]
  disks: [Disk]
  "The installed applications (on Linux the installed packages too)."
  applications: [Application]
  "Browser extensions of this user's profiles (Chrome, Firefox), optionally of one browser."
  extensions(browser: Browser): [Extension]
  "The installed Windows updates; empty on other platforms."
  hotfixes: [HotfixFeatureState]
  "The account the app runs as."
  user: User
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
  "ON when an accepted antivirus or endpoint protection product runs."
  securitySoftware: FeatureState
  automaticAppUpdates: FeatureState
  automaticSecurityUpdates: FeatureState
  automaticOsUpdates: FeatureState
  automaticDownloadUpdates: FeatureState
  automaticConfigDataInstall: FeatureState
  automaticCheckEnabled: FeatureState
  publicFirewall: FeatureState
  privateFirewall: FeatureState
  domainFirewall: FeatureState
  """With security(policy: {{requiredHotfixes: [...]}}): PASS when each is installed, FAIL when
  one is missing (Windows); PASS elsewhere (nothing is asked of other platforms), UNKNOWN when
  the list cannot be read or no hotfix is asked for."""
  requiredHotfixes: FeatureState
}}

"""Stethoscope's type for its own checks of a requirement (true when met). Stethoscope's
schema declared it, but no query reaches it; it is declared here for clients that introspect."""
type Security {{
  osVersion(requirement: PlatformBracketRequirement!): Boolean!
  osVersionV2(requirement: PlatformBracketRequirement!): Boolean!
  firewall(requirement: RequirementOption!): Boolean!
  diskEncryption(requirement: RequirementOption!): Boolean!
  screenLock(requirement: RequirementOption!): Boolean!
  screenIdle(requirement: NumericRange!): Boolean!
  remoteLogin(requirement: RequirementOption!): Boolean!
  openWifiConnections(requirement: RequirementOption!): Boolean!
  applications(requirement: RequirementOption!): [Boolean!]!
  requiredApplications(requirement: RequirementOption!): [Boolean!]!
  bannedApplications(requirement: RequirementOption!): [Boolean!]!
  suggestedApplications(requirement: RequirementOption!): [Boolean!]!
  requiredHotfixes(requirement: RequirementOption!): [Boolean!]!
  stethoscopeVersion(requirement: Semver!): Boolean!
  "requirment: the misspelt name Stethoscope 1.0 had."
  automaticUpdates(requirement: RequirementOption, requirment: RequirementOption): Boolean!
  automaticOsUpdates(requirement: RequirementOption!): Boolean!
  automaticSecurityUpdates(requirement: RequirementOption!): Boolean!
  automaticAppUpdates(requirement: RequirementOption!): Boolean!
  automaticDownloadUpdates(requirement: RequirementOption!): Boolean!
  automaticConfigDataInstall(requirement: RequirementOption!): Boolean!
  automaticCheckEnabled(requirement: RequirementOption!): Boolean!
  publicFirewall(requirement: RequirementOption!): Boolean!
  privateFirewall(requirement: RequirementOption!): Boolean!
  domainFirewall(requirement: RequirementOption!): Boolean!
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
  "The same as physicalAdapter (Stethoscope's name until April 2018)."
  physical_adapter: Boolean
  lastChange: String
}}

type Disk {{
  name: String
  uuid: String
  label: String
  encrypted: Boolean
}}

"An installed application; where a rule of the app's policy names it, that rule's words too."
type Application {{
  name: String!
  displayName: String
  "The installed version; empty when the system does not say."
  version: String!
  path: String
  lastOpenedTime: String
  "The same as lastOpenedTime (Stethoscope's name until April 2018)."
  last_opened_time: String
  installDate: String
  "The same as installDate (Stethoscope's name until April 2018)."
  install_date: String
  "The assertion of the app's policy's rule that names it; null where no rule does."
  assertion: RequirementOption
  "The same as assertion (Stethoscope's name in 2019)."
  installed: RequirementOption
  "The description of the rule that names it; null where no rule does."
  description: String
  "Where that rule says to get it; null where no rule does."
  installFrom: String
}}

"A browser extension (Chrome) or add-on (Firefox) of one of this user's profiles."
type Extension {{
  name: String!
  "Its folder (Chrome) or file (Firefox)."
  path: String!
  version: String!
  "Its author; empty when it names none."
  author: String!
  "Its id in the browser's store."
  identifier: String!
  "chrome or firefox."
  browser: String!
}}

enum Browser {{
  chrome
  firefox
  safari
  all
}}

"What a policy requires of this device, in Stethoscope's format."
input DevicePolicy {{
  """Brackets per platform; a version range where a bracket is expected means {{ok: range}}
  (Stethoscope 1.0's form)."""
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
  "Antivirus or endpoint protection that must run (not Stethoscope's)."
  securitySoftware: SecuritySoftwareRequirement
  applications: [ApplicationRequirement]
  requiredApplications: [AppRequirement]
  bannedApplications: [AppRequirement]
  suggestedApplications: [AppRequirement]
  "Windows hotfix ids (KB…) to report on in PolicyResult.requiredHotfixes; not part of status."
  requiredHotfixes: [String]
  "Accepted for compatibility; has no effect (screenIdle says how long the screen may stay idle)."
  windowsMaxScreenLockTimeout: Int
  "Accepted for compatibility; has no effect (screenIdle says how long the screen may stay idle)."
  maxScreenLockTimeout: Int
}}

"Stethoscope's policy input of March 2018; validateV2 takes it."
input DevicePolicyV2 {{
  osVersion: PlatformBracketRequirement
  firewall: RequirementOption
  diskEncryption: RequirementOption
  automaticUpdates: RequirementOption
  screenLock: RequirementOption
  remoteLogin: RequirementOption
  stethoscopeVersion: Semver
  requiredApplications: [AppRequirement]
  bannedApplications: [AppRequirement]
}}

"An application rule with its own assertion."
input ApplicationRequirement {{
  "A case-insensitive regular expression, or the exact name with exactMatch."
  name: String!
  "ALWAYS when left out."
  assertion: RequirementOption
  "The same as assertion (Stethoscope's name in 2019)."
  installed: RequirementOption
  version: Semver
  platform: PlatformStringRequirement
  paths: ApplicationPaths
  exactMatch: Boolean
  description: String
  installFrom: String
  "The same as installFrom."
  url: String
  "Accepted for compatibility; packages are always included."
  includePackages: Boolean
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

"""Where an application rule applies: per platform an OS version range, or true or false
(all: true: everywhere)."""
input PlatformStringRequirement {{
{_platform_fields("Semver")}
}}

input PlatformBracketRequirement {{
{_platform_fields("VersionBracket")}
}}

"Stethoscope's input type for a yes or no per platform (declared by it, taken by no field)."
input PlatformBoolRequirement {{
{_platform_fields("Boolean")}
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
  "Stethoscope's answer for a practice a platform did not support."
  UNSUPPORTED
}}

enum RequirementOption {{
  ALWAYS
  SUGGESTED
  NEVER
  IF_SUPPORTED
}}

type User {{
  "The account's login name (an identifier: see the README's rules)."
  name: String
  "Not known on the device: always null."
  email: String
}}
'''


# -- scalars ---------------------------------------------------------------------------------


def _semver_value(value: Any) -> str | bool:
    """A range, or true/false (which only an application's platform filter takes)."""
    if not isinstance(value, str | bool):
        raise GraphQLError(f'Semver must be a string such as ">=1.2.3", not {value!r}')
    return value


def _semver_literal(node: ValueNode, _variables: Any = None) -> str | bool:
    if isinstance(node, StringValueNode):
        return node.value
    if isinstance(node, BooleanValueNode):
        return node.value
    raise GraphQLError('Semver must be a string such as ">=1.2.3"')


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


def _security_software_value(value: Any) -> str | dict[str, Any]:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return value
    raise GraphQLError(
        'SecuritySoftwareRequirement must be "ALWAYS", "SUGGESTED", "IF_SUPPORTED" or '
        f"{{requirement, products}}, not {value!r}"
    )


def _security_software_literal(
    node: ValueNode, variables: dict[str, Any] | None = None
) -> str | dict[str, Any]:
    if isinstance(node, EnumValueNode | StringValueNode):
        return node.value
    if isinstance(node, ObjectValueNode):
        value = value_from_ast_untyped(node, variables)
        assert isinstance(value, dict)
        return value
    raise GraphQLError(
        "SecuritySoftwareRequirement must be ALWAYS, SUGGESTED, IF_SUPPORTED or "
        "{requirement, products}"
    )


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
    device_trust: DeviceTrust | None = None
    evaluations: list[Evaluation] = field(default_factory=list)
    _reports: list[Report] | None = field(default=None, repr=False)
    _facts: Facts | None = field(default=None, repr=False)

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

    def device_facts(self) -> Facts:
        """Return every fact of the device (its lists), read once per request."""
        if self._facts is None:
            self._facts = self.service.device_facts()
        return self._facts

    def rows_of(self, check_id: str) -> tuple[Row, ...]:
        """Return the rows a check found on this device; ApiError saying why it could not."""
        fact = self.device_facts().check(check_id)
        if not fact.ok:
            raise ApiError(
                f"this device's {check_id.replace('_', ' ')} cannot be read: {fact.reason}"
            )
        return fact.rows

    @property
    def identifiers(self) -> bool:
        """Return True if this caller may see the device's identifiers."""
        return may_see_identifiers(self.caller)


# -- answers, as pure functions of reports ---------------------------------------------------


def policy_mapping(data: Mapping[str, Any]) -> dict[str, Any]:
    """Turn a coerced `DevicePolicy` input into a policy mapping in Stethoscope's format.

    Nulls are dropped (a null is "not given"), `url` becomes `installFrom` and `installed` (2019's
    name) `assertion`, an `applications` entry without either is ALWAYS, and the keys that are
    not part of the verdict are left out.
    """
    policy: dict[str, Any] = {}
    for key, value in data.items():
        if value is None or key in IGNORED_POLICY_KEYS:
            continue
        if key == "applications":
            # An entry without an assertion (2019's AppRequirement entries) is required.
            policy[key] = [
                {"assertion": Requirement.ALWAYS.value, **_application_mapping(item)}
                for item in value
                if item is not None
            ]
        elif key in APPLICATION_LISTS:
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
    installed = rule.pop("installed", None)
    if installed is not None:
        rule.setdefault("assertion", installed)
    rule.pop("includePackages", None)
    for key in ("platform", "paths"):
        if key in rule:
            rule[key] = _without_nulls(rule[key])
    return rule


def asked_practices(policy: Policy) -> frozenset[str]:
    """Return the single practices a policy names (whatever the platform)."""
    return policy.named_practices() - {"applications"}


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
    if practice.key not in SETTING_PRACTICES:
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


def _resolve_status(_root: Any, _info: GraphQLResolveInfo) -> str:
    return LIVE_STATUS


def _resolve_attest(
    _root: Any, info: GraphQLResolveInfo, nonce: str, policy: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """Sign the verdict `validate` gives for `policy` with the nonce and the caller's origin."""
    from stethoscope_desktop.api.attest import AttestationUnavailable, check_nonce
    from stethoscope_desktop.device_trust.token import LOCAL_AUDIENCE, policy_files_version

    context = _context(info)
    if context.device_trust is None:
        raise AttestationUnavailable("this server signs no device tokens")
    check_nonce(nonce)  # before any scan
    evaluation = context.evaluate(policy_mapping(policy) if policy is not None else None)
    attestation = context.device_trust.attest(
        evaluation.report,
        nonce=nonce,
        audience=context.caller.origin or LOCAL_AUDIENCE,
        page_policy=policy,
        policy_version=policy_files_version(context.service.app_practices().files),
    )
    return {"token": attestation.token, "keyProtection": attestation.key_protection}


def _resolve_validate(
    _root: Any, info: GraphQLResolveInfo, policy: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    data = policy_mapping(policy) if policy is not None else None
    evaluation = _context(info).evaluate(data)
    result = policy_result(evaluation.report, evaluation.policy)
    wanted = (policy or {}).get("requiredHotfixes")
    result["requiredHotfixes"] = _RequiredHotfixes(wanted) if wanted is not None else None
    return result


@dataclass(frozen=True)
class _RequiredHotfixes:
    """`PolicyResult.requiredHotfixes`, read from the device's hotfixes only when selected."""

    wanted: Sequence[str | None]

    def __call__(self, info: GraphQLResolveInfo) -> list[Mapping[str, str | None]]:
        installed = _installed_hotfixes(_context(info))
        return required_hotfixes(installed, [h for h in self.wanted if h])


def _installed_hotfixes(context: RequestContext) -> list[dict[str, str | None]]:
    if context.device_report().device.platform != WINDOWS:
        return []  # no Windows updates on other platforms
    return installed_hotfixes(context.rows_of(HOTFIXES_CHECK))


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


def osquery_version(engine: EngineInfo) -> str:
    """Return `device.osqueryVersion`: osqueryd's version, or UNSUPPORTED without osquery.

    UNSUPPORTED is what Stethoscope answered from the time it stopped running osquery; on the
    built-in engine no osquery runs, so no osquery version is there to report.
    """
    if engine.name == OSQUERY_ENGINE and engine.version:
        return engine.version
    return UNSUPPORTED


def _resolve_osquery_version(_root: Any, info: GraphQLResolveInfo) -> str:
    return osquery_version(_context(info).device_report().engine)


def _resolve_ip_addresses(_root: Any, info: GraphQLResolveInfo) -> list[dict[str, Any]]:
    return address_entries(_context(info).service.network())


def _resolve_mac_addresses(_root: Any, info: GraphQLResolveInfo) -> list[dict[str, Any]]:
    return [
        {**entry, "physical_adapter": entry["physicalAdapter"]}
        for entry in interface_entries(_context(info).service.network())
    ]


def _resolve_disks(_root: Any, info: GraphQLResolveInfo) -> list[dict[str, Any]]:
    return disks(_context(info).practice("diskEncryption"))


def _resolve_applications(_root: Any, info: GraphQLResolveInfo) -> list[dict[str, Any]]:
    context = _context(info)
    rows = context.rows_of(APPLICATIONS_CHECK)
    rules = context.service.app_policy().applications
    return installed_applications(rows, rules, context.device_facts().context)


def _resolve_extensions(
    _root: Any, info: GraphQLResolveInfo, browser: str | None = None
) -> list[dict[str, str]]:
    return browser_extensions(_context(info).rows_of(EXTENSIONS_CHECK), browser)


def _resolve_hotfixes(_root: Any, info: GraphQLResolveInfo) -> list[dict[str, str | None]]:
    return _installed_hotfixes(_context(info))


def _resolve_user(_root: Any, info: GraphQLResolveInfo) -> dict[str, str | None]:
    context = _context(info)
    name = context.service.account_name() if context.identifiers else None
    return {"name": name, "email": None}


def _resolve_security(
    _root: Any, info: GraphQLResolveInfo, policy: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    context = _context(info)
    states: dict[str, Any] = {
        key: security_state(context.practice(key)) for key in SINGLE_PRACTICES
    }
    states |= dict.fromkeys(UNMEASURED_SECURITY_FIELDS, FeatureState.UNKNOWN.value)
    wanted = [hotfix for hotfix in (policy or {}).get("requiredHotfixes") or () if hotfix]

    def hotfix_state(info: GraphQLResolveInfo) -> str:
        platform = context.device_report().device.platform
        if not wanted or platform != WINDOWS:
            return required_hotfixes_state(platform, None, wanted)
        try:
            installed = _installed_hotfixes(context)
        except ApiError:
            return FeatureState.UNKNOWN.value
        return required_hotfixes_state(platform, installed, wanted)

    states["requiredHotfixes"] = hotfix_state
    return states


def _resolve_policy_result(_root: Any, info: GraphQLResolveInfo) -> str:
    return _context(info).service.evaluate(None).report.status.value


_DEVICE_TEXT_FIELDS = {
    "deviceName": "device_name",
    "platform": "platform",
    "platformName": "platform_name",
    "osVersion": "os_version",
    "osName": "os_name",
    "osBuild": "os_build",
    "firmwareVersion": "firmware_version",
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
    security = schema.type_map["SecuritySoftwareRequirement"]
    assert isinstance(semver, GraphQLScalarType) and isinstance(numeric, GraphQLScalarType)
    assert isinstance(security, GraphQLScalarType)
    _configure_scalar(semver, _semver_value, _semver_literal)
    _configure_scalar(numeric, _numeric_range_value, _numeric_range_literal)
    _configure_scalar(security, _security_software_value, _security_software_literal)
    _bind(
        schema,
        "Query",
        {
            "device": _resolve_device,
            "policy": _resolve_policy,
            "status": _resolve_status,
            "attest": _resolve_attest,
        },
    )
    _bind(
        schema,
        "Policy",
        dict.fromkeys(("validate", "validateWithDetails", "validateV2"), _resolve_validate),
    )
    device: dict[str, Callable[..., Any]] = {
        name: _device_text(attribute) for name, attribute in _DEVICE_TEXT_FIELDS.items()
    }
    device |= {
        "deviceId": _identifier(_device_text("device_id"), None),
        "hardwareSerial": _identifier(_device_text("hardware_serial"), None),
        "ipAddresses": _identifier(_resolve_ip_addresses, []),
        "macAddresses": _identifier(_resolve_mac_addresses, []),
        "friendlyName": _resolve_friendly_name,
        "osqueryVersion": _resolve_osquery_version,
        "disks": _resolve_disks,
        "applications": _resolve_applications,
        "extensions": _resolve_extensions,
        "hotfixes": _resolve_hotfixes,
        "user": _resolve_user,
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


@dataclass(frozen=True)
class _Prepared:
    """A checked document, and whether it asks a bare `validate` (answered by its status)."""

    document: DocumentNode
    bare_validate: bool


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
        self._cache: OrderedDict[str, _Prepared] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def prepare(self, query: str) -> _Prepared | QueryOutcome:
        """Return the parsed, checked document, or the 400 answer saying what is wrong.

        Stethoscope 1.0's forms (`legacy.py`) are rewritten to today's before validation.
        """
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
        document, bare_validate = rewrite_legacy_forms(self._schema, document)
        errors = validate(self._schema, document, self._rules, max_errors=20)
        if errors:
            return QueryOutcome(400, {"errors": [e.formatted for e in errors]})
        prepared = _Prepared(document, bare_validate)
        with self._lock:
            self._cache[query] = prepared
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return prepared

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
            prepared.document,
            context_value=context,
            variable_values=normalize_variables(
                self._schema, prepared.document, operation_name, variables
            ),
            operation_name=operation_name,
        )
        errors = [_format_error(error) for error in result.errors or ()]
        if result.data is None:
            return QueryOutcome(400, {"errors": errors})
        data = unwrap_bare_validate(result.data) if prepared.bare_validate else result.data
        body: dict[str, Any] = {"data": data}
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
