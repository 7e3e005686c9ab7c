"""The app's configuration (`config.yaml`): organisation, scan interval, engine, notifications, API.

Every key of Stethoscope's `config.yaml` is accepted, and every key of its build-time
`config.json` too (YAML reads JSON, so IT can paste that file's keys in): where the key maps onto
this app it keeps its meaning, else it is read (its type checked) and has no effect, and its
description says why (`NO_EFFECT_KEYS`).

- `allowHosts`, `allowRegex`, `hostLabels`: the origins the local API answers (patterns match
  the whole origin, or its whole host and port; Stethoscope searched for them anywhere in it).
- `policyServer`: a URL that serves a policy (Stethoscope 1.0 fetched its three files from under
  it; it was empty in every release).
- `testHosts`: origins that must be allowed; Stethoscope's build tested each against its API,
  here loading the file does (`check-policy` before the installer is built).
- `deprecationNotice`: a banner at the top of the window, and a line in the tray menu.
- `menu.help` (from `config.json`): the Help entries of the tray menu and the window.
- `stethoscopeWebURI` (from `config.json`): a page that shows all the person's devices, offered
  beside the help links.
- `rescanIntervalSeconds` (from `config.json`): the scan interval in seconds, where
  `scanIntervalMinutes` does not set it.

Invalid keys are reported (file, line, key) and their defaults kept.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from stethoscope_desktop.core.fileformat import (
    INVALID,
    Choice,
    Converted,
    Field,
    FileFormat,
    Flag,
    ListOf,
    Number,
    OrNull,
    Pattern,
    Reading,
    Record,
    Text,
    WholeNumber,
)
from stethoscope_desktop.core.notify import NotificationSettings
from stethoscope_desktop.core.outside_patterns import PatternError, compile_outside_pattern
from stethoscope_desktop.core.strings import UNNAMED_ORGANIZATION
from stethoscope_desktop.core.support import HelpLink, Notice
from stethoscope_desktop.core.yamlfile import KeyPath, Problem, YamlDocument

MIN_SCAN_INTERVAL_MINUTES = 5
# The tray's timer (Qt's) counts at most 2**31 - 1 ms, some 24.8 days: a longer interval made it
# raise OverflowError on every report. Two weeks is the longest a checkup may wait.
MAX_SCAN_INTERVAL_MINUTES = 14 * 24 * 60
_LABEL_MISSING = "missing; the name to show for this web app"
# A link IT gives: a URL with its scheme (https:, mailto:, slack:, msteams:, …), or an e-mail
# address, which becomes a mailto: link.
_URL = r"[A-Za-z][A-Za-z0-9+.-]*:\S+"
_EMAIL = re.compile(r"[^@\s:/]+@[^@\s:/]+")
LINK_PATTERN = rf"^(?:{_URL}|{_EMAIL.pattern})?$"  # empty: none (where a link may be left out)
_LINK_MESSAGE = (
    "must be a link such as https://help.example.com, mailto:it@example.com or an e-mail address"
)
# An origin as a browser sends it: scheme://host[:port], nothing after.
_ORIGIN_PATTERN = r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#@\s]+$"


@dataclass(frozen=True)
class HostLabel:
    """An origin pattern (anchored regular expression) and the name to show for it.

    The pattern must match the whole origin (`https://login.example.com`) or its whole host and
    port (`login.example.com`), never a part of either: Stethoscope searched anywhere in the
    origin, so its 2018 `allowRegex` (`(meechum|stethoscope)[.]netflix[.]com$`) allowed the page
    at that host; here it still does, but not `https://meechum.netflix.com.attacker.example`.
    """

    pattern: str
    name: str

    def matches(self, origin: str) -> bool:
        """Return True if the pattern matches the whole origin, or its whole host and port."""
        try:
            pattern = compile_outside_pattern(self.pattern)
        except PatternError:
            return False  # validation refuses such a pattern; one built in code matches nothing
        if pattern.fullmatch(origin):
            return True
        _scheme, separator, host = origin.partition("://")
        return bool(separator) and pattern.fullmatch(host)


MAX_REPORT_STALE_AFTER_HOURS = 8760


@dataclass(frozen=True)
class AppConfig:
    """Validated app configuration, defaults filled in."""

    organization: str = UNNAMED_ORGANIZATION
    scan_interval_minutes: int = 60
    engine: str = "auto"
    osquery_path: str = ""
    notifications: NotificationSettings = field(default_factory=NotificationSettings)
    api_port: int = 37370
    allow_hosts: tuple[str, ...] = ()
    host_labels: tuple[HostLabel, ...] = ()
    policy_server: str = ""
    help_links: tuple[HelpLink, ...] = ()
    devices_url: str = ""
    notice: Notice | None = None
    # IT's checks done by hand (Fleet's manual-check placeholders): "show" them apart in the
    # report, or "skip" them (the report says how many it left out).
    manual_checks: str = "show"
    # The kind of a new device key (device_trust.keys.KEY_CHOICES): auto, tpm, secure-enclave
    # or software.
    device_key: str = "auto"
    # IT's https:// endpoint the device key's public part is posted to once (device_trust.enroll).
    enrollment_url: str = ""
    # After how many hours the osquery extension calls a user's last report stale.
    report_stale_after_hours: int = 24
    sources: Mapping[str, str] = field(default_factory=dict)

    def lists_origin(self, origin: str) -> bool:
        """Return True when `allowHosts` lists `origin` or a `hostLabels` pattern matches it.

        As the local API decides (`api.security.origin_allowed`): only an origin as a browser
        sends it (scheme://host[:port]); exact entries compare without case and a trailing
        slash, patterns must match the whole origin (or its whole host and port).
        """
        if re.fullmatch(_ORIGIN_PATTERN, origin) is None:
            return False
        wanted = _normalized_origin(origin)
        return any(_normalized_origin(entry) == wanted for entry in self.allow_hosts) or any(
            label.matches(origin) for label in self.host_labels
        )


def _normalized_origin(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def _link(reading: Reading, path: KeyPath, text: str) -> str:
    """Return a link as it opens: an e-mail address as its mailto: link."""
    return f"mailto:{text}" if _EMAIL.fullmatch(text) else text


def link_kind(missing: str = "") -> Converted:
    """Return the key type of a link IT gives (`missing`: required, with this message)."""
    return Converted(
        Text(missing=missing, pattern=LINK_PATTERN, pattern_message=_LINK_MESSAGE), _link
    )


# An https:// URL the app connects to (policyServer, enrollmentUrl); empty or null: none.
_HTTPS_URL_OR_NONE = OrNull(
    Text(pattern="^(?:https://|$)", pattern_message="must be an https:// URL"), ""
)

_HOST_LABEL = Converted(
    Record(
        [
            Field(
                "pattern",
                Pattern(),
                "A regular expression that must match the whole origin (or its whole host and "
                "port), e.g. 'https://(.+\\.)?example\\.com'. It runs in linear time (RE2): no "
                "back-references or lookaround.",
                missing="must be a regular expression in quotes",
            ),
            Field(
                "name",
                Text(missing=_LABEL_MISSING, message=_LABEL_MISSING),
                'The web app\'s name, shown as "Last checked by <name>".',
                missing=_LABEL_MISSING,
            ),
        ],
        message="must be {pattern: regex, name: text}",
        whole=True,
    ),
    lambda reading, path, values: HostLabel(**values),
)
_HELP_LINK = Converted(
    Record(
        [
            Field(
                "label",
                Text(missing="missing; the entry's text, e.g. Email Support"),
                "The entry's text, e.g. Email Support.",
                missing="missing; the entry's text, e.g. Email Support",
            ),
            Field(
                "link",
                link_kind("missing; what the entry opens, e.g. mailto:it@example.com"),
                "What the entry opens with the desktop's handler: https://…, mailto:…, a chat "
                "app's link (slack://…, msteams:…), or an e-mail address.",
                missing="missing; what the entry opens, e.g. mailto:it@example.com",
            ),
        ],
        message="must be {label: text, link: URL}",
        whole=True,
    ),
    lambda reading, path, values: HelpLink(values["label"], values["link"]),
)
MENU = Converted(
    Record(
        [
            Field(
                "help",
                OrNull(ListOf(_HELP_LINK, message="must be a list of {label, link}"), []),
                "The Help entries, in order: the support e-mail, chat and web pages.",
            )
        ],
        message="must be a mapping with help",
    ),
    lambda reading, path, values: tuple(values.get("help", ())),
)


def _notice_links(
    reading: Reading, path: KeyPath, raw: Mapping[str, Any], values: dict[str, Any]
) -> None:
    if values.get("link_text") and not values.get("link_url") and not raw.get("linkUrl"):
        reading.fail((*path, "linkText"), "has no linkUrl to open")


NOTICE = Converted(
    Record(
        [
            Field(
                "heading",
                OrNull(Text(), ""),
                "The notice's first line, in bold (e.g. that the app is replaced).",
            ),
            Field(
                "subHeading",
                OrNull(Text(), ""),
                "A line below the heading.",
                attribute="sub_heading",
            ),
            Field(
                "linkUrl",
                OrNull(link_kind(), ""),
                "A link to read more (https://…, mailto:…).",
                attribute="link_url",
            ),
            Field(
                "linkText",
                OrNull(Text(), ""),
                "The link's text (empty: the link itself).",
                attribute="link_text",
            ),
        ],
        message="must be a mapping with heading, subHeading, linkUrl and linkText",
        check=_notice_links,
    ),
    lambda reading, path, values: Notice(**values),
)
_TEST_HOST = Record(
    [
        Field(
            "url",
            Text(
                missing="missing; an origin such as https://login.example.com",
                pattern=_ORIGIN_PATTERN,
                pattern_message="must be an origin as a browser sends it, "
                "e.g. https://login.example.com (no path, no slash at the end)",
            ),
            "An origin as a browser sends it, e.g. https://login.example.com.",
            missing="missing; an origin such as https://login.example.com",
        ),
        Field("label", OrNull(Text(), ""), "What to call it in a problem found with it."),
    ],
    message="must be {url: origin, label: text}",
    whole=True,
)
NOTIFICATIONS = Record(
    [
        Field(
            "enabled",
            Flag(),
            "Notify when a practice newly becomes a critical problem.",
            default=True,
        ),
        Field(
            "reminderHours",
            Number("must be a number of hours (0 turns reminders off)", minimum=0),
            "Remind again after this many hours while it is still failing (0: never remind).",
            attribute="reminder_hours",
            default=24,
        ),
    ],
    message="must be a mapping with enabled and reminderHours",
)
CONFIG = Record(
    [
        Field(
            "organization",
            OrNull(Text(), ""),
            "The organization's name, shown in the window and the texts.",
        ),
        Field(
            "scanIntervalMinutes",
            WholeNumber(
                "must be a whole number of minutes",
                minimum=MIN_SCAN_INTERVAL_MINUTES,
                maximum=MAX_SCAN_INTERVAL_MINUTES,
                below_message=f"must be at least {MIN_SCAN_INTERVAL_MINUTES} minutes",
                above_message=f"must be at most {MAX_SCAN_INTERVAL_MINUTES} minutes (14 days)",
            ),
            f"How often to check the device, in whole minutes (at least "
            f"{MIN_SCAN_INTERVAL_MINUTES}, at most {MAX_SCAN_INTERVAL_MINUTES}: 14 days).",
            attribute="scan_interval_minutes",
            default=AppConfig.scan_interval_minutes,
        ),
        Field(
            "engine",
            Choice(
                {
                    "auto": "osquery where it is installed, else the built-in engine.",
                    "embedded": "Always the built-in engine.",
                    "osquery": "Always osqueryd (found by osqueryPath, STETHOSCOPE_OSQUERYD or "
                    "the usual places).",
                }
            ),
            "Which engine runs the checks. auto: osquery where it is installed, else the "
            "built-in engine. embedded: always the built-in engine. osquery: always osqueryd.",
            default=AppConfig.engine,
        ),
        Field(
            "manualChecks",
            Choice(
                {
                    "show": "List them apart from the recommendations, as checks to do by hand.",
                    "skip": "Leave them out; the report says how many.",
                }
            ),
            "IT's checks that are done by hand: Fleet's manual-check placeholders, whose query "
            "never returns rows (SELECT 1 WHERE 0). They are never run nor held against the "
            "device. show: the window and the report list them apart from the recommendations, "
            "each with its resolution. skip: they are left out, and the report says how many.",
            attribute="manual_checks",
            default=AppConfig.manual_checks,
        ),
        Field(
            "deviceKey",
            Choice(
                {
                    "auto": "A TPM 2.0 (Linux), the Platform Crypto Provider (Windows) or the "
                    "Secure Enclave (macOS) where one answers, else a software key.",
                    "tpm": "Always hardware: the TPM on Linux and Windows, the Secure Enclave on "
                    "macOS; without it the app says so and signs nothing.",
                    "secure-enclave": "Always the Secure Enclave (macOS only); without it the app "
                    "says so and signs nothing.",
                    "software": "A software key in a file only the user can read.",
                }
            ),
            "Where the device key that signs the tokens login pages ask for is made: auto, tpm, "
            "secure-enclave or software. It chooses the kind of a new key only: a key that exists "
            "is kept until stethoscope-desktop device-key --new replaces it.",
            attribute="device_key",
            default=AppConfig.device_key,
        ),
        Field(
            "enrollmentUrl",
            _HTTPS_URL_OR_NONE,
            "An https:// URL the app posts the device key's public part to once per key (JSON: "
            "jwk, kid, keyProtection, user and the device's identifiers), so that IT's login "
            "servers know the key. A failed post is tried again at a later start. Empty: none "
            "(IT enrolls keys with stethoscope-desktop device-key instead).",
            attribute="enrollment_url",
        ),
        Field(
            "reportStaleAfterHours",
            WholeNumber(
                "must be a whole number of hours from 1 to 8760",
                minimum=1,
                maximum=MAX_REPORT_STALE_AFTER_HOURS,
            ),
            "For IT's osquery (stethoscope-desktop osquery-extension, which reads it from this "
            "machine-wide file only): after how many hours a user's last report counts as stale "
            "(stethoscope_status.stale = 1), from 1 to 8760 (a year). The extension's "
            "--stale-after SECONDS decides over it.",
            attribute="report_stale_after_hours",
            default=AppConfig.report_stale_after_hours,
        ),
        Field(
            "osqueryPath",
            OrNull(Text(), ""),
            "Where osqueryd is, if not in a standard place. Empty: look in the usual places.",
            attribute="osquery_path",
        ),
        Field(
            "notifications",
            NOTIFICATIONS,
            "When the app may notify the user.",
        ),
        Field(
            "apiPort",
            WholeNumber("must be a port number from 0 to 65535", minimum=0, maximum=65535),
            "The loopback port of the local API that web apps ask (Stethoscope's is 37370).",
            attribute="api_port",
            default=AppConfig.api_port,
        ),
        Field(
            "allowHosts",
            OrNull(
                ListOf(
                    Text(),
                    message="must be a list of origins, e.g. https://login.example.com",
                    as_one=True,
                ),
                [],
            ),
            "Origins allowed to ask the local API, exactly as the browser sends them, e.g. "
            "https://login.example.com.",
            attribute="allow_hosts",
        ),
        Field(
            "allowRegex",
            OrNull(
                ListOf(
                    Converted(Pattern(), lambda reading, path, pattern: HostLabel(pattern, "")),
                    message="must be a list of regular expressions",
                    item_schema={
                        "description": "An origin pattern: a regular expression that must "
                        "match the whole origin (or its whole host and port)."
                    },
                ),
                [],
            ),
            "Stethoscope's older form: origins allowed by pattern, without a display name.",
            attribute="allow_regex",
        ),
        Field(
            "hostLabels",
            OrNull(ListOf(_HOST_LABEL, message="must be a list of {pattern, name}"), []),
            "Origins allowed by pattern, each with the name the window shows for it.",
            attribute="host_labels",
        ),
        Field(
            "policyServer",
            _HTTPS_URL_OR_NONE,
            "An https:// URL the app fetches a policy from on a schedule (TLS verified, last "
            "good copy cached for offline use). It layers below IT's machine-wide folder, which "
            "wins any key both set. Empty: none. (Stethoscope 1.0 fetched policy.yaml, "
            "instructions.yaml and config.yaml from under this URL; here it serves the policy.)",
            attribute="policy_server",
        ),
        Field(
            "testHosts",
            OrNull(ListOf(_TEST_HOST, message="must be a list of {url, label}"), []),
            "Stethoscope's: origins of web apps that must be able to ask the local API (its "
            "build tested each). Here each must be listed in allowHosts or matched by a "
            "hostLabels or allowRegex pattern of the same file, or the file has a problem "
            "(check-policy tests it before an installer is built).",
            attribute="test_hosts",
        ),
        Field(
            "deprecationNotice",
            OrNull(NOTICE),
            "Stethoscope's: a notice from IT, shown as a banner at the top of the window and "
            "as a line in the tray menu (e.g. that the app is being replaced). Empty: none.",
            attribute="notice",
        ),
        Field(
            "menu",
            OrNull(MENU, ()),
            "Stethoscope's (from its config.json): `help`, the entries of the Help section in "
            "the tray menu and the window, each {label, link}.",
            attribute="help_links",
        ),
        Field(
            "stethoscopeWebURI",
            OrNull(link_kind(), ""),
            "Stethoscope's (from its config.json): a web page that shows all of the person's "
            'devices; offered as "See all your devices" beside the Help entries. Empty: none.',
            attribute="devices_url",
        ),
        Field(
            "rescanIntervalSeconds",
            WholeNumber(
                "must be a whole number of seconds",
                minimum=MIN_SCAN_INTERVAL_MINUTES * 60,
                maximum=MAX_SCAN_INTERVAL_MINUTES * 60,
                below_message=f"must be at least {MIN_SCAN_INTERVAL_MINUTES * 60} seconds "
                f"({MIN_SCAN_INTERVAL_MINUTES} minutes)",
                above_message=f"must be at most {MAX_SCAN_INTERVAL_MINUTES * 60} seconds (14 days)",
            ),
            "Stethoscope's (from its config.json): how often to check the device, in seconds "
            "(rounded up to whole minutes). scanIntervalMinutes wins where both are set.",
            attribute="rescan_interval_seconds",
        ),
        Field(
            "autoLaunchPrompt",
            Flag(),
            "Stethoscope's (from its config.json): whether to ask at the first start to start "
            "at login. No effect here: the installers turn start at login on, and the tray "
            "menu switches it.",
        ),
        Field(
            "allowPrerelease",
            Flag(),
            "Stethoscope's (from its config.json): whether its built-in updater took "
            "pre-releases. No effect here: the app is updated with IT's packages.",
        ),
        Field(
            "scanIntervalSeconds",
            WholeNumber("must be a whole number of seconds", minimum=0),
            "Stethoscope 1.0's (from its config.json), which no version of it read. No effect: "
            "scanIntervalMinutes sets the interval.",
        ),
        Field(
            "showStethoscopeLink",
            Flag(),
            "Stethoscope 1.0's (from its config.json), which no version of it read. No effect: "
            "stethoscopeWebURI offers the page.",
        ),
    ],
    message="the config must be a mapping of settings",
    # Not the closest by spelling (scanIntervalSeconds, which has no effect): the one that counts.
    aliases={"scaninterval": "scanIntervalMinutes"},
    check=lambda reading, path, raw, values: _check_config(reading, raw, values),
)
# Keys that are read (their type checked) and then left out: they mean nothing here.
NO_EFFECT_KEYS = (
    "autoLaunchPrompt",
    "allowPrerelease",
    "scanIntervalSeconds",
    "showStethoscopeLink",
)


def _check_config(reading: Reading, raw: Mapping[str, Any], values: dict[str, Any]) -> None:
    """Say what the declaration can't: a second interval, test hosts the API would refuse."""
    if "rescanIntervalSeconds" in raw and "scanIntervalMinutes" in raw:
        reading.fail(("rescanIntervalSeconds",), "ignored: scanIntervalMinutes sets the interval")
    hosts = raw.get("testHosts")
    if not isinstance(hosts, list):
        return
    allowing = AppConfig(
        allow_hosts=tuple(values.get("allow_hosts", ())),
        host_labels=(*values.get("host_labels", ()), *values.get("allow_regex", ())),
    )
    for index, host in enumerate(hosts):
        url = host.get("url") if isinstance(host, dict) else None
        if not isinstance(url, str) or re.search(_ORIGIN_PATTERN, url) is None:
            continue  # reported as it is
        if not allowing.lists_origin(url.strip()):
            reading.fail(
                ("testHosts", index, "url"),
                f"{url.strip()} would be refused by the local API: list it in allowHosts, or "
                "match it with a hostLabels pattern (patterns match the whole origin, or its "
                "whole host and port)",
            )


CONFIG_FORMAT = FileFormat(
    "config",
    "Stethoscope Desktop configuration (config.yaml)",
    "How the app runs: organization name, scan interval, engine, notifications, the local API, "
    "help links and IT's notice. Keys set in IT's machine-wide config.yaml cannot be changed by "
    "a user. Every key of Stethoscope's config.yaml and config.json is accepted: where it maps "
    "onto this app it keeps its meaning, else its description says why it has no effect.",
    OrNull(CONFIG, {}),
)
# Stethoscope's keys whose value, once read, lands in the setting of another key.
_SETTING_OF = {"allowRegex": "host_labels", "rescanIntervalSeconds": "scan_interval_minutes"}
# Each key as IT writes it, and the setting it sets (testHosts and the keys without effect set
# none).
CONFIG_KEYS = {
    key: _SETTING_OF.get(key, CONFIG.field_of(key).target)
    for key in CONFIG.keys
    if key not in NO_EFFECT_KEYS and key != "testHosts"
}

# Each setting and the key that sets it, as IT writes it.
_WRITTEN_KEYS = {attribute: key for key, attribute in CONFIG_KEYS.items() if key not in _SETTING_OF}
_NOTIFICATION_KEYS = {f.target: f.key for f in NOTIFICATIONS.fields}


@dataclass
class ConfigLayer:
    """The valid keys of one config file and what was wrong with the rest."""

    file: str
    values: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    # The parsed file, so that a merge problem names the key as written and its line.
    doc: YamlDocument | None = field(default=None, repr=False, compare=False)

    def problem(self, attribute: str, message: str) -> Problem:
        """Return a problem about the key of this file that set `attribute`."""
        written = [key for key, name in CONFIG_KEYS.items() if name == attribute]
        if self.doc is None or not isinstance(self.doc.data, dict):
            return Problem(self.file, message, written[0] if written else attribute)
        key = next((k for k in written if k in self.doc.data), attribute)
        return self.doc.problem((key,), message)

    def keep_last_good(self, previous: ConfigLayer) -> list[str]:
        """Fill the settings this version of the file lost to errors from its last good one.

        Setting by setting, and inside `notifications` per key. Return the keys kept, as
        written in the file.
        """
        kept: list[str] = []
        for attribute, value in previous.values.items():
            written = _WRITTEN_KEYS[attribute]
            if attribute not in self.values:
                self.values[attribute] = value
                kept.append(written)
            elif attribute == "notifications":
                old = {k: v for k, v in value.items() if k not in self.values[attribute]}
                self.values[attribute] = {**old, **self.values[attribute]}
                kept += [f"{written}.{_NOTIFICATION_KEYS[name]}" for name in old]
        return kept


def parse_config(doc: YamlDocument) -> ConfigLayer:
    """Validate a config document key by key; invalid keys are reported and left out."""
    layer = ConfigLayer(doc.file, doc=doc)
    values, layer.problems = CONFIG_FORMAT.read(doc)
    if values is INVALID:
        return layer
    # Stethoscope's allowRegex labels come after hostLabels, whichever the file writes first.
    if "allow_hosts" in values:
        values["allow_hosts"] = tuple(values["allow_hosts"])
    labels = values.pop("host_labels", None)
    unnamed = values.pop("allow_regex", None)
    if labels is not None or unnamed is not None:
        values["host_labels"] = tuple(labels or ()) + tuple(unnamed or ())
    seconds = values.pop("rescan_interval_seconds", None)
    if seconds is not None and "scanIntervalMinutes" not in doc.data:
        values["scan_interval_minutes"] = math.ceil(seconds / 60)
    values.pop("test_hosts", None)
    for key in NO_EFFECT_KEYS:
        values.pop(CONFIG.field_of(key).target, None)
    layer.values = values
    return layer


def merge_configs(
    layers: list[ConfigLayer], locked_from: int | None = None
) -> tuple[AppConfig, list[Problem]]:
    """Merge config layers, later over earlier; keys IT's layer sets cannot be changed later."""
    config = AppConfig()
    sources: dict[str, str] = {}
    problems: list[Problem] = []
    locked: set[str] = set()
    names = {f.name for f in fields(AppConfig)}
    for index, layer in enumerate(layers):
        for attribute, value in layer.values.items():
            if attribute in locked:
                problems.append(layer.problem(attribute, "ignored: IT's configuration sets this"))
                continue
            if attribute == "notifications":
                value = replace(config.notifications, **value)
            if attribute in names:
                config = replace(config, **{attribute: value})
                sources[attribute] = layer.file
        if locked_from is not None and index == locked_from:
            locked |= set(layer.values)
    return replace(config, sources=sources), problems
