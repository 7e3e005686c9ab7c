r"""`stethoscope_disk_encryption` on Windows: does BitLocker protect the system drive?

osquery's bitlocker_info, `manage-bde` and `Get-BitLockerVolume` all need an administrator.
Explorer shows the padlock of a drive from the shell property `System.Volume.BitLockerProtection`,
which any user may read:
`(New-Object -ComObject Shell.Application).NameSpace('C:').Self.ExtendedProperty(…)`. Its values
are not documented; their meanings here come from community reports and from the verbs Windows
itself registers for drives (Turn on BitLocker applies to 2, Manage BitLocker to 1, 3 and 5,
Unlock to 6, Resume protection to 5), and are marked as such:
  1 on · 2 off · 3 encrypting (on: protection applies while the rest is encrypted) ·
  4 decrypting (off) · 5 suspended (off: the drive is encrypted but its key lies in the clear
  until protection resumes) · 6 on and locked · 8 waiting for activation (off: the key lies in
  the clear until a protector is added, as on a new PC before signing in with a Microsoft
  account). Anything else, or nothing, is unknown.
When this runs as an administrator, the same PowerShell call also reads WMI's
Win32_EncryptableVolume, which is authoritative: ProtectionStatus 0 while the volume is encrypted
means suspended.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from stethoscope_desktop.tables._shared import DISK_ENCRYPTION_COLUMNS
from stethoscope_desktop.tables.base import QueryContext, Row, TableError
from stethoscope_desktop.tables.windows._common import WindowsTable, powershell_json

BITLOCKER_SCRIPT = (
    "$d = $env:SystemDrive; if (-not $d) { $d = 'C:' }; "
    "$r = [ordered]@{ drive = $d; protection = $null; shell_error = $null; "
    "protection_status = $null; conversion_status = $null; wmi_error = $null }; "
    "try { $r.protection = (New-Object -ComObject Shell.Application).NameSpace($d + '\\')"
    ".Self.ExtendedProperty('System.Volume.BitLockerProtection') } "
    "catch { $r.shell_error = $_.Exception.Message }; "
    "try { $v = Get-CimInstance -Namespace 'root/cimv2/Security/MicrosoftVolumeEncryption' "
    "-ClassName Win32_EncryptableVolume -Filter \"DriveLetter='$d'\"; "
    "if ($v) { $r.protection_status = [int]$v.ProtectionStatus; "
    "$r.conversion_status = [int]$v.ConversionStatus } } "
    "catch { $r.wmi_error = $_.Exception.Message }; "
    "$r | ConvertTo-Json -Compress"
)
# System.Volume.BitLockerProtection → (encrypted 1/0, in words). Community-derived meanings.
SHELL_STATES: Mapping[int, tuple[int, str]] = {
    1: (1, "BitLocker is on"),
    2: (0, "BitLocker is off"),
    3: (1, "BitLocker is on; encryption of the drive is in progress"),
    4: (0, "BitLocker is being turned off: decryption in progress"),
    5: (
        0,
        "BitLocker is suspended: the drive is encrypted, but its key is stored in the clear "
        "until protection resumes",
    ),
    6: (1, "BitLocker is on (the drive is locked)"),
    8: (
        0,
        "BitLocker is waiting for activation: the drive is encrypted, but its key is stored in "
        "the clear until a protector is added (for example by signing in with a Microsoft or "
        "work account)",
    ),
}
# Win32_EncryptableVolume.ConversionStatus.
CONVERSION = {
    0: "fully decrypted",
    1: "fully encrypted",
    2: "encryption in progress",
    3: "decryption in progress",
    4: "encryption paused",
    5: "decryption paused",
}


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def verdict(data: Mapping[str, Any]) -> tuple[int | None, str]:
    """Return (encrypted 1/0/None, in words) from the script's JSON."""
    drive = str(data.get("drive") or "C:")
    protection_status = _int(data.get("protection_status"))
    conversion = _int(data.get("conversion_status"))
    if protection_status in (0, 1):
        converted = (
            CONVERSION.get(conversion, f"conversion status {conversion}")
            if conversion is not None
            else "conversion status unknown"
        )
        if protection_status == 1:
            return 1, f"BitLocker protects {drive} ({converted}; Win32_EncryptableVolume)"
        if conversion in (1, 2, 4):
            return 0, (
                f"BitLocker is suspended on {drive}: the drive is {converted} but protection is "
                "off (ProtectionStatus 0; Win32_EncryptableVolume)"
            )
        return 0, f"BitLocker does not protect {drive} ({converted}; Win32_EncryptableVolume)"
    value = _int(data.get("protection"))
    if value is None:
        why = data.get("shell_error") or "Explorer reported no BitLocker state for the drive"
        return None, f"cannot tell whether BitLocker protects {drive}: {why}"
    known = SHELL_STATES.get(value)
    if known is None:
        return None, (
            f"cannot tell whether BitLocker protects {drive}: Explorer reports the unfamiliar "
            f"state {value} (System.Volume.BitLockerProtection)"
        )
    encrypted, words = known
    return encrypted, f"{words} ({drive}, System.Volume.BitLockerProtection = {value})"


class DiskEncryption(WindowsTable):
    """Whether BitLocker protects the system drive, one row."""

    name = "stethoscope_disk_encryption"
    columns = DISK_ENCRYPTION_COLUMNS
    platforms = ("windows",)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        drive = self._system.env.get("SystemDrive") or "C:"
        row: Row = {"name": drive, "mountpoint": drive + "\\", "type": "BitLocker"}
        try:
            data = powershell_json(self._system, BITLOCKER_SCRIPT, what="the BitLocker state")
        except TableError as error:
            row.update(encrypted=None, detail=str(error))
            return [row]
        if not isinstance(data, dict):
            row.update(encrypted=None, detail="cannot read the BitLocker state: no JSON object")
            return [row]
        reported = str(data.get("drive") or drive)
        row.update(name=reported, mountpoint=reported + "\\")
        encrypted, words = verdict(data)
        row.update(encrypted=encrypted, detail=words)
        return [row]
