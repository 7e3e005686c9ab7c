"""`stethoscope_desktop_apps`: applications installed as Flatpaks or Snaps, and pacman's packages.

These do not appear in deb_packages or rpm_packages (and osquery has no table for pacman, Arch's
package manager: its packages come from its local database, read by `packages.PacmanDatabase`,
with source "pacman", the version as its project names it (pkgver, without pacman's epoch and
pkgrel, as rpm_packages' version has neither) and an empty path, as deb and rpm rows have).
Flatpak apps come from `flatpak list --app --columns=name,application,version,installation`
(tab-separated when printed to a pipe); path is the app's folder in the system
(/var/lib/flatpak/app/ID) or user (~/.local/share/flatpak/app/ID) installation. Snaps come from
`snap list`, which asks snapd; bases, snapd itself, kernels, gadgets and disabled revisions are
not applications and are left out; path is the snap's mount folder. Each source is only asked
when its command is installed (pacman's when its database is there), and a snapd that does not
answer ("cannot communicate with server") gives no snap rows. A source that fails otherwise is
skipped when another gave rows; the table fails with the reasons when none did.
"""

from __future__ import annotations

from collections.abc import Iterable

from stethoscope_desktop.tables.base import Column, QueryContext, Row, TableError
from stethoscope_desktop.tables.linux._common import MachineTable, command_reason, run_quiet
from stethoscope_desktop.tables.linux.packages import PacmanDatabase
from stethoscope_desktop.tables.system import System

_NOT_APPS = frozenset({"base", "core", "snapd", "kernel", "gadget", "disabled"})


class DesktopApps(MachineTable):
    """Flatpak and Snap applications."""

    name = "stethoscope_desktop_apps"
    columns = (
        Column("name", "text"),
        Column("version", "text"),
        Column("source", "text"),
        Column("path", "text"),
    )
    platforms = ("linux",)

    def __init__(self, system: System) -> None:
        super().__init__(system)
        self._pacman = PacmanDatabase(system)

    def _pacman_rows(self) -> list[Row]:
        packages = self._pacman.packages()
        return [
            {
                "name": package.name,
                "version": package.upstream_version,
                "source": "pacman",
                "path": "",
            }
            for package in packages or ()
        ]

    def _flatpak(self) -> list[Row]:
        result = run_quiet(
            self._system,
            ["flatpak", "list", "--app", "--columns=name,application,version,installation"],
        )
        if isinstance(result, str):
            raise TableError(f"flatpak: {result}")
        if not result.ok:
            raise TableError(f"flatpak list failed: {command_reason(result)}")
        rows: list[Row] = []
        for line in result.stdout.splitlines():
            fields = line.split("\t")
            if len(fields) < 3 or not fields[1].strip():
                continue
            name, app_id, version = (field.strip() for field in fields[:3])
            installation = fields[3].strip() if len(fields) > 3 else ""
            if installation == "system":
                path: str | None = f"/var/lib/flatpak/app/{app_id}"
            elif installation == "user":
                path = f"{self._system.home}/.local/share/flatpak/app/{app_id}"
            else:
                path = None
            rows.append(
                {
                    "name": name or app_id,
                    "version": version or None,
                    "source": "flatpak",
                    "path": path,
                }
            )
        return rows

    def _snap(self) -> list[Row]:
        result = run_quiet(self._system, ["snap", "list"])
        if isinstance(result, str):
            raise TableError(f"snap: {result}")
        if not result.ok:
            if "cannot communicate with server" in result.stderr + result.stdout:
                return []  # snapd is not running: snap cannot list anything
            raise TableError(f"snap list failed: {command_reason(result)}")
        mount_root = "/snap" if self._system.is_dir("/snap") else "/var/lib/snapd/snap"
        rows: list[Row] = []
        for line in result.stdout.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 3:
                continue
            name, version, revision = fields[:3]
            notes = set(fields[5].split(",")) if len(fields) > 5 else set()
            if notes & _NOT_APPS:
                continue
            rows.append(
                {
                    "name": name,
                    "version": version,
                    "source": "snap",
                    "path": f"{mount_root}/{name}/{revision}",
                }
            )
        return rows

    def generate(self, context: QueryContext) -> Iterable[Row]:
        rows: list[Row] = []
        failures: list[str] = []
        try:
            rows.extend(self._pacman_rows())
        except TableError as error:
            failures.append(str(error))
        for program, lister in (("flatpak", self._flatpak), ("snap", self._snap)):
            if self._system.which(program) is None:
                continue
            try:
                rows.extend(lister())
            except TableError as error:
                failures.append(str(error))
        if failures and not rows:
            raise TableError("; ".join(failures))
        return rows
