"""Netflix Stethoscope's instructions files, converted into ours, with what each key meant there.

Every layout Stethoscope shipped loads: titles as one Handlebars text
(`{{#if passing}}…{{else}}…{{/if}}`, 2018-03 and from 2018-08 on), titles per state
(`title: {PASS: …, FAIL: …}`, 2018), `applications` texts (v3 and later), the language files
(`instructions.en.yaml`, `instructions.es.yaml`). `convert_stethoscope` turns such a file's data
into ours; the loader does that in memory, `stethoscope-desktop convert-instructions` as a file.

How Stethoscope used each key, and what it becomes here:

- `title`: shown on the practice's card; a Handlebars text rendered with `passing` (true when the
  practice passes), or a mapping by state (`PASS`, `FAIL`; any other state showed `FAIL`'s).
  Becomes `{passing, failing, unknown}`; `unknown` is the failing text, as every state but PASS
  showed it there.
- `description`: shown as plain text under the title. Kept (HTML links become Markdown links).
- `directions.<platform>`: Markdown, then Handlebars rendered with the device's facts; shown when
  the card is opened. Here directions are shown only while a practice does not pass, so
  `passing` is false; `mojaveOrLater` (also `mojave`, `mohave` in older releases: macOS 10.14
  or later) splits the `darwin` text into `darwin@<10.14.0` and `darwin@>=10.14.0`;
  `{{requirement "osVersion" "darwin"}}` and `{{securitySetting "screenIdle"}}` (a table of the
  required value) become `{{requirement}}`; `{{{statusIcon key 'label'}}}` and the 2018
  `- [key] label` lines (a settings checklist with a state icon per item) keep their labels;
  `{{#each disks}}…{{/each}}` (each disk with an icon) is left out, as the card lists what the
  check saw. Stethoscope's own links are made into links that open here: `link://URL` is the URL,
  `open://PATH` a file URL, `prefs://PANE` on macOS `x-apple.systempreferences:PANE`; those that
  ran a program (`ps://COMMAND`, `prefs://` on Windows, `app://NAME`) and its self-update
  (`action://update`, `stethoscope://update`) keep their text without a link, as nothing here
  runs a program from a link.
- `link` and `details` of a practice ("More info" and a preformatted note): added to the
  description.
- `applications` (v3+): one card over the list of required, banned and suggested applications.
  Here each application rule is a card of its own, so these texts become those of
  `requiredApplications`, `bannedApplications` and `suggestedApplications` (where the file does
  not name them itself); on such a card, and for the older `requiredApplications` texts, the
  title is followed by the application's name (` ({{name}})`) and the directions by where to
  install it from (`{{installFrom}}`), as Stethoscope listed both under the title.
- `strings`: `ok`, `warning`, `critical` (the summary by status) become `summaryPass`,
  `summaryNudge`, `summaryFail`; `rescanButton` becomes `checkAgain`; `lastScan` ("Last scanned
  by", followed by who scanned) becomes `lastCheckedBy` with `{{label}}` after it;
  `policyDescription` (the words after the organization's name in the window's heading) has no
  place here: this window's heading is the organization's name alone.
- `organization`: the organization's name, used where IT's `config.yaml` names none.
- `version`, `policyFormat`: Stethoscope did nothing with them; accepted and left out.

`ConversionNote`s say what a conversion left out or changed, for IT to read. A note that is a
`problem` is a mistake the loader reports too: a text Handlebars would not have compiled, or a
`{{name}}` no Stethoscope release gave a value (a typo such as `{{requirment}}`, which rendered
as nothing there). Values Stethoscope had and this app has not (`{{osVersion}}`,
`{{friendlyName}}` and the device's other facts) are left out with a note.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from stethoscope_desktop.core.handlebars import (
    Block,
    Literal,
    Mustache,
    Node,
    Param,
    TemplateError,
    Text,
    parse,
    text_of,
)
from stethoscope_desktop.core.policy import CUSTOM_CHECKS_KEY, POLICY_KEYS
from stethoscope_desktop.core.yamlfile import suggest

# The practices that have texts: every policy key that the report shows as a practice (the
# application rules under the name of their list).
PRACTICE_KEYS = tuple(key for key in POLICY_KEYS if key not in ("applications", CUSTOM_CHECKS_KEY))

# Stethoscope's UI strings and what they become here.
STETHOSCOPE_STRINGS = {
    "ok": "summaryPass",
    "warning": "summaryNudge",
    "critical": "summaryFail",
    "rescanButton": "checkAgain",
    "lastScan": "lastCheckedBy",
}
# Stethoscope's UI strings with no place here, and why.
UNPLACED_STRINGS = {
    "policyDescription": "the words after the organization's name in Stethoscope's heading; "
    "this window's heading is the organization's name alone",
}
# Stethoscope's practice-level keys with no meaning here, and why.
UNUSED_PRACTICE_KEYS = {"actions": "Stethoscope did nothing with it"}
# The practices an application rule's card takes its texts from, and Stethoscope's one card.
APPLICATION_PRACTICES = ("requiredApplications", "bannedApplications", "suggestedApplications")
STETHOSCOPE_APPLICATIONS = "applications"
# The `darwin` version flags Stethoscope's renderer set, and the macOS versions they are true for.
MACOS_VERSION_FLAGS = {"mojaveOrLater": "10.14.0", "mojave": "10.14.0", "mohave": "10.14.0"}
# Stethoscope's security facts: the first parameter of statusIcon, the `[key]` of 2018 checklists.
SECURITY_KEYS = frozenset(
    {
        "firewall", "publicFirewall", "privateFirewall", "domainFirewall", "automaticUpdates",
        "automaticCheckEnabled", "automaticDownloadUpdates", "automaticAppUpdates",
        "automaticOsUpdates", "automaticSecurityUpdates", "automaticConfigDataInstall",
        "diskEncryption", "screenLock", "screenIdle", "remoteLogin", "openWifiConnections",
    }
)  # fmt: skip
# The device's facts Stethoscope rendered directions with (besides the security facts).
DEVICE_VALUES = frozenset(
    {
        "deviceId", "deviceName", "platform", "platformName", "osVersion", "osName", "osBuild",
        "firmwareVersion", "hardwareModel", "friendlyName", "hardwareSerial", "identifier",
        "stethoscopeVersion", "osqueryVersion", "disks", "ipAddresses", "macAddresses",
        "applications", "extensions", "hotfixes", "user", "lastScanTime", "passing",
    }
)  # fmt: skip
# Helpers that showed the policy's required value (a table); here the requirement in words.
_REQUIREMENT_HELPERS = ("requirement", "securitySetting")
# Helpers that showed a state icon and a label; here the label.
_ICON_HELPERS = {"statusIcon": 1, "okIcon": 0, "warnIcon": 0}
# Stethoscope's values that are placeholders here too.
_PLACEHOLDERS = ("platformName", "organization", "requirement")
_APPLICATION_PLACEHOLDERS = ("name", "version", "installFrom")
# The keys of a file, and of a practice, that are ours as well as Stethoscope's.
_TOP_KEYS = ("language", "organization", "strings", "practices")
_PRACTICE_KEYS = ("name", "rating", "title", "description", "directions", "link", "details")

KeyPath = tuple[str, ...]


@dataclass(frozen=True)
class ConversionNote:
    """What a conversion left out or changed at `path`; a `problem` the loader reports too."""

    path: KeyPath
    message: str
    problem: bool = False

    def __str__(self) -> str:
        return f"{'.'.join(self.path)}: {self.message}"


def is_stethoscope_format(data: Mapping[str, Any]) -> bool:
    """Return True if instructions data has anything only Stethoscope's layout has.

    A `policyFormat` key, one of its UI strings, a practice named `applications`, or a title
    that is one text or a mapping by state (`PASS`, `FAIL`).
    """
    if "policyFormat" in data:
        return True
    strings = data.get("strings")
    if isinstance(strings, Mapping) and any(
        key in strings for key in (*STETHOSCOPE_STRINGS, *UNPLACED_STRINGS)
    ):
        return True
    practices = data.get("practices")
    if not isinstance(practices, Mapping):
        return False
    return STETHOSCOPE_APPLICATIONS in practices or any(
        isinstance(entry, Mapping) and _is_stethoscope_title(entry.get("title"))
        for entry in practices.values()
    )


def _is_stethoscope_title(title: Any) -> bool:
    return isinstance(title, str) or (
        isinstance(title, Mapping) and any(state in title for state in ("PASS", "FAIL"))
    )


def convert_stethoscope(
    data: Mapping[str, Any], notes: list[ConversionNote] | None = None, *, language: str = ""
) -> dict[str, Any]:
    """Convert Stethoscope's instructions data into ours (see the module's docstring).

    What is already in our layout passes through unchanged, and values of the wrong kind are
    kept for the loader to report. `notes` receives what was left out or changed; `language`
    is used where the data names none (Stethoscope's files say it only in their name).
    """
    found: list[ConversionNote] = [] if notes is None else notes
    result: dict[str, Any] = {}
    given_language = data.get("language", language)
    if given_language:
        result["language"] = given_language
    if "organization" in data:
        result["organization"] = data["organization"]
    if "strings" in data:
        result["strings"] = _strings(data["strings"], found)
    if "practices" in data:
        result["practices"] = _practices(data["practices"], found)
    for key in data:
        if key not in (*_TOP_KEYS, "version", "policyFormat"):
            found.append(ConversionNote((str(key),), "left out: Stethoscope did nothing with it"))
    return result


# -- strings -----------------------------------------------------------------------------------


def _strings(given: Any, notes: list[ConversionNote]) -> Any:
    """Return Stethoscope's strings under our names; ours pass through."""
    if not isinstance(given, Mapping):
        return given
    strings: dict[str, Any] = {}
    for name, text in given.items():
        if name in UNPLACED_STRINGS:
            notes.append(ConversionNote(("strings", name), f"left out: {UNPLACED_STRINGS[name]}"))
        elif name in STETHOSCOPE_STRINGS and isinstance(text, str):
            flat = " ".join(text.split())
            if name == "lastScan":
                flat += " {{label}}"
            strings[STETHOSCOPE_STRINGS[name]] = flat
        else:
            strings[name] = text
    return strings


# -- practices ---------------------------------------------------------------------------------


def _practices(given: Any, notes: list[ConversionNote]) -> Any:
    """Return each practice's texts in our layout; `applications` fills the application rules'."""
    if not isinstance(given, Mapping):
        return given
    practices: dict[str, Any] = {}
    for key, entry in given.items():
        if key in PRACTICE_KEYS:
            practices[key] = _practice(("practices", key), entry, key, notes)
        elif key != STETHOSCOPE_APPLICATIONS:
            notes.append(
                ConversionNote(("practices", str(key)), "left out: there is no such practice here")
            )
    if STETHOSCOPE_APPLICATIONS in given:
        path = ("practices", STETHOSCOPE_APPLICATIONS)
        entry = given[STETHOSCOPE_APPLICATIONS]
        named = [key for key in APPLICATION_PRACTICES if key not in practices]
        for key in named:
            practices[key] = _practice(path, entry, key, notes if key == named[0] else [])
        if named:
            notes.append(
                ConversionNote(
                    path,
                    "the texts of every application rule's card: " + ", ".join(named),
                )
            )
    return practices


def _practice(path: KeyPath, entry: Any, practice: str, notes: list[ConversionNote]) -> Any:
    """Return one practice's texts in our layout (`practice`: the practice they are for)."""
    if not isinstance(entry, Mapping):
        return entry
    application = practice in APPLICATION_PRACTICES
    converted: dict[str, Any] = {}
    for key, value in entry.items():
        where = (*path, key)
        if key == "title":
            if (title := _title(where, value, application, notes)) is not None:
                converted["title"] = title
        elif key == "description":
            converted["description"] = _description(where, value, application, notes)
        elif key == "directions":
            converted["directions"] = _directions(where, value, application, notes)
        elif key in ("link", "details"):
            continue
        elif key in _PRACTICE_KEYS:
            converted[key] = value
        else:
            why = UNUSED_PRACTICE_KEYS.get(key, "Stethoscope did nothing with it")
            notes.append(ConversionNote(where, f"left out: {why}"))
    extra = [str(entry[key]) for key in ("details", "link") if entry.get(key)]
    if extra:
        text = "\n\n".join([str(converted.get("description", "")).strip(), *extra]).strip()
        converted["description"] = text
    return converted


def _title(path: KeyPath, title: Any, application: bool, notes: list[ConversionNote]) -> Any:
    """Return a title as {passing, failing, unknown}; ours passes through; None if unusable."""
    if isinstance(title, str):
        nodes = _template(path, title, notes)
        passing = _Renderer(path, notes, passing=True, application=application).text(nodes)
        failing = _Renderer(path, notes, passing=False, application=application).text(nodes)
    elif _is_stethoscope_title(title):
        states = _state_titles(path, title, notes)
        if states is None:
            return None
        passing, failing = states
    else:
        return title
    passing, failing = " ".join(passing.split()), " ".join(failing.split())
    if application and "{{name}}" not in passing + failing:
        passing, failing = f"{passing} ({{{{name}}}})", f"{failing} ({{{{name}}}})"
    return {"passing": passing, "failing": failing, "unknown": failing}


def _state_titles(
    path: KeyPath, title: Mapping[str, Any], notes: list[ConversionNote]
) -> tuple[str, str] | None:
    """Return (passing, failing) of a title per state, `{PASS, FAIL}`; None if not texts."""
    for state in title:
        if state not in ("PASS", "FAIL"):
            notes.append(ConversionNote((*path, str(state)), "left out: FAIL's title is shown"))
    given = {state: title[state] for state in ("PASS", "FAIL") if state in title}
    if not all(isinstance(text, str) for text in given.values()):
        notes.append(ConversionNote(path, "must map PASS and FAIL to texts", problem=True))
        return None
    passing = given.get("PASS", given.get("FAIL", ""))
    return passing, given.get("FAIL", passing)


def _description(
    path: KeyPath, description: Any, application: bool, notes: list[ConversionNote]
) -> Any:
    if not isinstance(description, str):
        return description
    nodes = _template(path, description, notes)
    text = _Renderer(path, notes, passing=False, application=application).text(nodes)
    return _markdown(path, text, "", notes).strip()


def _directions(
    path: KeyPath, directions: Any, application: bool, notes: list[ConversionNote]
) -> Any:
    """Return the directions per platform; a macOS version flag splits `darwin` in two."""
    if not isinstance(directions, Mapping):
        return directions
    converted: dict[str, Any] = {}
    for platform, text in directions.items():
        if not isinstance(text, str):
            converted[platform] = text
            continue
        where = (*path, str(platform))
        for key, rendered in _platform_texts(where, str(platform), text, application, notes):
            converted[key] = _markdown(where, rendered, str(platform), notes)
            if application and "{{installFrom}}" not in converted[key]:
                converted[key] += "\n{{installFrom}}\n"
    return converted


def _platform_texts(
    path: KeyPath, platform: str, text: str, application: bool, notes: list[ConversionNote]
) -> list[tuple[str, str]]:
    """Return (directions key, text) for one platform's template: one, or one per macOS range."""
    nodes = _template(path, text, notes)
    older = _Renderer(path, notes, passing=False, application=application, flags=True)
    rendered = older.text(nodes)
    if platform != "darwin" or older.flag_used is None:
        return [(platform, rendered)]
    newer = _Renderer(path, notes, passing=False, application=application, flags=True, macos=True)
    current = newer.text(nodes)
    if current == rendered:
        return [(platform, rendered)]
    version = MACOS_VERSION_FLAGS[older.flag_used]
    return [(f"darwin@<{version}", rendered), (f"darwin@>={version}", current)]


def _template(path: KeyPath, text: str, notes: list[ConversionNote]) -> tuple[Node, ...]:
    """Return a text's Handlebars nodes; a text Handlebars refuses is its text without tags."""
    try:
        return parse(text)
    except TemplateError as error:
        notes.append(
            ConversionNote(path, f"Handlebars cannot read this text: {error}", problem=True)
        )
        return (Text(text_of(text)),)


@dataclass
class _Renderer:
    """Renders Stethoscope's Handlebars as it rendered for a device whose practice failed.

    `passing` is the practice's state; `flags` says that the macOS version flags are defined
    (they were in directions, not in titles), `macos` their value. `flag_used` names the flag
    the text asked for, if any.
    """

    path: KeyPath
    notes: list[ConversionNote]
    passing: bool
    application: bool = False
    flags: bool = False
    macos: bool = False
    flag_used: str | None = field(default=None, init=False)

    def text(self, nodes: tuple[Node, ...]) -> str:
        """Return the nodes rendered."""
        return "".join(self._node(node) for node in nodes)

    def _node(self, node: Node) -> str:
        if isinstance(node, Text):
            return node.text
        if isinstance(node, Mustache):
            return self._mustache(node)
        return self._block(node)

    def _mustache(self, node: Mustache) -> str:
        """A value or a helper call."""
        if node.name in _REQUIREMENT_HELPERS:
            return "{{requirement}}"
        if node.name in _ICON_HELPERS:
            return self._icon_label(node)
        if not node.params and (
            node.name in _PLACEHOLDERS
            or (self.application and node.name in _APPLICATION_PLACEHOLDERS)
        ):
            return "{{" + node.name + "}}"
        if not node.params and (node.name == "passing" or self._is_flag(node.name)):
            return "true" if self._truth(node.name) else "false"
        self._left_out(node)
        return ""

    def _left_out(self, node: Mustache) -> None:
        """Note a value with no meaning here: Stethoscope's device facts, or a mistake."""
        if node.name in DEVICE_VALUES or node.name in SECURITY_KEYS:
            self._note(f"left out {_shown(node)}: it has no value here")
            return
        known = (*_PLACEHOLDERS, *(_APPLICATION_PLACEHOLDERS if self.application else ()))
        hint = suggest(node.name, known) or f" (placeholders: {', '.join(known)})"
        self._note(f"unknown placeholder {_shown(node)}{hint}", problem=True)

    def _icon_label(self, node: Mustache) -> str:
        """`statusIcon key 'label'`, `okIcon 'label'`: the label."""
        position = _ICON_HELPERS[node.name]
        label = node.params[position] if len(node.params) > position else None
        if isinstance(label, Literal):
            return label.text
        self._note(f"left out {_shown(node)}: the card lists what the check saw")
        return ""

    def _block(self, node: Block) -> str:
        """`#if`, `#unless`, `#ifPassing`, `#each`, `#with`; another helper is refused."""
        if node.name in ("if", "unless") and len(node.params) == 1:
            chosen = self._truth(node.params[0]) != (node.name == "unless")
            return self.text(node.body if chosen else node.inverse)
        if node.name == "ifPassing":
            return self.text(node.body if self.passing else node.inverse)
        if node.name == "each":
            listed = _words(node.params)
            self._note(f"left out {{{{#each {listed}}}}}: the card lists what the check saw")
            return ""
        if node.name == "with":
            return self.text(node.body)
        message = f"Handlebars has no helper {{{{#{node.name}}}}}: left out with its text"
        self._note(message, problem=True)
        return ""

    def _truth(self, param: Param) -> bool:
        """The value of `{{#if param}}`: passing, a macOS version flag, else false (unknown)."""
        if isinstance(param, Literal):
            return bool(param.text)
        if param == "passing":
            return self.passing
        if self._is_flag(param):
            self.flag_used = param
            return self.macos
        self._note(f"{{{{#if {param}}}}}: {param} has no value here, so it counts as false")
        return False

    def _is_flag(self, name: str) -> bool:
        return self.flags and name in MACOS_VERSION_FLAGS

    def _note(self, message: str, problem: bool = False) -> None:
        note = ConversionNote(self.path, message, problem)
        if note not in self.notes:
            self.notes.append(note)


def _shown(node: Mustache) -> str:
    braces = ("{{{", "}}}") if node.raw else ("{{", "}}")
    return braces[0] + _words((node.name, *node.params)) + braces[1]


def _words(params: tuple[Param, ...]) -> str:
    return " ".join(f"'{p.text}'" if isinstance(p, Literal) else p for p in params)


# -- HTML and Stethoscope's links into Markdown ------------------------------------------------

_ANCHOR = re.compile(r"<a\s+[^>]*href=['\"]([^'\"]+)['\"][^>]*>(.*?)</a>", re.S | re.I)
_BREAK = re.compile(r"<br\s*/?>", re.I)
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]+)\)")
_CHECKLIST_KEY = re.compile(r"\[(?:" + "|".join(sorted(SECURITY_KEYS)) + r")\](?! ?\() ?")


def _markdown(path: KeyPath, text: str, platform: str, notes: list[ConversionNote]) -> str:
    """Return rendered text as our Markdown: links that open here, no HTML, tidy blank lines."""
    if "<" in text:
        text = _ANCHOR.sub(lambda m: f"[{' '.join(m.group(2).split())}]({m.group(1)})", text)
        text = html.unescape(_TAG.sub("", _BREAK.sub("\n", text)))
    text = _LINK.sub(lambda m: _link(m.group(1), m.group(2), platform, path, notes), text)
    text = _CHECKLIST_KEY.sub("", text)
    lines = [line.rstrip() for line in text.splitlines()]
    kept = [line for i, line in enumerate(lines) if line or (i and lines[i - 1])]
    return "\n".join(kept).strip() + "\n"


# What a link keeps as it is, where its address is decoded and encoded again.
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~"


# Stethoscope's own link schemes: (label, url) -> Markdown here, and what a note says, if any.
def _link(label: str, url: str, platform: str, path: KeyPath, notes: list[ConversionNote]) -> str:
    scheme, _, rest = url.partition("://")
    convert = _SCHEMES.get(scheme.lower()) if rest else None
    if convert is None:
        return f"[{label}]({url})"
    markdown, note = convert(label, unquote(rest), platform)
    if note:
        notes.append(ConversionNote(path, f"{url}: {note}"))
    return markdown


def _link_scheme(label: str, rest: str, platform: str) -> tuple[str, str]:
    return f"[{label}]({quote(rest, safe=_URL_SAFE)})", ""


def _open_scheme(label: str, rest: str, platform: str) -> tuple[str, str]:
    return f"[{label}](file://{quote(rest if rest.startswith('/') else '/' + rest)})", ""


def _prefs_scheme(label: str, rest: str, platform: str) -> tuple[str, str]:
    if platform.startswith("darwin"):
        return f"[{label}](x-apple.systempreferences:{quote(rest, safe=_URL_SAFE)})", ""
    return (
        label,
        f"it opened the Control Panel item {rest!r}, which no link opens here: its text stays",
    )


def _program_scheme(label: str, rest: str, platform: str) -> tuple[str, str]:
    return label, f"it ran {rest!r}; no link runs it here: its text stays"


def _update_scheme(label: str, rest: str, platform: str) -> tuple[str, str]:
    return label, "Stethoscope's self-update; this app is updated the way IT installed it"


_SCHEMES: Mapping[str, Callable[[str, str, str], tuple[str, str]]] = {
    "link": _link_scheme,
    "open": _open_scheme,
    "prefs": _prefs_scheme,
    "ps": _program_scheme,
    "app": _program_scheme,
    "action": _update_scheme,
    "stethoscope": _update_scheme,
}
