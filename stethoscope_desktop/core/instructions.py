"""Instruction texts (`instructions.<lang>.yaml`): titles, why it matters, per-platform directions.

Our format gives each practice a `name`, a `rating`, `title: {passing, failing, unknown}`, a
`description` and `directions` per platform (Markdown with links), plus the UI `strings`.
A directions key may name an OS version range after an `@` (`darwin@<13`, `darwin@>=13`,
`win32@<10.0.22000`, `ubuntu@>=24.04`) for text that differs between versions of a platform, such
as System Preferences (macOS 12 and older) and System Settings (macOS 13 and later); the range is
a node-semver range checked against the device's OS version.

Which directions a device gets (`PracticeText.directions_for`): within one file, the most
specific platform key (a distribution such as `debian`, then `linux`), and among a platform's
keys the first whose version range holds; across files (bundled < IT's < override, each
language's files after English's), the last file that names any key of this device's platforms
for the practice gives all of its directions, so IT's `linux` text replaces our bundled `debian`
one on Debian, while our bundled `darwin` texts stay where IT named only `linux`.

Netflix Stethoscope's files, in every layout it shipped, load unchanged: they are converted into
ours before they are read (see `core.stethoscope_instructions`, which also says what each of
their keys meant and becomes), in memory or with `stethoscope-desktop convert-instructions`.
Texts use `{{placeholder}}` for the few values filled in at report time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
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
from stethoscope_desktop.core.plurals import CATEGORIES, categories
from stethoscope_desktop.core.policy import PLATFORM_ALIASES
from stethoscope_desktop.core.status import Rating
from stethoscope_desktop.core.stethoscope_instructions import (
    PRACTICE_KEYS,
    STETHOSCOPE_STRINGS,
    UNPLACED_STRINGS,
    ConversionNote,
    is_stethoscope_format,
)
from stethoscope_desktop.core.stethoscope_instructions import (
    convert_stethoscope as convert_stethoscope,  # the converter, where the format is declared
)
from stethoscope_desktop.core.strings import PLACEHOLDER, PLURAL_SEPARATOR, UiStrings
from stethoscope_desktop.core.versions import VersionRange, VersionRangeError, parse_version
from stethoscope_desktop.core.yamlfile import KeyPath, Problem, YamlDocument, suggest

PLATFORM_TEXT_KEYS = ("darwin", "win32", "linux", "ubuntu", "debian", "fedora")
# Separates a directions key's platform from its OS version range: `darwin@>=13`.
VERSION_SEPARATOR = "@"
# The UI strings, and where each is shown.
STRINGS: Mapping[str, str] = {
    "summaryPass": "The report's summary when the device passes (the counts follow it).",
    "summaryNudge": "The summary when there are suggestions but nothing needs attention.",
    "summaryFail": "The summary when something needs attention (whatever the count: the counts "
    "follow it in parentheses).",
    "summaryUnknown": "The summary when all else passes but some practices could not be checked.",
    "summaryNotChecked": "The summary when no practice at all could be checked.",
    "statusPass": "A passing practice's status, in every front end (all good).",
    "statusNudge": "A suggestion's status, in every front end.",
    "statusFail": "The status of a practice that needs attention (FAIL), in every front end.",
    "statusUnknown": "The status of a practice that could not be checked, in every front end.",
    "ratingCritical": "The rating critical, in words (shown beside needs attention only).",
    "ratingHigh": "The rating high, in words.",
    "ratingMedium": "The rating medium, in words.",
    "ratingLow": "The rating low, in words.",
    "sectionWhy": "A card's heading above why the practice matters.",
    "sectionHow": "A card's heading above the directions.",
    "sectionEvidence": "The terminal report's label before what the check saw.",
    "couldNotCheck": "Why a practice could not be checked ({{reason}}).",
    "queryMistake": "Why one of IT's checks could not be checked when its query has a mistake "
    "(nothing is wrong with the device).",
    "queryMistakeForIt": "IT's technical reason for that mistake, shown smaller ({{reason}}).",
    "lastChecked": "When the device was last checked ({{time}}).",
    "scanDuration": "How long the check took ({{duration}}).",
    "checkAgain": "The Check again button and menu entry.",
    "checking": "Shown while a check runs.",
    "lastCheckedBy": "Which web app last asked the device's status ({{label}}).",
    "policyErrors": "The plain line, in the window and the report (policy_problems_summary), "
    "that IT's files have errors (the errors themselves are for Details).",
    "appInstalled": "What was seen of an app that is installed ({{installed}}).",
    "appNotInstalled": "What was seen of a required app that is missing.",
    "appOutdated": "What was seen of an app in the wrong version ({{installed}}, {{required}}).",
    "appBannedPresent": "What was seen of a banned app that is installed.",
    "appNotBanned": "What was seen of a banned app that is not installed.",
    "notifyTitleOne": "A notification's title for one new critical problem ({{title}}).",
    "notifySnooze": "A notification's Snooze button: no more reminders of those problems for "
    "4 hours (the Open button says open).",
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
    "deviceKey": "The window's About line: the device key's thumbprint ({{kid}}) and how it is "
    "kept ({{protection}}: tpm, secure-enclave or software).",
    "requirementAlways": "The requirement ALWAYS, in words.",
    "requirementSuggested": "The requirement SUGGESTED, in words.",
    "requirementNever": "The requirement NEVER, in words.",
    "requirementIfSupported": "The requirement IF_SUPPORTED, in words.",
    "versionAtLeast": "A version requirement in words ({{version}}).",
    "summaryOn": "A practice's one-line summary: on, as required ({{name}}: its short name).",
    "summaryOnRecommended": "The same: on, as recommended ({{name}}).",
    "summaryOff": "The same: off, as required ({{name}}).",
    "summaryOffRequired": "The same: off, but it must be on ({{name}}).",
    "summaryOffRecommended": "The same: off, and on is recommended ({{name}}).",
    "summaryOnForbidden": "The same: on, but it must be off ({{name}}).",
    "summaryOpenWifiSaved": "The open Wi-Fi practice's summary when open networks are saved.",
    "summaryOpenWifiNone": "The open Wi-Fi practice's summary when none is saved.",
    "summaryVersionMeets": "The summary of a version that meets its requirement ({{name}}, "
    "{{installed}}, {{required}}).",
    "summaryVersionRecommended": "The summary of a version below the recommended one ({{name}}, "
    "{{installed}}, {{required}}).",
    "summaryVersionRequired": "The summary of a version below the required one ({{name}}, "
    "{{installed}}, {{required}}).",
    "summaryIdle": "The screen lock timing's summary ({{count}} seconds, {{required}}).",
    "summaryIdleNever": "Its summary when the screen never locks by itself ({{required}}).",
    "summaryAppInstalled": "An app rule's summary: installed ({{name}}, {{installed}}).",
    "summaryAppMissing": "A required app that is not installed ({{name}}).",
    "summaryAppMissingRecommended": "A suggested app that is not installed ({{name}}).",
    "summaryAppMissingAllowed": "An app required only where installed (IF_SUPPORTED) that is "
    "not installed ({{name}}).",
    "summaryAppBanned": "A banned app that is installed ({{name}}, {{installed}}).",
    "summaryAppBannedVersion": "An app installed in a banned version ({{name}}, {{installed}}, "
    "{{banned}}: the banned versions in words).",
    "summaryAppAllowedVersion": "An app installed in a version its ban does not cover "
    "({{name}}, {{installed}}, {{banned}}).",
    "summaryAppAbsent": "A banned app that is not installed ({{name}}).",
    "titleAppNotRequired": "The title of an app required only where installed (IF_SUPPORTED) "
    "that is not installed ({{name}}).",
    "titleAppAllowedVersion": "The title of an app installed in a version its ban does not "
    "cover ({{name}}, {{installed}}).",
    "appAllowedVersion": "What was seen of such an app ({{installed}}, {{banned}}).",
    "summaryCheckPass": "The summary of one of IT's checks that passes.",
    "summaryCheckFail": "The summary of one of IT's checks that does not pass.",
    "unknownNeedsOsquery": "A practice's summary when it could not be checked because the "
    "check needs osquery.",
    "unknownNeedsAdmin": "The same, because reading it needs administrator rights.",
    "unknownStopped": "The same, because the check took too long and was stopped.",
    "unknownNoDesktop": "The same, because no desktop session was found.",
    "unknownNoTool": "The same, because the program the check reads it with is not installed.",
    "unknownOther": "The same, for any other reason (the details give it).",
    "detailSeen": "A line of a practice's Details: what the check saw ({{observed}}).",
    "detailReason": "A line of Details: why it could not be checked ({{reason}}).",
    "detailRequired": "A line of Details: the policy's requirement as written ({{requirement}}).",
    "detailCheck": "A line of Details: the check and its tables ({{check}}, {{tables}}).",
    "detailMoreRows": "The last line of Details when more rows were returned ({{count}}).",
    "versionBelow": "A version range `<x` in words ({{version}}).",
    "versionAtMost": "A version range `<=x` in words ({{version}}).",
    "versionAbove": "A version range `>x` in words ({{version}}).",
    "removeCommandUnknown": "Where the banned app's package is not known, the terminal commands "
    "to use, as {{removeCommand}} in the directions (Markdown).",
    "osVersionNotNamedTitle": "The title when the policy's osVersion names no version for this "
    "platform ({{platformName}}).",
    "osVersionNotNamed": "Its requirement in words ({{platformName}}; the platforms it names: "
    "{{names}}).",
    "secondsAtMost": "A screen-lock time requirement in words ({{count}}).",
    "securityProducts": "The security software practice's accepted products, shown at the end of "
    "its directions ({{products}}).",
    "snoozeOneHour": "The snooze menu's one-hour entry.",
    "snoozeFourHours": "The snooze menu's four-hour entry.",
    "snoozeTomorrow": "The snooze menu's until-tomorrow entry.",
    "snoozedUntil": "The snooze menu's entry while snoozed ({{time}}).",
    "pageFailedTitle": "A notification's title when a web app's check failed ({{label}}).",
    "checkFailed": "The tooltip, menu and window when this computer could not be checked "
    "({{reason}}: one of the failed… strings).",
    "failedNotStarted": "Why: the scan worker could not start.",
    "failedStopped": "Why: the scan worker stopped unexpectedly.",
    "failedScan": "Why: the check ran into an error.",
    "failedBadAnswer": "Why: the scan worker's answer could not be read.",
    "failedVersion": "Why: the scan worker belongs to another version of the app.",
    "manualTitle": "The heading of the window's section of IT's checks done by hand ({{count}}).",
    "manualIntro": "What that section's checks are: not done automatically, not in the result "
    "({{organization}}).",
    # The window (issue 15).
    "sectionAttention": "The window's section of critical problems.",
    "sectionSuggestions": "The window's section of suggestions.",
    "sectionCouldNotCheck": "The window's section of practices that could not be checked.",
    "sectionAllGood": "The window's section of passing practices (collapsed).",
    "sectionDetails": "A card's collapsed section with the technical evidence.",
    "copyCommand": "The button beside a command in the directions that copies it.",
    "commandCopied": "Said on that button for a moment after it copied the command.",
    "openSettings": "The button that opens the settings pane a direction links to.",
    "contactIt": "A card's button that opens IT's first help link (menu.help).",
    "unnamedOrganization": "The organisation in a text ({{organization}}) where config.yaml "
    "names none.",
}
# The counted strings: each has a form per plural category of its language (core.plurals).
PLURAL_STRINGS: Mapping[str, str] = {
    "notifyNewCritical": "A notification's title for several new critical problems ({{count}}).",
    "notifyStillCritical": "A reminder's title for several critical problems the person was told "
    "of before ({{count}}).",
    "notifyHowToFix": "The last line of a notification: where to see how to fix the problems it "
    "names ({{count}}).",
    "pageFailedFound": "The text of the notification after a web app's check failed "
    "({{count}} critical problems).",
    "countAttention": "How many practices need attention (FAIL): the summary's parentheses, "
    "the tray's tooltip and the window's count chip ({{count}}).",
    "countSuggestion": "How many suggestions there are ({{count}}).",
    "countUnknown": "How many practices could not be checked ({{count}}).",
    "countPass": "How many practices are all good: the window's count chip ({{count}}).",
    "manualCount": "The report's line on IT's checks done by hand ({{count}}).",
    "manualLeftOut": "The report's and the window's line when IT's setting (manualChecks: skip) "
    "left checks done by hand out ({{count}}).",
}
# Keys of earlier versions, accepted and not used.
RETIRED_STRINGS: Mapping[str, str] = {
    "notifyTitleOther": "Replaced by notifyNewCritical, which has a form per plural category.",
    "pageFailedBody": "Replaced by pageFailedFound, which has a form per plural category.",
    "notifyBody": "Replaced by notifyHowToFix, which has a form per plural category.",
    **{
        f"{old}{number}": f"Replaced by {new}, which has a form per plural category."
        for old, new in (
            ("countCritical", "countAttention"),
            ("countSuggestion", "countSuggestion"),
            ("countUnknown", "countUnknown"),
            ("countPass", "countPass"),
            ("manualCount", "manualCount"),
            ("manualLeftOut", "manualLeftOut"),
        )
        for number in ("One", "Other")
    },
    "bannerTitleOne": "No longer shown: the window's header says the state and its counts.",
    "bannerTitleOther": "No longer shown: the window's header says the state and its counts.",
    "couldNotCheckPlain": "Replaced by the report's summary of each practice.",
    "detailsRequired": "Replaced by detailRequired, a line of the report's details.",
}
STRING_KEYS = (*STRINGS, *PLURAL_STRINGS)
PLACEHOLDERS = frozenset(
    {
        "requirement", "platformName", "organization", "name", "installFrom", "version",
        "count", "reason", "time", "duration", "label", "installed", "required", "title",
        "names", "products", "observed", "check", "tables", "banned", "removeCommand",
        "kid", "protection",
    }
)  # fmt: skip


@dataclass(frozen=True)
class PracticeText:
    """Everything the UI says about one practice, in one language.

    `directions` are those of the last file that gave any for the practice; `lower_directions`
    those of the files below it, nearest first (see `directions_for`).
    """

    name: str = ""
    rating: Rating | None = None
    title_passing: str = ""
    title_failing: str = ""
    title_unknown: str = ""
    description: str = ""
    directions: Mapping[str, str] = field(default_factory=dict)
    lower_directions: tuple[Mapping[str, str], ...] = ()

    def directions_for(
        self, platform_keys: tuple[str, ...], os_version: str = ""
    ) -> tuple[str, str]:
        """Return (key, text) of the directions for a device, e.g. ("darwin@<13", "1. …").

        `platform_keys` are the device's, most specific first (ubuntu, then linux). The last
        file that names any of them for this practice gives the text (see `chosen_directions`);
        files below it are not consulted for this device.
        """
        for directions in (self.directions, *self.lower_directions):
            named = (key for key, text in directions.items() if text)
            if any(directions_platform(key) in platform_keys for key in named):
                return chosen_directions(directions, platform_keys, os_version)
        return "", ""


def chosen_directions(
    directions: Mapping[str, str], platform_keys: tuple[str, ...], os_version: str = ""
) -> tuple[str, str]:
    """Return (key, text) of one file's directions for a device.

    For each platform key, most specific first: the first `key@range` entry, in file order,
    whose range contains `os_version`; else the plain `key`; else, when the version is unknown,
    the platform's last versioned entry (files list versions oldest first, so that is the newest
    text). When no key matches at all, the newest versioned text of the most specific platform
    that has one is better than none.
    """
    version = parse_version(os_version) if os_version else None
    for key in platform_keys:
        versioned = _versioned_directions(directions, key)
        if version is not None:
            for name, text in versioned:
                allowed = split_directions_key(name)[1]
                if allowed is not None and allowed.satisfies(version):
                    return name, text
        if directions.get(key):
            return key, directions[key]
        if versioned and version is None:
            return versioned[-1]
    for key in platform_keys:
        if versioned := _versioned_directions(directions, key):
            return versioned[-1]
    return "", ""


def _versioned_directions(directions: Mapping[str, str], platform: str) -> list[tuple[str, str]]:
    """Return a platform's `platform@range` entries that have text, in file order."""
    return [
        (name, text)
        for name, text in directions.items()
        if text and VERSION_SEPARATOR in name and directions_platform(name) == platform
    ]


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
    organization: str = ""
    """The organization's name from the files (Stethoscope's carry it here); empty if none."""
    organization_file: str = ""
    """The file that named the organization."""

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
PLURAL_FORMS = Record(
    [
        Field(
            category,
            TEXT,
            f"The form for the counts the language's plural rule puts in `{category}`"
            + (": every count no other form takes." if category == "other" else "."),
            missing="needs other: the form for every count the other forms do not take"
            if category == "other"
            else "",
        )
        for category in CATEGORIES
    ],
    message="must be the text's plural forms, e.g. {one: …, other: …} (CLDR's categories "
    "zero, one, two, few, many, other; other always)",
    name="pluralForms",
    description="A counted text: a form per CLDR plural category the language uses.",
    whole=True,
)


def _plural_forms_problems(
    reading: Reading, path: KeyPath, raw: Mapping[str, Any], values: dict[str, Any]
) -> None:
    """Report a counted string that lacks a form its file's language uses (other shows)."""
    language = values.get("language") or file_language(reading.doc.file)
    if not language:
        return
    needed = categories(language)
    for key, forms in values.get("strings", {}).items():
        if key not in PLURAL_STRINGS or not isinstance(forms, Mapping):
            continue
        if missing := [category for category in needed if category not in forms]:
            reading.fail(
                (*path, "strings", key),
                f"the language {language} uses the forms {', '.join(needed)}: "
                f"{', '.join(missing)} missing (other is shown for those counts)",
            )


UI_STRINGS = Record(
    [
        *(Field(key, TEXT, why) for key, why in STRINGS.items()),
        *(Field(key, PLURAL_FORMS, why) for key, why in PLURAL_STRINGS.items()),
    ],
    message="must map string names to texts",
    ignored=RETIRED_STRINGS,
)
_STETHOSCOPE_KEYS = {
    "version": "Stethoscope's: accepted and ignored, as Stethoscope did.",
    "policyFormat": "Stethoscope's: accepted and ignored, as Stethoscope did.",
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
            "organization",
            TEXT,
            "The organization's name where config.yaml names none (Stethoscope's files carry "
            "it here).",
        ),
        Field(
            "strings",
            OrNull(UI_STRINGS, {}),
            "The texts of the window, the tray menu and the notifications. Placeholders in "
            "double braces are filled in when shown; a counted text gives a form per plural "
            "category of its language.",
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
    check=_plural_forms_problems,
)


# Stethoscope's own files, as the loader reads them (see `core.stethoscope_instructions`).
_STETHOSCOPE_STRINGS_RECORD = Record(
    [
        *(
            Field(theirs, Anything(), f"Stethoscope's; becomes our {ours}.")
            for theirs, ours in STETHOSCOPE_STRINGS.items()
        ),
        *(
            Field(theirs, Anything(), f"Stethoscope's; accepted and left out: {why}.")
            for theirs, why in UNPLACED_STRINGS.items()
        ),
    ],
    message="must map string names to texts",
    open=True,
)
_STETHOSCOPE_TITLE = Record(
    [
        Field("PASS", Text(), "The title when the practice passes."),
        Field("FAIL", Text(), "The title in every other state."),
    ],
    message="must be {PASS, FAIL}",
    open=True,
)
_STETHOSCOPE_PRACTICE = Record(
    [
        PRACTICE.field_of("name"),
        PRACTICE.field_of("rating"),
        Field(
            "title",
            EitherOf(Text(), EitherOf(_STETHOSCOPE_TITLE, TITLE)),
            "Stethoscope's Handlebars title ({{#if passing}}passing{{else}}failing{{/if}}), "
            "its titles per state ({PASS, FAIL}), or ours.",
        ),
        Field("description", Text(), "Why it matters; HTML links become Markdown links."),
        Field(
            "directions",
            MapOf(DIRECTIONS.keys, Text(), message=DIRECTIONS.message),
            "Directions per platform: Markdown and Handlebars, rendered as Stethoscope rendered "
            "them for a device that does not pass (`mojaveOrLater` splits darwin by version).",
        ),
        Field("link", Text(), 'A "More info" address, added to the description.'),
        Field("details", Text(), "A note added to the description."),
    ],
    message=PRACTICE.message,
    open=True,
)
_STETHOSCOPE_INSTRUCTIONS = Record(
    [
        Field("language", Anything(), "The language of the texts (default: the file name's)."),
        Field("organization", Anything(), "The organization's name."),
        Field("strings", OrNull(_STETHOSCOPE_STRINGS_RECORD), "Stethoscope's UI strings."),
        Field(
            "practices",
            OrNull(
                MapOf(
                    {
                        **_PRACTICE_NAMES,
                        "applications": "Stethoscope's one card for every application rule: "
                        "here the texts of each rule's card.",
                    },
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


def _some_practice(practice: JsonSchema) -> JsonSchema:
    """Return: `practices` is a mapping of which some entry is `practice`."""
    return {
        "required": ["practices"],
        "properties": {
            "practices": {
                "type": "object",
                "not": {"additionalProperties": {"not": practice}},
            }
        },
    }


# When a file is Stethoscope's (see `is_stethoscope_format`), in JSON Schema.
_STETHOSCOPE_FORMAT_SCHEMA: JsonSchema = {
    "anyOf": [
        {"required": ["policyFormat"]},
        {
            "required": ["strings"],
            "properties": {
                "strings": {
                    "type": "object",
                    "anyOf": [
                        {"required": [key]} for key in (*STETHOSCOPE_STRINGS, *UNPLACED_STRINGS)
                    ],
                }
            },
        },
        {
            "required": ["practices"],
            "properties": {"practices": {"type": "object", "required": ["applications"]}},
        },
        _some_practice(
            {"type": "object", "required": ["title"], "properties": {"title": {"type": "string"}}}
        ),
        _some_practice(
            {
                "type": "object",
                "required": ["title"],
                "properties": {
                    "title": {
                        "type": "object",
                        "anyOf": [{"required": ["PASS"]}, {"required": ["FAIL"]}],
                    }
                },
            }
        ),
    ]
}


@dataclass(frozen=True)
class _InstructionsDocument(KeyType):
    """Our instructions, or Stethoscope's, which are converted into ours before they are read.

    What Handlebars would have refused in a Stethoscope file is reported where it is written.
    """

    def read(self, reading: Reading, path: KeyPath, value: Any) -> Any:
        """Return the texts read, converting a Stethoscope file first."""
        if isinstance(value, dict) and is_stethoscope_format(value):
            notes: list[ConversionNote] = []
            value = convert_stethoscope(value, notes, language=file_language(reading.doc.file))
            for note in notes:
                if note.problem:
                    reading.fail((*path, *note.path), note.message)
        return INSTRUCTIONS.read(reading, path, value)

    def schema(self, writer: SchemaWriter) -> JsonSchema:
        """Return: if it is Stethoscope's format, that; else ours."""
        return {
            "if": _STETHOSCOPE_FORMAT_SCHEMA,
            "then": writer.of(_STETHOSCOPE_INSTRUCTIONS),
            "else": writer.of(INSTRUCTIONS),
        }


def file_language(file: str) -> str:
    """Return the language an instructions file's name says (`es` for instructions.es.yaml)."""
    parts = PurePath(file).name.split(".")
    return parts[1] if len(parts) == 3 and parts[0] == "instructions" else ""


INSTRUCTIONS_FORMAT = FileFormat(
    "instructions",
    "Stethoscope Desktop instruction texts (instructions.<lang>.yaml)",
    "What the window, the tray and the notifications say, in one language: UI strings, and per "
    "practice a name, a rating, titles, why it matters and numbered directions per platform. "
    "Languages other than English may leave texts out; English fills them. Netflix "
    "Stethoscope's instructions files load unchanged, in every layout it shipped (Handlebars "
    "titles, titles per state, the applications texts).",
    _InstructionsDocument(),
)


@dataclass
class InstructionsLayer:
    """The valid parts of one instructions file, as field-level overrides."""

    file: str
    language: str = ""
    organization: str = ""
    strings: dict[str, str] = field(default_factory=dict)
    practices: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def keep_last_good(self, previous: InstructionsLayer) -> list[str]:
        """Fill the texts this version of the file lost to errors from its last good version.

        String by string, and per practice field by field (directions per platform). Return the
        keys kept, as written in the file.
        """
        kept: list[str] = []
        if previous.organization and not self.organization:
            self.organization = previous.organization
            kept.append("organization")
        given = {string_name(name) for name in self.strings}
        for name, text in previous.strings.items():
            # A counted string is kept whole: not old forms beside the new version's.
            if string_name(name) not in given:
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


def flat_strings(strings: Mapping[str, str | Mapping[str, str]]) -> dict[str, str]:
    """Return a file's strings as the table holds them: a counted one as `<key>.<category>`."""
    flat: dict[str, str] = {}
    for key, text in strings.items():
        if isinstance(text, Mapping):
            flat |= {f"{key}{PLURAL_SEPARATOR}{form}": value for form, value in text.items()}
        else:
            flat[key] = text
    return flat


def string_name(table_key: str) -> str:
    """Return the string a table key belongs to (`notifyNewCritical.one` → notifyNewCritical)."""
    return table_key.partition(PLURAL_SEPARATOR)[0]


def parse_instructions(doc: YamlDocument) -> InstructionsLayer:
    """Validate an instructions document (ours or Stethoscope's); bad parts are reported."""
    layer = InstructionsLayer(doc.file)
    values, layer.problems = INSTRUCTIONS_FORMAT.read(doc)
    if values is INVALID:
        return layer
    layer.language = values.get("language", "")
    layer.organization = " ".join(values.get("organization", "").split())
    layer.strings = flat_strings(values.get("strings", {}))
    for key, texts in values.get("practices", {}).items():
        fields_ = {name: value for name, value in texts.items() if name != "title"}
        for state, title in texts.get("title", {}).items():
            fields_[f"title_{state}"] = title
        if fields_:
            layer.practices[key] = fields_
    return layer


def merge_instructions(layers: list[InstructionsLayer], language: str) -> Instructions:
    """Merge layers in order (folder by folder, English then the language's), field by field.

    Directions are kept per layer: for each practice, the directions of every layer that gives
    some, so that a device takes them from the last layer naming one of its platforms (see
    `PracticeText.directions_for`). The organization is the last layer's that names one.
    """
    strings: dict[str, str] = {}
    practices: dict[str, dict[str, Any]] = {}
    directions: dict[str, list[Mapping[str, str]]] = {}
    organization = organization_file = ""
    for layer in layers:
        if layer.organization:
            organization, organization_file = layer.organization, layer.file
        # A layer's counted string replaces all forms below it (not one language's `one` beside
        # another's `other`).
        replaced = {string_name(name) for name in layer.strings if PLURAL_SEPARATOR in name}
        strings = {k: v for k, v in strings.items() if string_name(k) not in replaced}
        strings.update(layer.strings)
        for key, fields_ in layer.practices.items():
            merged = practices.setdefault(key, {})
            for name, value in fields_.items():
                if name == "directions":
                    directions.setdefault(key, []).append(value)
                else:
                    merged[name] = value
    for key, given in directions.items():
        practices[key]["directions"] = given[-1]
        practices[key]["lower_directions"] = tuple(reversed(given[:-1]))
    return Instructions(
        language=language,
        strings=strings,
        organization=organization,
        organization_file=organization_file,
        practices={key: PracticeText(**value) for key, value in practices.items()},
    )
