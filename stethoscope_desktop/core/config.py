"""The app's configuration (`config.yaml`): organisation, scan interval, engine, notifications, API.

Stethoscope's own keys (`allowHosts`, `allowRegex`, `hostLabels`, `policyServer`) keep their
meaning. Invalid keys are reported (file, line, key) and their defaults kept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from stethoscope_desktop.core.notify import NotificationSettings
from stethoscope_desktop.core.yamlfile import Problem, YamlDocument, suggest, unknown_keys

ENGINES = ("auto", "embedded", "osquery")
MIN_SCAN_INTERVAL_MINUTES = 5


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


CONFIG_KEYS = {
    "organization": "organization",
    "scanIntervalMinutes": "scan_interval_minutes",
    "engine": "engine",
    "osqueryPath": "osquery_path",
    "notifications": "notifications",
    "apiPort": "api_port",
    "allowHosts": "allow_hosts",
    "allowRegex": "host_labels",
    "hostLabels": "host_labels",
    "policyServer": "policy_server",
}


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


def _regex(
    doc: YamlDocument, path: tuple[str | int, ...], pattern: Any, problems: list[Problem]
) -> str | None:
    if not isinstance(pattern, str) or not pattern:
        problems.append(doc.problem(path, "must be a regular expression in quotes"))
        return None
    try:
        re.compile(pattern)
    except re.error as error:
        problems.append(doc.problem(path, f"not a valid regular expression: {error}"))
        return None
    return pattern


def parse_config(doc: YamlDocument) -> ConfigLayer:
    """Validate a config document key by key; invalid keys are reported and left out."""
    layer = ConfigLayer(doc.file, doc=doc)
    data = doc.data
    if data is None:
        return layer
    if not isinstance(data, dict):
        layer.problems.append(doc.problem((), "the config must be a mapping of settings"))
        return layer
    problems = layer.problems
    problems += unknown_keys(doc, data, (), CONFIG_KEYS)
    for key, value in data.items():
        if key not in CONFIG_KEYS:
            continue
        path = (key,)
        if key in ("organization", "osqueryPath", "policyServer"):
            if value is None:
                value = ""
            if not isinstance(value, str):
                problems.append(doc.problem(path, "must be text"))
            elif key == "policyServer" and value and not value.startswith("https://"):
                problems.append(doc.problem(path, "must be an https:// URL"))
            else:
                layer.values[CONFIG_KEYS[key]] = value.strip()
        elif key == "scanIntervalMinutes":
            if isinstance(value, bool) or not isinstance(value, int):
                problems.append(doc.problem(path, "must be a whole number of minutes"))
            elif value < MIN_SCAN_INTERVAL_MINUTES:
                problems.append(
                    doc.problem(path, f"must be at least {MIN_SCAN_INTERVAL_MINUTES} minutes")
                )
            else:
                layer.values["scan_interval_minutes"] = value
        elif key == "engine":
            if value not in ENGINES:
                problems.append(
                    doc.problem(
                        path,
                        f"{value!r} is not one of {', '.join(ENGINES)}"
                        + suggest(str(value), ENGINES),
                    )
                )
            else:
                layer.values["engine"] = value
        elif key == "apiPort":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
                problems.append(doc.problem(path, "must be a port number from 0 to 65535"))
            else:
                layer.values["api_port"] = value
        elif key == "allowHosts":
            if value is None:
                value = []
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                problems.append(
                    doc.problem(path, "must be a list of origins, e.g. https://login.example.com")
                )
            else:
                layer.values["allow_hosts"] = tuple(v.strip() for v in value)
        elif key == "allowRegex":
            if value is None:
                value = []
            if not isinstance(value, list):
                problems.append(doc.problem(path, "must be a list of regular expressions"))
            else:
                labels = [
                    HostLabel(p, "")
                    for i, item in enumerate(value)
                    if (p := _regex(doc, (*path, i), item, problems)) is not None
                ]
                layer.values.setdefault("host_labels", ())
                layer.values["host_labels"] += tuple(labels)
        elif key == "hostLabels":
            if value is None:
                value = []
            if not isinstance(value, list):
                problems.append(doc.problem(path, "must be a list of {pattern, name}"))
                continue
            labels = []
            for index, item in enumerate(value):
                where = (*path, index)
                if not isinstance(item, dict):
                    problems.append(doc.problem(where, "must be {pattern: regex, name: text}"))
                    continue
                problems += unknown_keys(doc, item, where, ("pattern", "name"))
                pattern = _regex(doc, (*where, "pattern"), item.get("pattern"), problems)
                name = item.get("name")
                if not isinstance(name, str) or not name.strip():
                    problems.append(
                        doc.problem((*where, "name"), "missing; the name to show for this web app")
                    )
                elif pattern is not None:
                    labels.append(HostLabel(pattern, name.strip()))
            layer.values.setdefault("host_labels", ())
            layer.values["host_labels"] = tuple(labels) + layer.values["host_labels"]
        elif key == "notifications":
            settings = _notifications(doc, value, problems)
            if settings is not None:
                layer.values["notifications"] = settings
    return layer


def _notifications(doc: YamlDocument, value: Any, problems: list[Problem]) -> dict[str, Any] | None:
    path = ("notifications",)
    if not isinstance(value, dict):
        problems.append(doc.problem(path, "must be a mapping with enabled and reminderHours"))
        return None
    problems += unknown_keys(doc, value, path, ("enabled", "reminderHours"))
    result: dict[str, Any] = {}
    if "enabled" in value:
        if not isinstance(value["enabled"], bool):
            problems.append(doc.problem((*path, "enabled"), "must be true or false"))
        else:
            result["enabled"] = value["enabled"]
    if "reminderHours" in value:
        hours = value["reminderHours"]
        if isinstance(hours, bool) or not isinstance(hours, int | float) or hours < 0:
            problems.append(
                doc.problem(
                    (*path, "reminderHours"), "must be a number of hours (0 turns reminders off)"
                )
            )
        else:
            result["reminder_hours"] = float(hours)
    return result


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
