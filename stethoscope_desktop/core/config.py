"""The app's configuration (`config.yaml`): organisation, scan interval, engine, notifications, API.

Stethoscope's own keys (`allowHosts`, `allowRegex`, `hostLabels`, `policyServer`) keep their
meaning. Invalid keys are reported (file, line, key) and their defaults kept.
"""

from __future__ import annotations

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
    Record,
    Text,
    WholeNumber,
)
from stethoscope_desktop.core.notify import NotificationSettings
from stethoscope_desktop.core.yamlfile import Problem, YamlDocument

MIN_SCAN_INTERVAL_MINUTES = 5
_LABEL_MISSING = "missing; the name to show for this web app"


@dataclass(frozen=True)
class HostLabel:
    """An origin pattern (anchored regular expression) and the name to show for it."""

    pattern: str
    name: str

    def matches(self, origin: str) -> bool:
        """Return True if `origin` matches the whole pattern."""
        return re.fullmatch(self.pattern, origin) is not None


@dataclass(frozen=True)
class AppConfig:
    """Validated app configuration, defaults filled in."""

    organization: str = "Your organization"
    scan_interval_minutes: int = 60
    engine: str = "auto"
    osquery_path: str = ""
    notifications: NotificationSettings = field(default_factory=NotificationSettings)
    api_port: int = 37370
    allow_hosts: tuple[str, ...] = ()
    host_labels: tuple[HostLabel, ...] = ()
    policy_server: str = ""
    sources: Mapping[str, str] = field(default_factory=dict)


_HOST_LABEL = Converted(
    Record(
        [
            Field(
                "pattern",
                Pattern(),
                "A regular expression that must match the whole origin, e.g. "
                "'https://(.+\\.)?example\\.com'.",
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
                below_message=f"must be at least {MIN_SCAN_INTERVAL_MINUTES} minutes",
            ),
            f"How often to check the device, in whole minutes (at least "
            f"{MIN_SCAN_INTERVAL_MINUTES}).",
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
                        "match the whole origin."
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
            OrNull(Text(pattern="^(?:https://|$)", pattern_message="must be an https:// URL"), ""),
            "An https:// URL the app fetches a policy from on a schedule (TLS verified, last "
            "good copy cached for offline use). It layers below IT's machine-wide folder, which "
            "wins any key both set. Empty: none.",
            attribute="policy_server",
        ),
    ],
    message="the config must be a mapping of settings",
)
CONFIG_FORMAT = FileFormat(
    "config",
    "Stethoscope Desktop configuration (config.yaml)",
    "How the app runs: organization name, scan interval, engine, notifications and the local "
    "API. Keys set in IT's machine-wide config.yaml cannot be changed by a user. Stethoscope's "
    "allowHosts, allowRegex, hostLabels and policyServer keep their meaning.",
    OrNull(CONFIG, {}),
)
# Each key as IT writes it, and the setting it sets.
CONFIG_KEYS = {
    key: "host_labels" if key == "allowRegex" else CONFIG.field_of(key).target
    for key in CONFIG.keys
}

# Each setting and the key that sets it, as IT writes it.
_WRITTEN_KEYS = {attribute: key for key, attribute in CONFIG_KEYS.items()}
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
