"""`stethoscope_security_software` on macOS: XProtect and Gatekeeper, the built-in protections.

XProtect, Apple's malware scanner, cannot be turned off; its definitions' version is the
CFBundleShortVersionString of XProtect.bundle (/Library/Apple/System/Library/CoreServices/ since
macOS 11, /System/Library/CoreServices/ before). Whether that version is the newest is not known
here, so up_to_date is NULL. Gatekeeper, which refuses unsigned or revoked apps, answers any user
through `spctl --status` ("assessments enabled" / "assessments disabled").
"""

from __future__ import annotations

from collections.abc import Iterable

from stethoscope_desktop.tables._security import SECURITY_SOFTWARE_COLUMNS
from stethoscope_desktop.tables._shared import MachineTable, PlistError, read_plist, run_quiet
from stethoscope_desktop.tables.base import QueryContext, Row

XPROTECT_PLISTS = (
    "/Library/Apple/System/Library/CoreServices/XProtect.bundle/Contents/Info.plist",
    "/System/Library/CoreServices/XProtect.bundle/Contents/Info.plist",
)
SPCTL_STATUS = ["/usr/sbin/spctl", "--status"]


class SecuritySoftware(MachineTable):
    """XProtect and Gatekeeper, one row each."""

    name = "stethoscope_security_software"
    columns = SECURITY_SOFTWARE_COLUMNS
    platforms = ("darwin",)

    def _xprotect(self) -> Row:
        row: Row = {
            "name": "XProtect",
            "type": "antivirus",
            "up_to_date": None,
            "source": "XProtect.bundle",
        }
        for path in XPROTECT_PLISTS:
            try:
                info = read_plist(self._system, path)
            except PlistError as error:
                row.update(
                    enabled=None, version=None, detail=f"cannot read XProtect's version: {error}"
                )
                return row
            if info is None:
                continue
            version = info.get("CFBundleShortVersionString")
            text = str(version) if isinstance(version, (str, int)) else None
            definitions = f"definitions {text}" if text else "definitions of unknown version"
            row.update(
                enabled=1,
                version=text,
                detail=f"XProtect is built in and always on ({definitions})",
            )
            return row
        row.update(enabled=None, version=None, detail="XProtect.bundle was not found")
        return row

    def _gatekeeper(self) -> Row:
        row: Row = {
            "name": "Gatekeeper",
            "type": "app verification",
            "up_to_date": None,
            "version": None,
            "source": "spctl",
        }
        result = run_quiet(self._system, SPCTL_STATUS)
        said = "" if isinstance(result, str) else (result.stdout + result.stderr).strip()
        if "assessments enabled" in said:
            row.update(
                enabled=1,
                detail="Gatekeeper checks apps before they open (spctl: assessments enabled)",
            )
        elif "assessments disabled" in said:
            row.update(enabled=0, detail="Gatekeeper is turned off (spctl: assessments disabled)")
        else:
            why = result if isinstance(result, str) else repr(said[:120])
            row.update(enabled=None, detail=f"cannot tell whether Gatekeeper is on: {why}")
        return row

    def generate(self, context: QueryContext) -> Iterable[Row]:
        return [self._xprotect(), self._gatekeeper()]
