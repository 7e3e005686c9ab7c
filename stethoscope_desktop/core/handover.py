"""What the scan worker hands the tray with each report.

The report, the UI strings of its language, and the few settings of the config and practices
the tray acts on.

Both sides use this module: the worker (`stethoscope_desktop.worker`) builds the `report` event
with `scan_event`, the tray reads it back with `ScanResult.from_event`. It imports no YAML or
policy code, so the tray can read a report without loading what made it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stethoscope_desktop.core.notify import NotificationSettings
from stethoscope_desktop.core.report import Report, ReportFormatError, texts_in
from stethoscope_desktop.core.strings import UiStrings

# The tray's idea of the config before the first report, and for a value missing from one.
DEFAULT_SCAN_INTERVAL_MINUTES = 60


@dataclass(frozen=True)
class TraySettings:
    """What the tray acts on.

    How often to scan, the API's port, when to notify, and which files to watch for IT's changes.
    """

    scan_interval_minutes: int = DEFAULT_SCAN_INTERVAL_MINUTES
    api_port: int | None = None
    notifications: NotificationSettings = field(default_factory=NotificationSettings)
    watch_folders: tuple[str, ...] = ()
    watch_files: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Return the settings as JSON-ready data."""
        return {
            "scan_interval_minutes": self.scan_interval_minutes,
            "api_port": self.api_port,
            "notifications": self.notifications.to_json(),
            "watch_folders": list(self.watch_folders),
            "watch_files": list(self.watch_files),
        }

    @classmethod
    def from_json(cls, data: object) -> TraySettings:
        """Return settings from `to_json` data; raise ReportFormatError naming a bad field."""
        if not isinstance(data, Mapping):
            raise ReportFormatError("settings: must be an object")
        interval = data.get("scan_interval_minutes")
        port = data.get("api_port")
        if not isinstance(interval, int) or isinstance(interval, bool) or interval <= 0:
            raise ReportFormatError(f"settings.scan_interval_minutes: {interval!r}")
        if port is not None and (
            not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535
        ):
            raise ReportFormatError(f"settings.api_port: {port!r}")
        return cls(
            interval,
            port,
            NotificationSettings.from_json(data.get("notifications")),
            texts_in(data, "watch_folders", "settings"),
            texts_in(data, "watch_files", "settings"),
        )


@dataclass(frozen=True)
class ScanResult:
    """A report with what the tray needs to show it."""

    report: Report
    strings: UiStrings
    settings: TraySettings

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> ScanResult:
        """Read a `report` event; raise ReportFormatError naming what is wrong with it."""
        strings = event.get("strings")
        if not isinstance(strings, Mapping) or not isinstance(strings.get("strings"), Mapping):
            raise ReportFormatError("strings: must be an object with a strings table")
        table = strings["strings"]
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in table.items()):
            raise ReportFormatError("strings.strings: every key and text must be a string")
        report = event.get("report")
        if not isinstance(report, Mapping):
            raise ReportFormatError("report: must be an object")
        return cls(
            Report.from_dict(report),
            UiStrings(str(strings.get("language", "en")), dict(table)),
            TraySettings.from_json(event.get("settings")),
        )


def scan_event(
    scan_id: object, report: Report, strings: UiStrings, settings: TraySettings
) -> dict[str, Any]:
    """Return the `report` event the worker sends after a scan."""
    return {
        "event": "report",
        "id": scan_id,
        "report": report.to_dict(),
        "strings": {"language": strings.language, "strings": dict(strings.strings)},
        "settings": settings.to_json(),
    }
