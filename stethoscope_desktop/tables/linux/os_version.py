"""osquery's `os_version` table on Linux, read from /etc/os-release.

Like osquery: name=NAME, version=VERSION, build=BUILD_ID (else ""), platform=ID,
platform_like=ID_LIKE, codename=VERSION_CODENAME, and major/minor/patch from VERSION_ID split on
dots (missing parts are 0, so Ubuntu "24.04" gives 24, 4, 0); arch is the kernel's machine name.

Where we differ from osquery, on purpose:
- version falls back to VERSION_ID when VERSION is absent (Arch, some rolling distros).
- /usr/lib/os-release is read when /etc/os-release is missing, and NAME / ID default to
  "Linux" / "linux", as os-release(5) prescribes.
- Debian's VERSION_ID is only the major number ("12"), so osquery reports minor 0 on every
  Debian 12 point release. /etc/debian_version carries the point release ("12.7"); when it
  extends VERSION_ID we take minor (and patch) from it, so checks can compare point releases.
- osquery overwrites platform with "rhel" and version with /etc/redhat-release's text whenever
  that file exists (it does on Fedora too); we keep platform=ID, which is what checks expect.
"""

from __future__ import annotations

from collections.abc import Iterable

from stethoscope_desktop.tables._shared import OS_VERSION_COLUMNS
from stethoscope_desktop.tables.base import Column, QueryContext, Row, TableError
from stethoscope_desktop.tables.linux._common import (
    MachineTable,
    os_error_reason,
    parse_env_file,
    read_line,
    to_int,
    uname_value,
)
from stethoscope_desktop.tables.system import System

OS_RELEASE_PATHS = ("/etc/os-release", "/usr/lib/os-release")


def machine_arch(system: System) -> str | None:
    """Return the kernel's machine name (uname -m), preferring /proc/sys/kernel/arch."""
    return uname_value(system, "/proc/sys/kernel/arch", "-m")


def _version_parts(version_id: str) -> tuple[int, int, int]:
    numbers = [to_int(part) for part in version_id.split(".", 2)]
    padded = [*numbers, None, None, None][:3]
    major, minor, patch = (value if value is not None else 0 for value in padded)
    return major, minor, patch


class OsVersion(MachineTable):
    """The operating system's name and version, one row."""

    name = "os_version"
    columns = (
        *OS_VERSION_COLUMNS,
        Column("pid_with_namespace", "integer", hidden=True),
        Column("mount_namespace_id", "text", hidden=True),
    )
    platforms = ("linux",)

    def _os_release(self) -> dict[str, str]:
        reasons: list[str] = []
        for path in OS_RELEASE_PATHS:
            try:
                text = self._system.read_text(path)
            except OSError as error:
                reasons.append(f"{path}: {os_error_reason(error)}")
                continue
            if text.strip():
                return parse_env_file(text)
            reasons.append(f"{path}: empty")
        raise TableError("cannot tell the OS version: " + "; ".join(reasons))

    def generate(self, context: QueryContext) -> Iterable[Row]:
        fields = self._os_release()
        version_id = fields.get("VERSION_ID", "")
        major, minor, patch = _version_parts(version_id)
        if fields.get("ID") == "debian" and version_id:
            point = read_line(self._system, "/etc/debian_version") or ""
            if point.startswith(version_id + "."):
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
            "arch": machine_arch(self._system),
            "pid_with_namespace": 0,
        }
        return [row]
