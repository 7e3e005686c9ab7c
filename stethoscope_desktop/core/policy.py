"""The practices policy (`policy.yaml`): Stethoscope-compatible keys, validated and layered.

Keys and meanings follow Netflix's Stethoscope: `osVersion` brackets per platform, requirement
options (`ALWAYS`, `SUGGESTED`, `NEVER`, `IF_SUPPORTED`) for the feature practices, `screenIdle`
as a numeric range of seconds, `applications` rules, and `stethoscopeVersion`. One key of our
own, `customChecks`, lists IT's own Fleet-style checks (see `core.custom_checks`); a
Stethoscope policy without it is unchanged. A key that does not validate is reported (file,
line, key) and left out, so the rest of the file still applies.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from stethoscope_desktop.core.custom_checks import CustomCheck, parse_entries
from stethoscope_desktop.core.versions import (
    NumericRange,
    NumericRangeError,
    VersionRange,
    VersionRangeError,
)
from stethoscope_desktop.core.yamlfile import (
    KeyPath,
    Problem,
    YamlDocument,
    format_key,
    plain_document,
    suggest,
    unknown_keys,
)

FEATURE_PRACTICES = (
    "firewall",
    "diskEncryption",
    "automaticUpdates",
    "screenLock",
    "remoteLogin",
    "openWifiConnections",
)
APPLICATION_LISTS = {
    "requiredApplications": "ALWAYS",
    "bannedApplications": "NEVER",
    "suggestedApplications": "SUGGESTED",
}
CUSTOM_CHECKS_KEY = "customChecks"
POLICY_KEYS = (
    "osVersion",
    *FEATURE_PRACTICES,
    "screenIdle",
    "applications",
    *APPLICATION_LISTS,
    "stethoscopeVersion",
    CUSTOM_CHECKS_KEY,
)
# Platform keys: Stethoscope's (process.platform names plus `ubuntu`, `awsWorkspace`, `all`) and
# the os-release IDs of the Linux distributions people use.
LINUX_DISTRIBUTIONS = (
    "ubuntu",
    "debian",
    "fedora",
    "rhel",
    "centos",
    "rocky",
    "almalinux",
    "opensuse-leap",
    "opensuse-tumbleweed",
    "sles",
    "linuxmint",
    "pop",
    "elementary",
    "zorin",
    "arch",
    "manjaro",
    "kali",
    "amzn",
)
PLATFORM_KEYS = ("darwin", "win32", "linux", "awsWorkspace", "all", *LINUX_DISTRIBUTIONS)
# What people write instead of Node's platform names, for "did you mean" hints.
PLATFORM_ALIASES = {
    "macos": "darwin",
    "mac": "darwin",
    "osx": "darwin",
    "macosx": "darwin",
    "windows": "win32",
    "win": "win32",
    "win64": "win32",
}
APPLICATION_KEYS = (
    "name",
    "assertion",
    "version",
    "platform",
    "paths",
    "description",
    "installFrom",
    "exactMatch",
)
MAX_APP_NAME_CHARS = 200
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
# Python-only regular expression syntax: possessive quantifiers and atomic groups. `Notepad++`
# would silently mean "Notepa" + possessive "d+" in Python; in Stethoscope it was an error.
_NOT_JAVASCRIPT = re.compile(r"(?<!\\)(?:[*+?}]\+|\(\?>)")
MAX_APPLICATIONS = 500


class Requirement(StrEnum):
    """Stethoscope's RequirementOption."""

    ALWAYS = "ALWAYS"
    SUGGESTED = "SUGGESTED"
    NEVER = "NEVER"
    IF_SUPPORTED = "IF_SUPPORTED"


@dataclass(frozen=True)
class VersionBracket:
    """`{ok: range, nudge: range}` for one platform's OS version."""

    ok: VersionRange | None = None
    nudge: VersionRange | None = None


@dataclass(frozen=True)
class ApplicationRule:
    """One `applications` entry: an app that is required, suggested or banned."""

    name: str
    assertion: Requirement = Requirement.ALWAYS
    version: VersionRange | None = None
    platform: Mapping[str, VersionRange | bool] | None = None
    paths: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    install_from: str = ""
    exact_match: bool = False
    source: str = ""

    def matches(self, installed_name: str) -> bool:
        """Return True if an installed app's name matches this rule's name."""
        if self.exact_match:
            return installed_name.casefold() == self.name.casefold()
        return re.search(self.name, installed_name, re.IGNORECASE) is not None


@dataclass(frozen=True)
class Policy:
    """A validated policy. Absent practices are not required."""

    os_version: Mapping[str, VersionBracket] = field(default_factory=dict)
    features: Mapping[str, Requirement] = field(default_factory=dict)
    screen_idle: NumericRange | None = None
    applications: tuple[ApplicationRule, ...] = ()
    stethoscope_version: VersionRange | None = None
    # Which file each top-level key (and osVersion platform) came from, for the report.
    sources: Mapping[str, str] = field(default_factory=dict)
    # IT's own checks, from `customChecks` and the `checks.d` folders, in layer order.
    custom_checks: tuple[CustomCheck, ...] = ()


@dataclass
class PolicyLayer:
    """The valid keys of one policy file, parsed, and what was wrong with the rest."""

    file: str
    values: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    # Where each key came from, so that a merge problem names the right line and key.
    doc: YamlDocument | None = field(default=None, repr=False, compare=False)
    rule_paths: dict[str, KeyPath] = field(default_factory=dict, repr=False, compare=False)
    # Keys the file sets, valid or not (`firewall`, `osVersion.darwin`), and whether it could
    # not be read as a policy at all: IT's layer locks these too (see merge_layers).
    claimed: set[str] = field(default_factory=set, repr=False, compare=False)
    unreadable: bool = False

    def problem(self, path: KeyPath, message: str) -> Problem:
        """Return a problem located at `path` in this layer's file."""
        if self.doc is not None:
            return self.doc.problem(path, message)
        return Problem(self.file, message, format_key(path))


def _version_range(
    doc: YamlDocument, path: KeyPath, value: Any, problems: list[Problem]
) -> VersionRange | None:
    if not isinstance(value, str):
        problems.append(
            doc.problem(path, f'must be a version range in quotes, e.g. ">=14.6" (got {value!r})')
        )
        return None
    try:
        return VersionRange.parse(value)
    except VersionRangeError as error:
        problems.append(doc.problem(path, str(error)))
        return None


def _requirement(
    doc: YamlDocument, path: KeyPath, value: Any, problems: list[Problem]
) -> Requirement | None:
    choices = [r.value for r in Requirement]
    if isinstance(value, str) and value in choices:
        return Requirement(value)
    if value is None:
        problems.append(doc.problem(path, f"has no value; give one of {', '.join(choices)}"))
        return None
    hint = suggest(str(value), choices) if isinstance(value, str) else ""
    problems.append(doc.problem(path, f"{value!r} is not one of {', '.join(choices)}{hint}"))
    return None


def _os_version(
    doc: YamlDocument, value: Any, problems: list[Problem]
) -> dict[str, VersionBracket] | None:
    path: KeyPath = ("osVersion",)
    if not isinstance(value, dict):
        problems.append(
            doc.problem(path, "must map platforms (darwin, win32, linux, …) to {ok, nudge}")
        )
        return None
    problems += unknown_keys(doc, value, path, PLATFORM_KEYS, PLATFORM_ALIASES)
    brackets: dict[str, VersionBracket] = {}
    for platform, bracket in value.items():
        if platform not in PLATFORM_KEYS:
            continue
        where = (*path, platform)
        if not isinstance(bracket, dict):
            problems.append(doc.problem(where, 'must be {ok: ">=x.y", nudge: ">=x.y"}'))
            continue
        before = len(problems)
        problems += unknown_keys(doc, bracket, where, ("ok", "nudge"))
        ok = (
            _version_range(doc, (*where, "ok"), bracket["ok"], problems)
            if "ok" in bracket
            else None
        )
        nudge = (
            _version_range(doc, (*where, "nudge"), bracket["nudge"], problems)
            if "nudge" in bracket
            else None
        )
        if "ok" not in bracket and "nudge" not in bracket:
            problems.append(doc.problem(where, "needs ok, nudge or both"))
        if len(problems) == before:
            brackets[platform] = VersionBracket(ok, nudge)
    return brackets


def _application(
    doc: YamlDocument,
    path: KeyPath,
    item: Any,
    default: Requirement | None,
    problems: list[Problem],
) -> ApplicationRule | None:
    if not isinstance(item, dict):
        problems.append(
            doc.problem(path, "each application must be a mapping with at least a name")
        )
        return None
    before = len(problems)
    problems += unknown_keys(doc, item, path, APPLICATION_KEYS)
    name = item.get("name")
    exact = item.get("exactMatch", False)
    if not isinstance(exact, bool):
        problems.append(doc.problem((*path, "exactMatch"), "must be true or false"))
        exact = False
    if not isinstance(name, str) or not name.strip():
        problems.append(
            doc.problem(
                (*path, "name"),
                "missing; the application's name (a regular expression unless exactMatch is true)",
            )
        )
    elif len(name) > MAX_APP_NAME_CHARS:
        problems.append(
            doc.problem((*path, "name"), f"longer than {MAX_APP_NAME_CHARS} characters")
        )
    elif not exact:
        try:
            re.compile(name)
        except re.error as error:
            problems.append(
                doc.problem(
                    (*path, "name"),
                    f"not a valid regular expression: {error} "
                    "(set exactMatch: true to match the name literally)",
                )
            )
        else:
            if (found := _NOT_JAVASCRIPT.search(name)) is not None:
                problems.append(
                    doc.problem(
                        (*path, "name"),
                        f"{found.group(0)!r} is not valid in Stethoscope's (JavaScript) regular "
                        "expressions; escape it (e.g. Notepad\\+\\+) or set exactMatch: true",
                    )
                )
    assertion = default or Requirement.ALWAYS
    if "assertion" in item:
        assertion = (
            _requirement(doc, (*path, "assertion"), item["assertion"], problems) or assertion
        )
    elif default is None:
        problems.append(
            doc.problem(
                (*path, "assertion"), "missing; one of ALWAYS, SUGGESTED, NEVER, IF_SUPPORTED"
            )
        )
    version = (
        _version_range(doc, (*path, "version"), item["version"], problems)
        if item.get("version") not in (None, "")
        else None
    )
    platform: dict[str, VersionRange | bool] | None = None
    if "platform" in item and item["platform"] is not None:
        raw = item["platform"]
        if not isinstance(raw, dict):
            problems.append(
                doc.problem(
                    (*path, "platform"),
                    'must map platforms to version ranges, e.g. {darwin: ">=13"} or {all: true}',
                )
            )
        else:
            problems += unknown_keys(doc, raw, (*path, "platform"), PLATFORM_KEYS, PLATFORM_ALIASES)
            platform = {}
            for key, value in raw.items():
                if key not in PLATFORM_KEYS:
                    continue
                if isinstance(value, bool):
                    platform[key] = value
                else:
                    parsed = _version_range(doc, (*path, "platform", key), value, problems)
                    if parsed is not None:
                        platform[key] = parsed
    paths: dict[str, str] = {}
    if "paths" in item and item["paths"] is not None:
        raw_paths = item["paths"]
        if not isinstance(raw_paths, dict):
            problems.append(doc.problem((*path, "paths"), "must map platforms to folders"))
        else:
            problems += unknown_keys(
                doc, raw_paths, (*path, "paths"), PLATFORM_KEYS, PLATFORM_ALIASES
            )
            for key, folder in raw_paths.items():
                if not isinstance(folder, str):
                    problems.append(doc.problem((*path, "paths", key), "must be a folder path"))
                elif key in PLATFORM_KEYS:
                    paths[key] = folder
    texts: dict[str, str] = {}
    for key in ("description", "installFrom"):
        value = item.get(key, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            problems.append(doc.problem((*path, key), "must be text"))
            value = ""
        texts[key] = value.strip()
    if len(problems) != before or not isinstance(name, str):
        return None
    return ApplicationRule(
        name=name.strip(),
        assertion=assertion,
        version=version,
        platform=platform,
        paths=paths,
        description=texts["description"],
        install_from=texts["installFrom"],
        exact_match=exact,
        source=doc.file,
    )


def parse_policy(doc: YamlDocument) -> PolicyLayer:
    """Validate a policy document key by key; invalid keys are reported and left out."""
    layer = PolicyLayer(doc.file, doc=doc)
    data = doc.data
    if data is None:
        layer.problems.append(doc.problem((), "the policy file is empty"))
        layer.unreadable = True
        return layer
    if not isinstance(data, dict):
        layer.problems.append(
            doc.problem((), "a policy must be a mapping of practice names to requirements")
        )
        layer.unreadable = True
        return layer
    layer.problems += unknown_keys(doc, data, (), POLICY_KEYS)
    layer.claimed = {
        key
        for key in data
        if key in POLICY_KEYS
        and key not in ("osVersion", "applications", CUSTOM_CHECKS_KEY, *APPLICATION_LISTS)
    }
    if isinstance(data.get("osVersion"), dict):
        layer.claimed |= {f"osVersion.{p}" for p in data["osVersion"] if p in PLATFORM_KEYS}
    for key, value in data.items():
        problems: list[Problem] = []
        parsed: Any = None
        if key == "osVersion":
            parsed = _os_version(doc, value, problems)
        elif key in FEATURE_PRACTICES:
            parsed = _requirement(doc, (key,), value, problems)
        elif key == "screenIdle":
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                problems.append(
                    doc.problem((key,), 'must be a range of seconds in quotes, e.g. "<=600"')
                )
            else:
                # A bare number is the longest time allowed: 600 (or "600") means "<=600".
                text = str(value).strip()
                if _NUMBER.fullmatch(text):
                    text = f"<={text}"
                try:
                    parsed = NumericRange.parse(text)
                except NumericRangeError as error:
                    problems.append(doc.problem((key,), str(error)))
        elif key == "stethoscopeVersion":
            parsed = _version_range(doc, (key,), value, problems)
        elif key == CUSTOM_CHECKS_KEY:
            if value is not None:
                parsed, found = parse_entries(doc, (key,), value)
                problems += found
        elif key == "applications" or key in APPLICATION_LISTS:
            default = Requirement(APPLICATION_LISTS[key]) if key in APPLICATION_LISTS else None
            if not isinstance(value, list):
                problems.append(doc.problem((key,), "must be a list of applications"))
            elif len(value) > MAX_APPLICATIONS:
                problems.append(doc.problem((key,), f"more than {MAX_APPLICATIONS} applications"))
            else:
                rules = [
                    _application(doc, (key, index), item, default, problems)
                    for index, item in enumerate(value)
                ]
                parsed = []
                for index, rule in enumerate(rules):
                    if rule is None:
                        continue
                    if rule.name in layer.rule_paths or any(r.name == rule.name for r in parsed):
                        first = format_key(layer.rule_paths.get(rule.name, (key,)))
                        problems.append(
                            doc.problem(
                                (key, index, "name"),
                                f"a rule for {rule.name!r} is already at {first}; "
                                "this one is ignored",
                            )
                        )
                        continue
                    layer.rule_paths[rule.name] = (key, index, "name")
                    parsed.append(rule)
        else:
            continue
        layer.problems += problems
        if parsed is not None:
            if key in APPLICATION_LISTS:
                layer.values.setdefault("applications", []).extend(parsed)
            elif key == "applications":
                layer.values.setdefault("applications", [])[:0] = parsed
            else:
                layer.values[key] = parsed
    return layer


def merge_layers(
    layers: list[PolicyLayer], locked_from: int | None = None, locked_to: int | None = None
) -> tuple[Policy, list[Problem]]:
    """Merge layers, later over earlier. Keys set by IT's layers cannot be changed later.

    IT's layers are `locked_from` to `locked_to` (inclusive; by default just `locked_from`): the
    policy server's and the machine-wide folder's. A later one of them may change what an
    earlier one set (IT's folder wins over the policy server); a layer after them (a user's or
    a test folder) may add practices IT left out, and application rules, but may not weaken IT's.
    """
    last_it = locked_from if locked_to is None else locked_to
    os_version: dict[str, VersionBracket] = {}
    values: dict[str, Any] = {}
    applications: list[ApplicationRule] = []
    custom_checks: list[CustomCheck] = []
    sources: dict[str, str] = {}
    problems: list[Problem] = []
    locked: set[str] = set()
    for index, layer in enumerate(layers):
        is_it = locked_from is not None and last_it is not None and locked_from <= index <= last_it
        for key, value in layer.values.items():
            if key == "osVersion":
                for platform, bracket in value.items():
                    slot = f"osVersion.{platform}"
                    if slot in locked and not is_it:
                        problems.append(
                            layer.problem(
                                ("osVersion", platform),
                                "ignored: IT's policy sets this and cannot be weakened here",
                            )
                        )
                        continue
                    os_version[platform] = bracket
                    sources[slot] = layer.file
                continue
            if key == "applications":
                taken = {
                    rule.name
                    for rule in applications
                    if f"applications:{rule.name}" in locked and not is_it
                }
                for rule in value:
                    if rule.name in taken:
                        problems.append(
                            layer.problem(
                                layer.rule_paths.get(rule.name, ("applications",)),
                                f"ignored: IT's policy has a rule for {rule.name!r}",
                            )
                        )
                        continue
                    applications = [r for r in applications if r.name != rule.name]
                    applications.append(rule)
                continue
            if key == CUSTOM_CHECKS_KEY:
                custom_checks = _merge_custom_checks(
                    custom_checks, value, set() if is_it else locked, problems
                )
                continue
            if key in locked and not is_it:
                problems.append(
                    layer.problem(
                        (key,), "ignored: IT's policy sets this and cannot be weakened here"
                    )
                )
                continue
            values[key] = value
            sources[key] = layer.file
        if is_it:
            locked |= {
                k for k in layer.values if k not in ("osVersion", "applications", CUSTOM_CHECKS_KEY)
            }
            locked |= {f"osVersion.{p}" for p in layer.values.get("osVersion", {})}
            locked |= {f"applications:{r.name}" for r in layer.values.get("applications", [])}
            locked |= {
                f"{CUSTOM_CHECKS_KEY}:{c.key}" for c in layer.values.get(CUSTOM_CHECKS_KEY, [])
            }
            # A key IT wrote but got wrong keeps the value below it (the bundled default), and
            # a later layer may not weaken that either; nor anything at all when IT's file could
            # not be read, since what IT meant is unknown.
            locked |= layer.claimed
            if layer.unreadable:
                locked |= set(values) | {f"osVersion.{p}" for p in os_version}
                locked |= {f"applications:{r.name}" for r in applications}
                locked |= {f"{CUSTOM_CHECKS_KEY}:{c.key}" for c in custom_checks}
    features = {key: values[key] for key in FEATURE_PRACTICES if key in values}
    policy = Policy(
        os_version=os_version,
        features=features,
        screen_idle=values.get("screenIdle"),
        applications=tuple(applications),
        stethoscope_version=values.get("stethoscopeVersion"),
        sources=sources,
        custom_checks=tuple(custom_checks),
    )
    return policy, problems


def _merge_custom_checks(
    merged: list[CustomCheck],
    checks: list[CustomCheck],
    locked: set[str],
    problems: list[Problem],
) -> list[CustomCheck]:
    """Layer `checks` over `merged` by key; a check IT's layer has cannot be replaced."""
    for check in checks:
        if f"{CUSTOM_CHECKS_KEY}:{check.key}" in locked:
            problems.append(
                check.problem(f"ignored: IT's policy has a check with the key {check.key!r}")
            )
            continue
        merged = [c for c in merged if c.key != check.key]
        merged.append(check)
    return merged


def policy_from_mapping(
    data: Mapping[str, Any], source: str = "request"
) -> tuple[Policy, list[Problem]]:
    """Validate a policy given as data (a web page's JSON) and return it with its problems.

    A web page's policy cannot bring checks of its own: `customChecks` (SQL to run on this
    machine) is read only from IT's files.
    """
    layer = parse_policy(plain_document(source, dict(data)))
    if CUSTOM_CHECKS_KEY in layer.values:
        del layer.values[CUSTOM_CHECKS_KEY]
        layer.problems.append(
            Problem(source, "ignored: only IT's policy files may add checks", CUSTOM_CHECKS_KEY)
        )
    policy, problems = merge_layers([layer])
    return policy, layer.problems + problems
