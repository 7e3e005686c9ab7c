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

from stethoscope_desktop.core.fileformat import (
    INVALID,
    VERSION_RANGE_BODY,
    Anything,
    Choice,
    Converted,
    EitherOf,
    Field,
    FileFormat,
    JsonSchema,
    KeyPattern,
    KeyType,
    MapOf,
    OrNull,
    Reading,
    Record,
    SchemaWriter,
    Text,
)
from stethoscope_desktop.core.policy import CUSTOM_CHECKS_KEY, PLATFORM_ALIASES, POLICY_KEYS
from stethoscope_desktop.core.status import Rating
from stethoscope_desktop.core.strings import PLACEHOLDER, UiStrings
from stethoscope_desktop.core.versions import VersionRange, VersionRangeError, parse_version
from stethoscope_desktop.core.yamlfile import KeyPath, Problem, YamlDocument, suggest

# The practices that have texts: every policy key that the report shows as a practice (the
# application rules under the name of their list).
PRACTICE_KEYS = tuple(key for key in POLICY_KEYS if key not in ("applications", CUSTOM_CHECKS_KEY))
PLATFORM_TEXT_KEYS = ("darwin", "win32", "linux", "ubuntu", "debian", "fedora")
# Separates a directions key's platform from its OS version range: `darwin@>=13`.
VERSION_SEPARATOR = "@"
# The UI strings, and where each is shown.
STRINGS: Mapping[str, str] = {
    "summaryPass": "The window's summary when the device passes ({{organization}}).",
    "summaryNudge": "The summary when there are suggestions but nothing critical.",
    "summaryFail": "The summary when there are critical problems.",
    "summaryUnknown": "The summary when some practices could not be checked.",
    "countCriticalOne": "The count of critical problems, for one.",
    "countCriticalOther": "The count of critical problems ({{count}}), for more than one.",
    "countSuggestionOne": "The count of suggestions, for one.",
    "countSuggestionOther": "The count of suggestions ({{count}}), for more than one.",
    "countUnknownOne": "The count of practices that could not be checked, for one.",
    "countUnknownOther": "The count of practices that could not be checked ({{count}}).",
    "statusPass": "The status chip of a passing practice.",
    "statusNudge": "The status chip of a suggestion.",
    "statusFail": "The status chip of a critical problem.",
    "statusUnknown": "The status chip of a practice that could not be checked.",
    "ratingCritical": "The rating critical, in words.",
    "ratingHigh": "The rating high, in words.",
    "ratingMedium": "The rating medium, in words.",
    "ratingLow": "The rating low, in words.",
    "sectionWhy": "A card's heading above why the practice matters.",
    "sectionHow": "A card's heading above the directions.",
    "sectionEvidence": "A card's heading above what the check saw (Details).",
    "couldNotCheck": "Why a practice could not be checked ({{reason}}).",
    "lastChecked": "When the device was last checked ({{time}}).",
    "scanDuration": "How long the check took ({{duration}}).",
    "checkAgain": "The Check again button and menu entry.",
    "checking": "Shown while a check runs.",
    "lastCheckedBy": "Which web app last asked the device's status ({{label}}).",
    "policyErrors": "The window's notice that IT's files have errors.",
    "bannerTitleOne": "The red banner's title for one critical problem.",
    "bannerTitleOther": "The red banner's title for several ({{count}}).",
    "appInstalled": "What was seen of a required app that is installed ({{installed}}).",
    "appNotInstalled": "What was seen of a required app that is missing.",
    "appOutdated": "What was seen of an app in the wrong version ({{installed}}, {{required}}).",
    "appBannedPresent": "What was seen of a banned app that is installed.",
    "appNotBanned": "What was seen of a banned app that is not installed.",
    "notifyTitleOne": "A notification's title for one new critical problem ({{title}}).",
    "notifyTitleOther": "A notification's title for several ({{count}}).",
    "notifyBody": "A notification's text.",
    "runningAsAdmin": "The window's notice when the app runs as an administrator.",
    "noDesktop": "Printed when there is no display to open the window on.",
    "snooze": "The tray menu's Snooze notifications entry.",
    "quit": "The tray menu's Quit entry.",
    "open": "The tray menu's Open entry.",
    "startAtLogin": "The tray menu's Start at login entry.",
    "help": "The Help submenu of the tray and the Help bar of the window.",
    "allDevices": "Help's entry for IT's page of all the person's devices (stethoscopeWebURI).",
    "copyDebugInfo": "Help's Copy debug info entry and the window's button.",
    "debugInfoCopied": "Said when the debug info is on the clipboard.",
    "debugInfoCopiedBody": "The notification's text after Copy debug info in the tray.",
    "appVersion": "Help's line with the app's version ({{version}}).",
    "requirementAlways": "The requirement ALWAYS, in words.",
    "requirementSuggested": "The requirement SUGGESTED, in words.",
    "requirementNever": "The requirement NEVER, in words.",
    "requirementIfSupported": "The requirement IF_SUPPORTED, in words.",
    "versionAtLeast": "A version requirement in words ({{version}}).",
    "secondsAtMost": "A screen-lock time requirement in words ({{count}}).",
    "snoozeOneHour": "The snooze menu's one-hour entry.",
    "snoozeFourHours": "The snooze menu's four-hour entry.",
    "snoozeTomorrow": "The snooze menu's until-tomorrow entry.",
    "snoozedUntil": "The snooze menu's entry while snoozed ({{time}}).",
    "pageFailedTitle": "A notification's title when a web app's check failed ({{label}}).",
    "pageFailedBody": "Its text ({{count}} critical problems).",
    "checkFailed": "The tooltip, menu and window when this computer could not be checked "
    "({{reason}}: one of the failed… strings).",
    "failedNotStarted": "Why: the scan worker could not start.",
    "failedStopped": "Why: the scan worker stopped unexpectedly.",
    "failedScan": "Why: the check ran into an error.",
    "failedBadAnswer": "Why: the scan worker's answer could not be read.",
    "failedVersion": "Why: the scan worker belongs to another version of the app.",
}
STRING_KEYS = tuple(STRINGS)
PLACEHOLDERS = frozenset(
    {
        "requirement", "platformName", "organization", "name", "installFrom", "version",
        "count", "reason", "time", "duration", "label", "installed", "required", "title",
    }
)  # fmt: skip
# Stethoscope's UI strings that we take over, and what they become.
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


_LANGUAGE = "must be a language code such as en or de"
_NOT_INSTRUCTIONS = "instructions must be a mapping with strings and practices"


def _placeholders_problem(text: str) -> str | None:
    """Return the problem with a text's `{{placeholder}}`s: the first that is not known."""
    for name in PLACEHOLDER.findall(text):
        if name not in PLACEHOLDERS:
            return f"unknown placeholder {{{{{name}}}}}{suggest(name, PLACEHOLDERS)}"
    return None


def _directions_key_problem(key: str) -> str | None:
    """Check a directions key: a known platform, then optionally `@` and a version range."""
    platform, sep, allowed = key.partition(VERSION_SEPARATOR)
    platform = platform.strip()
    if platform not in PLATFORM_TEXT_KEYS:
        hint = suggest(platform, PLATFORM_TEXT_KEYS, PLATFORM_ALIASES)
        return "unknown key" + (hint or f": directions are for {_DIRECTIONS_KEYS}")
    if not sep:
        return None
    if not allowed.strip():
        return f"needs an OS version range after the @, e.g. {platform}@>=13"
    try:
        VersionRange.parse(allowed.strip())
    except VersionRangeError as error:
        return f"the part after the @ is not a version range: {error}"
    return None


TEXT = Text(check=_placeholders_problem)
_ONE_LINE = Converted(TEXT, lambda reading, path, text: " ".join(text.split()))
_PLATFORM_NAMES = {
    "darwin": "macOS",
    "win32": "Windows",
    "linux": "Linux",
    "ubuntu": "Ubuntu (instead of linux)",
    "debian": "Debian (instead of linux)",
    "fedora": "Fedora (instead of linux)",
}
_DIRECTIONS_KEYS = (
    f"one of {', '.join(PLATFORM_TEXT_KEYS)}, optionally with @ and the OS versions it is "
    "for: darwin@<13, win32@>=10.0.22000"
)
DIRECTIONS = MapOf(
    KeyPattern(
        _directions_key_problem,
        "^(?:" + "|".join(PLATFORM_TEXT_KEYS) + rf")(?:@\s*{VERSION_RANGE_BODY}\s*)?$",
        f"Not a directions key: {_DIRECTIONS_KEYS}.",
        "A platform ("
        + ", ".join(f"{key}: {name}" for key, name in _PLATFORM_NAMES.items())
        + "), optionally with @ and the OS versions the text is for: darwin@<13, "
        "win32@>=10.0.22000. List versions oldest first.",
    ),
    TEXT,
    message="must map platforms to Markdown directions",
)
TITLE = Record(
    [
        Field("passing", _ONE_LINE, "The card's title when the practice passes."),
        Field("failing", _ONE_LINE, "The title when it fails or only gets a nudge."),
        Field("unknown", _ONE_LINE, "The title when it could not be checked (else: failing)."),
    ],
    message="must be {passing, failing, unknown}",
)
PRACTICE = Record(
    [
        Field("name", TEXT, "The practice's short name, e.g. Firewall."),
        Field(
            "rating",
            Choice(
                {rating.value: f"{rating.value.capitalize()} importance." for rating in Rating},
                convert=Rating,
            ),
            "How important the practice is: orders the cards of one status (the bundled "
            "English file sets it; another language need not).",
        ),
        Field("title", TITLE, "The card's title in each state; one line."),
        Field("description", TEXT, "Why the practice matters, in plain words (Markdown)."),
        Field(
            "directions",
            DIRECTIONS,
            "Numbered Markdown directions per platform, with links (settings deep links such "
            "as x-apple.systempreferences: and ms-settings: open the right pane).",
        ),
    ],
    message="must be a mapping with name, rating, title, description, directions",
)
PRACTICE_FIELDS = PRACTICE.keys
_PRACTICE_NAMES = {key: f"The texts of the practice {key}." for key in PRACTICE_KEYS}
_STETHOSCOPE_KEYS = {
    "organization": "Stethoscope's: accepted and ignored (the organization comes from "
    "config.yaml).",
    "version": "Stethoscope's: accepted and ignored.",
    "policyFormat": "Stethoscope's: accepted and ignored.",
}
INSTRUCTIONS = Record(
    [
        Field(
            "language",
            OrNull(
                Text(
                    message=_LANGUAGE,
                    pattern=r"^(?:[a-z]{2,3}(?:-[A-Za-z]{2,4})?)?$",
                    pattern_message=_LANGUAGE,
                ),
                "",
            ),
            "The language of the texts, e.g. en or de (the file's name says it too).",
        ),
        Field(
            "strings",
            OrNull(
                MapOf(
                    {
                        key: "A text of the window, the tray or a notification."
                        for key in STRING_KEYS
                    },
                    TEXT,
                    message="must map string names to texts",
                ),
                {},
            ),
            "The texts of the window, the tray menu and the notifications. Placeholders in "
            "double braces are filled in when shown.",
        ),
        Field(
            "practices",
            OrNull(
                MapOf(
                    _PRACTICE_NAMES,
                    PRACTICE,
                    message="must map practice names to their texts",
                ),
                {},
            ),
            "Per practice: its name, rating, titles, why it matters and directions.",
        ),
    ],
    message=_NOT_INSTRUCTIONS,
    name="instructions",
    description="Our instructions file.",
    ignored=_STETHOSCOPE_KEYS,
)


# Stethoscope's own files, read as the loader reads them (see `convert_stethoscope`): their
# titles are Handlebars texts, and the keys we don't convert are passed over.
_STETHOSCOPE_STRINGS_RECORD = Record(
    [
        Field(theirs, Anything(), f"Stethoscope's; becomes our {ours}.")
        for theirs, ours in STETHOSCOPE_STRINGS.items()
    ],
    message="must map string names to texts",
    open=True,
)
_STETHOSCOPE_PRACTICE = Record(
    [
        PRACTICE.field_of("name"),
        PRACTICE.field_of("rating"),
        Field(
            "title",
            EitherOf(Text(), TITLE),
            "Stethoscope's Handlebars title ({{#if passing}}passing{{else}}failing{{/if}}), or "
            "ours.",
        ),
        Field("description", Text(), "Why it matters; HTML links become Markdown links."),
        Field(
            "directions",
            MapOf(DIRECTIONS.keys, Text(), message=DIRECTIONS.message),
            "Directions per platform; HTML links become Markdown links, Handlebars helpers are "
            "dropped.",
        ),
    ],
    message=PRACTICE.message,
    open=True,
)
_STETHOSCOPE_INSTRUCTIONS = Record(
    [
        Field("language", Anything(), "The language of the texts (default: en)."),
        Field("strings", OrNull(_STETHOSCOPE_STRINGS_RECORD), "Stethoscope's UI strings."),
        Field(
            "practices",
            OrNull(
                MapOf(
                    _PRACTICE_NAMES,
                    _STETHOSCOPE_PRACTICE,
                    message="must map practice names to their texts",
                )
            ),
            "Per practice: its title, why it matters and directions.",
        ),
    ],
    message=_NOT_INSTRUCTIONS,
    name="stethoscopeInstructions",
    description="Netflix Stethoscope's instructions file, which loads unchanged.",
    open=True,
)
# When a file is Stethoscope's (see `_is_stethoscope_format`), in JSON Schema.
_STETHOSCOPE_FORMAT_SCHEMA: JsonSchema = {
    "anyOf": [
        {
            "required": ["practices"],
            "properties": {
                "practices": {
                    "type": "object",
                    "not": {
                        "additionalProperties": {
                            "not": {
                                "type": "object",
                                "required": ["title"],
                                "properties": {"title": {"type": "string"}},
                            }
                        }
                    },
                }
            },
        },
        {"required": ["policyFormat"], "properties": {"practices": {"not": {"type": "object"}}}},
    ]
}


@dataclass(frozen=True)
class _InstructionsDocument(KeyType):
    """Our instructions, or Stethoscope's, which are converted into ours before they are read."""

    def read(self, reading: Reading, path: KeyPath, value: Any) -> Any:
        """Return the texts read, converting a Stethoscope file first."""
        if isinstance(value, dict) and _is_stethoscope_format(value):
            value = convert_stethoscope(value)
        return INSTRUCTIONS.read(reading, path, value)

    def schema(self, writer: SchemaWriter) -> JsonSchema:
        """Return: if it is Stethoscope's format, that; else ours."""
        return {
            "if": _STETHOSCOPE_FORMAT_SCHEMA,
            "then": writer.of(_STETHOSCOPE_INSTRUCTIONS),
            "else": writer.of(INSTRUCTIONS),
        }


INSTRUCTIONS_FORMAT = FileFormat(
    "instructions",
    "Stethoscope Desktop instruction texts (instructions.<lang>.yaml)",
    "What the window, the tray and the notifications say, in one language: UI strings, and per "
    "practice a name, a rating, titles, why it matters and numbered directions per platform. "
    "Languages other than English may leave texts out; English fills them. Netflix "
    "Stethoscope's instructions files (Handlebars titles) load unchanged.",
    _InstructionsDocument(),
)


@dataclass
class InstructionsLayer:
    """The valid parts of one instructions file, as field-level overrides."""

    file: str
    language: str = ""
    strings: dict[str, str] = field(default_factory=dict)
    practices: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def keep_last_good(self, previous: InstructionsLayer) -> list[str]:
        """Fill the texts this version of the file lost to errors from its last good version.

        String by string, and per practice field by field (directions per platform). Return the
        keys kept, as written in the file.
        """
        kept: list[str] = []
        for name, text in previous.strings.items():
            if name not in self.strings:
                self.strings[name] = text
                kept.append(f"strings.{name}")
        for practice, fields_ in previous.practices.items():
            current = self.practices.setdefault(practice, {})
            for field_name, value in fields_.items():
                if field_name == "directions":
                    new = current.get("directions", {})
                    old = {key: text for key, text in value.items() if key not in new}
                    current["directions"] = {**old, **new}
                    kept += [f"practices.{practice}.directions.{key}" for key in old]
                elif field_name not in current:
                    current[field_name] = value
                    kept.append(f"practices.{practice}.{field_name.replace('_', '.')}")
        return kept


def parse_instructions(doc: YamlDocument) -> InstructionsLayer:
    """Validate an instructions document (ours or Stethoscope's); bad parts are reported."""
    layer = InstructionsLayer(doc.file)
    values, layer.problems = INSTRUCTIONS_FORMAT.read(doc)
    if values is INVALID:
        return layer
    layer.language = values.get("language", "")
    layer.strings = values.get("strings", {})
    for key, texts in values.get("practices", {}).items():
        fields_ = {name: value for name, value in texts.items() if name != "title"}
        for state, title in texts.get("title", {}).items():
            fields_[f"title_{state}"] = title
        if fields_:
            layer.practices[key] = fields_
    return layer


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
