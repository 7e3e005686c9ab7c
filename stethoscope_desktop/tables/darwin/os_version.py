"""osquery's `os_version` table on macOS, from `sw_vers` and `uname -m`.

Like osquery: name=ProductName, version=ProductVersion, major/minor/patch from it,
build=BuildVersion, platform and platform_like "darwin", extra=ProductVersionExtra (the letter of a
Rapid Security Response, e.g. "(a)"), arch the machine name (arm64, x86_64).
"""

from __future__ import annotations

from collections.abc import Iterable

from stethoscope_desktop.tables._shared import OS_VERSION_COLUMNS, MachineTable, run_quiet
from stethoscope_desktop.tables.base import Column, QueryContext, Row
from stethoscope_desktop.tables.darwin._common import read_sw_vers, version_parts

UNAME_M = ["/usr/bin/uname", "-m"]


class OsVersion(MachineTable):
    """The macOS version, one row."""

    name = "os_version"
    columns = (
        *OS_VERSION_COLUMNS,
        Column("extra", "text"),
    )
    platforms = ("darwin",)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        fields = read_sw_vers(self._system)
        version = fields["ProductVersion"]
        major, minor, patch = version_parts(version)
        arch_result = run_quiet(self._system, UNAME_M)
        arch = (
            arch_result.stdout.strip()
            if not isinstance(arch_result, str) and arch_result.ok
            else None
        )
        return [
            {
                "name": fields.get("ProductName", "macOS"),
                "version": version,
                "major": major,
                "minor": minor,
                "patch": patch,
                "build": fields.get("BuildVersion", ""),
                "platform": "darwin",
                "platform_like": "darwin",
                "codename": None,
                "arch": arch or None,
                "extra": fields.get("ProductVersionExtra") or None,
            }
        ]
