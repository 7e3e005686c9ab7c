"""Finding and layering the practices folders: bundled < IT's machine-wide folder < override.

Where IT's config names a `policyServer`, the policy it serves is a layer of IT's between the
bundled defaults and IT's folder (see `core.policy_server`): IT's folder wins over it, and the
override cannot weaken either.

IT installs its files into `platformdirs.site_config_dir("stethoscope")`. `--practices DIR` or
`STETHOSCOPE_PRACTICES` adds a folder on top for testing; where IT has a folder, that override may
add to IT's policy but never weaken it. A file that fails to load never stops the app: its
problems are reported, and the last good version of that file (from an earlier load in this
process) stays in force.

Each folder may also have a `checks.d/` folder of IT's own checks (see `core.custom_checks`),
read in file-name order after that folder's `policy.yaml` `customChecks`, as part of the same
layer: IT's machine-wide checks cannot be replaced by the override.
"""

from __future__ import annotations

import dataclasses
import locale
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from stethoscope_desktop.core.config import (
    CONFIG_KEYS,
    AppConfig,
    ConfigLayer,
    merge_configs,
    parse_config,
)
from stethoscope_desktop.core.custom_checks import (
    CHECKS_FOLDER,
    CustomCheck,
    add_unique,
    checks_files,
    read_checks_file,
)
from stethoscope_desktop.core.instructions import (
    Instructions,
    InstructionsLayer,
    merge_instructions,
    parse_instructions,
)
from stethoscope_desktop.core.policy import (
    CUSTOM_CHECKS_KEY,
    Policy,
    PolicyLayer,
    merge_layers,
    parse_policy,
)
from stethoscope_desktop.core.policy_server import PolicyServerClient
from stethoscope_desktop.core.yamlfile import Problem, YamlDocument, YamlFileError, load_yaml

POLICY_FILE = "policy.yaml"
CONFIG_FILE = "config.yaml"
ENV_OVERRIDE = "STETHOSCOPE_PRACTICES"
APP_NAME = "stethoscope"


@dataclass(frozen=True)
class PracticesFolder:
    """One layer's folder and what kind of layer it is: bundled, machine (IT's) or override."""

    kind: str
    path: Path


@dataclass(frozen=True)
class Practices:
    """Everything loaded from the practices folders, ready for a scan."""

    policy: Policy
    config: AppConfig
    instructions: Instructions
    files: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()


def machine_folder() -> Path:
    """Return the machine-wide folder IT installs its practices into on this OS."""
    return Path(platformdirs.site_config_dir(APP_NAME, appauthor=False))


def practices_folders(
    bundled: Path,
    override: Path | None = None,
    *,
    machine: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> list[PracticesFolder]:
    """Return the folders to layer, lowest first; missing ones are left out."""
    environment = os.environ if env is None else env
    folders = [PracticesFolder("bundled", bundled)]
    machine_path = machine_folder() if machine is None else machine
    if machine_path.is_dir():
        folders.append(PracticesFolder("machine", machine_path))
    chosen = (
        override
        if override is not None
        else (Path(environment[ENV_OVERRIDE]) if environment.get(ENV_OVERRIDE) else None)
    )
    if chosen is not None:
        folders.append(PracticesFolder("override", chosen))
    return folders


def system_language(env: Mapping[str, str] | None = None) -> str:
    """Return the user's language code (`de` from `de_DE.UTF-8`), `en` when unknown."""
    environment = os.environ if env is None else env
    for variable in ("LC_ALL", "LC_MESSAGES", "LANGUAGE", "LANG"):
        value = environment.get(variable, "")
        if value and value not in ("C", "POSIX") and not value.startswith("C."):
            return value.split(":")[0].split("_")[0].split(".")[0].lower() or "en"
    try:
        code = locale.getlocale()[0]
    except ValueError:
        code = None
    return (code or "en").split("_")[0].lower()


class PracticesLoader:
    """Loads and layers the practices, remembering each file's last good version."""

    def __init__(
        self,
        folders: list[PracticesFolder],
        language: str = "en",
        *,
        policy_server: PolicyServerClient | None = None,
    ) -> None:
        self._folders = folders
        self._language = language
        self._last_good: dict[str, Any] = {}
        self._policy_server = policy_server

    @property
    def policy_server(self) -> PolicyServerClient:
        """Return the client that fetches a `policyServer`'s policy (made when first needed).

        By default it fetches in the background, into the user's cache folder.
        """
        if self._policy_server is None:
            self._policy_server = PolicyServerClient()
        return self._policy_server

    @property
    def folders(self) -> list[PracticesFolder]:
        """Return the folders this loader layers, lowest first."""
        return list(self._folders)

    def watched_folders(self) -> list[Path]:
        """Return the folders where a new or removed file should trigger a reload.

        IT's and the override's folders and their `checks.d` folders; the bundled one never
        changes while the app runs.
        """
        folders = [folder.path for folder in self._folders if folder.kind != "bundled"]
        return folders + [folder / CHECKS_FOLDER for folder in folders]

    def watched_files(self) -> list[Path]:
        """Return every file whose change should trigger a reload."""
        names = [
            POLICY_FILE,
            CONFIG_FILE,
            "instructions.en.yaml",
            f"instructions.{self._language}.yaml",
        ]
        files = [folder.path / name for folder in self._folders for name in dict.fromkeys(names)]
        for folder in self._folders:
            directory = folder.path / CHECKS_FOLDER
            if directory.is_dir():
                files += checks_files(directory)[0]
        return files

    def load(self) -> Practices:
        """Load every layer and merge; never raises for bad files."""
        problems: list[Problem] = []
        files: list[str] = []
        locked = next(
            (i for i, folder in enumerate(self._folders) if folder.kind == "machine"), None
        )
        if self._folders and not self._folders[-1].path.is_dir():
            problems.append(
                Problem(str(self._folders[-1].path), "the practices folder does not exist")
            )
        policy_layers: list[PolicyLayer] = []
        config_layers: list[ConfigLayer] = []
        bundled_files = 0
        for folder in self._folders:
            policy_path = folder.path / POLICY_FILE
            layer: PolicyLayer | None = None
            if policy_path.is_file():
                files.append(str(policy_path))
                layer = self._layer(policy_path, parse_policy, PolicyLayer, problems)
            elif folder.kind != "override":
                layer = PolicyLayer(str(policy_path))
            extra = self._checks_folder(folder.path / CHECKS_FOLDER, files, problems)
            if extra:
                layer = _with_checks(layer or PolicyLayer(str(policy_path)), extra, problems)
            if layer is not None:
                policy_layers.append(layer)
            config_path = folder.path / CONFIG_FILE
            if config_path.is_file():
                files.append(str(config_path))
                config_layers.append(self._layer(config_path, parse_config, ConfigLayer, problems))
            elif folder.kind != "override":
                config_layers.append(ConfigLayer(str(config_path)))
            if folder.kind == "bundled":
                bundled_files = len(files)
        config, config_problems = merge_configs(config_layers, locked)
        locked_to = locked
        if config.policy_server:
            remote = self.policy_server.policy(
                config.policy_server, max_age=config.scan_interval_minutes * 60.0
            )
            problems += remote.problems
            if remote.layer is not None:
                # Just below IT's folder, or above the bundled layers where there is none.
                position = (
                    locked
                    if locked is not None
                    else sum(1 for folder in self._folders if folder.kind == "bundled")
                )
                policy_layers.insert(position, remote.layer)
                files.insert(bundled_files, remote.url)
                locked, locked_to = position, position + (0 if locked is None else 1)
        policy, merge_problems = merge_layers(policy_layers, locked, locked_to)
        problems += merge_problems
        problems += config_problems
        languages = ["en"] if self._language == "en" else ["en", self._language]
        instruction_layers: list[InstructionsLayer] = []
        for language in languages:
            for folder in self._folders:
                path = folder.path / f"instructions.{language}.yaml"
                if path.is_file():
                    files.append(str(path))
                    instruction_layers.append(
                        self._layer(path, parse_instructions, InstructionsLayer, problems)
                    )
        chosen_language = (
            self._language
            if any(
                Path(layer.file).name == f"instructions.{self._language}.yaml"
                for layer in instruction_layers
            )
            else "en"
        )
        instructions = merge_instructions(instruction_layers, chosen_language)
        return Practices(policy, config, instructions, tuple(files), tuple(problems))

    def _checks_folder(
        self, directory: Path, files: list[str], problems: list[Problem]
    ) -> list[CustomCheck]:
        """Load a `checks.d` folder's files in name order; each file keeps its last good version."""
        if not directory.is_dir():
            return []
        paths, found = checks_files(directory)
        problems += found
        checks: list[CustomCheck] = []
        for path in paths:
            files.append(str(path))
            checks += self._checks_file(path, problems)
        return checks

    def _checks_file(self, path: Path, problems: list[Problem]) -> list[CustomCheck]:
        key = str(path)
        previous: tuple[CustomCheck, ...] | None = self._last_good.get(key)
        loaded = read_checks_file(path)
        problems += loaded.problems
        if loaded.unreadable and previous is not None:
            problems.append(Problem(key, "using the last good version of this file"))
            return list(previous)
        checks = list(loaded.checks)
        if not loaded.problems:
            self._last_good[key] = tuple(checks)
        elif previous is not None:
            present = {check.key for check in checks}
            kept = [check for check in previous if check.key not in present]
            if kept:
                checks += kept
                problems.append(
                    Problem(
                        key,
                        "until this file is fixed, the last good version stays in force for: "
                        + ", ".join(f"the check {check.name!r}" for check in kept),
                    )
                )
        return checks

    def _layer(self, path: Path, parse: Any, empty: Any, problems: list[Problem]) -> Any:
        key = str(path)
        previous = self._last_good.get(key)
        try:
            doc: YamlDocument = load_yaml(path)
        except YamlFileError as error:
            problems.append(error.problem)
            if previous is not None:
                problems.append(Problem(key, "using the last good version of this file"))
                return previous
            blank = empty(key)
            if isinstance(blank, PolicyLayer):
                blank.unreadable = True
            return blank
        layer = parse(doc)
        problems += layer.problems
        if layer.problems and previous is not None:
            kept = _keep_last_good_parts(layer, previous)
            if kept:
                problems.append(
                    Problem(
                        key,
                        "until this file is fixed, the last good version stays in force for: "
                        + ", ".join(kept),
                    )
                )
        if not layer.problems:
            self._last_good[key] = layer
        return layer


_NOTIFICATION_KEYS = {"reminder_hours": "reminderHours"}


def _with_checks(
    layer: PolicyLayer, checks: list[CustomCheck], problems: list[Problem]
) -> PolicyLayer:
    """Return a copy of a folder's policy layer with its `checks.d` checks added after its own.

    A copy, so that the layer remembered as the policy file's last good version stays as the
    file had it.
    """
    merged = list(layer.values.get(CUSTOM_CHECKS_KEY, []))
    add_unique(merged, checks, problems)
    return dataclasses.replace(layer, values={**layer.values, CUSTOM_CHECKS_KEY: merged})


def _keep_last_good_parts(layer: Any, previous: Any) -> list[str]:
    """Fill what a file's new version lost to errors from its last good version.

    Works key by key, and inside `osVersion` (per platform), `applications` (per rule name),
    `notifications` and each practice's texts (per field), so one broken entry does not throw
    away its valid neighbours' last good values. Returns the keys kept, as IT writes them.
    """
    kept: list[str] = []
    if isinstance(layer, InstructionsLayer):
        for name, text in previous.strings.items():
            if name not in layer.strings:
                layer.strings[name] = text
                kept.append(f"strings.{name}")
        for practice, fields_ in previous.practices.items():
            current = layer.practices.setdefault(practice, {})
            for field_name, value in fields_.items():
                if field_name == "directions":
                    new = current.get("directions", {})
                    old = {
                        platform: text for platform, text in value.items() if platform not in new
                    }
                    current["directions"] = {**old, **new}
                    kept += [f"practices.{practice}.directions.{platform}" for platform in old]
                elif field_name not in current:
                    current[field_name] = value
                    kept.append(f"practices.{practice}.{field_name.replace('_', '.')}")
        return kept
    names = {attribute: key for key, attribute in CONFIG_KEYS.items()}
    for key, value in previous.values.items():
        shown = names.get(key, key) if isinstance(layer, ConfigLayer) else key
        if key not in layer.values:
            layer.values[key] = value
            kept.append(shown)
        elif isinstance(layer, PolicyLayer) and key == CUSTOM_CHECKS_KEY:
            present = {check.key for check in layer.values[key]}
            old_checks = [check for check in value if check.key not in present]
            layer.values[key] = [*layer.values[key], *old_checks]
            kept += [f"the check {check.name!r}" for check in old_checks]
        elif isinstance(layer, PolicyLayer) and key == "applications":
            present = {rule.name for rule in layer.values[key]}
            old_rules = [rule for rule in value if rule.name not in present]
            layer.values[key] = [*layer.values[key], *old_rules]
            kept += [f"the applications rule {rule.name!r}" for rule in old_rules]
        elif isinstance(value, dict):  # osVersion platforms, notifications settings
            old = {name: item for name, item in value.items() if name not in layer.values[key]}
            layer.values[key] = {**old, **layer.values[key]}
            kept += [f"{shown}.{_NOTIFICATION_KEYS.get(name, name)}" for name in old]
    return kept
