"""Starting at login on Linux and other XDG desktops: a Desktop Entry in an autostart folder.

Per the XDG Autostart spec, session managers read `$XDG_CONFIG_HOME/autostart/*.desktop` (default
`~/.config/autostart`) and `<dir>/autostart/*.desktop` for each of `$XDG_CONFIG_DIRS` (default
`/etc/xdg`). Of several files with the same name only the most important one counts, the user's
first; a file saying `Hidden=true` (or GNOME's `X-GNOME-Autostart-enabled=false`) is not started.

So `enable()` writes `~/.config/autostart/stethoscope-desktop.desktop`, unless a system-wide entry
(the .deb installs `/etc/xdg/autostart/stethoscope-desktop.desktop`) already starts the app, in
which case it only removes our override. `disable()` removes our file, or, when a system-wide
entry exists, writes an override with `Hidden=true`. Files we write carry
`X-Stethoscope-Managed=true`; a user file without it is the user's own and is never changed.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from stethoscope_desktop.autostart.abc import APP_ID, Autostart, AutostartError, display_path
from stethoscope_desktop.core.files import remove_stale_temporaries, write_atomically

log = logging.getLogger(__name__)

FILE_NAME = f"{APP_ID}.desktop"
MANAGED_KEY = "X-Stethoscope-Managed"
GNOME_ENABLED_KEY = "X-GNOME-Autostart-enabled"
DEFAULT_SYSTEM_DIRS = (Path("/etc/xdg"),)

# Desktop Entry spec, "The Exec key": an argument holding any of these must be quoted.
_RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")
# Inside double quotes these are preceded by a backslash.
_QUOTED_ESCAPES = re.compile(r'(["`$\\])')
# Control characters a string value cannot hold (tab, newline and CR have escapes: \t \n \r).
_UNWRITABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})


def xdg_config_home(env: Mapping[str, str] | None = None, home: Path | None = None) -> Path:
    """Return $XDG_CONFIG_HOME, or ~/.config when it is unset or not absolute (per the spec)."""
    environment = os.environ if env is None else env
    configured = environment.get("XDG_CONFIG_HOME", "")
    if configured and Path(configured).is_absolute():
        return Path(configured)
    return (Path.home() if home is None else home) / ".config"


def xdg_config_dirs(env: Mapping[str, str] | None = None) -> list[Path]:
    """Return the absolute folders of $XDG_CONFIG_DIRS, or [/etc/xdg] when there are none."""
    environment = os.environ if env is None else env
    dirs = [
        Path(part)
        for part in environment.get("XDG_CONFIG_DIRS", "").split(os.pathsep)
        if part and Path(part).is_absolute()
    ]
    return dirs or list(DEFAULT_SYSTEM_DIRS)


def quote_exec_argument(argument: str) -> str:
    r"""Return one argument as the Desktop Entry spec quotes it inside Exec (before string escapes).

    A literal `%` becomes `%%` (it would start a field code); an empty argument, or one holding a
    reserved character, is put in double quotes with `"`, `` ` ``, `$` and `\` backslash-escaped.
    """
    escaped = argument.replace("%", "%%")
    if escaped and not _RESERVED.intersection(escaped):
        return escaped
    return '"' + _QUOTED_ESCAPES.sub(r"\\\1", escaped) + '"'


def escape_string_value(value: str) -> str:
    r"""Return `value` with a key file's string escapes: `\\`, `\n`, `\t`, `\r`, a leading `\s`."""
    escaped = (
        value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    )
    return "\\s" + escaped[1:] if escaped.startswith(" ") else escaped


def exec_value(argv: Sequence[str]) -> str:
    r"""Return the value of the Exec key that runs `argv` exactly, as written in the file.

    Quoting is applied first and the string escapes after, so a literal backslash inside a quoted
    argument is written as four backslashes and a literal `$` as `\\$`, as the spec says.
    """
    for argument in argv:
        if _UNWRITABLE.search(argument):
            raise ValueError(f"a desktop file cannot hold control characters: {argument!r}")
    return escape_string_value(" ".join(quote_exec_argument(argument) for argument in argv))


def _unescape_string_value(value: str) -> str:
    escapes = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(0)), value)


def read_desktop_entry(text: str) -> dict[str, str]:
    """Return the keys of the `[Desktop Entry]` group (string escapes undone); others ignored."""
    entries: dict[str, str] = {}
    in_entry = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            in_entry = line == "[Desktop Entry]"
            continue
        if in_entry and "=" in line:
            key, value = line.split("=", 1)
            entries.setdefault(key.strip(), _unescape_string_value(value.strip()))
    return entries


@dataclass(frozen=True)
class _Entry:
    path: Path
    enabled: bool
    managed: bool


class LinuxAutostart(Autostart):
    """Starting at login through an XDG autostart Desktop Entry."""

    def __init__(
        self,
        exec_command: Sequence[str],
        config_home: Path | None = None,
        system_dirs: Sequence[Path] | None = None,
    ) -> None:
        if not exec_command:
            raise ValueError("exec_command must name the program to start")
        self.exec_command = list(exec_command)
        self.config_home = xdg_config_home() if config_home is None else config_home
        self.system_dirs = xdg_config_dirs() if system_dirs is None else list(system_dirs)
        self.path = self.config_home / "autostart" / FILE_NAME

    def remove_stale_temporaries(self) -> int:
        """Remove the temporary files a switch killed mid-write left next to the file."""
        return len(remove_stale_temporaries(self.path))

    @property
    def description(self) -> str:
        """Return the user's file, e.g. `~/.config/autostart/stethoscope-desktop.desktop`."""
        return display_path(self.path)

    def is_enabled(self) -> bool:
        """Return True when the most important autostart file for the app is not hidden."""
        try:
            user = self._read(self.path)
        except AutostartError as error:
            log.warning("cannot tell whether the app starts at login: %s", error)
            return False
        if user is not None:
            return user.enabled
        system = self._system_entry()
        return system is not None and system.enabled

    def enable(self) -> None:
        """Start at login: drop our override of a system entry, or write our own entry.

        A user file not written by us is left alone; when it keeps the app from starting,
        AutostartError says so.
        """
        user = self._read(self.path)
        if user is not None and not user.managed:
            if user.enabled:
                return
            raise AutostartError(
                f"{self.description} was not written by Stethoscope and keeps it from starting "
                "at login; remove that file or its Hidden=true line to start at login"
            )
        system = self._system_entry()
        if system is not None and system.enabled:
            if user is not None:
                self._remove()
            return
        self._write(self.render(hidden=False))

    def disable(self) -> None:
        """Stop starting at login: remove our file, or hide a system-wide entry with an override.

        A user file not written by us is left alone; when it starts the app, AutostartError says so.
        """
        user = self._read(self.path)
        if user is not None and not user.managed:
            if not user.enabled:
                return
            raise AutostartError(
                f"{self.description} was not written by Stethoscope and starts it at login; "
                "remove that file, or add Hidden=true to it, to stop starting at login"
            )
        system = self._system_entry()
        if system is not None and system.enabled:
            if user is None or user.enabled:
                self._write(self.render(hidden=True))
        elif user is not None:
            self._remove()

    def render(self, *, hidden: bool) -> str:
        """Return the Desktop Entry we write: the full entry, or an override that hides it."""
        try:
            command = exec_value(self.exec_command)
        except ValueError as error:
            raise AutostartError(f"cannot write {self.description}: {error}") from error
        lines = [
            "# Written by Stethoscope, which changes or removes this file when you switch",
            "# starting at login on or off. To keep your own edits, delete the",
            f"# {MANAGED_KEY} line: Stethoscope then leaves the file alone.",
            "[Desktop Entry]",
            "Type=Application",
            "Version=1.4",  # the newest desktop-file-validate of Debian 12 knows
            "Name=Stethoscope",
            "Comment=Security checkup of this computer, in the system tray",
            f"Exec={command}",
            f"Icon={APP_ID}",
            "Terminal=false",
            "Categories=System;Security;",
            f"{GNOME_ENABLED_KEY}={'false' if hidden else 'true'}",
        ]
        if hidden:
            lines.append("Hidden=true")
        lines.append(f"{MANAGED_KEY}=true")
        return "\n".join(lines) + "\n"

    def _system_entry(self) -> _Entry | None:
        for folder in self.system_dirs:
            path = folder / "autostart" / FILE_NAME
            try:
                entry = self._read(path)
            except AutostartError as error:
                log.warning("ignoring a system-wide autostart entry: %s", error)
                continue
            if entry is not None:
                return entry
        return None

    def _read(self, path: Path) -> _Entry | None:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as error:
            raise AutostartError(f"cannot read {display_path(path)}: {error.strerror}") from error
        keys = read_desktop_entry(text)
        hidden = keys.get("Hidden", "").lower() in _TRUE
        switched_off = keys.get(GNOME_ENABLED_KEY, "").lower() in _FALSE
        managed = keys.get(MANAGED_KEY, "").lower() in _TRUE
        return _Entry(path=path, enabled=not (hidden or switched_off), managed=managed)

    def _write(self, text: str) -> None:
        try:
            if self.path.is_file() and self.path.read_bytes() == text.encode("utf-8"):
                return
            write_atomically(self.path, text.encode("utf-8"), mode=0o644)
        except OSError as error:
            reason = error.strerror or str(error)
            raise AutostartError(f"cannot write {self.description}: {reason}") from error
        log.info("wrote %s", self.path)

    def _remove(self) -> None:
        try:
            self.path.unlink(missing_ok=True)
        except OSError as error:
            raise AutostartError(f"cannot remove {self.description}: {error.strerror}") from error
        log.info("removed %s", self.path)
