r"""What unattended-upgrades would upgrade: its allowed origins and its package blacklist.

The facts below are read from unattended-upgrades 2.9 (Debian 12's /usr/bin/unattended-upgrade):
- The allowed origins are Unattended-Upgrade::Allowed-Origins ("Debian:bookworm-security" or
  "Debian bookworm-security": split at an unescaped `:`, else at spaces, into exactly two parts,
  which become "o=<id>,a=<suite>") followed by Unattended-Upgrade::Origins-Pattern, each with
  `${distro_id}` and `${distro_codename}` put in as Python's string.Template does (an unknown
  `${name}` stops the program). distro_id and distro_codename are what `lsb_release -i -s` and
  `-c -s` print: os-release's ID with its first letter capitalised (NAME where NAME differs from
  ID only in case) and VERSION_CODENAME.
- An origin pattern is a comma-separated list of key=value (`\,` is a comma inside a value);
  every pair must match the package's origin, each value a shell wildcard (fnmatch, case
  sensitive): o/origin, l/label, a/suite/archive, c/component, n/codename and site (the host the
  archive is fetched from). Another key stops the program; an empty pattern matches nothing.
- Unattended-Upgrade::Package-Blacklist holds Python regular expressions matched with re.match
  at the start of each package name; a package that matches is never upgraded, and a pattern that
  is not a valid regular expression stops the program.

The security archive of this distribution is read from the Release files apt keeps in
/var/lib/apt/lists (world-readable; the label "Debian-Security" or a suite ending in
"-security"); where apt has fetched none, Debian's and Ubuntu's are described from os-release.
"""

from __future__ import annotations

import fnmatch
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass

from stethoscope_desktop.tables.file_cache import FileCache, FolderCache
from stethoscope_desktop.tables.linux._common import parse_env_file, read_optional
from stethoscope_desktop.tables.system import System

ALLOWED_ORIGINS = "Unattended-Upgrade::Allowed-Origins"
ORIGINS_PATTERN = "Unattended-Upgrade::Origins-Pattern"
PACKAGE_BLACKLIST = "Unattended-Upgrade::Package-Blacklist"
APT_LISTS = "/var/lib/apt/lists"
OS_RELEASE_PATHS = ("/etc/os-release", "/usr/lib/os-release")
_RELEASE_HEADER = 16 * 1024  # the fields we need come before the checksums
_MAX_RELEASE_FILES = 200

_KEYS = {
    "o": "origin",
    "origin": "origin",
    "l": "label",
    "label": "label",
    "a": "archive",
    "suite": "archive",
    "archive": "archive",
    "c": "component",
    "component": "component",
    "n": "codename",
    "codename": "codename",
    "site": "site",
}


class UnattendedUpgradeStops(Exception):
    """unattended-upgrade would stop with an error on this configuration; the message says why."""


@dataclass(frozen=True)
class Distribution:
    """What unattended-upgrade puts in for ${distro_id} and ${distro_codename}."""

    distro_id: str
    codename: str
    os_id: str  # os-release's ID, lower case ("debian", "ubuntu"); "" when unknown


@dataclass(frozen=True)
class Origin:
    """An archive's origin as unattended-upgrade matches it; None: a field we cannot know."""

    origin: str | None
    label: str | None
    archive: str | None
    codename: str | None
    components: tuple[str, ...] | None
    site: str | None
    described_by: str

    def describe(self) -> str:
        """Say which archive this is, as a pattern would name it."""
        parts = [
            f"{name}={value}"
            for name, value in (
                ("origin", self.origin),
                ("label", self.label),
                ("archive", self.archive),
                ("codename", self.codename),
                ("site", self.site),
            )
            if value is not None
        ]
        return ",".join(parts)


def read_distribution(system: System) -> Distribution:
    """Return distro_id and distro_codename as `lsb_release -i -s` / `-c -s` print them."""
    fields: dict[str, str] = {}
    for path in OS_RELEASE_PATHS:
        text = read_optional(system, path)
        if text is not None:
            fields = parse_env_file(text)
            break
    os_id = fields.get("ID", "")
    distro_id = os_id[:1].upper() + os_id[1:]
    name = fields.get("NAME")
    if name is not None and name.lower() == os_id.lower():
        distro_id = name
    return Distribution(
        distro_id=distro_id or "n/a",
        codename=fields.get("VERSION_CODENAME") or "n/a",
        os_id=os_id.lower(),
    )


def _substitute(text: str, distribution: Distribution, where: str) -> str:
    mapping = {"distro_id": distribution.distro_id, "distro_codename": distribution.codename}
    try:
        return string.Template(text).substitute(mapping)
    except KeyError as unknown:
        raise UnattendedUpgradeStops(
            f'{where} "{text}" names ${{{unknown.args[0]}}}, which unattended-upgrade does not '
            "know (only ${distro_id} and ${distro_codename})"
        ) from None
    except ValueError:
        raise UnattendedUpgradeStops(f'{where} "{text}" has a "$" that is not a name') from None


def allowed_origins(
    legacy: Iterable[str], patterns: Iterable[str], distribution: Distribution
) -> list[str]:
    """Return unattended-upgrade's allowed origins: Allowed-Origins first, then the patterns."""
    allowed: list[str] = []
    for item in legacy:
        colon = re.search(r"(?<!\\):", item)
        parts = re.split(r"(?<!\\):", item) if colon else item.split()
        if len(parts) != 2:
            raise UnattendedUpgradeStops(
                f'{ALLOWED_ORIGINS} "{item}" is not "origin:suite" (or "origin suite")'
            )
        origin = re.sub(r"\\:", ":", parts[0])
        origin = re.sub(r"([^\\]),", r"\1\\,", origin)
        suite = re.sub(r"([^\\]),", r"\1\\,", parts[1])
        allowed.append(
            f"o={_substitute(origin, distribution, ALLOWED_ORIGINS)},"
            f"a={_substitute(suite, distribution, ALLOWED_ORIGINS)}"
        )
    allowed.extend(_substitute(item, distribution, ORIGINS_PATTERN) for item in patterns)
    return allowed


def pattern_matches(pattern: str, origin: Origin, distribution: Distribution) -> bool | None:
    """Return whether an allowed-origin pattern takes packages from `origin`.

    None when it depends on a field of the origin we cannot know; raise UnattendedUpgradeStops
    for a pattern unattended-upgrade cannot read.
    """
    text = pattern.strip()
    if not text:
        return False
    text = text.replace("\\,", "%2C")
    result: bool | None = True
    for token in text.split(","):
        pieces = [piece.strip().replace("%2C", ",") for piece in token.split("=")]
        if len(pieces) != 2:
            raise UnattendedUpgradeStops(
                f'the allowed origin "{pattern}" has "{token}", which is not key=value'
            )
        key, value = pieces
        field = _KEYS.get(key)
        if field is None:
            raise UnattendedUpgradeStops(
                f'the allowed origin "{pattern}" has the key "{key}", which unattended-upgrade '
                "does not know (o, l, a, c, n, site and their long names)"
            )
        value = _substitute(value, distribution, "the allowed origin")
        match: bool | None
        if field == "component":
            components = origin.components
            match = (
                None
                if components is None
                else any(fnmatch.fnmatchcase(c, value) for c in components)
            )
        else:
            actual = getattr(origin, field)
            match = None if actual is None else fnmatch.fnmatchcase(actual, value)
        # unattended-upgrade reads every pair even after one fails to match
        if match is False:
            result = False
        elif match is None and result is not False:
            result = None
    return result


def check_patterns(patterns: Iterable[str], distribution: Distribution) -> None:
    """Raise UnattendedUpgradeStops for the first pattern unattended-upgrade cannot read.

    Every pattern is tried on every package's origin that no earlier pattern allowed (the main
    archive's packages, at least), so one unreadable pattern stops the whole run.
    """
    unknown = Origin(None, None, None, None, None, None, "")
    for pattern in patterns:
        pattern_matches(pattern, unknown, distribution)


def _release_fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith(("-----BEGIN", "Hash:")) or not line.strip():
            continue
        if line[0].isspace():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        if key in ("SHA256", "SHA1", "MD5Sum", "SHA512"):
            break
        fields[key] = value.strip()
    return fields


def _is_security(fields: dict[str, str]) -> bool:
    label = fields.get("Label", "")
    suite = fields.get("Suite", "")
    codename = fields.get("Codename", "")
    return label.endswith("-Security") or any(
        name.endswith("-security") for name in (suite, codename)
    )


def _release_names(folder: str, entries: list[str]) -> tuple[str, ...]:
    names = sorted(name for name in entries if name.endswith(("_InRelease", "_Release")))
    return tuple(names[:_MAX_RELEASE_FILES])


def _security_origin(name: str, text: str) -> Origin | None:
    """Return the security archive a Release file (name, first bytes) describes, if it is one."""
    fields = _release_fields(text)
    if not _is_security(fields):
        return None
    components = tuple(
        component.rsplit("/", 1)[-1] for component in fields.get("Components", "").split()
    )
    return Origin(
        origin=fields.get("Origin", ""),
        label=fields.get("Label", ""),
        archive=fields.get("Suite", ""),
        codename=fields.get("Codename", ""),
        components=components,
        site=name.split("_", 1)[0],
        described_by=f"{APT_LISTS}/{name}",
    )


class SecurityArchives:
    """The security archives whose Release files apt has fetched, each file read once per change.

    Only a Release file's first 16 KiB are read: its fields come before the checksums.
    """

    def __init__(self, system: System) -> None:
        self._folder: FolderCache[tuple[str, ...]] = FolderCache(system, _release_names)
        self._files: FileCache[str] = FileCache(system, lambda text: text, limit=_RELEASE_HEADER)

    def read(self) -> list[Origin]:
        """Return the security archives in /var/lib/apt/lists (none when it can't be listed)."""
        try:
            names = self._folder.read(APT_LISTS)
        except OSError:
            return []
        paths = [f"{APT_LISTS}/{name}" for name in names]
        self._files.keep_only(paths)
        origins: list[Origin] = []
        for name, path in zip(names, paths, strict=True):
            text = self._files.read_optional(path)
            origin = _security_origin(name, text) if text is not None else None
            if origin is not None:
                origins.append(origin)
        return origins


def security_origins_from_lists(system: System) -> list[Origin]:
    """Return the security archives whose Release files apt has fetched."""
    return SecurityArchives(system).read()


def security_origins_described(distribution: Distribution) -> list[Origin]:
    """Return Debian's or Ubuntu's security archive as published, for a machine without lists."""
    codename = distribution.codename
    if distribution.os_id == "debian" and codename != "n/a":
        return [
            Origin(
                origin="Debian",
                label="Debian-Security",
                archive=None,  # stable-security, oldstable-security…: changes with time
                codename=f"{codename}-security",
                components=("main", "contrib", "non-free", "non-free-firmware"),
                site=None,
                described_by=f"Debian's security archive for {codename} as published",
            )
        ]
    if distribution.os_id == "ubuntu" and codename != "n/a":
        return [
            Origin(
                origin="Ubuntu",
                label="Ubuntu",
                archive=f"{codename}-security",
                codename=codename,
                components=("main", "restricted", "universe", "multiverse"),
                site=None,
                described_by=f"Ubuntu's security archive for {codename} as published",
            )
        ]
    return []


def blacklist_error(patterns: Iterable[str]) -> str | None:
    """Return why a blacklist pattern stops unattended-upgrade (not a regular expression)."""
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as error:
            return f'{PACKAGE_BLACKLIST} "{pattern}" is not a regular expression ({error})'
    return None


def blacklisted(name: str, patterns: Iterable[str]) -> bool:
    """Return whether unattended-upgrade skips the package `name` for this blacklist."""
    return any(re.match(pattern, name) for pattern in patterns)
