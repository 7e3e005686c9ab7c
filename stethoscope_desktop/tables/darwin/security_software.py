"""`stethoscope_security_software` on macOS: XProtect, Gatekeeper and endpoint security products.

XProtect, Apple's malware scanner, cannot be turned off; its definitions' version is the
CFBundleShortVersionString of XProtect.bundle (/Library/Apple/System/Library/CoreServices/ since
macOS 11, /System/Library/CoreServices/ before). Whether that version is the newest is not known
here, so up_to_date is NULL. Gatekeeper, which refuses unsigned or revoked apps, answers any user
through `spctl --status` ("assessments enabled" / "assessments disabled").

Antivirus and endpoint protection products (CrowdStrike Falcon, Microsoft Defender, SentinelOne,
Jamf Protect, …) run as endpoint security system extensions, which `systemextensionsctl list`
lists for any user: one row per product with such an extension, running when it is
"[activated enabled]". Products are named by their bundle identifier's vendor (`VENDORS`), an
unknown vendor's extension by the name it gives; an extension waiting for the user to allow it is
not running. A known product's app without an active extension is installed but not running
(NULL when the extensions cannot be listed).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from stethoscope_desktop.tables._security import SECURITY_SOFTWARE_COLUMNS
from stethoscope_desktop.tables._shared import (
    MachineTable,
    PlistError,
    command_reason,
    read_plist,
    run_quiet,
)
from stethoscope_desktop.tables.base import QueryContext, Row
from stethoscope_desktop.tables.darwin._common import plist_text

XPROTECT_PLISTS = (
    "/Library/Apple/System/Library/CoreServices/XProtect.bundle/Contents/Info.plist",
    "/System/Library/CoreServices/XProtect.bundle/Contents/Info.plist",
)
SPCTL_STATUS = ["/usr/sbin/spctl", "--status"]
SYSTEM_EXTENSIONS = ["/usr/bin/systemextensionsctl", "list"]
ENDPOINT_SECURITY = "com.apple.system_extension.endpoint_security"
# Vendors by the start of their extensions' bundle identifiers, and the product's name.
VENDORS = (
    ("com.crowdstrike.", "CrowdStrike Falcon"),
    ("com.microsoft.wdav", "Microsoft Defender"),
    ("com.sentinelone.", "SentinelOne"),
    ("com.vmware.carbonblack.", "Carbon Black Cloud"),
    ("com.carbonblack.", "Carbon Black Cloud"),
    ("com.jamf.protect", "Jamf Protect"),
    ("com.sophos.", "Sophos"),
    ("co.elastic.", "Elastic Defend"),
    ("com.paloaltonetworks.", "Cortex XDR"),
    ("com.eset.", "ESET"),
    ("com.trendmicro.", "Trend Micro"),
    ("com.malwarebytes.", "Malwarebytes"),
    ("com.bitdefender.", "Bitdefender"),
    ("com.cisco.endpoint.", "Cisco Secure Endpoint"),
)
# Where a known product's app is installed, for "installed but its extension is not active".
PRODUCT_APPS = (
    ("/Applications/Falcon.app", "CrowdStrike Falcon"),
    ("/Applications/Microsoft Defender.app", "Microsoft Defender"),
    ("/Applications/SentinelOne", "SentinelOne"),
    ("/Applications/VMware Carbon Black Cloud", "Carbon Black Cloud"),
    ("/Applications/JamfProtect.app", "Jamf Protect"),
    ("/Applications/Sophos", "Sophos"),
)
# One extension of `systemextensionsctl list`: enabled, active, team, bundle (version), name, state.
_EXTENSION = re.compile(
    r"^\s*(\*?)\s+(\*?)\s+(\S+)\s+(\S+)\s+\(([^)]*)\)\s+(.*?)\s+\[([^\]]+)\]\s*$"
)


@dataclass(frozen=True)
class SystemExtension:
    """One line of `systemextensionsctl list`."""

    category: str
    team: str
    bundle: str
    version: str
    name: str
    state: str

    @property
    def running(self) -> bool:
        """Return True when the extension is activated and enabled."""
        return self.state == "activated enabled"

    @property
    def product(self) -> str:
        """Return the product's name: its vendor's, else the name the extension gives."""
        for prefix, product in VENDORS:
            if self.bundle.startswith(prefix):
                return product
        return self.name or self.bundle


def parse_system_extensions(text: str) -> list[SystemExtension]:
    """Parse `systemextensionsctl list`: `--- <category>` headings, then one line per extension."""
    extensions: list[SystemExtension] = []
    category = ""
    for line in text.splitlines():
        if line.startswith("---"):
            words = line[3:].split()
            category = words[0] if words else ""
            continue
        match = _EXTENSION.match(line)
        if match is None:
            continue
        _, _, team, bundle, version, name, state = match.groups()
        short_version = version.split("/", 1)[0].strip()
        extensions.append(
            SystemExtension(category, team, bundle, short_version, name.strip(), state.strip())
        )
    return extensions


def extension_row(extensions: list[SystemExtension]) -> Row:
    """Return the row of one product from its endpoint security extensions (running first)."""
    chosen = sorted(extensions, key=lambda extension: not extension.running)[0]
    product = chosen.product
    if chosen.running:
        said = "its endpoint security extension is active"
    elif "waiting for user" in chosen.state:
        said = "its endpoint security extension waits for the user to allow it"
    else:
        said = "its endpoint security extension is not active"
    return {
        "name": product,
        "type": "antivirus",
        "enabled": 1 if chosen.running else 0,
        "up_to_date": None,
        "version": chosen.version or None,
        "source": "systemextensionsctl",
        "detail": f"{product} {'is running' if chosen.running else 'is not running'}: {said} "
        f"({chosen.bundle}, [{chosen.state}])",
    }


class SecuritySoftware(MachineTable):
    """XProtect, Gatekeeper and each endpoint security product, one row each."""

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

    def _endpoint_security(self) -> list[Row]:
        """One row per product with an endpoint security extension or a known app."""
        result = run_quiet(self._system, SYSTEM_EXTENSIONS)
        listed: dict[str, list[SystemExtension]] = {}
        why = ""
        if isinstance(result, str):
            why = result
        elif not result.ok:
            why = f"systemextensionsctl: {command_reason(result)}"
        else:
            for extension in parse_system_extensions(result.stdout):
                if extension.category == ENDPOINT_SECURITY:
                    listed.setdefault(extension.product, []).append(extension)
        rows = [extension_row(extensions) for extensions in listed.values()]
        for path, product in PRODUCT_APPS:
            if product in listed or not self._system.exists(path):
                continue
            listed[product] = []
            rows.append(self._installed_app(path, product, why))
        return rows

    def _installed_app(self, path: str, product: str, why: str) -> Row:
        """A known product's app with no active extension: not running, or cannot tell."""
        version = None
        if path.endswith(".app"):
            try:
                info = read_plist(self._system, f"{path}/Contents/Info.plist")
            except PlistError:
                info = None
            version = plist_text((info or {}).get("CFBundleShortVersionString")) or None
        if why:
            enabled = None
            detail = f"{product} is installed ({path}); cannot tell whether it runs: {why}"
        else:
            enabled = 0
            detail = f"{product} is installed ({path}) but has no endpoint security extension"
        return {
            "name": product,
            "type": "antivirus",
            "enabled": enabled,
            "up_to_date": None,
            "version": version,
            "source": "Applications",
            "detail": detail,
        }

    def generate(self, context: QueryContext) -> Iterable[Row]:
        return [self._xprotect(), self._gatekeeper(), *self._endpoint_security()]
