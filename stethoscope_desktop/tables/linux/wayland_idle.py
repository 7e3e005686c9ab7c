r"""When sway's swayidle and Hyprland's hypridle lock the screen, read from their configurations.

sway reads the first of ~/.sway/config, $XDG_CONFIG_HOME/sway/config (~/.config), ~/.i3/config,
$XDG_CONFIG_HOME/i3/config, /etc/sway/config and /etc/i3/config; `include` adds files (shell
globs; relative to the including file's folder; `~` is the home folder), `set $name value` defines
variables, a line ending in `\` continues on the next, `#` starts a comment. swayidle is started
by `exec swayidle …` (or exec_always): after its options (-w, -d, -S seat, -C file) come
`timeout <seconds> <command> [resume <command>]`, `before-sleep`, `after-resume`, `lock`,
`unlock` (commands) and `idlehint <seconds>`; its configuration file adds events of the same
form (see `swayidle_lock`). A timeout of 0 is off. The screen locks after the shortest
timeout whose command runs a screen locker (swaylock, gtklock, waylock, hyprlock), or runs
`loginctl lock-session` while the `lock` event runs one.

hypridle reads $XDG_CONFIG_HOME/hypr/hypridle.conf (hyprlang: `key = value`, `section { … }`,
`#` comments, `$name = value` variables): `listener { timeout = <seconds>; on-timeout = … }`
blocks, and `general { lock_cmd = … }` for what `loginctl lock-session` runs. It must be started:
`exec-once = hypridle` (or exec) in $XDG_CONFIG_HOME/hypr/hyprland.conf (and files it `source`s),
or its systemd user service enabled under ~/.config/systemd/user. A locker that is not installed
locks nothing.
"""

from __future__ import annotations

import fnmatch
import glob
import posixpath
import re
import shlex
from dataclasses import dataclass

from stethoscope_desktop.tables.linux._common import read_optional
from stethoscope_desktop.tables.system import System

LOCKERS = ("swaylock", "gtklock", "waylock", "hyprlock")
_MAX_FILES = 64


class IdleConfigError(Exception):
    """The idle locker's configuration cannot be judged; the message says why."""


@dataclass(frozen=True)
class IdleLock:
    """What an idle daemon's configuration does: lock after `seconds`, or not (None), and why."""

    seconds: int | None
    detail: str


def program_installed(system: System, name: str) -> bool:
    """Return whether `name` is on PATH or in the usual program folders of the machine."""
    if system.which(name) is not None:
        return True
    return any(
        system.exists(f"{folder}/{name}") for folder in ("/usr/bin", "/bin", "/usr/local/bin")
    )


def _locker_in(command: str) -> str | None:
    """Return the screen locker a shell command runs, if any."""
    for word in re.split(r"[\s;&|()'\"`]+", command):
        name = posixpath.basename(word)
        if name in LOCKERS:
            return name
    return None


def _runs_lock_session(command: str) -> bool:
    return re.search(r"\bloginctl\s+lock-session\b", command) is not None


def _judge(
    system: System,
    timeouts: list[tuple[int, str]],
    lock_command: str | None,
    program: str,
    lock_event: str,
) -> IdleLock:
    """Return after how long the shortest locking timeout locks, from (seconds, command) pairs."""
    missing: list[str] = []
    for seconds, command in sorted(timeouts, key=lambda pair: pair[0]):
        locker = _locker_in(command)
        how = f"{program} timeout {seconds} runs {command!r}"
        if locker is None and _runs_lock_session(command):
            if lock_command is None or _locker_in(lock_command) is None:
                continue
            locker = _locker_in(lock_command)
            how += f", and its {lock_event} runs {lock_command!r}"
        if locker is None:
            continue
        if not program_installed(system, locker):
            missing.append(locker)
            continue
        if seconds <= 0:
            continue
        return IdleLock(seconds, f"the screen locks after {seconds} s idle ({how})")
    if missing:
        return IdleLock(
            None,
            f"{program} would run {missing[0]} to lock the screen, but {missing[0]} is not "
            "installed, so the screen never locks",
        )
    if not timeouts:
        return IdleLock(None, f"{program} has no timeout, so the screen never locks when idle")
    return IdleLock(
        None,
        f"none of {program}'s timeouts runs a screen locker ({', '.join(LOCKERS)}), so the "
        "screen never locks when idle",
    )


# -- sway ----------------------------------------------------------------------------------


def _sway_config_path(system: System) -> str | None:
    home = system.home
    config_home = system.env.get("XDG_CONFIG_HOME") or f"{home}/.config"
    for path in (
        f"{home}/.sway/config",
        f"{config_home}/sway/config",
        f"{home}/.i3/config",
        f"{config_home}/i3/config",
        "/etc/sway/config",
        "/etc/i3/config",
    ):
        if system.exists(path) and not system.is_dir(path):
            return path
    return None


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append((pending + line).strip())
        pending = ""
    if pending:
        lines.append(pending.strip())
    return [line for line in lines if line and not line.startswith("#")]


def _glob_in(system: System, pattern: str) -> list[str]:
    """Expand a shell glob inside the System's root (sorted, as sway's wordexp gives them)."""
    folder = posixpath.dirname(pattern)
    name = posixpath.basename(pattern)
    if not glob.has_magic(pattern):
        return [pattern]
    if glob.has_magic(folder):
        return []  # globs in folder names are rare; not followed
    try:
        entries = system.list_dir(folder)
    except OSError:
        return []
    return [f"{folder}/{entry}" for entry in sorted(entries) if fnmatch.fnmatchcase(entry, name)]


def sway_lines(system: System) -> tuple[str | None, list[str]]:
    """Return sway's configuration file and its lines with includes followed, variables set."""
    path = _sway_config_path(system)
    if path is None:
        return None, []
    variables: dict[str, str] = {}
    lines: list[str] = []
    seen: set[str] = set()

    def read(file: str) -> None:
        if file in seen or len(seen) >= _MAX_FILES:
            return
        seen.add(file)
        text = read_optional(system, file)
        if text is None:
            return
        for line in _logical_lines(text):
            for name in sorted(variables, key=len, reverse=True):
                line = line.replace(name, variables[name])
            words = line.split(None, 2)
            if words[0] == "set" and len(words) == 3 and words[1].startswith("$"):
                variables[words[1]] = words[2]
            elif words[0] == "include" and len(words) >= 2:
                target = line.split(None, 1)[1].strip().strip("'\"")
                if target.startswith("~"):
                    target = system.home + target[1:]
                if not target.startswith("/"):
                    target = posixpath.join(posixpath.dirname(file), target)
                for included in _glob_in(system, target):
                    read(included)
            else:
                lines.append(line)

    read(path)
    return path, lines


class _SwayidleStops(Exception):
    """swayidle would exit at start on this configuration; the message says why."""


@dataclass
class _SwayidleEvents:
    timeouts: list[tuple[int, str]]
    lock_command: str | None = None


def _swayidle_event(words: list[str], events: _SwayidleEvents, where: str) -> int:
    """Take one event from `words` (as swayidle parses it); return how many words it used."""
    keyword = words[0]
    if keyword == "timeout":
        if len(words) < 3:
            raise _SwayidleStops(f"a timeout without seconds and command in {where}")
        if not words[1].isdigit():
            raise _SwayidleStops(f"the timeout {words[1]!r} in {where} is not a number")
        events.timeouts.append((int(words[1]), words[2]))
        return 5 if len(words) >= 5 and words[3] == "resume" else 3
    if keyword in ("before-sleep", "after-resume", "lock", "unlock", "idlehint"):
        if len(words) < 2:
            raise _SwayidleStops(f"{keyword} without its argument in {where}")
        if keyword == "lock":
            events.lock_command = words[1]  # the last one counts
        return 2
    raise _SwayidleStops(f"{where} has {keyword!r}, which is not a swayidle event")


def _swayidle_command_line(args: list[str], events: _SwayidleEvents, where: str) -> str | None:
    """Read swayidle's options and events; return the -C config file, if given."""
    config: str | None = None
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] != "-":
        if args[i] == "--":
            i += 1
            break
        flags = args[i][1:]
        i += 1
        for position, flag in enumerate(flags):
            if flag in "CS":
                value = flags[position + 1 :] or (args[i] if i < len(args) else "")
                if not flags[position + 1 :]:
                    i += 1
                if flag == "C":
                    config = value
                break
            if flag not in "dw":
                raise _SwayidleStops(f"swayidle's option -{flag} in {where} is not one it knows")
    while i < len(args):
        i += _swayidle_event(args[i:], events, where)
    return config


def _swayidle_config_file(system: System, given: str | None) -> str | None:
    if given is not None:
        return system.home + given[1:] if given.startswith("~") else given
    config_home = system.env.get("XDG_CONFIG_HOME") or f"{system.home}/.config"
    for path in (
        f"{config_home}/swayidle/config",
        f"{system.home}/.swayidle/config",
        "/etc/swayidle/config",
    ):
        if system.exists(path):
            return path
    return None


def _swayidle_config_events(system: System, path: str, events: _SwayidleEvents) -> None:
    text = read_optional(system, path)
    if text is None:
        return  # swayidle goes on without a config file it cannot open
    for number, line in enumerate(text.splitlines(), start=1):
        if not line or line.startswith("#"):
            continue
        try:
            words = shlex.split(line)
        except ValueError:
            raise _SwayidleStops(f"line {number} of {path} cannot be read") from None
        if words:
            _swayidle_event(words, events, f"line {number} of {path}")


def swayidle_lock(system: System) -> IdleLock:
    """Return when sway's swayidle locks the screen; raise IdleConfigError when it can't be told.

    swayidle takes events from its command line and from its configuration file (-C, else the
    first of $XDG_CONFIG_HOME/swayidle/config, ~/.swayidle/config, /etc/swayidle/config), one
    event a line; a word it does not know makes it exit at start.
    """
    path, lines = sway_lines(system)
    if path is None:
        raise IdleConfigError(
            "no sway configuration found (~/.config/sway/config or /etc/sway/config)"
        )
    invocations = []
    for line in lines:
        words = line.split(None, 1)
        if words[0] in ("exec", "exec_always") and len(words) == 2 and "swayidle" in words[1]:
            invocations.append(words[1])
    started: list[list[str]] = []
    for invocation in invocations:
        try:
            argv = shlex.split(invocation)
        except ValueError:
            raise IdleConfigError(
                f"cannot read the swayidle command in {path}: {invocation}"
            ) from None
        start = next(
            (i for i, word in enumerate(argv) if posixpath.basename(word) == "swayidle"), None
        )
        if start is not None:
            started.append(argv[start + 1 :])
    if not started:
        return IdleLock(
            None, f"{path} does not start swayidle, so nothing locks the screen when idle"
        )
    if not program_installed(system, "swayidle"):
        return IdleLock(
            None, f"{path} starts swayidle, but swayidle is not installed, so nothing locks"
        )
    best: IdleLock | None = None
    for args in started:
        events = _SwayidleEvents([])
        try:
            given = _swayidle_command_line(args, events, path)
            config = _swayidle_config_file(system, given)
            if config is not None:
                _swayidle_config_events(system, config, events)
        except _SwayidleStops as stops:
            judged = IdleLock(
                None, f"swayidle stops at start ({stops}), so nothing locks the screen"
            )
        else:
            found = _judge(system, events.timeouts, events.lock_command, "swayidle", "lock event")
            read = f"{path} and {config}" if config is not None else path
            judged = IdleLock(found.seconds, f"{found.detail}; from {read}")
        if (
            best is None
            or best.seconds is None
            or (judged.seconds is not None and judged.seconds < best.seconds)
        ):
            best = judged
    assert best is not None
    return best


# -- Hyprland ------------------------------------------------------------------------------


def _hyprlang_sections(text: str) -> list[tuple[str, dict[str, str]]]:
    """Return (section name, its key = value pairs) in order; top-level pairs have section ""."""
    variables: dict[str, str] = {}
    sections: list[tuple[str, dict[str, str]]] = [("", {})]
    stack: list[int] = [0]
    for raw in text.splitlines():
        line = raw.replace("##", "\x00").split("#", 1)[0].replace("\x00", "#").strip()
        if not line:
            continue
        if line.endswith("{"):
            sections.append((line[:-1].strip(), {}))
            stack.append(len(sections) - 1)
            continue
        if line == "}":
            if len(stack) > 1:
                stack.pop()
            continue
        key, sep, value = line.partition("=")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        for name in sorted(variables, key=len, reverse=True):
            value = value.replace(name, variables[name])
        if key.startswith("$"):
            variables[key] = value
            continue
        sections[stack[-1]][1][key] = value
    return sections


def _hyprland_starts_hypridle(system: System, config_home: str) -> tuple[str, str] | None:
    """Return where hypridle is started, and the file given with -c/--config ("": default).

    None when neither hyprland.conf (and what it sources) runs it nor its user service is on.
    """
    seen: set[str] = set()
    pending = [f"{config_home}/hypr/hyprland.conf"]
    while pending and len(seen) < _MAX_FILES:
        file = pending.pop(0)
        if file in seen:
            continue
        seen.add(file)
        text = read_optional(system, file)
        if text is None:
            continue
        for raw in text.splitlines():
            line = raw.replace("##", "\x00").split("#", 1)[0].replace("\x00", "#").strip()
            key, sep, value = line.partition("=")
            if not sep:
                continue
            key, value = key.strip(), value.strip()
            if key in ("exec-once", "exec") and re.search(r"(^|[\s/])hypridle(\s|$)", value):
                given = re.search(r"(?:-c|--config)[\s=]+(\S+)", value)
                return f"{key} = {value} in {file}", given.group(1) if given else ""
            if key == "source":
                target = value.replace("~", system.home, 1) if value.startswith("~") else value
                if not target.startswith("/"):
                    target = posixpath.join(posixpath.dirname(file), target)
                pending.extend(_glob_in(system, target))
    for unit_folder in (
        "graphical-session.target.wants",
        "default.target.wants",
        "hyprland-session.target.wants",
    ):
        link = f"{config_home}/systemd/user/{unit_folder}/hypridle.service"
        if system.exists(link) or _is_link(system, link):
            return f"the hypridle systemd user service ({link})", ""
    return None


def _is_link(system: System, path: str) -> bool:
    try:
        system.read_link(path)
    except OSError:
        return False
    return True


def hypridle_lock(system: System) -> IdleLock:
    """Return when hypridle locks the screen; raise IdleConfigError when it can't be told."""
    given_home = system.env.get("XDG_CONFIG_HOME", "")
    config_home = given_home if given_home.startswith("/") else f"{system.home}/.config"
    path = f"{config_home}/hypr/hypridle.conf"
    found = _hyprland_starts_hypridle(system, config_home)
    started = found[0] if found is not None else None
    if found is not None and found[1]:
        path = system.home + found[1][1:] if found[1].startswith("~") else found[1]
    text = read_optional(system, path)
    if text is None:
        if started is not None:
            return IdleLock(
                None,
                f"hypridle is started ({started}) but {path} is missing, so it does nothing",
            )
        return IdleLock(None, f"no {path} and hypridle is not started, so nothing locks the screen")
    if started is None:
        return IdleLock(
            None,
            f"{path} is there, but hypridle is not started (no exec-once = hypridle in "
            f"{config_home}/hypr/hyprland.conf, no enabled hypridle user service), so nothing "
            "locks",
        )
    if not program_installed(system, "hypridle"):
        return IdleLock(None, "hypridle is started but not installed, so nothing locks")
    lock_command: str | None = None
    timeouts: list[tuple[int, str]] = []
    for name, values in _hyprlang_sections(text):
        if name == "general":
            lock_command = values.get("lock_cmd", lock_command)
        elif name == "listener":
            timeout_text = values.get("timeout")
            command = values.get("on-timeout")
            if timeout_text is None or command is None:
                continue
            try:
                timeouts.append((int(timeout_text), command))
            except ValueError:
                raise IdleConfigError(
                    f"{path} has a listener timeout that is not a number: {timeout_text}"
                ) from None
    judged = _judge(system, timeouts, lock_command, "hypridle", "lock_cmd")
    return IdleLock(judged.seconds, f"{judged.detail}; from {path}, started by {started}")
