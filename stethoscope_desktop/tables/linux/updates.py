"""`stethoscope_automatic_updates`: are security updates installed without anyone's help?

Debian and Ubuntu: apt.systemd.daily (run by apt-daily-upgrade.timer) installs updates through
unattended-upgrades when APT::Periodic::Unattended-Upgrade is non-zero and the package lists are
refreshed (APT::Periodic::Update-Package-Lists non-zero), unless APT::Periodic::Enable is "0".
We merge apt's configuration as apt does (every file in /etc/apt/apt.conf.d/ in lexical order,
then /etc/apt/apt.conf; later values win; names ending in .dpkg-old, .bak, ~ and the like are
skipped), parse apt's syntax (scopes, nested blocks, //, /* */ and # comments, #clear), and also
require the unattended-upgrades package in dpkg's database. With systemd running, a masked or
disabled apt-daily-upgrade.timer means nothing runs the upgrade.

Fedora and RHEL: dnf-automatic-install.timer (always installs), or dnf-automatic.timer /
dnf5-automatic.timer with apply_updates true in /etc/dnf/automatic.conf (dnf5 reads its defaults
from /usr/share/dnf5/dnf5-plugins/automatic.conf first). A timer is enabled when its link is in
/etc/systemd/system/timers.target.wants/, which needs no process.

GNOME Software's and KDE Discover's offline updates (PackageKit) ask the user first, so they are
not counted.
"""

from __future__ import annotations

import configparser
import re
from collections.abc import Iterable
from dataclasses import dataclass

from stethoscope_desktop.tables.base import QueryContext, Row
from stethoscope_desktop.tables.file_cache import FileCache, FolderCache
from stethoscope_desktop.tables.linux._common import (
    FEATURE_STATE_COLUMNS,
    SMALL_FILE,
    MachineTable,
    list_optional,
)
from stethoscope_desktop.tables.linux._systemd import (
    enablement_links,
    systemd_running,
    unit_file,
    unit_masked,
)
from stethoscope_desktop.tables.linux.packages import DpkgPackageCheck
from stethoscope_desktop.tables.system import System

APT_CONF = "/etc/apt/apt.conf"
APT_CONF_DIR = "/etc/apt/apt.conf.d"
_APT_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
_APT_IGNORED = re.compile(
    r"(~|\.disabled|\.bak|\.dpkg-[a-z]+|\.ucf-[a-z]+|\.save|\.orig|"
    r"\.distUpgrade)$"
)

UNATTENDED = "APT::Periodic::Unattended-Upgrade"
UPDATE_LISTS = "APT::Periodic::Update-Package-Lists"
PERIODIC_ENABLE = "APT::Periodic::Enable"

DNF_TIMERS_WANTS = "/etc/systemd/system/timers.target.wants"
DNF_CONF = "/etc/dnf/automatic.conf"
DNF5_DEFAULTS = "/usr/share/dnf5/dnf5-plugins/automatic.conf"


@dataclass(frozen=True)
class AptValue:
    """One apt configuration value and the file that set it last."""

    value: str
    source: str


def _apt_tokens(text: str) -> Iterable[tuple[str, bool]]:
    """Yield apt config tokens: (text, quoted). Punctuation tokens are "{", "}" and ";"."""
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
        elif char == '"':
            end = text.find('"', i + 1)
            end = n if end < 0 else end
            yield text[i + 1 : end], True
            i = end + 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif char == "#" and not text.startswith(("#clear", "#include"), i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif char in "{};":
            yield char, False
            i += 1
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in '{};"':
                i += 1
            yield text[start:i], False


# One statement of an apt configuration file, as it changes the merged configuration:
# ("set", key, value) or ("clear", name prefix, "").
AptStatement = tuple[str, str, str]


def apt_statements(text: str) -> tuple[AptStatement, ...]:
    """Return what one apt configuration file sets and clears, in order (keys lower-cased)."""
    statements: list[AptStatement] = []
    scopes: list[str] = []
    words: list[tuple[str, bool]] = []
    for token, quoted in _apt_tokens(text):
        if not quoted and token == "{":
            scopes.append(words[0][0] if words else "")
            words = []
        elif not quoted and token == "}":
            if scopes:
                scopes.pop()
            words = []
        elif not quoted and token == ";":
            statements.extend(_statement(scopes, words))
            words = []
        else:
            words.append((token, quoted))
    return tuple(statements)


def _statement(scopes: list[str], words: list[tuple[str, bool]]) -> list[AptStatement]:
    if not words:
        return []
    first, first_quoted = words[0]
    if not first_quoted and first == "#clear":
        return [("clear", name.lower(), "") for name, _ in words[1:]]
    if first_quoted or first == "#include" or len(words) < 2:
        return []  # a list item, an include (not followed) or a bare name
    key = "::".join([*(s for s in scopes if s), first]).lower()
    return [("set", key, words[1][0])]


def apply_apt_statements(
    statements: Iterable[AptStatement], source: str, into: dict[str, AptValue]
) -> None:
    """Merge one file's statements into `into`, as apt merges its files."""
    for action, key, value in statements:
        if action == "set":
            into[key] = AptValue(value, source)
            continue
        for name in [k for k in into if k == key or k.startswith(key + "::")]:
            del into[name]


def parse_apt_config(text: str, source: str, into: dict[str, AptValue]) -> None:
    """Merge one apt configuration file into `into` (keys lower-cased, as apt compares them)."""
    apply_apt_statements(apt_statements(text), source, into)


def _apt_conf_d_files(system: System, folder: str, entries: list[str]) -> tuple[str, ...]:
    """Return the files of apt.conf.d that apt reads, in lexical order."""
    files: list[str] = []
    for entry in entries:
        if not _APT_NAME.match(entry) or _APT_IGNORED.search(entry):
            continue
        if "." in entry and entry.rsplit(".", 1)[1] != "conf":
            continue
        path = f"{folder}/{entry}"
        if not system.is_dir(path):
            files.append(path)
    return tuple(files)


def apt_config_files(system: System) -> list[str]:
    """Return the files apt reads, in apt's order: apt.conf.d/* (lexical), then apt.conf."""
    files = list(_apt_conf_d_files(system, APT_CONF_DIR, list_optional(system, APT_CONF_DIR)))
    if system.exists(APT_CONF):
        files.append(APT_CONF)
    return files


def read_apt_config(system: System) -> dict[str, AptValue]:
    """Merge apt's configuration files as apt does."""
    return AptConfig(system).read()


class AptConfig:
    """apt's merged configuration; each file parsed again only when it changed.

    apt.conf.d's listing is kept by the folder's stat, each file's statements by the file's.
    """

    def __init__(self, system: System) -> None:
        self._system = system
        self._folder: FolderCache[tuple[str, ...]] = FolderCache(
            system, lambda folder, entries: _apt_conf_d_files(system, folder, entries)
        )
        self._files: FileCache[tuple[AptStatement, ...]] = FileCache(
            system, apt_statements, limit=1024 * 1024
        )

    def files(self) -> list[str]:
        """Return the files apt reads, in apt's order: apt.conf.d/* (lexical), then apt.conf."""
        try:
            files = list(self._folder.read(APT_CONF_DIR))
        except OSError:
            files = []
        if self._system.exists(APT_CONF):
            files.append(APT_CONF)
        return files

    def read(self) -> dict[str, AptValue]:
        """Merge apt's configuration files as apt does."""
        files = self.files()
        self._files.keep_only(files)
        merged: dict[str, AptValue] = {}
        for path in files:
            statements = self._files.read_optional(path)
            if statements is not None:
                apply_apt_statements(statements, path, merged)
        return merged


def _apt_interval_on(value: AptValue | None) -> bool:
    """apt treats these values as day intervals: unset, empty or 0 means off."""
    if value is None:
        return False
    text = value.value.strip()
    if not text:
        return False
    try:
        return int(text) != 0
    except ValueError:
        return True  # e.g. "always"


def _describe(name: str, value: AptValue | None) -> str:
    if value is None:
        return f"{name} is not set (apt's default is 0, off)"
    return f'{name} is "{value.value}" (set in {value.source})'


def _parse_bool(text: str) -> bool | None:
    lowered = text.strip().lower()
    if lowered in ("1", "yes", "true", "on"):
        return True
    if lowered in ("0", "no", "false", "off"):
        return False
    return None


def _dnf_apply_updates_value(text: str) -> str | None:
    """Return apply_updates of a dnf-automatic configuration's [commands], if it sets one."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    return parser.get("commands", "apply_updates", fallback=None)


class AutomaticUpdates(MachineTable):
    """Whether the package manager installs updates by itself, one row."""

    name = "stethoscope_automatic_updates"
    columns = FEATURE_STATE_COLUMNS
    platforms = ("linux",)

    def __init__(self, system: System) -> None:
        super().__init__(system)
        # The files this table parses, kept between scans and parsed again when they change.
        self._apt_config = AptConfig(system)
        self._unattended_upgrades = DpkgPackageCheck(system, "unattended-upgrades")
        self._dnf_configs: FileCache[str | None] = FileCache(
            system, _dnf_apply_updates_value, limit=SMALL_FILE
        )

    def _apt(self) -> Row:
        config = self._apt_config.read()
        unattended = config.get(UNATTENDED.lower())
        update_lists = config.get(UPDATE_LISTS.lower())
        enable = config.get(PERIODIC_ENABLE.lower())
        said = f"{_describe(UNATTENDED, unattended)}, {_describe(UPDATE_LISTS, update_lists)}"
        row: Row = {"enabled": 0, "source": "apt"}
        if enable is not None and not _apt_interval_on(enable):
            row["detail"] = (
                f'{PERIODIC_ENABLE} is "{enable.value}" (set in {enable.source}), so apt runs '
                f"no periodic task; {said}"
            )
            return row
        if not (_apt_interval_on(unattended) and _apt_interval_on(update_lists)):
            row["detail"] = said
            return row
        installed = self._unattended_upgrades.installed()
        if installed is None:
            row["enabled"] = None
            row["detail"] = (
                f"{said}, but dpkg's database cannot be read to check that the "
                "unattended-upgrades package is installed"
            )
            return row
        if not installed:
            row["detail"] = (
                f"{said}, but the unattended-upgrades package is not installed, so nothing "
                "installs the updates"
            )
            return row
        if systemd_running(self._system):
            timer = "apt-daily-upgrade.timer"
            masked = unit_masked(self._system, timer)
            if masked is not None:
                row["detail"] = (
                    f"{said} and unattended-upgrades is installed, but {timer} is masked "
                    f"({masked}), so the upgrade never runs"
                )
                return row
            if unit_file(self._system, timer) is not None and not enablement_links(
                self._system, timer
            ):
                row["detail"] = (
                    f"{said} and unattended-upgrades is installed, but {timer} is not enabled, "
                    "so the upgrade never runs"
                )
                return row
        row["enabled"] = 1
        row["detail"] = f"{said} and unattended-upgrades is installed"
        return row

    def _dnf_apply_updates(self) -> tuple[bool, str]:
        apply = False
        where = "the default (no)"
        for path in (DNF5_DEFAULTS, DNF_CONF):
            value = self._dnf_configs.read_optional(path)
            parsed = _parse_bool(value) if value is not None else None
            if value is not None and parsed is not None:
                apply = parsed
                where = f"apply_updates = {value.strip()} in {path}"
        return apply, where

    def _dnf(self) -> Row:
        row: Row = {"source": "dnf"}
        installed = [
            timer
            for timer in (
                "dnf-automatic-install.timer",
                "dnf-automatic.timer",
                "dnf5-automatic.timer",
                "dnf-automatic-download.timer",
                "dnf-automatic-notifyonly.timer",
            )
            if unit_file(self._system, timer) is not None
        ]
        links = enablement_links(self._system, *installed)
        enabled = [t for t in installed if t in links]
        if not installed:
            row["enabled"] = 0
            row["detail"] = (
                "dnf-automatic is not installed (no dnf-automatic or dnf5-automatic timer unit)"
            )
            return row
        if "dnf-automatic-install.timer" in enabled:
            row["enabled"] = 1
            row["detail"] = (
                "dnf-automatic-install.timer is enabled; it installs updates whatever "
                "apply_updates says"
            )
            return row
        general = [t for t in enabled if t in ("dnf-automatic.timer", "dnf5-automatic.timer")]
        if general:
            apply, where = self._dnf_apply_updates()
            row["enabled"] = int(apply)
            outcome = (
                "so updates are installed"
                if apply
                else "so updates are only downloaded or announced"
            )
            row["detail"] = f"{general[0]} is enabled and {where}, {outcome}"
            return row
        if enabled:
            row["enabled"] = 0
            row["detail"] = (
                f"only {', '.join(enabled)} is enabled, which downloads or announces updates "
                "but does not install them"
            )
            return row
        row["enabled"] = 0
        row["detail"] = (
            "dnf-automatic is installed but none of its timers is enabled (no link in "
            f"{DNF_TIMERS_WANTS})"
        )
        return row

    def generate(self, context: QueryContext) -> Iterable[Row]:
        system = self._system
        if system.is_dir("/etc/apt") and (
            system.exists("/var/lib/dpkg/status") or system.which("apt-get") is not None
        ):
            return [self._apt()]
        if system.is_dir("/etc/dnf") or system.which("dnf") or system.which("dnf5"):
            return [self._dnf()]
        return [
            {
                "enabled": None,
                "source": None,
                "detail": "neither apt (Debian, Ubuntu) nor dnf (Fedora, RHEL) is present, so "
                "automatic updates cannot be checked on this distribution",
            }
        ]
