"""osquery's `apps` table on macOS: application bundles and their Info.plist.

Asking Launch Services or `system_profiler SPApplicationsDataType` for every app takes seconds;
reading each bundle's Contents/Info.plist with plistlib takes milliseconds. We look where
osquery's search paths put apps: /Applications and /System/Applications (and their Utilities),
~/Applications, and one level of folders inside them (suites such as "Microsoft Office"), so an
app moved into a subfolder of /Applications is found too. A `WHERE path = '…'` reads only that
bundle. last_opened_time needs Spotlight and is -1 ("unknown"), as osquery reports for apps
Spotlight has no date for.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stethoscope_desktop.tables._shared import MachineTable, PlistError, read_plist
from stethoscope_desktop.tables.base import Column, QueryContext, Row
from stethoscope_desktop.tables.darwin._common import plist_text

SYSTEM_FOLDERS = (
    "/Applications",
    "/Applications/Utilities",
    "/System/Applications",
    "/System/Applications/Utilities",
)
# Info.plist keys behind each column.
_KEYS = {
    "bundle_executable": "CFBundleExecutable",
    "bundle_identifier": "CFBundleIdentifier",
    "bundle_name": "CFBundleName",
    "bundle_short_version": "CFBundleShortVersionString",
    "bundle_version": "CFBundleVersion",
    "bundle_package_type": "CFBundlePackageType",
    "environment": "LSEnvironment",
    "element": "LSUIElement",
    "compiler": "DTCompiler",
    "development_region": "CFBundleDevelopmentRegion",
    "display_name": "CFBundleDisplayName",
    "info_string": "CFBundleGetInfoString",
    "minimum_system_version": "LSMinimumSystemVersion",
    "category": "LSApplicationCategoryType",
    "applescript_enabled": "NSAppleScriptEnabled",
    "copyright": "NSHumanReadableCopyright",
}


def app_row(path: str, info: dict[str, Any]) -> Row:
    """Return the apps row for the bundle at `path` with the parsed Info.plist `info`."""
    row: Row = {"name": path.rstrip("/").rsplit("/", 1)[-1], "path": path}
    for column, key in _KEYS.items():
        value = info.get(key)
        if key == "LSEnvironment" and isinstance(value, dict):
            row[column] = ", ".join(f"{k}={v}" for k, v in sorted(value.items()))
        else:
            row[column] = plist_text(value)
    row["last_opened_time"] = -1.0
    return row


class Apps(MachineTable):
    """Installed application bundles."""

    name = "apps"
    columns = (
        Column("name", "text"),
        Column("path", "text", index=True),
        Column("bundle_executable", "text"),
        Column("bundle_identifier", "text"),
        Column("bundle_name", "text"),
        Column("bundle_short_version", "text"),
        Column("bundle_version", "text"),
        Column("bundle_package_type", "text"),
        Column("environment", "text"),
        Column("element", "text"),
        Column("compiler", "text"),
        Column("development_region", "text"),
        Column("display_name", "text"),
        Column("info_string", "text"),
        Column("minimum_system_version", "text"),
        Column("category", "text"),
        Column("applescript_enabled", "text"),
        Column("copyright", "text"),
        Column("last_opened_time", "double"),
    )
    platforms = ("darwin",)

    def folders(self) -> list[str]:
        """Return the folders searched for apps, the user's own last."""
        home = self._system.home.rstrip("/")
        return [*SYSTEM_FOLDERS, f"{home}/Applications"]

    def bundles(self) -> list[str]:
        """Return the paths of every .app bundle in the search folders (and one level down)."""
        found: list[str] = []
        seen: set[str] = set()
        for folder in self.folders():
            try:
                entries = self._system.list_dir(folder)
            except OSError:
                continue
            for entry in entries:
                path = f"{folder}/{entry}"
                if entry.endswith(".app"):
                    candidates = [path]
                elif entry.startswith(".") or path in SYSTEM_FOLDERS:
                    continue
                else:
                    try:
                        inner = self._system.list_dir(path) if self._system.is_dir(path) else []
                    except OSError:
                        inner = []
                    candidates = [f"{path}/{name}" for name in inner if name.endswith(".app")]
                for candidate in candidates:
                    if candidate not in seen:
                        seen.add(candidate)
                        found.append(candidate)
        return found

    def generate(self, context: QueryContext) -> Iterable[Row]:
        wanted = context.equals("path")
        paths = sorted(wanted) if wanted else self.bundles()
        rows: list[Row] = []
        for path in paths:
            try:
                info = read_plist(self._system, f"{path.rstrip('/')}/Contents/Info.plist")
            except PlistError:
                info = None
            if info is None:
                continue
            rows.append(app_row(path.rstrip("/"), info))
        return rows
