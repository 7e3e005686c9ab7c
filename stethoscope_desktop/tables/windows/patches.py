"""osquery's `patches` table on Windows: the installed updates (hotfixes), from WMI.

osquery reads WMI's Win32_QuickFixEngineering; so do we, through Windows PowerShell's
`Get-WmiObject`, which gives the properties as WMI stores them (InstalledOn as Windows writes it,
such as "1/9/2024", not a converted date), each converted to text. Any user may read it. The
columns are osquery's: csname, hotfix_id, caption, description, fix_comments, installed_by,
install_date, installed_on; an empty property is NULL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from stethoscope_desktop.tables.base import Column, QueryContext, Row
from stethoscope_desktop.tables.windows._common import WindowsTable, powershell_json

# osquery's column -> the WMI property.
PROPERTIES = {
    "csname": "CSName",
    "hotfix_id": "HotFixID",
    "caption": "Caption",
    "description": "Description",
    "fix_comments": "FixComments",
    "installed_by": "InstalledBy",
    "install_date": "InstallDate",
    "installed_on": "InstalledOn",
}
HOTFIXES_SCRIPT = (
    "$r = @(Get-WmiObject -Class Win32_QuickFixEngineering | ForEach-Object { [ordered]@{ "
    + "; ".join(f"{column} = [string]$_.{name}" for column, name in PROPERTIES.items())
    + " } }); ConvertTo-Json -InputObject $r -Compress"
)


def hotfix_row(entry: Mapping[str, Any]) -> Row:
    """Return the row for one entry of the script's output."""
    row: Row = {}
    for column in PROPERTIES:
        value = entry.get(column)
        text = str(value).strip() if value is not None else ""
        row[column] = text or None
    return row


class Patches(WindowsTable):
    """The installed Windows updates, one row each."""

    name = "patches"
    columns = tuple(Column(column, "text") for column in PROPERTIES)
    platforms = ("windows",)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        data = powershell_json(self._system, HOTFIXES_SCRIPT, what="the installed updates (WMI)")
        entries = data if isinstance(data, list) else [data]
        return [hotfix_row(entry) for entry in entries if isinstance(entry, dict)]
