r"""osquery's `programs` table on Windows: the programs listed in "Installed apps".

Windows lists what installers register under the Uninstall keys: the machine's 64-bit and 32-bit
views (`HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall` and its WOW6432Node twin) and
the current user's (`HKCU\…\Uninstall`, where per-user installers such as those of Zoom or
Spotify write). osquery reads every loaded user hive under HKEY_USERS, which a normal user
cannot list; this table reads the user it runs as. Entries without a DisplayName are not shown by
Windows either and are skipped. A subkey named like {GUID} is an MSI product code
(identifying_number).
"""

from __future__ import annotations

from collections.abc import Iterable

from stethoscope_desktop.tables.base import Column, QueryContext, Row, TableError
from stethoscope_desktop.tables.windows._common import WindowsTable
from stethoscope_desktop.tables.windows._registry import value_of

UNINSTALL_KEYS = (
    r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall",
    r"HKEY_LOCAL_MACHINE\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall",
    r"HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Uninstall",
)
_VALUES = {
    "name": "DisplayName",
    "version": "DisplayVersion",
    "install_location": "InstallLocation",
    "install_source": "InstallSource",
    "language": "Language",
    "publisher": "Publisher",
    "uninstall_string": "UninstallString",
    "install_date": "InstallDate",
}


class Programs(WindowsTable):
    """Installed programs, one row each."""

    name = "programs"
    columns = (
        Column("name", "text"),
        Column("version", "text"),
        Column("install_location", "text"),
        Column("install_source", "text"),
        Column("language", "text"),
        Column("publisher", "text"),
        Column("uninstall_string", "text"),
        Column("install_date", "text"),
        Column("identifying_number", "text"),
        Column("package_family_name", "text"),
        Column("upgrade_code", "text"),
    )
    platforms = ("windows",)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        rows: list[Row] = []
        read_any = False
        failures: list[str] = []
        for parent in UNINSTALL_KEYS:
            try:
                names = self._registry.subkeys(parent)
            except OSError as error:
                failures.append(f"{parent}: {error}")
                continue
            if names is None:
                continue
            read_any = True
            for subkey in names:
                try:
                    values = self._registry.values(f"{parent}\\{subkey}")
                except OSError:
                    continue
                display = value_of(values, "DisplayName")
                if display is None or not display.as_text().strip():
                    continue
                row: Row = {}
                for column, value_name in _VALUES.items():
                    found = value_of(values, value_name)
                    row[column] = found.as_text().strip() if found is not None else None
                is_guid = subkey.startswith("{") and subkey.endswith("}")
                row["identifying_number"] = subkey if is_guid else None
                row["package_family_name"] = None
                row["upgrade_code"] = None
                rows.append(row)
        if not read_any and failures:
            raise TableError("cannot read the installed programs: " + "; ".join(failures))
        return rows
