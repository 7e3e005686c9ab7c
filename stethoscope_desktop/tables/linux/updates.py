"""`stethoscope_automatic_updates`: are security updates installed without anyone's help?

Debian and Ubuntu: apt.systemd.daily (run by apt-daily-upgrade.timer) installs updates through
unattended-upgrades when APT::Periodic::Unattended-Upgrade is non-zero and the package lists are
refreshed (APT::Periodic::Update-Package-Lists non-zero), unless APT::Periodic::Enable is "0".
We merge apt's configuration as apt does (every file in /etc/apt/apt.conf.d/ in sorted order,
then /etc/apt/apt.conf; later values win, lists grow; only names of letters, digits, `_`, `-`,
`:` and `.` with no extension or `.conf` are read, and names ending in .dpkg-old, .bak, ~ and the
like are skipped, as `apt-config dump` shows), parse apt's syntax (scopes, nested blocks, lists,
`Name:: "item"`, //, /* */ and # comments, #clear, #include), and also require the
unattended-upgrades package in dpkg's database. Then unattended-upgrades must take this
distribution's security updates (see `unattended_upgrades`: its allowed origins must match the
security archive, and its Package-Blacklist must not match every installed package). With
systemd running, a masked or disabled apt-daily-upgrade.timer means nothing runs the upgrade.
APT_CONFIG in the user's environment is not read: the upgrade runs as root without it.

Fedora and RHEL: dnf-automatic-install.timer (always installs), or dnf-automatic.timer /
dnf5-automatic.timer with apply_updates true in /etc/dnf/automatic.conf (dnf5 reads its defaults
from /usr/share/dnf5/dnf5-plugins/automatic.conf first). A timer is enabled when its link is in
/etc/systemd/system/timers.target.wants/, which needs no process.

openSUSE: YaST's automatic online update (yast2-online-update-configuration, SLE 15 and Leap 15;
dropped from Tumbleweed in 2025) is on when its cron link `opensuse.org-online_update` is in
/etc/cron.daily, /etc/cron.weekly or /etc/cron.monthly (YaST reads "on" from the link alone),
pointing at /usr/lib/YaST2/bin/online_update. That script sources
/etc/sysconfig/automatic_online_update and does nothing unless AOU_ENABLE_CRONJOB is "true"; it
runs `zypper patch` for every category in AOU_PATCH_CATEGORIES (all patches when empty), so
security patches are taken when the list is empty or names `security`. On Tumbleweed and
MicroOS, os-update.timer (os-update: zypper dup/up/patch, then a reboot when needed) or
transactional-update.timer (updates into a new btrfs snapshot, used from the next boot), each
enabled by its link in a `*.wants/` folder. A cron link needs cron: with systemd running, an
installed cron.service (cronie) that is masked or not enabled makes it OFF; a system with no
cron.service unit is not judged on that.

Arch: no automatic updater is shipped, and Arch's maintainers advise upgrading by hand
(`pacman -Syu`) after reading the news. The two updaters people install for it are recognised by
their timers: pacroller (AUR) and pacman-auto-update; a timer of one's own that runs
`pacman -Syu --noconfirm` is not, so that is OFF with a reason that says what counts.

GNOME Software's and KDE Discover's offline updates (PackageKit) ask the user first, so they are
not counted.
"""

from __future__ import annotations

import configparser
import itertools
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
    os_error_reason,
)
from stethoscope_desktop.tables.linux._systemd import (
    enablement_links,
    systemd_running,
    unit_file,
    unit_masked,
)
from stethoscope_desktop.tables.linux.packages import DpkgDatabase, DpkgPackageCheck
from stethoscope_desktop.tables.linux.unattended_upgrades import (
    ALLOWED_ORIGINS,
    ORIGINS_PATTERN,
    PACKAGE_BLACKLIST,
    SecurityArchives,
    UnattendedUpgradeStops,
    allowed_origins,
    blacklist_error,
    blacklisted,
    check_patterns,
    pattern_matches,
    read_distribution,
    security_origins_described,
)
from stethoscope_desktop.tables.system import System

APT_CONF = "/etc/apt/apt.conf"
APT_CONF_DIR = "/etc/apt/apt.conf.d"
_APT_NAME = re.compile(r"^[A-Za-z0-9_.:\-]+$")
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

AOU_SYSCONFIG = "/etc/sysconfig/automatic_online_update"
AOU_SCRIPT = "/usr/lib/YaST2/bin/online_update"
AOU_CRON_NAME = "opensuse.org-online_update"
AOU_CRON_FOLDERS = ("/etc/cron.daily", "/etc/cron.weekly", "/etc/cron.monthly")
CRON_SERVICE = "cron.service"  # cronie's on openSUSE; it runs /etc/cron.{daily,weekly,monthly}
# openSUSE's timers that install updates with no one asked (Tumbleweed, MicroOS, Aeon, Kalpa).
SUSE_TIMERS = {
    "os-update.timer": "os-update installs updates with zypper and reboots when they need it",
    "transactional-update.timer": "transactional-update installs updates into a new snapshot, "
    "used from the next boot",
}
# The automatic updaters Arch users install (neither is in Arch's own repositories).
ARCH_TIMERS = {
    "pacroller.timer": "pacroller (AUR) runs pacman -Syu and stops at output it does not know",
    "pacman-auto-update.timer": "pacman-auto-update runs pacman -Syu unless on battery or a "
    "metered connection",
}
_SHELL_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


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
# ("set", key, value), ("append", list key, value), ("clear", name prefix, "") or
# ("include", path, "").
AptStatement = tuple[str, str, str]

# apt's list items have no name of their own; each gets a key segment no apt name can contain.
_ANONYMOUS = "\x00"
_anonymous_items = itertools.count()
_MAX_INCLUDE_DEPTH = 8


def apt_statements(text: str) -> tuple[AptStatement, ...]:
    """Return what one apt configuration file sets, appends and clears, in order.

    Keys are lower-cased (apt compares names without case). A quoted value alone in a scope
    (`Origins-Pattern { "a"; "b"; };`) and `Name:: "value";` append to the list `Name`.
    """
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


def _scoped(scopes: list[str], name: str) -> str:
    return "::".join([*(s for s in scopes if s), name]).strip(":").lower()


def _statement(scopes: list[str], words: list[tuple[str, bool]]) -> list[AptStatement]:
    if not words:
        return []
    first, first_quoted = words[0]
    if not first_quoted and first == "#clear":
        return [("clear", name.lower(), "") for name, _ in words[1:]]
    if not first_quoted and first == "#include":
        return [("include", words[1][0], "")] if len(words) > 1 else []
    if first_quoted:
        return [("append", _scoped(scopes, ""), first)] if scopes else []
    if len(words) < 2:
        return []  # a bare name
    if first.endswith("::"):
        return [("append", _scoped(scopes, first), words[1][0])]
    return [("set", _scoped(scopes, first), words[1][0])]


def apply_apt_statements(
    statements: Iterable[AptStatement], source: str, into: dict[str, AptValue]
) -> None:
    """Merge one file's statements into `into`, as apt merges its files (includes not followed)."""
    for action, key, value in statements:
        _apply(action, key, value, source, into)


def _apply(action: str, key: str, value: str, source: str, into: dict[str, AptValue]) -> None:
    if action == "set":
        into[key] = AptValue(value, source)
    elif action == "append":
        into[f"{key}::{_ANONYMOUS}{next(_anonymous_items)}"] = AptValue(value, source)
    elif action == "clear":
        for name in [k for k in into if k == key or k.startswith(key + "::")]:
            del into[name]


def apt_list(config: dict[str, AptValue], key: str) -> list[AptValue]:
    """Return the items of an apt list (its direct children, named or not), in apt's order."""
    prefix = key.lower() + "::"
    return [
        value
        for name, value in config.items()
        if name.startswith(prefix) and "::" not in name[len(prefix) :]
    ]


def parse_apt_config(text: str, source: str, into: dict[str, AptValue]) -> None:
    """Merge one apt configuration file into `into` (keys lower-cased, as apt compares them)."""
    apply_apt_statements(apt_statements(text), source, into)


def apt_conf_d_names(entries: Iterable[str]) -> list[str]:
    """Return the names in an apt.conf.d-like folder that apt reads, in apt's order.

    As apt-config shows: names of letters, digits, `_`, `-`, `:` and `.` only, not starting with
    a dot, with no extension or the extension `conf` (lower case); sorted bytewise.
    """
    names: list[str] = []
    for entry in entries:
        if entry.startswith(".") or not _APT_NAME.match(entry) or _APT_IGNORED.search(entry):
            continue
        if "." in entry and entry.rsplit(".", 1)[1] != "conf":
            continue
        names.append(entry)
    return sorted(names)


def _apt_conf_d_files(system: System, folder: str, entries: list[str]) -> tuple[str, ...]:
    """Return the files of apt.conf.d that apt reads, in apt's order."""
    return tuple(
        f"{folder}/{entry}"
        for entry in apt_conf_d_names(entries)
        if not system.is_dir(f"{folder}/{entry}")
    )


def apt_config_files(system: System) -> list[str]:
    """Return the files apt reads, in apt's order: apt.conf.d/* (sorted), then apt.conf."""
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
    `#include` is followed as apt follows it (a path ending in `/` is a folder read by the
    apt.conf.d rules; a relative path is taken from `/`, the folder unattended-upgrade runs in),
    at most 8 deep.
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
        """Return the files apt reads, in apt's order: apt.conf.d/* (sorted), then apt.conf."""
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
        merged: dict[str, AptValue] = {}
        seen: list[str] = []
        for path in files:
            self._merge_file(path, merged, seen, 0)
        self._files.keep_only(seen)
        return merged

    def _merge_file(
        self, path: str, merged: dict[str, AptValue], seen: list[str], depth: int
    ) -> None:
        seen.append(path)
        statements = self._files.read_optional(path)
        if statements is None:
            return
        for action, key, value in statements:
            if action != "include":
                _apply(action, key, value, path, merged)
            elif depth < _MAX_INCLUDE_DEPTH:
                target = key if key.startswith("/") else f"/{key}"
                if target.endswith("/"):
                    try:
                        included = list(self._folder.read(target.rstrip("/") or "/"))
                    except OSError:
                        included = []
                else:
                    included = [target]
                for file in included:
                    self._merge_file(file, merged, seen, depth + 1)


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


def parse_sysconfig(text: str) -> dict[str, str]:
    """Return the `NAME="value"` assignments of a /etc/sysconfig file (sourced by the shell).

    The shapes sysconfig files have: one assignment a line, the value in double or single quotes
    or bare; `#` lines are comments. Later assignments win, as in the shell.
    """
    values: dict[str, str] = {}
    for line in text.splitlines():
        match = _SHELL_ASSIGNMENT.match(line.strip())
        if match is None:
            continue
        value = match.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        else:
            value = value.split(" #", 1)[0].strip()
        values[match.group(1)] = value
    return values


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
        self._dpkg = DpkgDatabase(system)
        self._security_archives = SecurityArchives(system)
        self._dnf_configs: FileCache[str | None] = FileCache(
            system, _dnf_apply_updates_value, limit=SMALL_FILE
        )
        self._sysconfig: FileCache[dict[str, str]] = FileCache(
            system, parse_sysconfig, limit=SMALL_FILE
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
        what_it_upgrades = self._what_unattended_upgrades_upgrades(config)
        if what_it_upgrades[0] is not True:
            row["enabled"] = None if what_it_upgrades[0] is None else 0
            row["detail"] = (
                f"{said} and unattended-upgrades is installed, but {what_it_upgrades[1]}"
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
        row["detail"] = f"{said}, unattended-upgrades is installed and {what_it_upgrades[1]}"
        return row

    def _what_unattended_upgrades_upgrades(
        self, config: dict[str, AptValue]
    ) -> tuple[bool | None, str]:
        """Return whether unattended-upgrades takes the security updates, and why."""
        distribution = read_distribution(self._system)
        legacy = [item.value for item in apt_list(config, ALLOWED_ORIGINS)]
        patterns = [item.value for item in apt_list(config, ORIGINS_PATTERN)]
        blacklist = [item.value for item in apt_list(config, PACKAGE_BLACKLIST)]
        stops = "unattended-upgrade stops with an error, so nothing is upgraded"
        try:
            allowed = allowed_origins(legacy, patterns, distribution)
            check_patterns(allowed, distribution)
        except UnattendedUpgradeStops as error:
            return False, f"{error}: {stops}"
        if not allowed:
            return False, (
                f"it allows no origin ({ALLOWED_ORIGINS} and {ORIGINS_PATTERN} are empty or "
                "unset in apt's configuration), so it upgrades nothing"
            )
        broken = blacklist_error(blacklist)
        if broken is not None:
            return False, f"{broken}: {stops}"
        fetched = self._security_archives.read()
        # The distribution's own security archive where apt has it (not, say, Ubuntu's ESM or
        # a vendor's archive that also calls itself "-security").
        own = [origin for origin in fetched if origin.origin == distribution.distro_id]
        security = own or fetched or security_origins_described(distribution)
        shown = "; ".join(f'"{pattern}"' for pattern in allowed)
        if not security:
            verdict: bool | None = True
            origins_said = (
                f"it allows {shown} (which archive carries the security updates of "
                f"{distribution.distro_id} is not known here, so only that some origin is "
                "allowed was checked)"
            )
        else:
            verdict = False
            undecided: list[str] = []
            for origin in security:
                for pattern in allowed:
                    try:
                        matches = pattern_matches(pattern, origin, distribution)
                    except UnattendedUpgradeStops as error:
                        return False, f"{error}: {stops}"
                    if matches:
                        verdict = True
                        origins_said = (
                            f'it takes the security updates ("{pattern}" matches '
                            f"{origin.describe()}, from {origin.described_by})"
                        )
                        break
                    if matches is None:
                        undecided.append(pattern)
                if verdict:
                    break
            if not verdict:
                archive = security[0]
                if undecided:
                    verdict = None
                    origins_said = (
                        f'whether "{undecided[0]}" takes the security updates depends on the '
                        f"archive's suite or mirror, which are known only once apt has fetched "
                        f"its lists (sudo apt update); {archive.described_by} is "
                        f"{archive.describe()}"
                    )
                else:
                    origins_said = (
                        f"none of the origins it allows ({shown}) is the security archive "
                        f"({archive.describe()}, from {archive.described_by}), so security "
                        "updates are not installed"
                    )
                return verdict, origins_said
        installed = self._installed_names() if blacklist else []
        held = [name for name in installed if blacklisted(name, blacklist)]
        if installed and len(held) == len(installed):
            listed = "; ".join(f'"{pattern}"' for pattern in blacklist)
            return False, (
                f"{PACKAGE_BLACKLIST} ({listed}) matches every installed package "
                f"({len(installed)}), so nothing is upgraded"
            )
        if held:
            origins_said += (
                f"; {PACKAGE_BLACKLIST} holds back {len(held)} of {len(installed)} installed "
                f"packages ({', '.join(held[:3])}{'…' if len(held) > 3 else ''})"
            )
        return verdict, origins_said

    def _installed_names(self) -> list[str]:
        try:
            records = self._dpkg.records()
        except OSError:
            return []
        return sorted(
            {
                record.get("Package")
                for record in records
                if record.get("Status", "").split()[2:] == ["installed"]
            }
        )

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

    def _timers(self, timers: dict[str, str], source: str) -> Row | None:
        """Return the row of the first of `timers` that is enabled, else None."""
        installed = [timer for timer in timers if unit_file(self._system, timer) is not None]
        links = enablement_links(self._system, *installed)
        for timer in installed:
            masked = unit_masked(self._system, timer)
            if timer in links and masked is None:
                return {
                    "enabled": 1,
                    "source": source,
                    "detail": f"{timer} is enabled ({links[timer][0]}): {timers[timer]}",
                }
        return None

    def _timers_off(self, timers: dict[str, str]) -> str | None:
        """Say which of `timers` are installed but not enabled (or masked), if any is."""
        said: list[str] = []
        for timer in timers:
            if unit_file(self._system, timer) is None:
                continue
            masked = unit_masked(self._system, timer)
            said.append(f"{timer} is masked ({masked})" if masked else f"{timer} is not enabled")
        return ", ".join(said) if said else None

    def _cron_off(self) -> str | None:
        """Say why cron runs no job, when systemd runs and cronie's cron.service is off."""
        if not systemd_running(self._system) or unit_file(self._system, CRON_SERVICE) is None:
            return None  # another cron, or none we can see: not judged
        masked = unit_masked(self._system, CRON_SERVICE)
        if masked is not None:
            return f"{CRON_SERVICE} is masked ({masked})"
        if not enablement_links(self._system, CRON_SERVICE):
            return f"{CRON_SERVICE} is not enabled"
        return None

    def _aou_cron_link(self) -> tuple[str | None, str | None]:
        """Return YaST's cron link that cron would run, and why a link found does not count."""
        broken: str | None = None
        for folder in AOU_CRON_FOLDERS:
            path = f"{folder}/{AOU_CRON_NAME}"
            try:
                stat = self._system.stat(path, follow_symlinks=False)
            except OSError:
                continue
            if not stat.is_symlink:
                return path, None  # a copy of the script runs as well
            try:
                target = self._system.read_link(path)
            except OSError:
                continue
            resolved = target if target.startswith("/") else f"{folder}/{target}"
            if self._system.exists(resolved):
                return path, None
            broken = f"{path} points to {target}, which is missing, so cron runs nothing"
        return None, broken

    def _zypper(self) -> Row:
        row: Row = {"source": "zypper"}
        timer_row = self._timers(SUSE_TIMERS, "zypper")
        if timer_row is not None:
            return timer_row
        link, broken = self._aou_cron_link()
        try:
            settings: dict[str, str] | None = self._sysconfig.read(AOU_SYSCONFIG)
        except FileNotFoundError:
            settings = None
        except OSError as error:
            if link is None:
                settings = None
            else:
                row["enabled"] = None
                row["detail"] = (
                    f"YaST's automatic online update has its cron link {link}, but "
                    f"{AOU_SYSCONFIG} cannot be read ({os_error_reason(error)}), so what it "
                    "installs is not known"
                )
                return row
        yast_installed = settings is not None or self._system.exists(AOU_SCRIPT)
        if link is not None:
            enable = (settings or {}).get("AOU_ENABLE_CRONJOB", "")
            if enable != "true":
                shown = f'"{enable}"' if settings is not None and enable else "not set"
                row["enabled"] = 0
                row["detail"] = (
                    f"YaST's automatic online update has its cron link {link}, but "
                    f"AOU_ENABLE_CRONJOB is {shown} in {AOU_SYSCONFIG}, so "
                    f"{AOU_SCRIPT} stops without updating"
                )
                return row
            categories = (settings or {}).get("AOU_PATCH_CATEGORIES", "").split()
            interactive = (
                "; patches that need a reboot, a message or a license are skipped "
                "(AOU_SKIP_INTERACTIVE_PATCHES)"
                if (settings or {}).get("AOU_SKIP_INTERACTIVE_PATCHES", "true") == "true"
                else ""
            )
            if categories and "security" not in categories:
                row["enabled"] = 0
                row["detail"] = (
                    f"YaST's automatic online update is on (cron link {link}), but "
                    f'AOU_PATCH_CATEGORIES is "{" ".join(categories)}" in {AOU_SYSCONFIG}, '
                    "without security, so security patches are not installed"
                )
                return row
            cron_off = self._cron_off()
            if cron_off is not None:
                row["enabled"] = 0
                row["detail"] = (
                    f"YaST's automatic online update has its cron link {link}, but {cron_off}, "
                    "so nothing runs it"
                )
                return row
            what = (
                f'the categories "{" ".join(categories)}"'
                if categories
                else "all patches (AOU_PATCH_CATEGORIES is empty)"
            )
            row["enabled"] = 1
            row["detail"] = (
                f"YaST's automatic online update is on (cron link {link}, AOU_ENABLE_CRONJOB "
                f'"true" in {AOU_SYSCONFIG}): zypper patch installs {what}{interactive}'
            )
            return row
        said: list[str] = []
        if broken is not None:
            said.append(f"YaST's automatic online update: {broken}")
        elif yast_installed:
            folders = ", ".join(AOU_CRON_FOLDERS)
            said.append(
                "YaST's automatic online update is off (yast2-online-update-configuration is "
                f"installed, but there is no {AOU_CRON_NAME} link in {folders})"
            )
        timers_off = self._timers_off(SUSE_TIMERS)
        if timers_off is not None:
            said.append(timers_off)
        row["enabled"] = 0
        if not said:
            row["detail"] = (
                "nothing installs updates by itself: neither YaST's automatic online update "
                "(yast2-online-update-configuration) nor os-update or transactional-update is "
                "installed"
            )
        else:
            row["detail"] = "; ".join(said)
        return row

    def _pacman(self) -> Row:
        timer_row = self._timers(ARCH_TIMERS, "pacman")
        if timer_row is not None:
            return timer_row
        said = (
            "Arch ships no automatic updater: pacman installs updates only when asked "
            "(pacman -Syu), as Arch's maintainers advise"
        )
        timers_off = self._timers_off(ARCH_TIMERS)
        if timers_off is not None:
            said += f"; {timers_off}"
        else:
            said += (
                "; neither pacroller nor pacman-auto-update (the updaters that would count) "
                "is installed"
            )
        return {"enabled": 0, "source": "pacman", "detail": said}

    def generate(self, context: QueryContext) -> Iterable[Row]:
        system = self._system
        if system.is_dir("/etc/apt") and (
            system.exists("/var/lib/dpkg/status") or system.which("apt-get") is not None
        ):
            return [self._apt()]
        if system.is_dir("/etc/dnf") or system.which("dnf") or system.which("dnf5"):
            return [self._dnf()]
        if system.is_dir("/etc/zypp") or system.which("zypper"):
            return [self._zypper()]
        if system.exists("/etc/pacman.conf") or system.which("pacman"):
            return [self._pacman()]
        return [
            {
                "enabled": None,
                "source": None,
                "detail": "neither apt (Debian, Ubuntu), dnf (Fedora, RHEL), zypper (openSUSE) "
                "nor pacman (Arch) is present, so "
                "automatic updates cannot be checked on this distribution",
            }
        ]
