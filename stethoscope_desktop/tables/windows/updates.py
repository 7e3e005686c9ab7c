r"""`stethoscope_automatic_updates` on Windows: does Windows Update install updates by itself?

On Windows 10 and 11 it always does, unless something turns it off, and every such switch is in
the registry, readable by every user:
- Group Policy or MDM, `HKLM\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate\AU`:
  NoAutoUpdate = 1 turns automatic updates off; AUOptions 2 (notify before downloading), 3
  (download, notify before installing) and 7 (download, notify before installing and restarting)
  leave installing to the user; 4 (download and install on a schedule) installs; 5 lets the local
  administrator choose, so the local settings decide;
- the Windows Update service, `HKLM\SYSTEM\CurrentControlSet\Services\wuauserv` Start = 4, is
  disabled;
- "Pause updates" writes PauseUpdatesExpiryTime (an ISO 8601 time) under
  `HKLM\SOFTWARE\Microsoft\WindowsUpdate\UX\Settings`; updates are off until then.
With none of these, updates install automatically, and the detail says that is the finding.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from stethoscope_desktop.tables._shared import FEATURE_STATE_COLUMNS, os_error_reason
from stethoscope_desktop.tables.base import QueryContext, Row
from stethoscope_desktop.tables.system import System
from stethoscope_desktop.tables.windows._common import WindowsTable
from stethoscope_desktop.tables.windows._registry import Registry, read_value, value_of

AU_POLICY = r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate\AU"
SERVICE = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\wuauserv"
UX_SETTINGS = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\WindowsUpdate\UX\Settings"
AU_OPTIONS = {
    2: (False, "notify before downloading and installing"),
    3: (False, "download automatically, notify before installing"),
    4: (True, "download and install automatically on a schedule"),
    5: (None, "let the local administrator choose"),
    7: (False, "download automatically, notify before installing and restarting"),
}


def parse_iso_time(text: str) -> datetime | None:
    """Parse the ISO 8601 times Windows Update writes ("2024-09-10T08:12:33Z"), else None."""
    cleaned = text.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


class AutomaticUpdates(WindowsTable):
    """Whether Windows installs updates automatically, one row."""

    name = "stethoscope_automatic_updates"
    columns = FEATURE_STATE_COLUMNS
    platforms = ("windows",)

    def __init__(
        self,
        system: System,
        registry: Registry,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(system, registry)
        self._now = now

    def generate(self, context: QueryContext) -> Iterable[Row]:
        try:
            policy = self._registry.values(AU_POLICY)
            service = read_value(self._registry, SERVICE, "Start")
            ux = self._registry.values(UX_SETTINGS)
        except OSError as error:
            return [
                {
                    "enabled": None,
                    "source": "registry",
                    "detail": f"cannot read Windows Update's settings: {os_error_reason(error)}",
                }
            ]
        no_auto = value_of(policy, "NoAutoUpdate")
        if no_auto is not None and no_auto.as_int() == 1:
            return [
                self._row(
                    0, "policy", "automatic updates are turned off by policy (NoAutoUpdate = 1)"
                )
            ]
        options = value_of(policy, "AUOptions")
        option = options.as_int() if options is not None else None
        if option in AU_OPTIONS:
            installs, words = AU_OPTIONS[option]
            if installs is False:
                return [
                    self._row(
                        0,
                        "policy",
                        f"a policy sets Windows Update to {words} (AUOptions = {option})",
                    )
                ]
        if service is not None and service.as_int() == 4:
            return [
                self._row(
                    0, "service", "the Windows Update service (wuauserv) is disabled (Start = 4)"
                )
            ]
        expiry = value_of(ux, "PauseUpdatesExpiryTime")
        if expiry is not None:
            until = parse_iso_time(expiry.as_text())
            if until is not None and until > self._now():
                return [
                    self._row(
                        0,
                        "pause",
                        f"updates are paused until {until.strftime('%Y-%m-%d %H:%M')} UTC "
                        "(PauseUpdatesExpiryTime)",
                    )
                ]
        if option == 4:
            return [
                self._row(
                    1,
                    "policy",
                    "a policy sets Windows Update to download and install automatically "
                    "(AUOptions = 4)",
                )
            ]
        return [
            self._row(
                1,
                "registry",
                "Windows Update installs updates automatically: no policy, disabled service or "
                "pause turns it off",
            )
        ]

    @staticmethod
    def _row(enabled: int, source: str, detail: str) -> Row:
        return {"enabled": enabled, "source": source, "detail": detail}
