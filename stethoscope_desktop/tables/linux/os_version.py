"""osquery's `os_version` table on Linux, and our `stethoscope_os_version` with the point release.

`os_version` gives the row osquery gives, so a query means the same on both engines:
- Only /etc/os-release is read, line by line: a line is split at `=` (empty pieces dropped,
  each trimmed); NAME, VERSION, BUILD_ID, ID, ID_LIKE and VERSION_CODENAME fill name, version,
  build, platform, platform_like and codename, and any other key containing CODENAME
  (UBUNTU_CODENAME) fills codename too, the later line winning. A value starting with `"` loses
  its first and last character; single quotes stay.
- major, minor and patch are VERSION_ID split at its first two dots; what is missing stays 0
  (Debian 12's VERSION_ID "12" gives 12.0.0 on every point release). A part that is no number
  is NULL, as osquery's integer columns make it.
- Defaults when os-release is missing or empty: name "Unknown", 0.0.0, platform "posix"; build,
  version and the rest NULL. arch is the kernel's machine name.
- Where /etc/redhat-release exists (RHEL, CentOS, Fedora too) platform and platform_like are
  "rhel", version is that file's text (whitespace collapsed), build is "", and a
  "<name> ... <major>.<minor>[.<patch>]" line there gives name, major, minor and patch. Else
  /etc/gentoo-release does the same with "gentoo".

`stethoscope_os_version` (ours, read by our checks) has what a policy's osVersion bracket and the
platform keys need: platform is os-release's ID (never "rhel" for Fedora), version falls back to
VERSION_ID, /usr/lib/os-release is read where /etc/os-release is missing, and minor/patch carry
the point release where VERSION_ID has only part of it: Debian's from /etc/debian_version
("12.7"), Ubuntu's from VERSION ("24.04.1 LTS" gives 24.4.1).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from stethoscope_desktop.tables._shared import OS_VERSION_COLUMNS
from stethoscope_desktop.tables.base import Column, QueryContext, Row, TableError
from stethoscope_desktop.tables.file_cache import FileCache
from stethoscope_desktop.tables.linux._common import (
    SMALL_FILE,
    MachineTable,
    os_error_reason,
    parse_env_file,
    read_line,
    read_optional,
    to_int,
    uname_value,
)
from stethoscope_desktop.tables.system import System

OS_RELEASE_PATHS = ("/etc/os-release", "/usr/lib/os-release")
REDHAT_RELEASE = "/etc/redhat-release"
GENTOO_RELEASE = "/etc/gentoo-release"

# os-release key -> os_version column, as osquery maps them.
_OS_RELEASE_COLUMNS = {
    "NAME": "name",
    "VERSION": "version",
    "BUILD_ID": "build",
    "ID": "platform",
    "ID_LIKE": "platform_like",
    "VERSION_CODENAME": "codename",
    "VERSION_ID": "_version_id",
}
# "<name> <anything> <major>.<minor>[.<patch>]" in /etc/redhat-release or /etc/gentoo-release.
_RELEASE_LINE = re.compile(r"([\w+\s]+) .* ([0-9]+)\.([0-9]+)\.?(\w+)?")
_LEADING_VERSION = re.compile(r"[0-9]+(?:\.[0-9]+)*")


def machine_arch(system: System) -> str | None:
    """Return the kernel's machine name (uname -m), preferring /proc/sys/kernel/arch."""
    return uname_value(system, "/proc/sys/kernel/arch", "-m")


def _osquery_split(text: str, delimiter: str, keep: int) -> list[str]:
    """Split as osquery's split(text, delim, occurrences) does.

    Empty pieces are dropped, the rest trimmed, and the pieces after the first `keep` joined again.
    """
    pieces = [piece.strip() for piece in text.split(delimiter) if piece]
    pieces = [piece for piece in pieces if piece]
    if len(pieces) > keep:
        pieces = [*pieces[:keep], delimiter.join(pieces[keep:])]
    return pieces


def osquery_os_release_fields(text: str) -> dict[str, str]:
    """Return the os_version columns osquery fills from os-release's text (plus _version_id)."""
    fields: dict[str, str] = {}
    for line in (line.strip() for line in text.split("\n")):
        pieces = _osquery_split(line, "=", 1)
        if len(pieces) != 2:
            continue
        key, value = pieces
        column = _OS_RELEASE_COLUMNS.get(key)
        if column is None:
            if "CODENAME" not in key:
                continue
            column = "codename"
        if value.startswith('"'):
            value = value[1:-1]
        fields[column] = value
    return fields


def _number(text: str | None) -> int | None:
    return None if text is None else to_int(text)


class OsVersion(MachineTable):
    """The operating system's name and version, one row, as osquery gives it."""

    name = "os_version"
    columns = (
        *OS_VERSION_COLUMNS,
        Column("pid_with_namespace", "integer", hidden=True),
        Column("mount_namespace_id", "text", hidden=True),
    )
    platforms = ("linux",)

    def __init__(self, system: System) -> None:
        super().__init__(system)
        # os-release's fields (None when it is empty), kept until the file changes.
        self._os_release: FileCache[dict[str, str] | None] = FileCache(
            system, lambda text: osquery_os_release_fields(text) if text else None, limit=SMALL_FILE
        )

    def generate(self, context: QueryContext) -> Iterable[Row]:
        row: Row = {column.name: None for column in self.columns}
        row |= {
            "name": "Unknown",
            "major": 0,
            "minor": 0,
            "patch": 0,
            "platform": "posix",
            "pid_with_namespace": 0,
        }
        kept = self._os_release.read_optional(OS_RELEASE_PATHS[0])
        if kept is not None:
            fields = dict(kept)  # the kept fields are shared between scans
            version_id = fields.pop("_version_id", None)
            row.update(fields)
            if version_id is not None:
                parts = _osquery_split(version_id, ".", 2)
                for column, part in zip(("major", "minor", "patch"), parts, strict=False):
                    row[column] = _number(part)
        row["arch"] = machine_arch(self._system)
        for path, platform in ((REDHAT_RELEASE, "rhel"), (GENTOO_RELEASE, "gentoo")):
            release = read_optional(self._system, path)
            if release is None:
                continue
            row["platform"] = platform
            row["platform_like"] = platform
            # boost's trim_all: ends trimmed, each run of whitespace kept as its first character.
            content = re.sub(r"(\s)\s*", r"\1", release.strip())
            for line in content.split("\n"):
                match = _RELEASE_LINE.search(line)
                if match:
                    row["name"] = match.group(1)
                    row["major"] = _number(match.group(2))
                    row["minor"] = _number(match.group(3))
                    row["patch"] = _number(match.group(4) or "0")
                    break
            row["version"] = content
            row["build"] = ""
            break
        return [row]


def _version_parts(version_id: str) -> tuple[int, int, int]:
    numbers = [to_int(part) for part in version_id.split(".", 2)]
    padded = [*numbers, None, None, None][:3]
    major, minor, patch = (value if value is not None else 0 for value in padded)
    return major, minor, patch


class StethoscopeOsVersion(MachineTable):
    """The distribution and its version down to the point release, one row (ours)."""

    name = "stethoscope_os_version"
    # osquery's os_version columns but arch, which system_info and os_version have.
    columns = tuple(column for column in OS_VERSION_COLUMNS if column.name != "arch")
    platforms = ("linux",)

    def __init__(self, system: System) -> None:
        super().__init__(system)
        # Each os-release's values (None when it is empty), kept until the file changes.
        self._os_releases: FileCache[dict[str, str] | None] = FileCache(
            system, lambda text: parse_env_file(text) if text.strip() else None
        )

    def _os_release(self) -> dict[str, str]:
        """Return os-release's values (shared between scans: read, never change them)."""
        reasons: list[str] = []
        for path in OS_RELEASE_PATHS:
            try:
                values = self._os_releases.read(path)
            except OSError as error:
                reasons.append(f"{path}: {os_error_reason(error)}")
                continue
            if values is not None:
                return values
            reasons.append(f"{path}: empty")
        raise TableError("cannot tell the OS version: " + "; ".join(reasons))

    def _point_release(self, fields: dict[str, str], version_id: str) -> str | None:
        """Return the fuller version that VERSION_ID abbreviates, or None."""
        if fields.get("ID") == "debian":
            candidate = read_line(self._system, "/etc/debian_version") or ""
        else:
            match = _LEADING_VERSION.match(fields.get("VERSION", ""))
            candidate = match.group(0) if match else ""
        return candidate if candidate.startswith(version_id + ".") else None

    def generate(self, context: QueryContext) -> Iterable[Row]:
        fields = self._os_release()
        version_id = fields.get("VERSION_ID", "")
        major, minor, patch = _version_parts(version_id)
        point = self._point_release(fields, version_id) if version_id else None
        if point is not None:
            _, minor, patch = _version_parts(point)
        row: Row = {
            "name": fields.get("NAME", "Linux"),
            "version": fields.get("VERSION", version_id or None),
            "major": major,
            "minor": minor,
            "patch": patch,
            "build": fields.get("BUILD_ID", ""),
            "platform": fields.get("ID", "linux"),
            "platform_like": fields.get("ID_LIKE"),
            "codename": fields.get("VERSION_CODENAME"),
        }
        return [row]
