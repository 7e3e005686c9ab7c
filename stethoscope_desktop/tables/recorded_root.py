"""A whole machine from a folder: a fake root with its commands' recorded output, for `scan --root`.

IT (checking a policy against another distribution's files) and tests (Fedora, openSUSE, Arch
end to end) hand `scan` a folder laid out as `/` and every Linux table reads it instead of this
machine. Tables also run commands (nmcli, systemctl, rpm, gsettings): those are never run against
a fake root, as their answers would be this machine's. Their output is recorded in
`<root>/.stethoscope-root.yaml` beside what else a table asks of the process:

    home: /home/alice            # the person's home as the tables see it (default /home/user)
    env:                         # the environment the tables see (default: empty)
      XDG_CURRENT_DESKTOP: GNOME
    admin: false                 # whether the scan runs as an administrator (default false)
    commands:                    # argv exactly as a table runs it, and what it printed
      - argv: [nmcli, -t, -f, "NAME,UUID,TYPE,AUTOCONNECT,FILENAME", connection, show]
        stdout: |
          Home:6a5b3c2d-…:802-11-wireless:yes:/etc/NetworkManager/system-connections/Home.nmconnection
        stderr: ""               # optional
        status: 0                # the exit status (default 0)
      - argv: [gsettings, get, org.gnome.desktop.session, idle-delay]
        fails: "timed out after 5 s"   # the command could not be run at all

A program no recorded argv starts is not installed on that machine (`which` finds it nowhere),
as in the tests' fakes; a recorded program asked other arguments fails, saying the command is
not recorded, and the debug log names every such command so it can be recorded. The kernel is
not asked either: netlink and statfs fail as not supported, so tables read the root's /proc files
(a fake /proc/net/tcp gives the listening sockets) and mounts show no sizes. File owners and modes
are those of the folder's files.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stethoscope_desktop.tables.system import (
    DEFAULT_TIMEOUT_S,
    CommandError,
    CommandResult,
    FilesystemStats,
    LocalSystem,
    note_wait,
)

ROOT_ENV = "STETHOSCOPE_ROOT"
RECORDING = ".stethoscope-root.yaml"
RECORDING_LIMIT = 8 * 1024 * 1024
DEFAULT_HOME = "/home/user"
_RECORD_KEYS = frozenset({"argv", "stdout", "stderr", "status", "fails"})
_TOP_KEYS = frozenset({"home", "env", "admin", "commands"})

log = logging.getLogger(__name__)


class RecordedRootError(Exception):
    """The fake root or its recording cannot be used; the message names the file and key."""


@dataclass(frozen=True)
class Recording:
    """What `<root>/.stethoscope-root.yaml` says: home, environment, admin, commands' output."""

    home: str
    env: Mapping[str, str]
    admin: bool
    commands: Mapping[tuple[str, ...], CommandResult | CommandError]


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise RecordedRootError(f"{where}: must be text, not {type(value).__name__}")
    return value


def _refuse_unknown_keys(data: dict[Any, Any], known: frozenset[str], where: str) -> None:
    unknown = sorted(str(key) for key in data if key not in known)
    if unknown:
        names = ", ".join(sorted(known))
        raise RecordedRootError(f"{where}: unknown key {unknown[0]} (known: {names})")


class _NoAliasLoader(yaml.SafeLoader):
    """PyYAML's safe loader without anchors' aliases: a small file cannot expand to a huge one."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError("aliases (*name) are not allowed in a recording")
        return super().compose_node(parent, index)


def _command(entry: Any, where: str) -> tuple[tuple[str, ...], CommandResult | CommandError]:
    if not isinstance(entry, dict):
        raise RecordedRootError(f"{where}: must be a mapping with argv and stdout or fails")
    _refuse_unknown_keys(entry, _RECORD_KEYS, where)
    argv = entry.get("argv")
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise RecordedRootError(f"{where}.argv: must be a non-empty list of texts")
    key = tuple(argv)
    if "fails" in entry:
        if {"stdout", "stderr", "status"} & entry.keys():
            raise RecordedRootError(f"{where}: fails means it printed nothing: no stdout/status")
        return key, CommandError(f"{argv[0]}: {_text(entry['fails'], f'{where}.fails')}")
    status = entry.get("status", 0)
    if not isinstance(status, int) or isinstance(status, bool):
        raise RecordedRootError(f"{where}.status: must be a whole number")
    stdout = _text(entry.get("stdout", ""), f"{where}.stdout")
    stderr = _text(entry.get("stderr", ""), f"{where}.stderr")
    return key, CommandResult(key, status, stdout, stderr)


def parse_recording(text: str, file: str) -> Recording:
    """Parse a recording's YAML; raise RecordedRootError naming `file` and the key."""
    try:
        data = yaml.load(text, Loader=_NoAliasLoader)  # a SafeLoader without aliases
    except yaml.YAMLError as error:
        raise RecordedRootError(f"{file}: not valid YAML: {error}") from None
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise RecordedRootError(f"{file}: must be a mapping (home, env, admin, commands)")
    _refuse_unknown_keys(data, _TOP_KEYS, file)
    home = _text(data.get("home", DEFAULT_HOME), f"{file}: home")
    env_data = data.get("env")
    env_data = {} if env_data is None else env_data
    if not isinstance(env_data, dict):
        raise RecordedRootError(f"{file}: env must be a mapping of names to texts")
    env = {str(name): _text(value, f"{file}: env.{name}") for name, value in env_data.items()}
    admin = data.get("admin", False)
    if not isinstance(admin, bool):
        raise RecordedRootError(f"{file}: admin must be true or false")
    entries = data.get("commands")
    entries = [] if entries is None else entries
    if not isinstance(entries, list):
        raise RecordedRootError(f"{file}: commands must be a list")
    commands: dict[tuple[str, ...], CommandResult | CommandError] = {}
    for index, entry in enumerate(entries):
        key, recorded = _command(entry, f"{file}: commands[{index}]")
        if key in commands:
            raise RecordedRootError(f"{file}: commands[{index}]: {list(key)} is recorded twice")
        commands[key] = recorded
    return Recording(home, env, admin, commands)


class RecordedRootSystem(LocalSystem):
    """A fake root folder read as the machine, whose commands answer from a recording."""

    def __init__(self, root: str | Path, recording: Recording, *, file: str = RECORDING) -> None:
        super().__init__(root, env=recording.env, home=recording.home)
        self.root = Path(root)
        self.recording = recording
        self._file = file
        self._programs = {argv[0] for argv in recording.commands}

    @property
    def admin(self) -> bool:
        """Whether the scan of this root runs as an administrator."""
        return self.recording.admin

    def which(self, program: str) -> str | None:
        """Return a path for a program some recorded command runs, else None (not installed)."""
        if program not in self._programs:
            return None
        return program if program.startswith("/") else f"/usr/bin/{program}"

    def run(self, argv: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT_S) -> CommandResult:
        """Return (or raise) the recorded result of `argv`; nothing is run on this machine."""
        key = tuple(argv)
        if not key:
            raise CommandError("empty command")
        note_wait()
        recorded = self.recording.commands.get(key)
        if recorded is None:
            log.debug("fake root: no recorded output for %s", list(key))
            if key[0] in self._programs:
                raise CommandError(f"{key[0]}: this command's output is not in {self._file}")
            raise CommandError(f"{key[0]}: not installed (not recorded in {self._file})")
        if isinstance(recorded, CommandError):
            raise recorded
        return recorded

    def filesystem_stats(self, path: str) -> FilesystemStats:
        """Refuse: statfs would measure this machine's disk, not the fake root's."""
        raise OSError(errno.ENOTSUP, "statfs is not asked of a fake root", path)


def load_recorded_root(root: str | Path) -> RecordedRootSystem:
    """Return the machine a fake root folder describes; raise RecordedRootError naming why not."""
    folder = Path(root)
    if not folder.is_dir():
        raise RecordedRootError(f"{folder}: not a folder (a fake root is laid out as /)")
    file = folder / RECORDING
    if not file.exists():
        return RecordedRootSystem(folder, Recording(DEFAULT_HOME, {}, False, {}), file=str(file))
    try:
        with file.open("rb") as handle:
            data = handle.read(RECORDING_LIMIT + 1)
    except OSError as error:
        raise RecordedRootError(f"{file}: cannot be read: {error.strerror or error}") from None
    if len(data) > RECORDING_LIMIT:
        raise RecordedRootError(f"{file}: larger than {RECORDING_LIMIT // (1024 * 1024)} MiB")
    text = data.decode("utf-8", "replace")
    return RecordedRootSystem(folder, parse_recording(text, str(file)), file=str(file))
