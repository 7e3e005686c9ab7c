"""`stethoscope_automatic_updates` on macOS: does the Mac install security updates by itself?

Software Update's switches live in /Library/Preferences/com.apple.SoftwareUpdate.plist (readable
by everyone); a configuration profile's forced values in /Library/Managed Preferences/ win over
them. A key that is not in the file has its default, which is on for every switch here except
installing macOS updates. "On" means: the Mac checks for updates (AutomaticCheckEnabled) and
installs Security Responses and system files by itself (CriticalUpdateInstall and
ConfigDataInstall). Downloading updates and installing macOS updates are reported, not required.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from stethoscope_desktop.tables._shared import (
    FEATURE_STATE_COLUMNS,
    MachineTable,
    PlistError,
    read_plist,
)
from stethoscope_desktop.tables.base import QueryContext, Row
from stethoscope_desktop.tables.darwin._common import plist_bool

SOFTWARE_UPDATE_PLIST = "/Library/Preferences/com.apple.SoftwareUpdate.plist"
MANAGED_PLIST = "/Library/Managed Preferences/com.apple.SoftwareUpdate.plist"
# (key, default, required for "on", what the switch does)
SWITCHES = (
    ("AutomaticCheckEnabled", True, True, "check for updates"),
    ("CriticalUpdateInstall", True, True, "install Security Responses"),
    ("ConfigDataInstall", True, True, "install system data files"),
    ("AutomaticDownload", True, False, "download new updates"),
    ("AutomaticallyInstallMacOSUpdates", False, False, "install macOS updates"),
)


@dataclass(frozen=True)
class Switch:
    """One Software Update switch: its effective value and where that value came from."""

    key: str
    value: bool
    origin: str  # "managed", "set" or "default"
    required: bool
    words: str

    def describe(self) -> str:
        """Say the switch in words, e.g. "check for updates: on (default)"."""
        where = {"managed": "set by a profile", "set": "set", "default": "default"}[self.origin]
        return f"{self.words}: {'on' if self.value else 'off'} ({self.key}, {where})"


def effective_switches(local: dict[str, Any], managed: dict[str, Any]) -> list[Switch]:
    """Return every switch's effective value: managed, else the file's, else the default."""
    switches: list[Switch] = []
    for key, default, required, words in SWITCHES:
        value: bool | None = plist_bool(managed.get(key))
        origin = "managed"
        if value is None:
            value = plist_bool(local.get(key))
            origin = "set"
        if value is None:
            value = default
            origin = "default"
        switches.append(Switch(key, value, origin, required, words))
    return switches


class AutomaticUpdates(MachineTable):
    """Whether macOS checks for and installs security updates by itself, one row."""

    name = "stethoscope_automatic_updates"
    columns = FEATURE_STATE_COLUMNS
    platforms = ("darwin",)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        try:
            local = read_plist(self._system, SOFTWARE_UPDATE_PLIST) or {}
            managed = read_plist(self._system, MANAGED_PLIST) or {}
        except PlistError as error:
            return [
                {
                    "enabled": None,
                    "source": "SoftwareUpdate",
                    "detail": f"cannot read Software Update's settings: {error}",
                }
            ]
        switches = effective_switches(local, managed)
        missing = [s for s in switches if s.required and not s.value]
        said = "; ".join(s.describe() for s in switches)
        if missing:
            detail = f"not all security updates install automatically: {said}"
        else:
            detail = f"security updates install automatically: {said}"
        return [
            {
                "enabled": int(not missing),
                "source": "managed profile" if managed else "SoftwareUpdate",
                "detail": detail,
            }
        ]
