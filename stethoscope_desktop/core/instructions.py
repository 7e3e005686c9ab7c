"""Instruction texts (`instructions.<lang>.yaml`): titles, why it matters, per-platform directions.

Our format gives each practice a `name`, a `rating`, `title: {passing, failing, unknown}`, a
`description` and `directions` per platform (Markdown with links), plus the UI `strings`.
A directions key may name an OS version range after an `@` (`darwin@<13`, `darwin@>=13`,
`win32@<10.0.22000`, `ubuntu@>=24.04`) for text that differs between versions of a platform, such
as System Preferences (macOS 12 and older) and System Settings (macOS 13 and later); the range is
a node-semver range checked against the device's OS version. See `PracticeText.directions_for`
for how one text is chosen, and `merge_instructions` for how layers replace a platform's texts.
Stethoscope's own files, whose titles are Handlebars (`{{#if passing}}…{{else}}…{{/if}}`), load
too: `convert_stethoscope` turns them into our format, in memory or as a file.
Texts use `{{placeholder}}` for the few values filled in at report time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stethoscope_desktop.core.policy import PLATFORM_ALIASES
from stethoscope_desktop.core.status import Rating
from stethoscope_desktop.core.strings import PLACEHOLDER, UiStrings
from stethoscope_desktop.core.versions import VersionRange, VersionRangeError, parse_version
from stethoscope_desktop.core.yamlfile import KeyPath, Problem, YamlDocument, suggest, unknown_keys

PRACTICE_KEYS = (
    "osVersion",
    "firewall",
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
PLATFORM_TEXT_KEYS = ("darwin", "win32", "linux", "ubuntu", "debian", "fedora")
# Separates a directions key's platform from its OS version range: `darwin@>=13`.
VERSION_SEPARATOR = "@"
STRING_KEYS = (
    "summaryPass", "summaryNudge", "summaryFail", "summaryUnknown",
    "countCriticalOne", "countCriticalOther", "countSuggestionOne", "countSuggestionOther",
    "countUnknownOne", "countUnknownOther",
    "statusPass", "statusNudge", "statusFail", "statusUnknown",
    "ratingCritical", "ratingHigh", "ratingMedium", "ratingLow",
    "sectionWhy", "sectionHow", "sectionEvidence", "couldNotCheck",
    "lastChecked", "scanDuration", "checkAgain", "checking", "lastCheckedBy", "policyErrors",
    "bannerTitleOne", "bannerTitleOther",
    "appInstalled", "appNotInstalled", "appOutdated", "appBannedPresent", "appNotBanned",
    "notifyTitleOne", "notifyTitleOther", "notifyBody",
    "runningAsAdmin", "noDesktop", "snooze", "quit", "open", "startAtLogin",
    "requirementAlways", "requirementSuggested", "requirementNever", "requirementIfSupported",
    "versionAtLeast", "secondsAtMost",
    "snoozeOneHour", "snoozeFourHours", "snoozeTomorrow", "snoozedUntil",
    "pageFailedTitle", "pageFailedBody",
    "checkFailed", "failedNotStarted", "failedStopped", "failedScan", "failedBadAnswer",
    "failedVersion",
)  # fmt: skip
PLACEHOLDERS = frozenset(
    {
        "requirement", "platformName", "organization", "name", "installFrom", "version",
        "count", "reason", "time", "duration", "label", "installed", "required", "title",
    }
)  # fmt: skip
PRACTICE_FIELDS = ("name", "rating", "title", "description", "directions")
# Keys of Stethoscope's instructions files we accept and what they become.
STETHOSCOPE_TOP_KEYS = ("organization", "version", "policyFormat")
STETHOSCOPE_STRINGS = {
    "ok": "summaryPass",
    "warning": "summaryNudge",
    "critical": "summaryFail",
    "rescanButton": "checkAgain",
}


@dataclass(frozen=True)
class PracticeText:
    """Everything the UI says about one practice, in one language."""

    name: str = ""
    rating: Rating | None = None
    title_passing: str = ""
    title_failing: str = ""
    title_unknown: str = ""
    description: str = ""
    directions: Mapping[str, str] = field(default_factory=dict)

    def directions_for(
        self, platform_keys: tuple[str, ...], os_version: str = ""
    ) -> tuple[str, str]:
        """Return (key, text) of the directions for a device, e.g. ("darwin@<13", "1. …").

        For each platform key, most specific first (ubuntu, then linux): the first `key@range`
        entry, in file order, whose range contains `os_version`; else the plain `key`; else, when
        the version is unknown, the platform's last versioned entry (files list versions oldest
        first, so that is the newest text). When no key matches at all, the newest versioned text
        of the most specific platform that has one is better than none.
        """
        version = parse_version(os_version) if os_version else None
        candidates: dict[str, list[tuple[str, str]]] = {}
        for key in platform_keys:
            versioned = [
                (name, text)
                for name, text in self.directions.items()
                if text and VERSION_SEPARATOR in name and directions_platform(name) == key
            ]
            candidates[key] = versioned
            if version is not None:
                for name, text in versioned:
                    allowed = split_directions_key(name)[1]
                    if allowed is not None and allowed.satisfies(version):
                        return name, text
            if self.directions.get(key):
                return key, self.directions[key]
            if versioned and version is None:
                return versioned[-1]
        for key in platform_keys:
            if candidates[key]:
                return candidates[key][-1]
        return "", ""


def split_directions_key(key: str) -> tuple[str, VersionRange | None]:
    """Split `darwin@>=13` into ("darwin", the range); a plain key has no range.

    Raise VersionRangeError when the part after the `@` is not a version range.
    """
    platform, sep, allowed = key.partition(VERSION_SEPARATOR)
    if not sep:
        return key, None
    return platform.strip(), VersionRange.parse(allowed.strip())


def directions_platform(key: str) -> str:
    """Return the platform a directions key is for (`darwin@<13` → `darwin`)."""
    return key.partition(VERSION_SEPARATOR)[0].strip()


@dataclass(frozen=True)
class Instructions(UiStrings):
    """Merged instruction texts for one language, English filling the gaps.

    The UI strings (see `UiStrings`) and each practice's texts.
    """

    practices: Mapping[str, PracticeText] = field(default_factory=dict)

    def practice(self, key: str) -> PracticeText:
        """Return the texts for a practice (empty texts if there are none)."""
        return self.practices.get(key, PracticeText())

    @property
    def ui(self) -> UiStrings:
        """Return the UI strings alone (what the scan worker hands the tray)."""
        return UiStrings(self.language, dict(self.strings))


def _text(doc: YamlDocument, path: KeyPath, value: Any, problems: list[Problem]) -> str | None:
    if not isinstance(value, str):
        problems.append(doc.problem(path, "must be text"))
        return None
    for name in PLACEHOLDER.findall(value):
        if name not in PLACEHOLDERS:
            problems.append(
                doc.problem(
                    path, f"unknown placeholder {{{{{name}}}}}{suggest(name, PLACEHOLDERS)}"
                )
            )
            return None
    return value.strip()


@dataclass
class InstructionsLayer:
    """The valid parts of one instructions file, as field-level overrides."""

    file: str
    language: str = ""
    strings: dict[str, str] = field(default_factory=dict)
    practices: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def parse_instructions(doc: YamlDocument) -> InstructionsLayer:
    """Validate an instructions document (ours or Stethoscope's); bad parts are reported."""
    layer = InstructionsLayer(doc.file)
    data = doc.data
    problems = layer.problems
    if not isinstance(data, dict):
        problems.append(
            doc.problem((), "instructions must be a mapping with strings and practices")
        )
        return layer
    if _is_stethoscope_format(data):
        data = convert_stethoscope(data)
        doc = YamlDocument(doc.file, data, doc.lines)
    problems += unknown_keys(
        doc, data, (), ("language", "strings", "practices", *STETHOSCOPE_TOP_KEYS)
    )
    language = data.get("language", "")
    if language not in (None, "") and not (
        isinstance(language, str) and re.fullmatch(r"[a-z]{2,3}(-[A-Za-z]{2,4})?", language)
    ):
        problems.append(doc.problem(("language",), "must be a language code such as en or de"))
    else:
        layer.language = str(language or "")
    strings = data.get("strings")
    if strings is None:
        strings = {}
    if not isinstance(strings, dict):
        problems.append(doc.problem(("strings",), "must map string names to texts"))
    else:
        problems += unknown_keys(doc, strings, ("strings",), STRING_KEYS)
        for key, value in strings.items():
            if (
                key in STRING_KEYS
                and (text := _text(doc, ("strings", key), value, problems)) is not None
            ):
                layer.strings[key] = text
    practices = data.get("practices")
    if practices is None:
        practices = {}
    if not isinstance(practices, dict):
        problems.append(doc.problem(("practices",), "must map practice names to their texts"))
        return layer
    problems += unknown_keys(doc, practices, ("practices",), PRACTICE_KEYS)
    for key, entry in practices.items():
        if key not in PRACTICE_KEYS:
            continue
        parsed = _practice(doc, ("practices", key), entry, problems)
        if parsed:
            layer.practices[key] = parsed
    return layer


def _practice(
    doc: YamlDocument, path: KeyPath, entry: Any, problems: list[Problem]
) -> dict[str, Any]:
    if not isinstance(entry, dict):
        problems.append(
            doc.problem(path, "must be a mapping with name, rating, title, description, directions")
        )
        return {}
    problems += unknown_keys(doc, entry, path, PRACTICE_FIELDS)
    parsed: dict[str, Any] = {}
    if (
        "name" in entry
        and (name := _text(doc, (*path, "name"), entry["name"], problems)) is not None
    ):
        parsed["name"] = name
    if "rating" in entry:
        choices = [r.value for r in Rating]
        if entry["rating"] in choices:
            parsed["rating"] = Rating(entry["rating"])
        else:
            problems.append(
                doc.problem(
                    (*path, "rating"),
                    f"{entry['rating']!r} is not one of {', '.join(choices)}"
                    + suggest(str(entry["rating"]), choices),
                )
            )
    if "title" in entry:
        title = entry["title"]
        if not isinstance(title, dict):
            problems.append(doc.problem((*path, "title"), "must be {passing, failing, unknown}"))
        else:
            problems += unknown_keys(
                doc, title, (*path, "title"), ("passing", "failing", "unknown")
            )
            for state in ("passing", "failing", "unknown"):
                if (
                    state in title
                    and (text := _text(doc, (*path, "title", state), title[state], problems))
                    is not None
                ):
                    parsed[f"title_{state}"] = " ".join(text.split())
    if (
        "description" in entry
        and (text := _text(doc, (*path, "description"), entry["description"], problems)) is not None
    ):
        parsed["description"] = text
    if "directions" in entry:
        directions = entry["directions"]
        if not isinstance(directions, dict):
            problems.append(
                doc.problem((*path, "directions"), "must map platforms to Markdown directions")
            )
        else:
            texts: dict[str, str] = {}
            for key, value in directions.items():
                where = (*path, "directions", key)
                if not _directions_key_ok(doc, where, str(key), problems):
                    continue
                text = _text(doc, where, value, problems)
                if text is not None:
                    texts[str(key)] = text
            parsed["directions"] = texts
    return parsed


def _directions_key_ok(
    doc: YamlDocument, where: KeyPath, key: str, problems: list[Problem]
) -> bool:
    """Check a directions key: a known platform, then optionally `@` and a version range."""
    platform, sep, allowed = key.partition(VERSION_SEPARATOR)
    platform = platform.strip()
    if platform not in PLATFORM_TEXT_KEYS:
        problems.append(
            doc.problem(
                where, "unknown key" + suggest(platform, PLATFORM_TEXT_KEYS, PLATFORM_ALIASES)
            )
        )
        return False
    if not sep:
        return True
    if not allowed.strip():
        problems.append(
            doc.problem(where, f"needs an OS version range after the @, e.g. {platform}@>=13")
        )
        return False
    try:
        VersionRange.parse(allowed.strip())
    except VersionRangeError as error:
        problems.append(doc.problem(where, f"the part after the @ is not a version range: {error}"))
        return False
    return True


def merge_instructions(layers: list[InstructionsLayer], language: str) -> Instructions:
    """Merge layers in order (English layers first, then the language's), field by field.

    Directions merge per platform: a layer that gives any directions for a platform (plain or
    versioned, `darwin` or `darwin@<13`) replaces all of that platform's directions from the
    layers before it, so IT's single `darwin` text is not outranked by a bundled `darwin@>=13`.
    """
    strings: dict[str, str] = {}
    practices: dict[str, dict[str, Any]] = {}
    for layer in layers:
        strings.update(layer.strings)
        for key, fields_ in layer.practices.items():
            merged = practices.setdefault(key, {})
            for name, value in fields_.items():
                if name == "directions":
                    replaced = {directions_platform(given) for given in value}
                    kept = {
                        earlier: text
                        for earlier, text in merged.get("directions", {}).items()
                        if directions_platform(earlier) not in replaced
                    }
                    merged["directions"] = {**kept, **value}
                else:
                    merged[name] = value
    return Instructions(
        language=language,
        strings=strings,
        practices={key: PracticeText(**value) for key, value in practices.items()},
    )


# -- Stethoscope's Handlebars format ----------------------------------------------------------

_IF_PASSING = re.compile(
    r"\{\{#if\s+passing\s*\}\}(?P<yes>.*?)(?:\{\{else\}\}(?P<no>.*?))?\{\{/if\}\}", re.S
)
_IF_OTHER = re.compile(
    r"\{\{#if\s+[^}]*\}\}(?P<yes>.*?)(?:\{\{else\}\}(?P<no>.*?))?\{\{/if\}\}", re.S
)
_UNLESS = re.compile(r"\{\{#unless\s+[^}]*\}\}(?P<body>.*?)\{\{/unless\}\}", re.S)
_EACH = re.compile(r"\{\{#each\s+[^}]*\}\}.*?\{\{/each\}\}", re.S)
_REQUIREMENT_HELPER = re.compile(r"\{\{\s*(?:requirement|securitySetting)\b[^}]*\}\}")
_TRIPLE = re.compile(r"\{\{\{.*?\}\}\}", re.S)
_OTHER_HELPER = re.compile(r"\{\{(?!\s*(?:requirement|platformName|organization)\s*\}\})[^}]*\}\}")
_ANCHOR = re.compile(r"<a\s+[^>]*href=['\"]([^'\"]+)['\"][^>]*>(.*?)</a>", re.S | re.I)
_TAG = re.compile(r"</?[A-Za-z][^>]*>")


def _is_stethoscope_format(data: Mapping[str, Any]) -> bool:
    practices = data.get("practices")
    if not isinstance(practices, dict):
        return "policyFormat" in data
    return any(
        isinstance(entry, dict) and isinstance(entry.get("title"), str)
        for entry in practices.values()
    )


def _convert_directions(text: str) -> str:
    text = _EACH.sub("", text)
    text = _TRIPLE.sub("", text)
    text = _UNLESS.sub(lambda m: m.group("body"), text)
    text = _IF_OTHER.sub(lambda m: m.group("yes"), text)
    text = _REQUIREMENT_HELPER.sub("{{requirement}}", text)
    text = _OTHER_HELPER.sub("", text)
    text = _ANCHOR.sub(lambda m: f"[{' '.join(m.group(2).split())}]({m.group(1)})", text)
    text = _TAG.sub("", text)
    lines = [line.rstrip() for line in text.splitlines()]
    cleaned = "\n".join(line for i, line in enumerate(lines) if line or (i and lines[i - 1]))
    return cleaned.strip() + "\n"


def convert_stethoscope(data: Mapping[str, Any]) -> dict[str, Any]:
    """Convert Stethoscope's instructions data (Handlebars titles) into our format."""
    strings = {
        ours: " ".join(str(data["strings"][theirs]).split())
        for theirs, ours in STETHOSCOPE_STRINGS.items()
        if isinstance(data.get("strings"), dict) and isinstance(data["strings"].get(theirs), str)
    }
    given = data.get("practices")
    practices: dict[str, Any] = {}
    for key, entry in given.items() if isinstance(given, Mapping) else ():
        if not isinstance(entry, dict):
            practices[key] = entry
            continue
        # Fields that are not Stethoscope's Handlebars text pass through unchanged, so that
        # parse_instructions validates (and reports) them instead of their being dropped.
        converted: dict[str, Any] = {k: entry[k] for k in ("name", "rating") if k in entry}
        title = entry.get("title")
        if "title" in entry and not isinstance(title, str):
            converted["title"] = title
        elif isinstance(title, str):
            match = _IF_PASSING.search(title)
            if match:
                converted["title"] = {
                    "passing": " ".join(match.group("yes").split()),
                    "failing": " ".join((match.group("no") or match.group("yes")).split()),
                }
            else:
                flat = " ".join(title.split())
                converted["title"] = {"passing": flat, "failing": flat}
        if isinstance(entry.get("description"), str):
            converted["description"] = _convert_directions(entry["description"]).strip()
        elif "description" in entry:
            converted["description"] = entry["description"]
        if isinstance(entry.get("directions"), dict):
            converted["directions"] = {
                platform: _convert_directions(text) if isinstance(text, str) else text
                for platform, text in entry["directions"].items()
            }
        elif "directions" in entry:
            converted["directions"] = entry["directions"]
        practices[key] = converted
    result: dict[str, Any] = {"language": str(data.get("language", "en"))}
    if strings:
        result["strings"] = strings
    # A `practices` that is not a mapping is kept as it is for parse_instructions to report.
    result["practices"] = practices if isinstance(given, Mapping) or given is None else given
    return result
