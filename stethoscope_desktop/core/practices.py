"""Finding and layering the practices folders: bundled < IT's machine-wide folder < override.

The bundled policy applies only where no other folder has a `policy.yaml`: a policy IT ships is
the whole policy, as it was for Stethoscope (see `core.policy.merge_layers`). Config and texts
layer key by key.

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import platformdirs

from stethoscope_desktop.core.config import (
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
# A file's layer: what one policy, config or instructions file says.
Layer = TypeVar("Layer", PolicyLayer, ConfigLayer, InstructionsLayer)
APP_NAME = "stethoscope"


@dataclass(frozen=True)
class PracticesFolder:
    """One layer's folder and what kind of layer it is: bundled, machine (IT's) or override."""

    kind: str
    path: Path


@dataclass
class _Loading:
    """What one load has read so far: the files, in layer order, and their problems."""

    files: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


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
        loading = _Loading()
        if self._folders and not self._folders[-1].path.is_dir():
            loading.problems.append(
                Problem(str(self._folders[-1].path), "the practices folder does not exist")
            )
        policy_layers: list[PolicyLayer] = []
        config_layers: list[ConfigLayer] = []
        bundled_files = 0
        for folder in self._folders:
            policy_layer, config_layer = self._folder_layers(folder, loading)
            policy_layers += [policy_layer] if policy_layer is not None else []
            config_layers += [config_layer] if config_layer is not None else []
            if folder.kind == "bundled":
                bundled_files = len(loading.files)
        machine = next((i for i, f in enumerate(self._folders) if f.kind == "machine"), None)
        config, config_problems = merge_configs(config_layers, machine)
        locked = self._add_policy_server(config, policy_layers, loading, machine, bundled_files)
        bundled = sum(1 for folder in self._folders if folder.kind == "bundled")
        policy, merge_problems = merge_layers(policy_layers, *locked, bundled=bundled)
        loading.files = _without_unused_bundled_policy(loading.files, policy, self._folders)
        loading.problems += merge_problems + config_problems
        instructions = self._instructions(loading)
        config = self._organization_from_instructions(config, instructions)
        return Practices(
            policy, config, instructions, tuple(loading.files), tuple(loading.problems)
        )

    def _folder_layers(
        self, folder: PracticesFolder, loading: _Loading
    ) -> tuple[PolicyLayer | None, ConfigLayer | None]:
        """Return one folder's policy layer (with its `checks.d`) and config layer.

        A missing file is an empty layer, except in the override folder, which has none.
        """
        policy = self._file_layer(folder, POLICY_FILE, parse_policy, PolicyLayer, loading)
        extra = self._checks_folder(folder.path / CHECKS_FOLDER, loading.files, loading.problems)
        if extra:
            empty = PolicyLayer(str(folder.path / POLICY_FILE))
            policy = with_folder_checks(policy or empty, extra, loading.problems)
        config = self._file_layer(folder, CONFIG_FILE, parse_config, ConfigLayer, loading)
        return policy, config

    def _file_layer(
        self,
        folder: PracticesFolder,
        name: str,
        parse: Callable[[YamlDocument], Layer],
        empty: Callable[[str], Layer],
        loading: _Loading,
    ) -> Layer | None:
        """Return the layer of one of the folder's files; none for a file the override lacks."""
        path = folder.path / name
        # Anything by that name is read, so that a named pipe or a broken link is reported.
        if os.path.lexists(path):
            loading.files.append(str(path))
            return self._layer(path, parse, empty, loading.problems)
        return None if folder.kind == "override" else empty(str(path))

    def _add_policy_server(
        self,
        config: AppConfig,
        policy_layers: list[PolicyLayer],
        loading: _Loading,
        machine: int | None,
        bundled_files: int,
    ) -> tuple[int | None, int | None]:
        """Insert the policy server's layer, if IT names one; return IT's layers (from, to)."""
        if not config.policy_server:
            return machine, machine
        remote = self.policy_server.policy(
            config.policy_server, max_age=config.scan_interval_minutes * 60.0
        )
        loading.problems += remote.problems
        if remote.layer is None:
            return machine, machine
        # Just below IT's folder, or above the bundled layers where there is none.
        bundled = sum(1 for folder in self._folders if folder.kind == "bundled")
        position = machine if machine is not None else bundled
        policy_layers.insert(position, remote.layer)
        loading.files.insert(bundled_files, remote.url)
        return position, position + (0 if machine is None else 1)

    def _instructions(self, loading: _Loading) -> Instructions:
        """Load and merge the texts folder by folder: in each, English, then the person's language.

        So IT's texts win over the bundled ones in any language (IT's English title over our
        German one, for a German user), and within a folder the person's language wins.
        """
        languages = ["en"] if self._language == "en" else ["en", self._language]
        layers: list[InstructionsLayer] = []
        for folder in self._folders:
            for language in languages:
                path = folder.path / f"instructions.{language}.yaml"
                if os.path.lexists(path):
                    loading.files.append(str(path))
                    layers.append(
                        self._layer(path, parse_instructions, InstructionsLayer, loading.problems)
                    )
        own = f"instructions.{self._language}.yaml"
        chosen = self._language if any(Path(lay.file).name == own for lay in layers) else "en"
        return merge_instructions(layers, chosen)

    def _organization_from_instructions(
        self, config: AppConfig, instructions: Instructions
    ) -> AppConfig:
        """Return the config with the instructions' organization where only ours names one.

        Stethoscope's instructions files carry the organization's name (its window's heading);
        a `config.yaml` of IT's or the override's still wins.
        """
        source = config.sources.get("organization")
        bundled = {folder.path for folder in self._folders if folder.kind == "bundled"}
        if not instructions.organization or (source and Path(source).parent not in bundled):
            return config
        sources = {**config.sources, "organization": instructions.organization_file}
        return dataclasses.replace(config, organization=instructions.organization, sources=sources)

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

    def _layer(
        self,
        path: Path,
        parse: Callable[[YamlDocument], Layer],
        empty: Callable[[str], Layer],
        problems: list[Problem],
    ) -> Layer:
        """Read one file's layer; where it breaks, its last good version fills what it lost."""
        key = str(path)
        previous: Layer | None = self._last_good.get(key)
        try:
            doc: YamlDocument = load_yaml(path)
        except YamlFileError as error:
            problems.append(error.problem)
            if previous is not None:
                problems.append(Problem(key, "using the last good version of this file"))
                return previous
            blank = empty(key)
            if isinstance(blank, PolicyLayer):
                blank.unreadable = blank.from_file = True
            return blank
        layer: Layer = parse(doc)
        problems += layer.problems
        if layer.problems and previous is not None:
            kept = layer.keep_last_good(previous)
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


def _without_unused_bundled_policy(
    files: list[str], policy: Policy, folders: list[PracticesFolder]
) -> list[str]:
    """Return the files in force, without a bundled `policy.yaml` IT's policy replaced entirely."""
    used = {
        *policy.sources.values(),
        *(rule.source for rule in policy.applications),
        *(check.file for check in policy.custom_checks),
    }
    replaced = {
        str(folder.path / POLICY_FILE) for folder in folders if folder.kind == "bundled"
    } - used
    return [file for file in files if file not in replaced]


def with_folder_checks(
    layer: PolicyLayer, checks: list[CustomCheck], problems: list[Problem]
) -> PolicyLayer:
    """Return a copy of a folder's policy layer with its `checks.d` checks added after its own.

    A check whose key an earlier one has (in `policy.yaml` or an earlier `checks.d` file) is
    reported into `problems` and left out; `check-policy` merges a folder's files through here
    too, so that it reports what a scan will.

    A copy, so that the layer remembered as the policy file's last good version stays as the
    file had it.
    """
    merged = list(layer.values.get(CUSTOM_CHECKS_KEY, []))
    add_unique(merged, checks, problems)
    return dataclasses.replace(layer, values={**layer.values, CUSTOM_CHECKS_KEY: merged})
