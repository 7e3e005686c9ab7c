"""The practices policy (`policy.yaml`): Stethoscope-compatible keys, declared, validated, layered.

Keys and meanings follow Netflix's Stethoscope: `osVersion` brackets per platform, requirement
options (`ALWAYS`, `SUGGESTED`, `NEVER`, `IF_SUPPORTED`) for the feature practices, `screenIdle`
as a numeric range of seconds, `applications` rules, and `stethoscopeVersion`. Keys of our
own: `customChecks` lists IT's own Fleet-style checks (see `core.custom_checks`), and
`securitySoftware` requires antivirus or endpoint protection (optionally one of named products);
a Stethoscope policy without them is unchanged.

`POLICY_FORMAT` declares every key once: the loader reads files with it and
`resources/schemas/policy.schema.json` is written from it. A key that does not validate is
reported (file, line, key) and left out, so the rest of the file still applies. What follows the
declaration is what it can't say: the older application lists folded into one, duplicate rules,
and the layering of IT's policy over the bundled one.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any

from stethoscope_desktop import STETHOSCOPE_RELEASE
from stethoscope_desktop.core.custom_checks import CHECK_LIST, CustomCheck
from stethoscope_desktop.core.fileformat import (
    Choice,
    Converted,
    EitherOf,
    Field,
    FileFormat,
    Flag,
    KeyType,
    ListOf,
    MapOf,
    OrNull,
    Reading,
    Record,
    SecondsRange,
    Text,
    TextOr,
    VersionRangeText,
)
from stethoscope_desktop.core.outside_patterns import (
    PatternError,
    PatternSet,
    compile_outside_pattern,
    pattern_problem,
)
from stethoscope_desktop.core.versions import NumericRange, VersionRange
from stethoscope_desktop.core.yamlfile import (
    KeyPath,
    Problem,
    YamlDocument,
    format_key,
    plain_document,
)

APPLICATION_LISTS = {
    "requiredApplications": "ALWAYS",
    "bannedApplications": "NEVER",
    "suggestedApplications": "SUGGESTED",
}
CUSTOM_CHECKS_KEY = "customChecks"
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
# Each platform key and the OS versions it is compared with.
PLATFORMS: Mapping[str, str] = {
    "darwin": "macOS. Versions as macOS reports them: 15.7.0, 26.0.1.",
    "win32": "Windows. Versions are 10.0.<build>: Windows 11 24H2 is 10.0.26100, Windows 10 22H2 "
    "is 10.0.19045.",
    "linux": "Any Linux distribution that has no key of its own here. Versions are the "
    "distribution's VERSION_ID from /etc/os-release (24.04 reads as 24.4.0).",
    "awsWorkspace": "Amazon WorkSpaces virtual desktops (Windows); used instead of win32 there. "
    "Versions are 10.0.<build>.",
    "all": "Every platform: used where the device's own platform has no key.",
    **{
        name: f"Linux distribution whose /etc/os-release ID is `{name}`; used instead of `linux` "
        "there. Versions are its VERSION_ID (24.04 reads as 24.4.0)."
        for name in LINUX_DISTRIBUTIONS
    },
}
PLATFORM_KEYS = tuple(PLATFORMS)
# The platform keys' names for people (a distribution goes by its key).
PLATFORM_NAMES = {
    "darwin": "macOS",
    "win32": "Windows",
    "linux": "Linux",
    "awsWorkspace": "Amazon WorkSpaces",
    "all": "every platform",
}
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
MAX_APP_NAME_CHARS = 200
MAX_APPLICATIONS = 500
# Python-only regular expression syntax: possessive quantifiers and atomic groups. `Notepad++`
# would silently mean "Notepa" + possessive "d+" in Python; in Stethoscope it was an error.
_NOT_JAVASCRIPT = r"(?:[*+?}]\+|\(\?>)"
_NOT_JAVASCRIPT_IN_NAME = re.compile(r"(?<!\\)" + _NOT_JAVASCRIPT)


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
        try:
            pattern = compile_outside_pattern(self.name, ignore_case=True)
        except PatternError:
            return False  # validation refuses such a name; a rule built in code matches nothing
        return pattern.search(installed_name)


def match_applications(
    rules: Sequence[ApplicationRule], names: Sequence[str]
) -> list[tuple[int, ...]]:
    """Return, for each rule, the indices of the installed `names` it matches (`matches`' verdict).

    Done for all rules at once, as a policy's evaluation needs: an exact name is a dictionary
    look-up, and every pattern is searched in a name by one RE2 Set call, so 500 rules against
    3,000 names is 3,000 calls, not 1.5 million.
    """
    global _last_matched
    key: _MatchKey = (tuple((rule.name, rule.exact_match) for rule in rules), tuple(names))
    last = _last_matched
    if last is not None and last[0] == key:  # the same rules and names as last time
        return list(last[1])
    matched = _match_applications(rules, names)
    _last_matched = (key, tuple(matched))
    return matched


# The last call's rules (name, exact) and names, and its answer: a scan of an unchanged machine
# asks again with the very same strings, which compare by identity before their characters.
_MatchKey = tuple[tuple[tuple[str, bool], ...], tuple[str, ...]]
_last_matched: tuple[_MatchKey, tuple[tuple[int, ...], ...]] | None = None


def _match_applications(
    rules: Sequence[ApplicationRule], names: Sequence[str]
) -> list[tuple[int, ...]]:
    by_folded_name: dict[str, list[int]] = {}
    for index, name in enumerate(names):
        by_folded_name.setdefault(name.casefold(), []).append(index)
    patterns: dict[str, int] = {}  # a pattern's text -> its place in the set
    for rule in rules:
        if (
            not rule.exact_match
            and rule.name not in patterns
            and pattern_problem(rule.name, ignore_case=True) is None
        ):
            patterns[rule.name] = len(patterns)
    found: list[list[int]] = [[] for _ in patterns]
    if patterns:
        searched = _application_patterns(tuple(patterns))
        for index, name in enumerate(names):
            for place in searched.matching(name):
                found[place].append(index)
    matched: list[tuple[int, ...]] = []
    for rule in rules:
        if rule.exact_match:
            matched.append(tuple(by_folded_name.get(rule.name.casefold(), ())))
        elif rule.name in patterns:
            matched.append(tuple(found[patterns[rule.name]]))
        else:
            matched.append(())  # validation refuses such a name; a rule built in code matches none
    return matched


@lru_cache(maxsize=8)
def _application_patterns(texts: tuple[str, ...]) -> PatternSet:
    """Return the PatternSet of these application names (each accepted), kept between scans.

    Kept, it remembers each installed name's answer, so a scan of an unchanged machine matches
    no name again. The bundled policy and a few pages' policies fit in the cache.
    """
    return PatternSet([compile_outside_pattern(text, ignore_case=True) for text in texts])


def _folded(text: str) -> str:
    """Return `text` case-folded with its runs of blanks made one space, for comparing names."""
    return " ".join(text.casefold().split())


@dataclass(frozen=True)
class SecuritySoftwareRule:
    """`securitySoftware`: antivirus or endpoint protection must run (optionally a named one).

    Without `products`, any product the platform recognises counts, its built-in protection
    included (Microsoft Defender Antivirus, XProtect). With them, only a product whose name
    contains one of them, ignoring case and spacing ("crowdstrike" accepts "CrowdStrike Falcon
    Sensor"); they are names, not regular expressions.
    """

    requirement: Requirement = Requirement.ALWAYS
    products: tuple[str, ...] = ()

    def accepts(self, product_name: str) -> bool:
        """Return True if a product of this name satisfies the rule."""
        if not self.products:
            return True
        name = _folded(product_name)
        return any(_folded(product) in name for product in self.products)

    def __str__(self) -> str:
        """Return the rule as written: `ALWAYS`, or `ALWAYS (CrowdStrike, Carbon Black)`."""
        if not self.products:
            return self.requirement.value
        return f"{self.requirement.value} ({', '.join(self.products)})"


@dataclass(frozen=True)
class Policy:
    """A validated policy. Absent practices are not required."""

    os_version: Mapping[str, VersionBracket] = field(default_factory=dict)
    features: Mapping[str, Requirement] = field(default_factory=dict)
    screen_idle: NumericRange | None = None
    applications: tuple[ApplicationRule, ...] = ()
    stethoscope_version: VersionRange | None = None
    stethoscope_desktop_version: VersionRange | None = None
    # Which file each top-level key (and osVersion platform) came from, for the report.
    sources: Mapping[str, str] = field(default_factory=dict)
    # IT's own checks, from `customChecks` and the `checks.d` folders, in layer order.
    custom_checks: tuple[CustomCheck, ...] = ()
    security_software: SecuritySoftwareRule | None = None

    def named_practices(self) -> frozenset[str]:
        """Return the built-in practices this policy names, whatever the platform."""
        named = set(self.features)
        given = {
            "osVersion": bool(self.os_version),
            "screenIdle": self.screen_idle is not None,
            "stethoscopeVersion": self.stethoscope_version is not None,
            "stethoscopeDesktopVersion": self.stethoscope_desktop_version is not None,
            "applications": bool(self.applications),
            "securitySoftware": self.security_software is not None,
        }
        return frozenset(named | {practice for practice, named_it in given.items() if named_it})


# -- the declaration ----------------------------------------------------------------------------

_REQUIREMENT_OPTIONS = ", ".join(Requirement)
REQUIREMENT = Choice(
    {
        "ALWAYS": "Must be on (installed): otherwise a critical failure.",
        "SUGGESTED": "Recommended: otherwise a nudge.",
        "NEVER": "Must be off (not installed): otherwise a critical failure.",
        "IF_SUPPORTED": "Must be on where the device can tell; where it cannot, not held against "
        "the user.",
    },
    name="requirement",
    description="A requirement option. ALWAYS: must be on (off is a critical failure). SUGGESTED: "
    "recommended (off is a nudge). NEVER: must be off (on is a critical failure). IF_SUPPORTED: "
    "like ALWAYS where the device can tell; where it cannot, it is not held against the user.",
    null_message=f"has no value; give one of {_REQUIREMENT_OPTIONS}",
    convert=Requirement,
    any_case=True,  # Stethoscope read `Always` as ALWAYS
)
# An application rule's assertion: Stethoscope read these in capitals only.
ASSERTION = dataclasses.replace(
    REQUIREMENT,
    any_case=False,
    name="assertion",
    description="What an application rule asserts, in capitals. ALWAYS: must be installed "
    "(missing is a critical failure). SUGGESTED: recommended (missing is a nudge). NEVER: must "
    "not be installed. IF_SUPPORTED: where installed, in the version range.",
)
VERSION_RANGE = VersionRangeText()
VERSION_BRACKET = TextOr(
    # Stethoscope's first policies gave one range per platform: inside it passes, else fails.
    Converted(VERSION_RANGE, lambda reading, path, allowed: VersionBracket(ok=allowed)),
    Converted(
        Record(
            [
                Field("ok", VERSION_RANGE, "Versions that pass."),
                Field(
                    "nudge",
                    VERSION_RANGE,
                    "Versions that do not pass but only get a nudge; all others fail.",
                ),
            ],
            message='must be {ok: ">=x.y", nudge: ">=x.y"} or one version range in quotes',
            name="versionBracket",
            description='OS version bracket: {ok: ">=14.6", nudge: ">=13.6"}. Inside ok: PASS; '
            "else inside nudge: NUDGE (a suggestion to update); else FAIL. At least one of the "
            'two. One range alone (">=14.6", as Stethoscope\'s first policies wrote it) is ok.',
            whole=True,
            at_least_one=(("ok", "nudge"), "needs ok, nudge or both"),
        ),
        lambda reading, path, values: VersionBracket(**values),
    ),
)


def _check_application_name(
    reading: Reading, path: KeyPath, raw: Mapping[str, Any], values: dict[str, Any]
) -> None:
    """A rule's name is a JavaScript regular expression, as Stethoscope's was, unless exact."""
    name = values.get("name")
    if name is None or values.get("exact_match", False):
        return
    where = (*path, "name")
    problem = pattern_problem(name, ignore_case=True)
    if problem is not None and problem.syntax:
        reading.fail(where, f"{problem} (set exactMatch: true to match the name literally)")
    elif (found := _NOT_JAVASCRIPT_IN_NAME.search(name)) is not None:
        reading.fail(
            where,
            f"{found.group(0)!r} is not valid in Stethoscope's (JavaScript) regular expressions; "
            "escape it (e.g. Notepad\\+\\+) or set exactMatch: true",
        )
    elif problem is not None:
        reading.fail(where, f"{problem} (set exactMatch: true to match the name literally)")


_NAME_MISSING = "missing; the application's name (a regular expression unless exactMatch is true)"
APPLICATION_RULE = Record(
    [
        Field(
            "name",
            Text(message=_NAME_MISSING, missing=_NAME_MISSING, max_length=MAX_APP_NAME_CHARS),
            "The application's name as installed (package name on Linux, app name on macOS, "
            "display name on Windows). A regular expression matched anywhere in the name, "
            "case-insensitively (anchor it with ^ and $ to match a whole name), unless exactMatch "
            "is true. Write it in JavaScript syntax, as Stethoscope did: a literal + is \\+ "
            "(Notepad\\+\\+). It runs in linear time (RE2): no back-references or lookaround.",
            missing=_NAME_MISSING,
        ),
        Field(
            "assertion",
            ASSERTION,
            "ALWAYS: must be installed (missing or outdated fails). IF_SUPPORTED: where it is "
            "installed it must be in the version range (outdated fails; missing passes). "
            "SUGGESTED: recommended (missing or outdated is a nudge). NEVER: banned (installed "
            "fails; with a version range, only versions inside it are banned).",
        ),
        Field(
            "version",
            OrNull(VERSION_RANGE, blank=True),
            "A version range the installed application must satisfy (for a banned one: the "
            "banned versions). Empty or absent: any version.",
        ),
        Field(
            "platform",
            OrNull(
                MapOf(
                    {
                        key: f"{text} A version range (the rule applies on OS versions inside "
                        "it) or true/false."
                        for key, text in PLATFORMS.items()
                    },
                    EitherOf(Flag(), VERSION_RANGE),
                    message="must map platforms to version ranges, e.g. "
                    '{darwin: ">=13"} or {all: true}',
                    aliases=PLATFORM_ALIASES,
                )
            ),
            "Where the rule applies: platforms mapped to an OS version range or true/false, e.g. "
            '{darwin: ">=13"} or {all: true}. The most specific key that matches the device '
            "decides (ubuntu, then linux, then all). Absent: every platform.",
        ),
        Field(
            "paths",
            OrNull(
                MapOf(
                    {
                        key: f"The folder on {PLATFORM_NAMES[key]}."
                        if key in PLATFORM_NAMES
                        else f"The folder on the Linux distribution `{key}`."
                        for key in PLATFORMS
                    },
                    Text(message="must be a folder path", strip=False),
                    message="must map platforms to folders",
                    aliases=PLATFORM_ALIASES,
                ),
                {},
            ),
            "Per platform, the folder the application is installed in.",
        ),
        Field(
            "description",
            OrNull(Text(), ""),
            "Why this rule exists, shown to the user in place of the generic text.",
        ),
        Field(
            "installFrom",
            OrNull(Text(), ""),
            "Where to get the application (a URL or a short instruction), shown to the user.",
            attribute="install_from",
        ),
        Field(
            "exactMatch",
            Flag(),
            "true: match the name literally (ignoring case) instead of as a regular expression.",
            attribute="exact_match",
            default=False,
        ),
    ],
    message="each application must be a mapping with at least a name",
    name="applicationRule",
    description="An application that is required, suggested or banned.",
    whole=True,
    check=_check_application_name,
    schema_extra={
        # The schema's side of _check_application_name.
        "if": {"properties": {"exactMatch": {"const": True}}, "required": ["exactMatch"]},
        "else": {
            "properties": {
                "name": {"format": "regex", "not": {"pattern": r"(?:^|[^\\])" + _NOT_JAVASCRIPT}}
            }
        },
    },
)


@dataclass(frozen=True)
class _PlacedRule:
    """An application rule read from a file, and where its name is."""

    rule: ApplicationRule
    path: KeyPath


def _rules(default: Requirement | None) -> KeyType:
    """Return the type of a list of rules whose assertion is `default` where none is given."""
    given = default or Requirement.ALWAYS
    rule: KeyType = APPLICATION_RULE
    if default is None:
        rule = APPLICATION_RULE.requiring(
            assertion=f"missing; one of {_REQUIREMENT_OPTIONS}",
        )
    return ListOf(
        Converted(
            rule,
            lambda reading, path, values: _PlacedRule(
                ApplicationRule(**{"assertion": given, **values}, source=reading.doc.file),
                (*path, "name"),
            ),
        ),
        message="must be a list of applications",
        max_items=MAX_APPLICATIONS,
        too_many=f"more than {MAX_APPLICATIONS} applications",
    )


# -- securitySoftware ---------------------------------------------------------------------------

MAX_SECURITY_PRODUCTS = 50
MAX_PRODUCT_NAME_CHARS = 100
_SECURITY_OPTIONS = "ALWAYS, SUGGESTED or IF_SUPPORTED"


SECURITY_REQUIREMENT = Choice(
    {
        "ALWAYS": "An accepted product must be running: otherwise a critical failure.",
        "SUGGESTED": "Recommended: when none is running, a nudge.",
        "IF_SUPPORTED": "Like ALWAYS where this platform can list its security software; where it "
        "cannot (Windows Server has no Security Center), not held against the user.",
    },
    name="securitySoftwareOption",
    description="Whether an accepted antivirus or endpoint protection product must be running "
    "(NEVER is not an option: security software cannot be banned).",
    null_message=f"has no value; give one of {_SECURITY_OPTIONS}",
    convert=Requirement,
)
_PRODUCT_MISSING = "must be a product's name, e.g. CrowdStrike"


# A word (`ALWAYS`), or a mapping that names the accepted products too.
SECURITY_SOFTWARE = TextOr(
    Converted(
        SECURITY_REQUIREMENT,
        lambda reading, path, requirement: SecuritySoftwareRule(requirement),
    ),
    Converted(
        Record(
            [
                Field(
                    "requirement",
                    SECURITY_REQUIREMENT,
                    f"{_SECURITY_OPTIONS}: whether an accepted product must be running.",
                    missing=f"missing; one of {_SECURITY_OPTIONS}",
                ),
                Field(
                    "products",
                    ListOf(
                        Text(
                            message=_PRODUCT_MISSING,
                            missing=_PRODUCT_MISSING,
                            max_length=MAX_PRODUCT_NAME_CHARS,
                        ),
                        message="must be a list of product names, e.g. [CrowdStrike, Carbon Black]",
                        max_items=MAX_SECURITY_PRODUCTS,
                        too_many=f"more than {MAX_SECURITY_PRODUCTS} products",
                        # An empty list would accept nothing.
                        min_items=1,
                        too_few="is empty; name at least one product, or leave products out to "
                        "accept any",
                    ),
                    "The accepted products. A product counts when its name contains one of "
                    "these, ignoring case and spacing: CrowdStrike accepts CrowdStrike Falcon "
                    "Sensor, Defender accepts Windows Defender and Microsoft Defender for "
                    "Endpoint. Plain names, not regular expressions. Absent: any product.",
                ),
            ],
            message=f"must be {_SECURITY_OPTIONS}, or a mapping with requirement and products",
            whole=True,
        ),
        lambda reading, path, values: SecuritySoftwareRule(
            values["requirement"],
            tuple(dict.fromkeys(" ".join(name.split()) for name in values.get("products", ()))),
        ),
    ),
)


_LISTS: Mapping[str, str] = {
    "requiredApplications": "applications that must be installed",
    "bannedApplications": "applications that must not be installed",
    "suggestedApplications": "applications that are recommended",
}


def _in_words(key: str) -> str:
    """Return a camelCase key in lower-case words: `osVersion` -> `os version`."""
    return re.sub(r"[A-Z]", lambda capital: " " + capital.group(0).lower(), key)


# Stethoscope's first policies (2018) wrote keys in words: `os version`, `disk encryption`.
_SPACED_KEYS = {
    _in_words(key): key
    for key in (
        "osVersion",
        "diskEncryption",
        "automaticUpdates",
        "screenLock",
        "screenIdle",
        "remoteLogin",
        "openWifiConnections",
        "stethoscopeVersion",
        "requiredApplications",
        "bannedApplications",
        "suggestedApplications",
    )
}
POLICY = Record(
    [
        Field(
            "osVersion",
            MapOf(
                PLATFORMS,
                VERSION_BRACKET,
                message="must map platforms (darwin, win32, linux, …) to {ok, nudge}",
                aliases=PLATFORM_ALIASES,
            ),
            "Operating system version brackets per platform. The most specific key that matches "
            "the device is used (e.g. debian, then linux, then all; awsWorkspace, then win32, "
            "then all).",
        ),
        # The feature practices: a setting that is on or off, against a requirement option.
        Field("firewall", REQUIREMENT, "Whether the firewall must be on."),
        Field(
            "diskEncryption",
            REQUIREMENT,
            "Whether the system disk must be encrypted (FileVault, BitLocker, LUKS).",
        ),
        Field(
            "automaticUpdates",
            REQUIREMENT,
            "Whether automatic operating system updates must be on.",
        ),
        Field(
            "screenLock",
            REQUIREMENT,
            "Whether the screen must lock (ask for a password) after inactivity or sleep.",
        ),
        Field(
            "remoteLogin",
            REQUIREMENT,
            "Whether remote login (SSH, Remote Desktop) may be on; usually NEVER.",
        ),
        Field(
            "openWifiConnections",
            REQUIREMENT,
            "Whether the device must remember no open (password-less) Wi-Fi networks, which it "
            "would join again by itself: ALWAYS means none may be saved (SUGGESTED: a nudge "
            "while one is). As in Stethoscope, the practice holds when none is saved.",
        ),
        Field(
            "screenIdle",
            SecondsRange(),
            'Seconds of inactivity until the screen locks, as a numeric range in quotes: "<=600" '
            '(at most 10 minutes), ">=60 <=600" (both must hold). Operators: <, <=, >, >=, =. An '
            'unquoted number is the longest time allowed (600 means "<=600"); a quoted number '
            'without an operator ("600") means exactly that number.',
        ),
        Field(
            "applications",
            _rules(None),
            "Applications that are required, suggested or banned; each rule names its assertion.",
        ),
        *(
            Field(
                key,
                _rules(Requirement(default)),
                f"Stethoscope's older form: {_LISTS[key]} (assertion defaults to {default}).",
            )
            for key, default in APPLICATION_LISTS.items()
        ),
        Field(
            "stethoscopeVersion",
            VERSION_RANGE,
            "A version range of Netflix's Stethoscope, as its policies require it "
            f'(">=2.3.0"). This app answers as Stethoscope {STETHOSCOPE_RELEASE}, the release '
            "whose policy format and local API it implements.",
        ),
        Field(
            "stethoscopeDesktopVersion",
            VERSION_RANGE,
            'A version range Stethoscope Desktop itself must satisfy, e.g. ">=0.2.0".',
        ),
        Field(
            "securitySoftware",
            SECURITY_SOFTWARE,
            "Whether antivirus or endpoint protection (EDR) must be running: ALWAYS, SUGGESTED "
            "or IF_SUPPORTED (required where the platform can tell). Any product the platform "
            "recognises counts, its built-in one included (Microsoft Defender Antivirus, "
            "XProtect); to accept only yours, write {requirement: ALWAYS, products: "
            "[CrowdStrike, Carbon Black]}. Not part of Stethoscope's format.",
        ),
        Field(
            CUSTOM_CHECKS_KEY,
            OrNull(CHECK_LIST),
            "IT's own checks, written as Fleet policies: a query that returns rows passes, one "
            "that returns none fails (a critical finding when critical is true, else a "
            "suggestion). Not part of Stethoscope's format; a policy without it is unchanged. "
            "The same entries may also be files in a checks.d folder beside policy.yaml.",
        ),
    ],
    message="a policy must be a mapping of practice names to requirements",
    spellings=_SPACED_KEYS,
)
POLICY_FORMAT = FileFormat(
    "policy",
    "Stethoscope Desktop practices policy (policy.yaml)",
    "What this organization requires of its devices. Compatible with Netflix Stethoscope's "
    "policy files. A key that is absent is not checked. Validate a file with "
    "`stethoscope-desktop check-policy FILE`.",
    POLICY,
)
POLICY_KEYS = POLICY.keys
# The practices whose value is a requirement option for one setting (firewall, screenLock, …).
FEATURE_PRACTICES = tuple(f.key for f in POLICY.fields if f.kind is REQUIREMENT)
APPLICATION_KEYS = APPLICATION_RULE.keys
# Keys that layers merge entry by entry (a platform, a rule, a check); every other key is one
# setting, which a layer sets whole and IT's layer locks.
_BY_ENTRY = ("osVersion", "applications", *APPLICATION_LISTS, CUSTOM_CHECKS_KEY)
_WHOLE_KEYS = tuple(key for key in POLICY_KEYS if key not in _BY_ENTRY)


# -- reading a layer -----------------------------------------------------------------------------


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
    # Whether there is a policy file (or a policy server's answer) behind the layer, readable or
    # not, rather than only a folder's `checks.d` or nothing: such a policy is the whole policy,
    # in place of the bundled one.
    from_file: bool = False

    def problem(self, path: KeyPath, message: str) -> Problem:
        """Return a problem located at `path` in this layer's file."""
        if self.doc is not None:
            return self.doc.problem(path, message)
        return Problem(self.file, message, format_key(path))

    def wrong_keys(self) -> set[str] | None:
        """Return the keys the file sets but got wrong (`firewall`, `osVersion`); None: all.

        `osVersion` is wrong as a whole when anything in it is (a bracket, a platform key): which
        platform a broken entry was meant for is not known. None when the file could not be read
        as a policy at all.
        """
        if self.unreadable:
            return None
        wrong = {key for key in self.claimed if key in _WHOLE_KEYS and key not in self.values}
        problem_keys = {POLICY.spellings.get(k, k) for k in _top_keys(self.problems)}
        return wrong | ({"osVersion"} & problem_keys)

    def keep_last_good(self, previous: PolicyLayer) -> list[str]:
        """Fill what this version of the file lost to errors from its last good version.

        Key by key, and inside `osVersion` per platform, the application rules per name and
        the checks per key, so that one broken entry does not throw away its valid neighbours'
        last good values. Return what was kept, as IT would name it.
        """
        kept: list[str] = []
        if self.unreadable:  # nothing of this version could be read: the last good one is IT's
            self.unreadable = False
            self.claimed = set(previous.claimed)
        for key, value in previous.values.items():
            if key not in self.values:
                self.values[key] = value
                kept.append(key)
            elif key == CUSTOM_CHECKS_KEY:
                old_checks = _missing_entries(self.values[key], value, lambda check: check.key)
                self.values[key] = [*self.values[key], *old_checks]
                kept += [f"the check {check.name!r}" for check in old_checks]
            elif key == "applications":
                old_rules = _missing_entries(self.values[key], value, lambda rule: rule.name)
                self.values[key] = [*self.values[key], *old_rules]
                kept += [f"the applications rule {rule.name!r}" for rule in old_rules]
            elif key == "osVersion":
                old = {name: item for name, item in value.items() if name not in self.values[key]}
                self.values[key] = {**old, **self.values[key]}
                kept += [f"osVersion.{name}" for name in old]
        return kept


def _top_keys(problems: list[Problem]) -> set[str]:
    """Return the top-level keys the problems are about (`osVersion` for `osVersion.linux.ok`)."""
    return {problem.key.split(".", 1)[0].split("[", 1)[0] for problem in problems if problem.key}


def _missing_entries(
    entries: list[Any], previous: list[Any], identity: Callable[[Any], str]
) -> list[Any]:
    """Return the entries of `previous` whose identity none of `entries` has."""
    present = {identity(entry) for entry in entries}
    return [entry for entry in previous if identity(entry) not in present]


def parse_policy(doc: YamlDocument) -> PolicyLayer:
    """Validate a policy document key by key; invalid keys are reported and left out."""
    layer = PolicyLayer(doc.file, doc=doc, from_file=True)
    data = doc.data
    if data is None or not isinstance(data, dict):
        empty = data is None
        message = "the policy file is empty" if empty else POLICY.message
        layer.problems.append(doc.problem((), message))
        layer.unreadable = True
        return layer
    values, layer.problems = POLICY_FORMAT.read(doc)
    keys = {POLICY.spellings.get(key, key): value for key, value in data.items()}
    layer.claimed = {key for key in keys if key in _WHOLE_KEYS}
    if isinstance(keys.get("osVersion"), dict):
        layer.claimed |= {f"osVersion.{p}" for p in keys["osVersion"] if p in PLATFORM_KEYS}
    for key, value in values.items():
        if key == "applications" or key in APPLICATION_LISTS:
            rules = _unique_rules(doc, layer, value)
            if key == "applications":
                layer.values.setdefault("applications", [])[:0] = rules
            else:
                layer.values.setdefault("applications", []).extend(rules)
        elif value is not None:
            layer.values[key] = value
    return layer


def _unique_rules(
    doc: YamlDocument, layer: PolicyLayer, placed: list[_PlacedRule]
) -> list[ApplicationRule]:
    """Return the rules of one list whose name no earlier rule of the file has; report others."""
    rules: list[ApplicationRule] = []
    for item in placed:
        name = item.rule.name
        if name in layer.rule_paths:
            layer.problems.append(
                doc.problem(
                    item.path,
                    f"a rule for {name!r} is already at {format_key(layer.rule_paths[name])}; "
                    "this one is ignored",
                )
            )
            continue
        layer.rule_paths[name] = item.path
        rules.append(item.rule)
    return rules


# -- layering ----------------------------------------------------------------------------------

_WEAKENED = "ignored: IT's policy sets this and cannot be weakened here"
_OS_VERSION_SLOT = "osVersion."
# The platform keys a bracket for a platform key stands for, when no more specific key is given
# (IT's `linux` covers `debian`: a later layer's `debian` would take its place on Debian).
_COVERED: Mapping[str, tuple[str, ...]] = {
    "all": PLATFORM_KEYS,
    "linux": ("linux", *LINUX_DISTRIBUTIONS),
    "win32": ("win32", "awsWorkspace"),
}


class _Merge:
    """Layers policies one over another, remembering what IT's layers locked."""

    def __init__(self) -> None:
        self.os_version: dict[str, VersionBracket] = {}
        self.values: dict[str, Any] = {}
        self.applications: dict[str, ApplicationRule] = {}  # by name, in the order they were set
        self.custom_checks: dict[str, CustomCheck] = {}  # by key, in the order they were set
        self.sources: dict[str, str] = {}
        self.problems: list[Problem] = []
        self.locked: set[str] = set()

    def add(self, layer: PolicyLayer, is_it: bool) -> None:
        """Lay `layer` over what is merged so far; an IT layer then locks what it set."""
        for key, value in layer.values.items():
            if key == "osVersion":
                for platform, bracket in value.items():
                    if self._may_set(layer, ("osVersion", platform), is_it):
                        self.os_version[platform] = bracket
                        self.sources[f"{_OS_VERSION_SLOT}{platform}"] = layer.file
            elif key == "applications":
                self._add_rules(layer, value, is_it)
            elif key == CUSTOM_CHECKS_KEY:
                self._add_checks(value, is_it)
            elif self._may_set(layer, (key,), is_it):
                self.values[key] = value
                self.sources[key] = layer.file
        if is_it:
            self._lock(layer)

    def add_fallback(self, layer: PolicyLayer, slots: set[str], covered: set[str]) -> None:
        """Lay in the bundled `layer`'s values for the keys a policy got wrong (`slots`).

        For `osVersion`, the bundled brackets of the platforms the policy's valid brackets do not
        cover (`covered`): its `linux` still decides on Debian over a bundled `debian`.
        """
        for key, value in layer.values.items():
            if key == "osVersion" and key in slots:
                for platform, bracket in value.items():
                    if platform not in covered:
                        self.os_version[platform] = bracket
                        self.sources[f"{_OS_VERSION_SLOT}{platform}"] = layer.file
            elif key in slots:
                self.values[key] = value
                self.sources[key] = layer.file

    def _may_set(self, layer: PolicyLayer, path: KeyPath, is_it: bool) -> bool:
        if is_it or ".".join(str(part) for part in path) not in self.locked:
            return True
        self.problems.append(layer.problem(path, _WEAKENED))
        return False

    def _add_rules(self, layer: PolicyLayer, rules: list[ApplicationRule], is_it: bool) -> None:
        taken = set() if is_it else set(self.applications) & self._locked("apps")
        for rule in rules:
            if rule.name in taken:
                self.problems.append(
                    layer.problem(
                        layer.rule_paths.get(rule.name, ("applications",)),
                        f"ignored: IT's policy has a rule for {rule.name!r}",
                    )
                )
                continue
            self.applications.pop(rule.name, None)  # a later layer's rule goes last
            self.applications[rule.name] = rule

    def _add_checks(self, checks: list[CustomCheck], is_it: bool) -> None:
        locked = set() if is_it else self._locked("checks")
        for check in checks:
            if check.key in locked:
                self.problems.append(
                    check.problem(f"ignored: IT's policy has a check with the key {check.key!r}")
                )
                continue
            self.custom_checks.pop(check.key, None)  # a later layer's check goes last
            self.custom_checks[check.key] = check

    def _locked(self, kind: str) -> set[str]:
        prefix = f"{kind}:"
        return {slot.removeprefix(prefix) for slot in self.locked if slot.startswith(prefix)}

    def _lock(self, layer: PolicyLayer) -> None:
        """Lock what IT's layer set, and what it meant to set but got wrong.

        A key IT wrote but got wrong keeps the value below it (the bundled default), and a later
        layer may not weaken that either; nor anything at all when IT's file could not be read,
        since what IT meant is unknown.
        """
        self.locked |= {key for key in layer.values if key in _WHOLE_KEYS}
        for platform in layer.values.get("osVersion", {}):
            covered = _COVERED.get(platform, (platform,))
            self.locked |= {f"{_OS_VERSION_SLOT}{key}" for key in covered}
        self.locked |= {f"apps:{r.name}" for r in layer.values.get("applications", [])}
        self.locked |= {f"checks:{c.key}" for c in layer.values.get(CUSTOM_CHECKS_KEY, [])}
        self.locked |= layer.claimed
        if layer.unreadable:
            self.locked |= set(self.values) | {f"osVersion.{p}" for p in self.os_version}
            self.locked |= {f"apps:{name}" for name in self.applications}
            self.locked |= {f"checks:{key}" for key in self.custom_checks}

    def policy(self) -> Policy:
        """Return the merged policy."""
        return Policy(
            os_version=self.os_version,
            features={key: self.values[key] for key in FEATURE_PRACTICES if key in self.values},
            screen_idle=self.values.get("screenIdle"),
            applications=tuple(self.applications.values()),
            stethoscope_version=self.values.get("stethoscopeVersion"),
            stethoscope_desktop_version=self.values.get("stethoscopeDesktopVersion"),
            sources=self.sources,
            custom_checks=tuple(self.custom_checks.values()),
            security_software=self.values.get("securitySoftware"),
        )


def merge_layers(
    layers: list[PolicyLayer],
    locked_from: int | None = None,
    locked_to: int | None = None,
    *,
    bundled: int = 0,
) -> tuple[Policy, list[Problem]]:
    """Merge layers, later over earlier. Keys set by IT's layers cannot be changed later.

    The first `bundled` layers are the app's own policy. It is the policy only where no later
    layer is a policy file: a policy IT ships (or a folder given with `--practices`) is the
    whole policy, and of the bundled one only the values for what that file sets but got wrong
    (all of it, where the file could not be read at all) stand in until it is fixed.

    IT's layers are `locked_from` to `locked_to` (inclusive; by default just `locked_from`): the
    policy server's and the machine-wide folder's. A later one of them may change what an
    earlier one set (IT's folder wins over the policy server); a layer after them (a user's or
    a test folder) may add practices IT left out, and application rules, but may not weaken IT's
    (nor give a more specific platform key, `debian`, under IT's `linux`).
    """
    last_it = locked_from if locked_to is None else locked_to
    authored = [layer for layer in layers[bundled:] if layer.from_file]
    stand_in = _bundled_stand_in(authored)
    merge = _Merge()
    for index, layer in enumerate(layers):
        is_it = locked_from is not None and last_it is not None and locked_from <= index <= last_it
        if index < bundled and stand_in is not None:
            merge.add_fallback(layer, stand_in, _covered_platforms(authored))
        else:
            merge.add(layer, is_it)
    return merge.policy(), merge.problems


def _covered_platforms(layers: list[PolicyLayer]) -> set[str]:
    """Return the platform keys the layers' valid osVersion brackets decide (with those below)."""
    return {
        key
        for layer in layers
        for platform in layer.values.get("osVersion", {})
        for key in _COVERED.get(platform, (platform,))
    }


def _bundled_stand_in(authored: list[PolicyLayer]) -> set[str] | None:
    """Return what of the bundled policy stands in for the authored policies; None: all of it."""
    if not authored:
        return None
    stand_in: set[str] = set()
    for layer in authored:
        wrong = layer.wrong_keys()
        if wrong is None:
            return None
        stand_in |= wrong
    return stand_in


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
