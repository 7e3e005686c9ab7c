r"""osquery's `os_version` table on Windows, from the registry.

`HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion` holds everything, readable by every user and
the same in every display language: CurrentMajorVersionNumber and CurrentMinorVersionNumber
(10, 0), CurrentBuildNumber (22631), UBR (the revision, 4037), ProductName, DisplayVersion (23H2;
ReleaseId before 20H2) and InstallDate (Unix time). ProductName still says "Windows 10" on
Windows 11; Microsoft's rule is that build 22000 and later is Windows 11, so the name is corrected
by the build, and written as WMI's Caption is ("Microsoft Windows 11 Pro"), which is what osquery
reports. version is major.minor.build as osquery gives it; arch comes from
PROCESSOR_ARCHITECTURE, in WMI's OSArchitecture words.
"""

from __future__ import annotations

from collections.abc import Iterable

from stethoscope_desktop.tables._shared import OS_VERSION_COLUMNS, os_error_reason
from stethoscope_desktop.tables.base import Column, QueryContext, Row, TableError
from stethoscope_desktop.tables.windows._common import WindowsTable
from stethoscope_desktop.tables.windows._registry import Registry, value_of

CURRENT_VERSION = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion"
ENVIRONMENT = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Session Manager\Environment"
WINDOWS_11_BUILD = 22000
ARCHITECTURES = {"AMD64": "64-bit", "ARM64": "ARM 64-bit Processor", "x86": "32-bit"}


def windows_name(product_name: str, build: int | None) -> str:
    """Return WMI's Caption for a ProductName: "Microsoft " first, 10 → 11 from build 22000."""
    name = product_name.strip() or "Windows"
    if build is not None and build >= WINDOWS_11_BUILD and name.startswith("Windows 10"):
        name = "Windows 11" + name[len("Windows 10") :]
    return name if name.startswith("Microsoft ") else f"Microsoft {name}"


def read_current_version(registry: Registry) -> dict[str, str | int | None]:
    """Return the version facts of CurrentVersion; raise TableError when it cannot be read."""
    try:
        values = registry.values(CURRENT_VERSION)
    except OSError as error:
        raise TableError(
            f"cannot tell the Windows version: {CURRENT_VERSION}: {os_error_reason(error)}"
        ) from error
    if not values:
        raise TableError(f"cannot tell the Windows version: {CURRENT_VERSION} is missing")

    def number(name: str) -> int | None:
        value = value_of(values, name)
        return value.as_int() if value is not None else None

    def text(name: str) -> str | None:
        value = value_of(values, name)
        return value.as_text() if value is not None else None

    build = number("CurrentBuildNumber") or number("CurrentBuild")
    if build is None:
        raise TableError("cannot tell the Windows version: no CurrentBuildNumber in the registry")
    major = number("CurrentMajorVersionNumber")
    minor = number("CurrentMinorVersionNumber")
    if major is None:  # before Windows 10: "6.3"
        legacy = (text("CurrentVersion") or "0.0").split(".")
        major, minor = int(legacy[0] or 0), int(legacy[1] if len(legacy) > 1 else 0)
    return {
        "major": major,
        "minor": minor or 0,
        "build": build,
        "revision": number("UBR"),
        "product_name": text("ProductName") or "Windows",
        "display_version": text("DisplayVersion") or text("ReleaseId"),
        "install_date": number("InstallDate"),
    }


class OsVersion(WindowsTable):
    """The Windows version, one row."""

    name = "os_version"
    columns = (
        *OS_VERSION_COLUMNS,
        Column("install_date", "bigint"),
        Column("revision", "integer"),
    )
    platforms = ("windows",)

    def _arch(self) -> str | None:
        machine = self._system.env.get("PROCESSOR_ARCHITEW6432") or self._system.env.get(
            "PROCESSOR_ARCHITECTURE"
        )
        if not machine:
            try:
                found = value_of(self._registry.values(ENVIRONMENT), "PROCESSOR_ARCHITECTURE")
            except OSError:
                found = None
            machine = found.as_text() if found is not None else None
        return ARCHITECTURES.get(machine or "", machine)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        facts = read_current_version(self._registry)
        build = facts["build"]
        assert isinstance(build, int)
        name = windows_name(str(facts["product_name"]), build)
        return [
            {
                "name": name,
                "version": f"{facts['major']}.{facts['minor']}.{build}",
                "major": facts["major"],
                "minor": facts["minor"],
                "patch": None,
                "build": str(build),
                "platform": "windows",
                "platform_like": "windows",
                "codename": name,
                "arch": self._arch(),
                "install_date": facts["install_date"],
                "revision": facts["revision"],
            }
        ]
